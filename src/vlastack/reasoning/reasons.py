"""A short grounded reason for a phase: where its target is from the gripper, and so which way to move.

"the spot above the puck is 6 cm to the left and 4 cm higher, so move left and up". Distances are
whole centimetres (a small vocabulary, so a dataset stores each distinct reason once); axes are the
robot's: x to its right, y away from it, z up. Offsets under :data:`MIN_CM` are left out, and when
every axis is under it the gripper is said to be there.
"""

from __future__ import annotations

import numpy as np

from vlastack.reasoning.phases import Phase

#: Offsets smaller than this many centimetres are not mentioned (the experts' own tolerances are 2-4 cm).
MIN_CM = 1
#: At most this many axes are named, the largest first (a reason stays one short sentence).
MAX_AXES = 2

# Per axis: (where the target is when the offset is negative, positive), (the move, likewise).
_WHERE = (("to the left", "to the right"), ("closer", "farther away"), ("lower", "higher"))
MOVE = (("left", "right"), ("back", "forward"), ("down", "up"))


def reason(hand: np.ndarray, phase: Phase) -> str:
    """The reason for ``phase`` with the gripper at ``hand`` (float [3], metres)."""
    if phase.note is not None:
        return phase.note
    cm = np.rint((np.asarray(phase.target, dtype=np.float64) - np.asarray(hand, dtype=np.float64)) * 100).astype(int)
    axes = [a for a in np.argsort(-np.abs(cm), kind="stable")[:MAX_AXES] if abs(cm[a]) >= MIN_CM]
    if not axes:
        return f"the gripper is at {phase.referent}, so hold it there"
    where = " and ".join(f"{abs(cm[a])} cm {_WHERE[a][int(cm[a] > 0)]}" for a in axes)
    move = " and ".join(MOVE[a][int(cm[a] > 0)] for a in axes)
    return f"{phase.referent} is {where}, so move {move}"
