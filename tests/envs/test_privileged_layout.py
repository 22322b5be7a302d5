"""One privileged-state layout for a robosuite dataset whose tasks hold different objects (envs/privileged_layout.py).

``vlastack collect --tasks rs_two_arm`` used to stop at its first Handover episode: TwoArmLift records 29 privileged
entries (pot and handles), Handover 23 (hammer), and a dataset has one shape per feature. No simulator here: the
names come from the task table, and collection runs on fake episodes of the real widths.
"""

from __future__ import annotations

import numpy as np
import pytest

from vlastack import keys
from vlastack.envs.privileged_layout import dataset_privileged_names, to_dataset_layout
from vlastack.envs.robosuite_env import feature_names
from vlastack.envs.robosuite_tasks import GROUPS
from vlastack.errors import ConfigError

LIFT, HANDOVER = GROUPS["rs_two_arm"]


def test_two_arm_layout_is_the_union_in_a_fixed_order():
    lift, hand = feature_names(LIFT)["privileged"], feature_names(HANDOVER)["privileged"]
    assert len(lift) != len(hand)  # why a layout is needed at all
    names = dataset_privileged_names((LIFT, HANDOVER))
    assert names == dataset_privileged_names((HANDOVER, LIFT))  # a resumed run with the tasks reordered gets the same
    assert names[: len(lift)] == lift and names[len(lift) :] == [n for n in hand if n not in lift]
    assert len(names) == len(set(names)) == len(set(lift) | set(hand))
    # Tasks of one layout keep exactly their own vector.
    assert dataset_privileged_names(GROUPS["rs_lift"]) == feature_names("rs-lift-panda")["privileged"]
    with pytest.raises(ConfigError, match=r"\['reach-v3'\] are not robosuite tasks"):
        dataset_privileged_names(("reach-v3",))


def test_each_task_fills_its_own_entries_and_zero_elsewhere():
    names = dataset_privileged_names((LIFT, HANDOVER))
    own = feature_names(HANDOVER)["privileged"]
    rows = np.arange(2 * len(own), dtype=np.float32).reshape(2, len(own)) + 1
    out = to_dataset_layout(HANDOVER, rows, names)
    assert out.shape == (2, len(names)) and out.dtype == np.float32
    for j, n in enumerate(own):
        np.testing.assert_array_equal(out[:, names.index(n)], rows[:, j])
    assert not out[:, [i for i, n in enumerate(names) if n not in own]].any()
    lift = np.ones((3, len(feature_names(LIFT)["privileged"])), np.float32)
    assert to_dataset_layout(LIFT, lift, feature_names(LIFT)["privileged"]) is lift
    with pytest.raises(ConfigError, match=f"{HANDOVER} records {len(own)} entries"):
        to_dataset_layout(HANDOVER, rows[:, :-1], names)
    with pytest.raises(ConfigError, match="the dataset layout has no entries"):
        to_dataset_layout(HANDOVER, rows, feature_names(LIFT)["privileged"])


def _fake_run_one(task, seed, env_kwargs, safety=None, base_arm_layer=False):
    """An expert episode of ``task``'s real vector widths, 3 steps, no cameras (what collect's worker returns)."""
    from vlastack.types import Episode

    names = feature_names(task)
    n = 3
    frames = {
        keys.STATE: np.zeros((n, len(names["state"])), np.float32),
        keys.ACTION: np.zeros((n, len(names["action"])), np.float32),
        keys.ENV_STATE: np.full((n, len(names["privileged"])), seed + 1.0, np.float32),
    }
    return task, seed, Episode(task=f"do {task}", frames=frames, fps=20, success=True, seed=seed, env_task=task), n, 1.0


def test_collection_of_both_two_arm_tasks_writes_one_dataset_and_refuses_other_tasks_on_resume(tmp_path, monkeypatch):
    from vlastack.envs import collect as collect_module
    from vlastack.envs.collect import CollectConfig, collect
    from vlastack.episodes.reader import DatasetReader

    monkeypatch.setattr(collect_module, "_run_one", _fake_run_one)
    out = tmp_path / "ds"
    summary = collect(CollectConfig(tasks=(LIFT, HANDOVER), episodes=1, out=out, cameras=(), safety=None), progress=False)
    assert summary.kept == {LIFT: 1, HANDOVER: 1}
    reader = DatasetReader(out)
    names = reader.features[keys.ENV_STATE]["names"]
    assert names == dataset_privileged_names((LIFT, HANDOVER)) and reader.features[keys.ENV_STATE]["shape"] == [len(names)]
    filled = sorted(int(np.count_nonzero(reader.read_columns(e)[keys.ENV_STATE][0])) for e in range(2))
    assert filled == sorted(len(feature_names(t)["privileged"]) for t in (LIFT, HANDOVER))  # each its own entries, 0 elsewhere
    # Resuming with the tasks reordered is the same dataset; with another task set it is refused by name.
    collect(CollectConfig(tasks=(HANDOVER, LIFT), episodes=1, out=out, cameras=(), safety=None), progress=False)
    with pytest.raises(ConfigError, match="collect other tasks into a new --out"):
        collect(CollectConfig(tasks=(HANDOVER,), episodes=2, out=out, cameras=(), safety=None), progress=False)
