"""Pseudo-labels: an inverse-dynamics model trained on the first N episodes of each task labels the
others; the copy keeps true actions where they were labelled, and the IDM never reads the others'."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from vlastack import keys
from vlastack.episodes.reader import DatasetReader
from vlastack.episodes.stats import vector_stats
from vlastack.episodes.video import VideoSettings
from vlastack.episodes.writer import DatasetWriter
from vlastack.errors import ConfigError, DatasetError
from vlastack.types import Episode
from vlastack.world_model.config import PseudoLabelConfig
from vlastack.world_model.pseudo_labels import REPORT_PATH, pseudo_label, split_labelled

TASKS = ("reach-v3", "drawer-open-v3")
LABELLED = 3  # per task: episodes 0..5 of the interleaved dataset
SMALL = PseudoLabelConfig(steps=300, hidden=32, layers=2, batch_size=64, lr=3e-3, eval_every=50)


def _episode(i: int, n: int = 24, scramble: bool = False) -> Episode:
    """Known dynamics: the hand moves 0.01 m per unit of a[:3], the gripper opening relaxes towards a[3];
    ``scramble`` replaces the recorded actions of the episode (not its motion) with noise."""
    rng = np.random.default_rng(i)
    actions = np.clip(np.cumsum(rng.normal(0, 0.4, (n, 4)), 0), -1, 1).astype(np.float32)
    state = np.zeros((n, 4), np.float32)
    state[0] = rng.normal(0, 0.1, 4)
    for t in range(n - 1):
        state[t + 1, :3] = state[t, :3] + 0.01 * actions[t, :3]
        state[t + 1, 3] = 0.8 * state[t, 3] + 0.2 * actions[t, 3]
    if scramble:
        actions = np.random.default_rng(1000 + i).uniform(-1, 1, (n, 4)).astype(np.float32)
    frames = {
        keys.image_key("corner2"): rng.integers(0, 256, (n, 8, 8, 3), dtype=np.uint8),
        keys.STATE: state,
        keys.ACTION: actions,
    }
    task = TASKS[i % 2]
    return Episode(task=f"do {task}", frames=frames, fps=20, success=True, seed=i, env_task=task)


def _dataset(root, episodes: int = 10, scramble_unlabelled: bool = False) -> DatasetReader:
    writer = DatasetWriter(root, video=VideoSettings(codec="h264-lossless", crf=0))
    for i in range(episodes):
        writer.add_episode(_episode(i, scramble=scramble_unlabelled and i >= 2 * LABELLED))
    return DatasetReader(root)


@pytest.fixture(scope="module")
def labelled(tmp_path_factory):
    """(source reader, pseudo-labelled copy's reader) for 10 episodes, 3 labelled per task."""
    root = tmp_path_factory.mktemp("pseudo")
    src = _dataset(root / "src")
    return src, pseudo_label(root / "src", root / "out", LABELLED, SMALL, log=lambda s: None)


def test_the_copy_keeps_labelled_actions_and_labels_the_others(labelled):
    src, out = labelled
    report = json.loads((out.root / REPORT_PATH).read_text())
    assert report["labelled_episodes"] == [0, 1, 2, 3, 4, 5]
    assert report["idm"]["validation_episodes"] == [4, 5] and report["idm"]["fit_episodes"] == [0, 1, 2, 3]
    assert out.num_episodes == 10 and out.features == src.features
    for e in range(10):
        new, true = out.read_columns(e), src.read_columns(e)
        np.testing.assert_array_equal(new[keys.STATE], true[keys.STATE])
        if e < 6:
            np.testing.assert_array_equal(new[keys.ACTION], true[keys.ACTION])
        else:
            assert not np.array_equal(new[keys.ACTION], true[keys.ACTION])
            assert np.abs(new[keys.ACTION]).max() <= 1.0
    np.testing.assert_array_equal(out.read_video(7, keys.image_key("corner2")), src.read_video(7, keys.image_key("corner2")))
    # statistics describe the new actions: the dataset's and each pseudo-labelled episode's own
    actions = np.concatenate(out.episode_actions())
    np.testing.assert_allclose(out.stats[keys.ACTION]["mean"], vector_stats(actions)["mean"])
    np.testing.assert_allclose(out.episode_meta(8)[f"stats/{keys.ACTION}/max"], out.read_columns(8)[keys.ACTION].max(0))
    np.testing.assert_allclose(out.stats[keys.STATE]["mean"], src.stats[keys.STATE]["mean"])
    # the known dynamics are learnt: the pseudo-labels explain most of the true actions' variance
    quality = report["pseudo_vs_true_actions"]
    assert quality["frames"] == 4 * 24 and min(quality["r2"]) > 0.5
    assert sorted(quality["per_task"]) == sorted(TASKS) and len(quality["per_task"]["reach-v3"]["mae"]) == 4
    assert len(report["idm"]["validation"]["mae"]) == 4 and report["config"]["offsets"] == [-1, 0, 1, 2]


def test_the_idm_never_reads_the_unlabelled_actions(tmp_path, labelled):
    """Scrambling the recorded actions of every unlabelled episode changes no pseudo-label."""
    _, out = labelled
    _dataset(tmp_path / "scrambled", scramble_unlabelled=True)
    again = pseudo_label(tmp_path / "scrambled", tmp_path / "out", LABELLED, SMALL, log=lambda s: None)
    for e in range(10):
        np.testing.assert_array_equal(again.read_columns(e)[keys.ACTION], out.read_columns(e)[keys.ACTION])
    before = json.loads((out.root / REPORT_PATH).read_text())
    after = json.loads((again.root / REPORT_PATH).read_text())
    assert after["idm"]["validation"] == before["idm"]["validation"]
    assert after["pseudo_vs_true_actions"] != before["pseudo_vs_true_actions"]  # only the report sees the true ones


def test_bad_inputs_are_named(tmp_path, labelled):
    src, out = labelled
    with pytest.raises(DatasetError, match="already exists"):
        pseudo_label(src.root, out.root, LABELLED, SMALL)
    with pytest.raises(ConfigError, match="labelled_per_task must be >= 2"):
        split_labelled(src, 1)
    with pytest.raises(DatasetError, match=r"labelled_per_task=6: .*'drawer-open-v3': 5"):
        pseudo_label(src.root, tmp_path / "x", 6, SMALL)
    with pytest.raises(ConfigError, match="offsets must be distinct and include 0 and 1"):
        PseudoLabelConfig(offsets=(-1, 0))
    with pytest.raises(ConfigError, match="clip must be"):
        PseudoLabelConfig(clip=(1.0, -1.0))
    assert not (tmp_path / "x").exists() and not (tmp_path / "x.tmp").exists()


def test_the_cli_writes_the_copy_and_names_bad_overrides(tmp_path, labelled):
    from vlastack.cli import app

    src, _ = labelled
    small = [f"--set={k}={v}" for k, v in (("steps", 20), ("hidden", 16), ("layers", 1), ("eval_every", 10))]
    args = ["wm", "pseudo-label", "--dataset", str(src.root), "--labelled-per-task", "2", "--out", str(tmp_path / "cli")]
    done = CliRunner().invoke(app, args + small)
    assert done.exit_code == 0, done.output
    report = json.loads((tmp_path / "cli" / REPORT_PATH).read_text())
    assert report["labelled_episodes"] == [0, 1, 2, 3] and report["config"]["steps"] == 20
    assert "pseudo vs true actions" in done.output
    bad = CliRunner().invoke(
        app, ["wm", "pseudo-label", "--dataset", str(src.root), "--labelled-per-task", "2", "--out", str(tmp_path / "b"), "--set=los=l2"]
    )
    assert bad.exit_code != 0 and "los" in str(bad.exception) and not (tmp_path / "b").exists()


def test_errors_score_each_dimension_and_leave_r2_out_where_nothing_varies():
    from vlastack.world_model.inverse_dynamics import errors

    true = np.stack([np.linspace(-1, 1, 50), np.full(50, -1.0)], axis=1)
    scores = errors(true + 0.1, true)
    assert scores["mae"] == [pytest.approx(0.1), pytest.approx(0.1)]
    assert scores["r2"][0] == pytest.approx(1 - 0.01 / true[:, 0].var(), abs=1e-4) and scores["r2"][1] is None
