"""The plan of a long-horizon task in words: one subtask per stage, and per-frame plan labels.

A stage's subtask is the first instruction of the Meta-World task whose scripted policy does that
stage ("open the drawer", "pull the handle up"; pulling back is "pull the arm back"), so a low-level policy conditioned on it sees the
wording single-task demonstrations were recorded with. :data:`STAGE_SUBTASKS` is the closed set a
hierarchical policy chooses from (it classifies over these strings; it does not generate free text).

Per frame, :func:`plan_labels` says which stage the recorded expert was working on and how many
frames ago that stage began, recovered from the privileged states (``labels.stages_of``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vlastack.envs.instructions import INSTRUCTIONS
from vlastack.envs.long_horizon import RETREAT, RETREAT_SUBTASK, SUITE, stages_from_states
from vlastack.registry import unknown_name_error


def stage_subtask(task: str, stage: int) -> str:
    """The subtask text of stage ``stage`` of long-horizon task ``task``."""
    if task not in SUITE:
        raise unknown_name_error("long-horizon task", task, SUITE)
    lh = SUITE[task]
    expert = lh.part.stages[lh.stages[stage]].expert
    return RETREAT_SUBTASK if expert == RETREAT else INSTRUCTIONS[expert][0]


def plan_of(task: str) -> tuple[str, ...]:
    """The subtasks of ``task`` in order, one per stage."""
    if task not in SUITE:
        raise unknown_name_error("long-horizon task", task, SUITE)
    return tuple(stage_subtask(task, k) for k in range(len(SUITE[task].stages)))


#: Every stage subtask of the suite, sorted: the closed vocabulary a hierarchical policy decodes.
STAGE_SUBTASKS: tuple[str, ...] = tuple(sorted({s for t in SUITE for s in plan_of(t)}))


@dataclass(frozen=True)
class PlanLabels:
    """Plan labels of every frame of one episode (N frames)."""

    plan: tuple[str, ...]
    """The task's subtasks in order."""
    stage: np.ndarray
    """int64 [N]: the stage the expert works on at each frame, clamped to the last stage (frames after
    the last stage is done, if any were recorded, count as its own)."""
    since: np.ndarray
    """int64 [N]: frames since that stage began (0 at its first frame)."""


def plan_labels(task: str, states: np.ndarray) -> PlanLabels:
    """Plan labels of an episode of long-horizon ``task`` with privileged states [N, 39]."""
    plan = plan_of(task)
    lh = SUITE[task]
    stage = np.minimum(np.asarray(stages_from_states(lh, states), dtype=np.int64), len(plan) - 1)
    since = np.zeros(len(stage), dtype=np.int64)
    for t in range(1, len(stage)):
        since[t] = since[t - 1] + 1 if stage[t] == stage[t - 1] else 0
    return PlanLabels(plan, stage, since)


def history_counts(done: list[str] | tuple[str, ...], vocabulary: tuple[str, ...]) -> np.ndarray:
    """How often each vocabulary subtask is among the done ones: float32 [V] (the plan's position as an
    input: in drawer open-close-open, "open" done once and "close" once means the second open is next)."""
    counts = np.zeros(len(vocabulary), dtype=np.float32)
    for s in done:
        counts[vocabulary.index(s)] += 1.0
    return counts
