"""``vlastack annotate``: subtasks and reasons stored as LeRobot-style language features, crash-safely."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from vlastack import keys
from vlastack.episodes import layout
from vlastack.episodes.reader import DatasetReader
from vlastack.episodes.writer import DatasetWriter
from vlastack.errors import DatasetError
from vlastack.reasoning.annotate import REASON_INDEX, SUBTASK_INDEX, annotate_dataset, episode_annotations, read_table


class Killed(BaseException):
    """Stands for SIGKILL (not an Exception: nothing can catch it)."""


def _dataset(root, make_episode, task="pick-place-v3", lengths=(5, 4)):
    """Synthetic episodes whose privileged state puts the hand 6 cm right of and 20 cm above the puck."""
    writer = DatasetWriter(root)
    for seed, n in enumerate(lengths):
        ep = make_episode(n, seed, size=8)
        del ep.frames[keys.image_key("corner2")]  # no video: annotation never reads it, and encoding is slow
        state = np.zeros((n, 39), dtype=np.float32)
        state[:, :3] = (0.06, 0.6, 0.22)  # hand
        state[:, 3] = 1.0  # gripper open
        state[:, 4:7] = (0.0, 0.6, 0.02)  # puck
        ep.frames[keys.ENV_STATE] = state
        ep.env_task = task
        writer.add_episode(ep)
    return root


def _snapshot(root):
    r = DatasetReader(root)
    return r.features, [r.read_columns(e) for e in range(r.num_episodes)]


def test_annotation_is_readable_and_keeps_every_value(tmp_path, make_episode):
    root = _dataset(tmp_path / "ds", make_episode)
    before_features, before = _snapshot(root)
    summary = annotate_dataset(root)
    assert summary.episodes == 2 and summary.frames == 9 and summary.subtasks == ["move above the puck"]
    r = DatasetReader(root)
    assert r.features[SUBTASK_INDEX] == {"dtype": "int64", "shape": [1], "names": None}
    for e, cols in enumerate(before):
        now = r.read_columns(e)
        for k, v in cols.items():
            np.testing.assert_array_equal(now[k], v)
    subtasks, reasons = episode_annotations(root, 0)
    assert subtasks == ["move above the puck"] * 5
    # target: puck - 0.5 cm in x, 10 cm above it; the hand is 6.5 cm right and 10 cm above that
    assert reasons[0] == "the spot above the puck is 10 cm lower and 6 cm to the left, so move down and left"
    stats = json.loads((root / layout.STATS_PATH).read_text())
    assert stats[SUBTASK_INDEX]["count"] == [9] and REASON_INDEX in stats
    first = (root / layout.data_path(root, 0).relative_to(root)).read_bytes()
    annotate_dataset(root)  # again: the same result, not a second set of columns
    assert (root / layout.data_path(root, 0).relative_to(root)).read_bytes() == first
    assert read_table(root) == ["move above the puck"]


def test_killed_at_any_rename_leaves_the_dataset_readable_and_a_rerun_completes(tmp_path, make_episode, monkeypatch):
    root = _dataset(tmp_path / "ds", make_episode, lengths=(4,))
    features, columns = _snapshot(root)
    real = os.replace
    renames = {"n": 0}

    def counting(src, dst):
        renames["n"] += 1
        return real(src, dst)

    monkeypatch.setattr(os, "replace", counting)
    annotate_dataset(root)
    total = renames["n"]
    assert total == 5  # two tables, the data file, stats, info
    for kill_at in range(total):
        copy = tmp_path / f"k{kill_at}"
        _dataset(copy, make_episode, lengths=(4,))
        calls = {"n": 0}

        def killing(src, dst, kill_at=kill_at, calls=calls):
            if calls["n"] == kill_at:
                raise Killed
            calls["n"] += 1
            return real(src, dst)

        monkeypatch.setattr(os, "replace", killing)
        with pytest.raises(Killed):
            annotate_dataset(copy)
        monkeypatch.setattr(os, "replace", real)
        f, cols = _snapshot(copy)
        assert f == features
        for a, b in zip(cols, columns):
            for k in b:
                np.testing.assert_array_equal(a[k], b[k])
        annotate_dataset(copy)
        assert episode_annotations(copy, 0)[0] == ["move above the puck"] * 4


def test_clear_errors_for_datasets_that_cannot_be_annotated(tmp_path, make_episode):
    root = _dataset(tmp_path / "ds", make_episode, task="hammer-v3")
    with pytest.raises(DatasetError, match=r"\['hammer-v3'\].*pick-place-v3"):
        annotate_dataset(root)
    assert SUBTASK_INDEX not in DatasetReader(root).features  # nothing was written
    plain = tmp_path / "plain"
    ep = make_episode(3, 0, size=8)
    del ep.frames[keys.image_key("corner2")]
    DatasetWriter(plain).add_episode(ep)
    with pytest.raises(DatasetError, match="observation.environment_state"):
        annotate_dataset(plain)
    with pytest.raises(DatasetError, match="annotate it first"):
        episode_annotations(plain, 0)


@pytest.mark.slow
def test_cli_annotates_a_collected_long_horizon_dataset(tmp_path):
    """Real demonstrations through `vlastack collect`, then `vlastack annotate`: the subtasks follow the
    stages in order."""
    from typer.testing import CliRunner

    from vlastack.cli import app
    from vlastack.envs.collect import CollectConfig, collect

    out = tmp_path / "ds"
    collect(CollectConfig(tasks=("lh-window-close-open",), episodes=1, out=out, image_size=16, cameras=("corner2",)), progress=False)
    from vlastack.envs import collect as collect_module

    # The in-process collection keeps its environments cached; close them now rather than at
    # interpreter exit, when MuJoCo's EGL teardown can no longer run cleanly.
    collect_module._ENVS.clear()
    r = CliRunner().invoke(app, ["annotate", "--dataset", str(out)])
    assert r.exit_code == 0, r.output
    assert "slide the window closed" in r.output
    subtasks, reasons = episode_annotations(out, 0)
    order = list(dict.fromkeys(subtasks))
    assert order.index("slide the window closed") < order.index("slide the window open")
    assert all(" so " in x for x in reasons)
    r = CliRunner().invoke(app, ["annotate", "--dataset", str(tmp_path / "nope")])
    assert isinstance(r.exception, DatasetError) and "does not exist" in str(r.exception)  # main() prints it as one line
