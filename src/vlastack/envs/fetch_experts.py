"""Scripted experts for the Fetch tasks: hand deltas in the world frame of envs/fetch_env.py, gripper in [-1, 1]
(+1 closes).

They read the privileged state (``info["privileged"]``, :data:`vlastack.envs.fetch_env.PRIVILEGED_NAMES`: hand,
block pose, goal), never the cameras, and are deterministic: the same reset seed gives the same demonstration.
``act(observation, info) -> action``; a new episode is recognised by ``info["step"] == 0``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from vlastack.envs.fetch_env import POS_UNIT_M, PRIVILEGED_NAMES
from vlastack.envs.fetch_tasks import TASKS
from vlastack.registry import unknown_name_error
from vlastack.types import Action, Observation

_EE = slice(0, 3)
_OBJ = slice(PRIVILEGED_NAMES.index("obj_x"), PRIVILEGED_NAMES.index("obj_z") + 1)
_GOAL = slice(PRIVILEGED_NAMES.index("goal_x"), PRIVILEGED_NAMES.index("goal_z") + 1)


@dataclass(frozen=True)
class FetchGains:
    """How the Fetch experts move the hand."""

    pos_gain: float = 1.0
    """Position command per metre of error, in units of the mocap's 5 cm target offset (1: the target is put on the
    point wanted, as far as one step's 5 cm allow)."""
    hover_m: float = 0.06
    """Height above the block's centre (m) where the hand lines up before going down (pick-and-place), and where it
    travels over the block to get behind it (push)."""
    align_tol_m: float = 0.01
    """Horizontal error (m) under which the hand counts as lined up."""
    descend_steps: int = 20
    """Pick-and-place: the most steps the descent takes before closing regardless (the hand may stop short on the block)."""
    close_steps: int = 4
    """Steps the gripper closes, standing still, before the carry (the fingers close in about 3, 40 ms each)."""
    behind_m: float = 0.06
    """Push: how far behind the block's centre (m, away from the goal) the hand starts its push."""
    push_lane_m: float = 0.015
    """Push: the hand's sideways distance (m) from the line through block and goal beyond which it goes back behind."""
    push_z_m: float = 0.0
    """Push: the grip site's height relative to the block's centre while pushing (m)."""


class FetchExpert:
    """Reach: the hand to the goal. Push: get behind the block (over it, not through it), then push it along the line
    to the goal. Pick-and-place: open, line up over the block, go down, close, carry it to the goal."""

    def __init__(self, task: str, gains: FetchGains | None = None) -> None:
        if task not in TASKS:
            raise unknown_name_error("Fetch task", task, TASKS)
        self.task = task
        self.gains = gains or FetchGains()
        self._phase, self._phase_steps = "approach", 0

    def act(self, observation: Observation, info: dict[str, Any]) -> Action:
        priv = np.asarray(info["privileged"], dtype=np.float64)
        if info.get("step", 0) == 0:
            self._phase, self._phase_steps = "approach", 0
        self._phase_steps += 1
        ee, obj, goal = priv[_EE], priv[_OBJ], priv[_GOAL]
        if self.task == "fetch-reach":
            target, grip = goal, 0.0
        elif self.task == "fetch-push":
            target, grip = self._push(ee, obj, goal), 0.0  # the fingers are held closed: grip does nothing
        else:
            target, grip = self._pick_place(ee, obj, goal)
        pos = np.clip((target - ee) * self.gains.pos_gain / POS_UNIT_M, -1.0, 1.0)
        return np.concatenate([pos, [grip]]).astype(np.float32)

    def _push(self, ee: np.ndarray, obj: np.ndarray, goal: np.ndarray) -> np.ndarray:
        g = self.gains
        to_goal = (goal - obj)[:2]
        d = to_goal / max(float(np.linalg.norm(to_goal)), 1e-6)  # unit push direction, horizontal
        rel = (ee - obj)[:2]
        along, across = float(rel @ d), float(rel @ np.array([-d[1], d[0]]))
        behind = np.array([*(obj[:2] - g.behind_m * d), obj[2] + g.push_z_m])
        if along < -0.02 and abs(across) < g.push_lane_m:
            # Behind the block and in its lane: push, aiming the hand past the block's centre along the line.
            return np.array([*(obj[:2] + 0.05 * d), obj[2] + g.push_z_m])
        if np.linalg.norm(ee[:2] - behind[:2]) < g.align_tol_m * 2:
            return behind  # above or at the start point: go down
        # Elsewhere: travel to the start point at hover height, over the block rather than through it; a hand
        # below that height (Push starts it level with the block) first rises where it is.
        hover = obj[2] + g.hover_m
        if ee[2] < hover - 0.02:
            return np.array([*ee[:2], hover])
        return np.array([*behind[:2], hover])

    def _pick_place(self, ee: np.ndarray, obj: np.ndarray, goal: np.ndarray) -> tuple[np.ndarray, float]:
        g = self.gains
        if self._phase == "approach":
            target, grip = obj + (0.0, 0.0, g.hover_m), -1.0
            if np.linalg.norm((target - ee)[:2]) < g.align_tol_m and abs(target[2] - ee[2]) < 0.02:
                self._next("descend")
        elif self._phase == "descend":
            target, grip = obj.copy(), -1.0
            if abs(obj[2] - ee[2]) < 0.008 or self._phase_steps > g.descend_steps:
                self._next("grasp")
        elif self._phase == "grasp":
            target, grip = obj.copy(), 1.0
            if self._phase_steps > g.close_steps:
                self._next("carry")
        else:
            target, grip = goal, 1.0
        return target, grip

    def _next(self, phase: str) -> None:
        self._phase, self._phase_steps = phase, 0


def fetch_expert_for(task: str) -> FetchExpert:
    """The scripted expert of a Fetch task (``act(observation, info) -> action``)."""
    with_expert = [t for t, v in TASKS.items() if v.expert]
    if task not in with_expert:
        raise unknown_name_error("Fetch task with a scripted expert", task, with_expert)
    return FetchExpert(task)
