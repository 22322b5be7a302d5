"""Scripted experts for robosuite's two-arm tasks (TwoArmLift, TwoArmHandover), both arms in one
action: each arm's 7 entries in turn (envs/robosuite_env.py). They read the privileged state only.
Shared pieces (gains, rotations) come from envs/robosuite_experts.py.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from vlastack.envs.robosuite_env import POS_UNIT_M, ROT_UNIT_RAD, feature_names
from vlastack.envs.robosuite_experts import LiftGains, quat_to_mat, rot_z, rotvec
from vlastack.envs.robosuite_tasks import TASKS
from vlastack.registry import unknown_name_error
from vlastack.types import Action, Observation


class TwoArmLiftExpert:
    """Both arms line up above their pot handle (the nearer one at the start), turn so the fingers close
    across the handle's outer bar, go down, close, and lift together.

    ``act(observation, info) -> action`` (both arms' 7 entries); a new episode is ``info["step"] == 0``."""

    def __init__(self, task: str, gains: LiftGains | None = None, closing_axis: int = 0) -> None:
        if task not in TASKS or TASKS[task].env != "TwoArmLift":
            raise unknown_name_error("robosuite TwoArmLift task", task, [t for t, v in TASKS.items() if v.env == "TwoArmLift"])
        self.task = task
        self.gains = gains or LiftGains(hover_m=0.08, grasp_dz_m=0.0, lift_m=0.2)
        self.closing_axis = closing_axis
        """Column of the end-effector frame (0: its x axis) the fingers close along, for the Panda gripper."""
        names = feature_names(task)["privileged"]
        self._pot = names.index("pot_x")
        self._handles = [names.index(f"pot_handle{i}_x") for i in range(2)]
        self._phase, self._phase_steps = "approach", 0
        self._rots: list[np.ndarray] = []
        self._handle_of: list[int] = []
        self._grasped: list[np.ndarray] = []

    def act(self, observation: Observation, info: dict[str, Any]) -> Action:
        priv = np.asarray(info["privileged"], dtype=np.float64)
        g = self.gains
        ees = [priv[8 * i : 8 * i + 3] for i in range(2)]
        rots = [quat_to_mat(priv[8 * i + 3 : 8 * i + 7]) for i in range(2)]
        handles = [priv[h : h + 3] for h in self._handles]
        if info.get("step", 0) == 0 or not self._rots:
            self._phase, self._phase_steps = "approach", 0
            self._handle_of = [int(np.argmin([np.linalg.norm(h - ee) for h in handles])) for ee in ees]
            if self._handle_of[0] == self._handle_of[1]:
                self._handle_of = [0, 1]
            centre = priv[self._pot : self._pot + 3]
            self._rots = []
            for i in range(2):
                radial = handles[self._handle_of[i]] - centre
                axis = rots[i][:, self.closing_axis]
                turn = np.arctan2(radial[1], radial[0]) - np.arctan2(axis[1], axis[0])
                turn = (turn + np.pi / 2) % np.pi - np.pi / 2  # fingers are symmetric: a half turn is the same grasp
                self._rots.append(rot_z(turn) @ rots[i])
        self._phase_steps += 1
        targets, grip = [], -1.0
        for i in range(2):
            h = handles[self._handle_of[i]]
            if self._phase == "approach":
                targets.append(h + (0.0, 0.0, g.hover_m))
            elif self._phase in ("descend", "grasp"):
                targets.append(h + (0.0, 0.0, g.grasp_dz_m))
            else:
                targets.append(self._grasped[i] + (0.0, 0.0, g.lift_m))
        errs = [t - e for t, e in zip(targets, ees)]
        if self._phase == "approach":
            if all(np.linalg.norm(e[:2]) < g.align_tol_m and abs(e[2]) < 0.02 for e in errs) or self._phase_steps > g.phase_steps:
                self._phase, self._phase_steps = "descend", 0
        elif self._phase == "descend":
            if all(abs(e[2]) < 0.005 for e in errs) or self._phase_steps > g.phase_steps:
                self._phase, self._phase_steps = "grasp", 0
        elif self._phase == "grasp":
            grip = 1.0
            if self._phase_steps > g.close_steps:
                self._phase, self._phase_steps = "lift", 0
                self._grasped = [h.copy() for h in (handles[self._handle_of[i]] for i in range(2))]
        else:
            grip = 1.0
        out = []
        for i in range(2):
            pos = np.clip(errs[i] * g.pos_gain / POS_UNIT_M, -1.0, 1.0)
            rot = np.clip(rotvec(self._rots[i] @ rots[i].T) * g.rot_gain / ROT_UNIT_RAD, -1.0, 1.0)
            out.append(np.concatenate([pos, rot, [grip]]))
        return np.concatenate(out).astype(np.float32)


class HandoverExpert:
    """Arm 0 picks the hammer up by its handle and holds it up between the arms; arm 1 grasps the handle
    beside it; arm 0 lets go and draws back. Both grasp from above, fingers across the handle, at
    :attr:`GRASP_OFFSET_M` either side of the handle's centre (inside any handle robosuite draws, 0.1-0.25 m).

    ``act(observation, info) -> action`` (both arms' 7 entries); a new episode is ``info["step"] == 0``."""

    GRASP_OFFSET_M = 0.04
    """Distance (m) of each grasp point from the handle's centre along the handle."""
    HANDOVER_M = (0.0, 0.0, 1.0)
    """Where arm 0 carries the handle's centre (world frame, m): midway between the two bases (y = -0.81
    and +0.81 m), where both just reach; on the way it turns the handle to lie along the line between them."""

    def __init__(self, task: str, gains: LiftGains | None = None, closing_axis: int = 0) -> None:
        if task not in TASKS or TASKS[task].env != "TwoArmHandover":
            raise unknown_name_error("robosuite TwoArmHandover task", task, [t for t, v in TASKS.items() if v.env == "TwoArmHandover"])
        self.task = task
        self.gains = gains or LiftGains()
        self.closing_axis = closing_axis
        names = feature_names(task)["privileged"]
        self._hammer = names.index("hammer_x")
        self._phase, self._phase_steps = "approach", 0
        self._rots: list[np.ndarray] = []
        self._side: list[float] = []

    def _turn_fingers_across(self, arm: int, axis: np.ndarray, rot: np.ndarray) -> None:
        """Set ``arm``'s target orientation: ``rot`` turned about the vertical until its fingers close across ``axis``."""
        closing = rot[:, self.closing_axis]
        turn = np.arctan2(axis[1], axis[0]) + np.pi / 2 - np.arctan2(closing[1], closing[0])
        self._rots[arm] = rot_z((turn + np.pi / 2) % np.pi - np.pi / 2) @ rot

    def _handle(self, priv: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The handle's centre (m) and its axis (unit vector, world frame; the hammer body's z axis)."""
        pose = priv[self._hammer : self._hammer + 7]
        return pose[:3], quat_to_mat(pose[3:7])[:, 2]

    def act(self, observation: Observation, info: dict[str, Any]) -> Action:
        priv = np.asarray(info["privileged"], dtype=np.float64)
        g = self.gains
        ees = [priv[8 * i : 8 * i + 3] for i in range(2)]
        rots = [quat_to_mat(priv[8 * i + 3 : 8 * i + 7]) for i in range(2)]
        centre, axis = self._handle(priv)
        if info.get("step", 0) == 0 or not self._rots:
            self._phase, self._phase_steps = "approach", 0
            # Arm 1 takes the grasp point on its side (+y) of the handle, arm 0 the other.
            self._side = [-1.0, 1.0] if axis[1] >= 0 else [1.0, -1.0]
            self._rots = []
            for i in range(2):
                closing = rots[i][:, self.closing_axis]
                turn = np.arctan2(axis[1], axis[0]) + np.pi / 2 - np.arctan2(closing[1], closing[0])
                turn = (turn + np.pi / 2) % np.pi - np.pi / 2
                self._rots.append(rot_z(turn) @ rots[i])
        self._phase_steps += 1
        grasp = [centre + self._side[i] * self.GRASP_OFFSET_M * axis for i in range(2)]
        # At the handover the handle lies along y, arm 0's grasp point on its own side (-y).
        carried = np.asarray(self.HANDOVER_M) - (0.0, self.GRASP_OFFSET_M, 0.0)
        grips = [-1.0, -1.0]
        p = self._phase
        if p in ("approach", "descend"):
            targets = [grasp[0] + (0.0, 0.0, g.hover_m if p == "approach" else g.grasp_dz_m), ees[1]]
        elif p == "grasp":
            targets, grips = [grasp[0], ees[1]], [1.0, -1.0]
        elif p == "carry":  # arm 1 waits above where its grasp point will be
            hover1 = np.asarray(self.HANDOVER_M) + (0.0, self.GRASP_OFFSET_M, g.hover_m)
            targets, grips = [carried, hover1], [1.0, -1.0]
        elif p == "approach1":
            targets, grips = [carried, grasp[1] + (0.0, 0.0, g.hover_m)], [1.0, -1.0]
        elif p in ("descend1", "grasp1"):
            targets, grips = [carried, grasp[1]], [1.0, 1.0 if p == "grasp1" else -1.0]
        else:  # release: arm 0 opens and rises
            targets, grips = [carried + (0.0, 0.0, 0.1 if self._phase_steps > 10 else 0.0), grasp[1]], [-1.0, 1.0]
        errs = [t - e for t, e in zip(targets, ees)]
        done = {
            "approach": np.linalg.norm(errs[0][:2]) < g.align_tol_m and abs(errs[0][2]) < 0.02,
            "descend": abs(errs[0][2]) < 0.005,
            "grasp": self._phase_steps > g.close_steps,
            "carry": all(np.linalg.norm(e) < 0.015 for e in errs),
            "approach1": np.linalg.norm(errs[1][:2]) < g.align_tol_m and abs(errs[1][2]) < 0.02,
            "descend1": abs(errs[1][2]) < 0.005,
            "grasp1": self._phase_steps > g.close_steps,
            "release": False,
        }[p]
        if done or (p in ("approach", "descend", "carry", "approach1", "descend1") and self._phase_steps > g.phase_steps):
            order = ["approach", "descend", "grasp", "carry", "approach1", "descend1", "grasp1", "release"]
            if p == "grasp":  # from now on arm 0 turns the handle so that its own grasp point faces -y
                v = self._side[0] * axis  # centre -> arm 0's grasp point
                turn = (-np.pi / 2 - np.arctan2(v[1], v[0]) + np.pi) % (2 * np.pi) - np.pi
                self._rots[0] = rot_z(turn) @ rots[0]
                self._turn_fingers_across(1, np.array([0.0, 1.0, 0.0]), rots[1])  # while far from arm 0
            if p == "carry":  # arm 1 corrects for the handle as it really lies
                self._turn_fingers_across(1, axis, rots[1])
            self._phase, self._phase_steps = order[order.index(p) + 1], 0
        out = []
        for i in range(2):
            pos = np.clip(errs[i] * g.pos_gain / POS_UNIT_M, -1.0, 1.0)
            rot = np.clip(rotvec(self._rots[i] @ rots[i].T) * g.rot_gain / ROT_UNIT_RAD, -1.0, 1.0)
            out.append(np.concatenate([pos, rot, [grips[i]]]))
        return np.concatenate(out).astype(np.float32)
