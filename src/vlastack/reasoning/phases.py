"""Which phase a Meta-World scripted expert is in, read from the privileged 39-d state.

Each rule mirrors the branch conditions of one ``metaworld.policies.Sawyer*V3Policy`` (same
thresholds, metres), and names the phase in words (the subtask), the thing the hand is heading for
(the referent) and that target point, so a reason can be said about it ("the spot above the puck is
6 cm to the left, so move left"). The state layout (Meta-World v3): hand xyz ``[0:3]``, gripper
opening ``[3]``, first object xyz ``[4:7]``, goal xyz ``[36:39]``; x is the robot's right, y is away
from the robot, z is up.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from vlastack.errors import ConfigError
from vlastack.registry import unknown_name_error


@dataclass(frozen=True)
class Phase:
    """One phase of a scripted expert at one frame."""

    subtask: str
    """What the expert is doing now, in words ("move above the puck")."""
    referent: str
    """The thing the hand is heading for ("the spot above the puck")."""
    target: np.ndarray
    """Where the hand is heading: float [3], metres, world frame."""
    note: str | None = None
    """A fixed reason for phases that are not a motion (waiting for the fingers to close)."""


def _xy(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.linalg.norm(a[:2] - b[:2]))


def _up(z: float) -> np.ndarray:
    return np.array([0.0, 0.0, z])


def _reach(o: np.ndarray) -> Phase:
    return Phase("reach the goal", "the goal", o[36:39])


def _push(o: np.ndarray) -> Phase:
    hand, puck, goal = o[:3], o[4:7] + [-0.005, 0, 0], o[36:39]
    if _xy(hand, puck) > 0.02:
        return Phase("move above the puck", "the spot above the puck", puck + _up(0.2))
    if abs(hand[2] - puck[2]) > 0.04:
        return Phase("lower onto the puck", "the puck", puck + _up(0.03))
    return Phase("push the puck to the goal", "the goal", goal)


def _pick_place(o: np.ndarray) -> Phase:
    hand, puck, goal = o[:3], o[4:7] + [-0.005, 0, 0], o[36:39]
    if _xy(hand, puck) > 0.02:
        return Phase("move above the puck", "the spot above the puck", puck + _up(0.1))
    if abs(hand[2] - puck[2]) > 0.05 and puck[2] < 0.04:
        return Phase("lower to the puck", "the puck", puck + _up(0.03))
    if o[3] > 0.73:  # gripper still open (1 = fully open): the policy waits in place
        return Phase("grasp the puck", "the puck", hand, note="the fingers are around the puck but still open, so close them and wait")
    return Phase("carry the puck to the goal", "the goal", goal)


def _door_open(o: np.ndarray) -> Phase:
    hand, door = o[:3], o[4:7] - [0.05, 0, 0]
    if _xy(hand, door) > 0.12:
        return Phase("move above the door handle", "the spot above the door handle", door + [0.06, 0.02, 0.2])
    if abs(hand[2] - door[2]) > 0.04:
        return Phase("lower beside the door handle", "the front edge of the door handle", door + [0.06, 0.02, 0.0])
    return Phase("pull the door open", "the door handle", door)


def _drawer_open(o: np.ndarray) -> Phase:
    hand, handle = o[:3], o[4:7] + [0, 0, -0.02]
    if _xy(hand, handle) > 0.06:
        return Phase("move above the drawer handle", "the spot above the drawer handle", handle + _up(0.3))
    if abs(hand[2] - handle[2]) > 0.04:
        return Phase("lower to the drawer handle", "the drawer handle", handle)
    return Phase("pull the drawer open", "the pulling point in front of the handle", handle + [0, -0.06, 0])


def _drawer_close(o: np.ndarray) -> Phase:
    hand, handle = o[:3], o[4:7] + [0, 0, -0.02]
    if hand[1] > handle[1]:  # the hand is beyond the handle: go up and over to its front
        if hand[2] < handle[2] + 0.23:
            return Phase("rise above the drawer", "the spot high above the drawer", np.array([hand[0], hand[1], handle[2] + 0.5]))
        return Phase("move in front of the drawer handle", "the spot above the front of the handle", handle + [0, -0.075, 0.23])
    if abs(hand[2] - handle[2]) > 0.04:
        return Phase("lower in front of the drawer handle", "the front of the drawer handle", handle + [0, -0.075, 0])
    return Phase("push the drawer closed", "the drawer handle", handle)


def _button_press_topdown(o: np.ndarray) -> Phase:
    hand, button = o[:3], o[4:7]
    if _xy(hand, button) > 0.04:
        return Phase("move above the button", "the spot above the button", button + _up(0.1))
    return Phase("press the button down", "the button", button)


def _peg_insert_side(o: np.ndarray) -> Phase:
    hand, peg = o[:3], o[4:7]
    hole = np.array([-0.35, o[37], 0.16])  # the policy's hole: fixed x and height, y from the goal
    if _xy(hand, peg) > 0.04:
        return Phase("move above the peg", "the spot above the peg", peg + _up(0.3))
    if abs(hand[2] - peg[2]) > 0.025:
        return Phase("lower to the peg and grasp it", "the peg", peg)
    if np.linalg.norm(peg[1:] - hole[1:]) > 0.03:
        return Phase("line the peg up with the hole", "the spot in front of the hole", hole + [0.4, 0, 0])
    return Phase("insert the peg into the hole", "the hole", hole)


def _window(o: np.ndarray, closing: bool) -> Phase:
    hand = o[:3]
    handle = o[4:7] + ([0.03, -0.03, -0.08] if closing else [-0.03, -0.03, -0.08])
    if _xy(hand, handle) > 0.04:
        return Phase("move above the window handle", "the spot above the window handle", handle + _up(0.25 if closing else 0.3))
    if abs(hand[2] - handle[2]) > 0.02:
        return Phase("lower to the window handle", "the window handle", handle)
    if closing:
        return Phase("slide the window closed", "the closed position", handle + [-0.1, 0, 0])
    return Phase("slide the window open", "the open position", handle + [0.1, 0, 0])


def _handle_press(o: np.ndarray) -> Phase:
    hand, handle = o[:3], o[4:7] + [0, -0.02, 0]
    if _xy(hand, handle) > 0.02:
        return Phase("move above the handle", "the spot above the handle", handle + _up(0.2))
    return Phase("press the handle down", "the bottom of the handle's travel", handle + _up(-0.5))


def _handle_pull(o: np.ndarray) -> Phase:
    hand, handle = o[:3], o[4:7] + [0, -0.04, 0]
    if _xy(hand, handle) > 0.02:
        return Phase("move under the handle", "the spot under the handle", handle)
    if abs(hand[2] - handle[2]) > 0.02:
        # The policy returns the handle's height alone here (a scalar target); the reason names the
        # part of it that matters, the height.
        return Phase("line up with the handle", "the handle's height", np.array([hand[0], hand[1], handle[2]]))
    return Phase("pull the handle up", "the top of the handle's travel", handle + _up(0.1))


RULES: dict[str, Callable[[np.ndarray], Phase]] = {
    "reach-v3": _reach,
    "push-v3": _push,
    "pick-place-v3": _pick_place,
    "door-open-v3": _door_open,
    "drawer-open-v3": _drawer_open,
    "drawer-close-v3": _drawer_close,
    "button-press-topdown-v3": _button_press_topdown,
    "peg-insert-side-v3": _peg_insert_side,
    "window-open-v3": lambda o: _window(o, closing=False),
    "window-close-v3": lambda o: _window(o, closing=True),
    "handle-press-v3": _handle_press,
    "handle-pull-v3": _handle_pull,
}


def phase(task: str, state: np.ndarray) -> Phase:
    """The phase of ``task``'s scripted expert in the privileged state ``state`` (float [39])."""
    if task not in RULES:
        raise unknown_name_error("task with phase rules", task, RULES)
    s = np.asarray(state, dtype=np.float64).reshape(-1)
    if s.shape != (39,):
        raise ConfigError(f"state must be Meta-World's 39-d privileged state, got shape {np.shape(state)}")
    return RULES[task](s)
