"""Scripted experts for the robosuite tasks: end-effector deltas in the world-aligned frame of
envs/robosuite_env.py, gripper in [-1, 1] (+1 closes). This file holds the Lift expert, the same under the base-arm
layer for a wheeled robot that must drive to reach, and :func:`robosuite_expert_for`; the two-arm experts are in
envs/robosuite_two_arm_experts.py.

They read the privileged state (``info["privileged"]``, :func:`vlastack.envs.robosuite_env.feature_names`),
never the cameras, and are deterministic: the same reset seed gives the same demonstration. One
Lift expert serves every arm make; what differs between arms is in :class:`LiftGains` per arm.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import mujoco
import numpy as np

from vlastack.envs.robosuite_env import POS_UNIT_M, ROT_UNIT_RAD, feature_names
from vlastack.envs.robosuite_tasks import TASKS
from vlastack.registry import unknown_name_error
from vlastack.types import Action, Observation

# Indices into info["privileged"] (robosuite_env.feature_names): the arm's entries come first; the
# object's follow the state, whose length depends on the robot (a wheeled one adds its mount's pose).
_EE_POS, _EE_QUAT = slice(0, 3), slice(3, 7)


@dataclass(frozen=True)
class LiftGains:
    """How the Lift expert moves one arm make."""

    hover_m: float = 0.08
    """Height above the cube's centre (m) the gripper lines up at before going down."""
    grasp_dz_m: float = 0.0
    """Where the end-effector site stops going down, relative to the cube's centre (m, + is up)."""
    close_steps: int = 15
    """Control steps the gripper closes, standing still, before the lift (the gripper's closing time)."""
    lift_m: float = 0.15
    """How far above its start the cube is carried (m); success needs 0.04."""
    pos_gain: float = 1.5
    """Position command per metre of error, in units of the controller's 5 cm target offset."""
    rot_gain: float = 1.0
    """Rotation command per radian of error, in units of the controller's 0.5 rad target offset."""
    align_tol_m: float = 0.01
    """Horizontal error (m) under which the approach counts as lined up."""
    phase_steps: int = 60
    """The most control steps the approach and the descent each take before moving on regardless."""
    open_command: float = -1.0
    """Gripper command before the grasp. robosuite integrates gripper commands (ctrl moves by a fixed
    speed per step towards the sign of the command), so a gripper that is slow and already open (the
    Jaco's, 0.01 per step) winds up while it approaches and then needs ~100 steps more to close: 0 holds it."""
    yaw_only: bool = False
    """Correct only the turn about the vertical, leave tilt to the controller (where holding the full
    orientation fights the position goal: robosuite's Sawyer stalls a few cm short with it)."""


#: Per arm make; the default gains where an arm is not listed.
LIFT_GAINS: dict[str, LiftGains] = {
    "sawyer": LiftGains(yaw_only=True),
    "jaco": LiftGains(close_steps=40, open_command=0.0),  # its three fingers take ~75 steps to close on nothing
}


def quat_to_mat(q: np.ndarray) -> np.ndarray:
    """Rotation matrix of a quaternion given as x, y, z, w (the order of robosuite_env's state)."""
    x, y, z, w = q / np.linalg.norm(q)
    return np.array(
        [
            [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
            [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
            [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
        ]
    )


def rotvec(r: np.ndarray) -> np.ndarray:
    """Axis-angle vector (rad, angle in [0, pi]) of a rotation matrix; through the quaternion, so it
    stays exact near half a turn, where the matrix formula divides by sin(angle) ~ 0."""
    q = np.zeros(4)
    mujoco.mju_mat2Quat(q, np.asarray(r, dtype=np.float64).reshape(-1))
    w, v = (q[0], q[1:]) if q[0] >= 0 else (-q[0], -q[1:])
    n = float(np.linalg.norm(v))
    return np.zeros(3) if n < 1e-12 else v / n * 2.0 * np.arctan2(n, w)


def yaw(r: np.ndarray) -> float:
    """Heading (rad) of a frame's x axis in the world's horizontal plane."""
    return float(np.arctan2(r[1, 0], r[0, 0]))


def rot_z(a: float) -> np.ndarray:
    """Rotation by ``a`` radians about the vertical (world z)."""
    c, s = np.cos(a), np.sin(a)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


class LiftExpert:
    """Line up above the cube (turning the gripper to the cube's faces), go down, close, lift.

    ``act(observation, info) -> action``; a new episode is recognised by ``info["step"] == 0``."""

    def __init__(self, task: str) -> None:
        if task not in TASKS or TASKS[task].env != "Lift":
            raise unknown_name_error("robosuite Lift task", task, [t for t, v in TASKS.items() if v.env == "Lift"])
        self.task = task
        self.gains = LIFT_GAINS.get(task.removeprefix("rs-lift-"), LiftGains())
        obj = feature_names(task)["privileged"].index("obj_x")
        self._obj_pos, self._obj_quat = slice(obj, obj + 3), slice(obj + 3, obj + 7)
        # A wheeled robot's base and torso commands follow the arm's; the expert keeps them still.
        self._still = np.zeros(4 if TASKS[task].mobile else 0, dtype=np.float32)
        self._start(None)

    def _start(self, priv: np.ndarray | None) -> None:
        self._phase, self._phase_steps = "approach", 0
        self._target_rot: np.ndarray | None = None
        self._cube_start: np.ndarray | None = None if priv is None else priv[self._obj_pos].copy()

    def act(self, observation: Observation, info: dict[str, Any]) -> Action:
        priv = np.asarray(info["privileged"], dtype=np.float64)
        if info.get("step", 0) == 0 or self._cube_start is None:
            self._start(priv)
        g = self.gains
        ee, cube = priv[_EE_POS], priv[self._obj_pos]
        ee_rot = quat_to_mat(priv[_EE_QUAT])
        if self._target_rot is None:
            # Keep the start's tilt; turn about the vertical so the fingers meet two opposite faces
            # (a cube looks the same every 90 degrees: the smallest turn that lines up).
            turn = yaw(quat_to_mat(priv[self._obj_quat])) - yaw(ee_rot)
            turn = (turn + np.pi / 4) % (np.pi / 2) - np.pi / 4
            self._target_rot = rot_z(turn) @ ee_rot
        self._phase_steps += 1
        grip = g.open_command
        if self._phase == "approach":
            target = cube + (0.0, 0.0, g.hover_m)
            if (np.linalg.norm((target - ee)[:2]) < g.align_tol_m and abs(target[2] - ee[2]) < 0.02) or self._phase_steps > g.phase_steps:
                self._next("descend")
        elif self._phase == "descend":
            target = cube + (0.0, 0.0, g.grasp_dz_m)
            if abs(target[2] - ee[2]) < 0.005 or self._phase_steps > g.phase_steps:
                self._next("grasp")
        elif self._phase == "grasp":
            target, grip = cube + (0.0, 0.0, g.grasp_dz_m), 1.0
            if self._phase_steps > g.close_steps:
                self._next("lift")
        else:
            target, grip = self._cube_start + (0.0, 0.0, g.lift_m + g.grasp_dz_m), 1.0
        pos = np.clip((target - ee) * g.pos_gain / POS_UNIT_M, -1.0, 1.0)
        err = rotvec(self._target_rot @ ee_rot.T)  # world frame, rad
        if g.yaw_only:
            err[:2] = 0.0
        rot = np.clip(err * g.rot_gain / ROT_UNIT_RAD, -1.0, 1.0)
        return np.concatenate([pos, rot, [grip], self._still]).astype(np.float32)

    def _next(self, phase: str) -> None:
        self._phase, self._phase_steps = phase, 0


class BaseDrivingLiftExpert:
    """The Lift expert under the base-arm layer (execution/base_arm_layer.py), for a wheeled robot whose cube starts
    beyond its arm's reach (``RobosuiteTask.expert_drives_base``): the expert asks for hand motions, the layer splits
    them between base and arm. ``act`` returns the layer's action, base commands included: what a dataset records."""

    def __init__(self, task: str) -> None:
        from vlastack.execution.base_arm_layer import BaseArmLayer

        self.task = task
        self.expert = LiftExpert(task)
        self.layer = BaseArmLayer(self.expert.act, feature_names(task))

    def act(self, observation: Observation, info: dict[str, Any]) -> Action:
        return self.layer(observation, info)


def robosuite_expert_for(task: str, arm_only: bool = False) -> LiftExpert:
    """The scripted expert of a robosuite task (every one has ``act(observation, info) -> action``). ``arm_only``: on a
    task whose expert drives the base (``expert_drives_base``), the Lift expert alone, for running over the layer."""
    with_expert = [t for t, v in TASKS.items() if v.expert]
    if task not in with_expert:
        raise unknown_name_error("robosuite task with a scripted expert", task, with_expert)
    if TASKS[task].expert_drives_base and not arm_only:
        return BaseDrivingLiftExpert(task)  # type: ignore[return-value]  # same act(observation, info)
    env = TASKS[task].env
    if env in ("TwoArmLift", "TwoArmHandover"):
        from vlastack.envs.robosuite_two_arm_experts import HandoverExpert, TwoArmLiftExpert

        return (TwoArmLiftExpert if env == "TwoArmLift" else HandoverExpert)(task)  # type: ignore[return-value]  # same act(observation, info)
    return LiftExpert(task)
