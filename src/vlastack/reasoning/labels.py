"""Per-frame subtask and reason of one episode, from its recorded privileged states.

Single-stage Meta-World tasks use their expert's phase rules (phases.py). Long-horizon tasks
(envs/long_horizon.py) first recover which stage each frame belongs to from the part's joint, then
use the phase rules of that stage's Meta-World policy, as the chained expert does.
"""

from __future__ import annotations

import numpy as np

from vlastack.envs.long_horizon import RETREAT, RETREAT_SUBTASK, RETREAT_TO, SCENES, SUITE, lifting, site_shift, stages_from_states
from vlastack.errors import ConfigError
from vlastack.reasoning.phases import RULES, Phase, phase
from vlastack.reasoning.reasons import reason
from vlastack.registry import unknown_name_error

#: Subtask and reason of frames after the last stage of a long-horizon task is done.
DONE = ("done", "every stage is done, so stay where you are")


def supported_tasks() -> tuple[str, ...]:
    """Tasks whose episodes can be annotated."""
    return (*RULES, *SUITE)


def stages_of(task: str, states: np.ndarray) -> list[int]:
    """Per frame of a long-horizon episode, the stage its action was chosen for."""
    lh = SUITE[task]
    return stages_from_states(lh, states)


def annotate_episode(task: str, states: np.ndarray) -> tuple[list[str], list[str]]:
    """Per-frame subtasks and reasons of an episode of ``task`` with privileged states [N, 39]."""
    states = np.asarray(states, dtype=np.float64)
    if states.ndim != 2 or states.shape[1] != 39:
        raise ConfigError(f"states must be [N, 39] privileged Meta-World states, got shape {states.shape}")
    if task in RULES:
        phases = [phase(task, s) for s in states]
        return [p.subtask for p in phases], [reason(s[:3], p) for s, p in zip(states, phases)]
    if task not in SUITE:
        raise unknown_name_error("task with subtask rules", task, supported_tasks())
    lh = SUITE[task]
    part = SCENES[lh.scene][0]
    subtasks, reasons = [], []
    lifted: set[int] = set()
    for s, k in zip(states, stages_of(task, states)):
        if k >= len(lh.stages):
            subtasks.append(DONE[0])
            reasons.append(DONE[1])
            continue
        if lifting(lh, k, k in lifted, s):  # as the chained expert decides, frame by frame
            p = Phase(
                f"lift clear of the {part}", f"the clear height above the {part} handle", np.array([s[0], s[1], s[6] + lh.part.lift_m])
            )
        else:
            lifted.add(k)
            shifted = s.copy()
            shifted[4] += site_shift(lh, k)
            expert = lh.part.stages[lh.stages[k]].expert
            p = (
                Phase(RETREAT_SUBTASK, "the spot in front of the robot", np.array(RETREAT_TO))
                if expert == RETREAT
                else phase(expert, shifted)
            )
        subtasks.append(p.subtask)
        reasons.append(reason(s[:3], p))
    return subtasks, reasons
