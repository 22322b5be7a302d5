"""What the hierarchical policy says at each re-plan: its subtask, its plan, and a reason in words.

Everything is read from what the policy computed for this chunk, nothing from the simulator: the
subtask it chose and the probability of that choice, whether the subtask in progress was judged
done (the factored head's done-detector, or the joint head picking another subtask), the subtasks
its plan head predicts next, and the motion its chunk commands (reasoning/motion.py). The reason
templates of the training annotations (reasoning/reasons.py) need the object's true position, which
a policy does not have at run time, so they are not used here.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from vlastack.reasoning.motion import GRIP_DIM, describe_motion, hand_motion_m
from vlastack.types import Explanation

#: Longest plan the factored head's look-ahead spells out (the long-horizon suite has 2 to 4 stages).
MAX_PLAN_STEPS = 4
#: The look-ahead stops at a predicted next subtask below this probability: the plan head never saw a
#: done list past a task's last stage, so a low-confidence pick there is a guess, not a plan.
MIN_LOOKAHEAD_P = 0.5


def why_words(entry: dict[str, Any]) -> str:
    """Why this subtask now, from one ``HierPolicy.last_plan`` entry (its re-plan's decision)."""
    subtask, previous = entry["subtask"], entry.get("previous")
    p_done = entry.get("done_probability")
    if previous is None:
        return f"starting the plan with '{subtask}'"
    if entry.get("finished"):  # this re-plan put the subtask in progress on the done list
        judged = f"the done-detector says {p_done:.0%}" if p_done is not None else "the subtask head now picks another subtask"
        if previous == subtask:  # factored: done, and the plan head names the same subtask again
            return f"'{previous}' looks done ({judged}), and the plan names it again"
        return f"'{previous}' looks done ({judged}), so on to '{subtask}'"
    if p_done is not None:
        return f"'{subtask}' is not done yet (the done-detector says {p_done:.0%})"
    return f"'{subtask}' is still the subtask head's pick"


def explanation(entry: dict[str, Any], actions: np.ndarray) -> Explanation:
    """The explanation of one batch row: its ``last_plan`` entry and the actions [K, D] the executor
    will run before the next re-plan."""
    subtask = entry["subtask"]
    plan = (*entry["done"], subtask, *entry.get("ahead", ()))
    confidence = entry.get("probability")
    why = why_words(entry)
    if confidence is not None:
        why += f", {confidence:.0%} sure of this subtask"
    motion = None
    # Only Meta-World's layout (dx, dy, dz, grip): a robosuite arm's 7 entries hold a rotation at index 3
    # and its gripper at 6, in another frame and scale; its motion would need its own words.
    if actions.shape[-1] == GRIP_DIM + 1:
        motion = tuple(float(v) for v in hand_motion_m(actions))
        why += f"; {describe_motion(actions)}"
    return Explanation(
        subtask=subtask,
        reason=why,
        plan=plan,
        plan_index=len(entry["done"]),
        confidence=None if confidence is None else float(confidence),
        hand_motion_m=motion,
    )
