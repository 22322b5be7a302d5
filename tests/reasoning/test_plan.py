"""Plans of the long-horizon tasks in words: one subtask per stage, from a closed vocabulary."""

from __future__ import annotations

import pytest

from vlastack.envs.long_horizon import SUITE
from vlastack.errors import ConfigError
from vlastack.reasoning.plan import STAGE_SUBTASKS, history_counts, plan_of


def test_every_stage_has_a_subtask_of_the_vocabulary():
    assert plan_of("lh-window-open-close-open-close") == ("open the window", "close the window") * 2
    assert plan_of("lh-handle-press-pull") == ("press the handle down", "pull the handle up")
    assert {s for t in SUITE for s in plan_of(t)} == set(STAGE_SUBTASKS) and len(STAGE_SUBTASKS) == 8
    with pytest.raises(ConfigError, match="long-horizon task"):
        plan_of("drawer-open-v3")


def test_history_counts_tell_repeated_stages_apart():
    plan = plan_of("lh-drawer-open-close-open")
    counts = [history_counts(plan[:k], STAGE_SUBTASKS).tolist() for k in range(3)]
    assert len({tuple(c) for c in counts}) == 3  # before the first open, after it, after the close
    assert sum(counts[2]) == 2 and counts[2][STAGE_SUBTASKS.index("open the drawer")] == 1
