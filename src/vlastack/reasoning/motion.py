"""A policy's own predicted motion in words: where its action chunk moves the hand and what the gripper does.

"the next 8 steps move the hand 4 cm forward and 1 cm down, gripper open". Read only from the
actions the policy produced (no simulator state), so a policy can give it at run time as part of
its reason. The layout is Meta-World's (the embodiment the policies here are trained on): actions
``dx, dy, dz, grip``, each in [-1, 1]; one unit of translation commands :data:`TRANSLATION_SCALE_M`
metres per step; grip > 0 closes. Axes and words are the annotations' (reasons.py): x to the
robot's right, y away from it, z up, whole centimetres, at most two axes, the largest first.
"""

from __future__ import annotations

import numpy as np

from vlastack.reasoning.reasons import MAX_AXES, MIN_CM, MOVE

#: Metres of commanded hand motion per unit of translation action per step (Meta-World's mocap).
TRANSLATION_SCALE_M = 0.01
#: Action entries of the translation (x, y, z) and of the gripper effort.
TRANSLATION_DIMS = (0, 1, 2)
GRIP_DIM = 3


def hand_motion_m(actions: np.ndarray) -> np.ndarray:
    """float64 [3]: the end-effector displacement the actions [K, D] command in all, metres."""
    a = np.asarray(actions, dtype=np.float64)
    if a.ndim != 2 or a.shape[1] <= GRIP_DIM:
        raise ValueError(f"actions must be [K, D>={GRIP_DIM + 1}] (dx, dy, dz, grip, ...), got shape {a.shape}")
    return a[:, list(TRANSLATION_DIMS)].sum(axis=0) * TRANSLATION_SCALE_M


def gripper_words(grip: np.ndarray) -> str:
    """What the gripper efforts [K] do: "gripper open", "gripper closed", or when they change sign, at
    which step it closes or opens ("closing the gripper at step 3")."""
    closed = np.asarray(grip, dtype=np.float64) > 0
    if closed.all():
        return "gripper closed"
    if not closed.any():
        return "gripper open"
    k = int(np.flatnonzero(closed != closed[0])[0])  # the first step that differs from the first
    return f"{'opening' if closed[0] else 'closing'} the gripper at step {k + 1}"


def describe_motion(actions: np.ndarray) -> str:
    """The motion the actions [K, D] command, in words: "the next K steps move the hand ..., gripper ..."."""
    a = np.asarray(actions, dtype=np.float64)
    cm = np.rint(hand_motion_m(a) * 100).astype(int)
    axes = [ax for ax in np.argsort(-np.abs(cm), kind="stable")[:MAX_AXES] if abs(cm[ax]) >= MIN_CM]
    steps = f"the next {len(a)} step{'s' if len(a) != 1 else ''}"
    if axes:
        move = " and ".join(f"{abs(cm[ax])} cm {MOVE[ax][int(cm[ax] > 0)]}" for ax in axes)
        motion = f"{steps} move the hand {move}"
    else:
        motion = f"{steps} keep the hand within {MIN_CM} cm of where it is"
    return f"{motion}, {gripper_words(a[:, GRIP_DIM])}"
