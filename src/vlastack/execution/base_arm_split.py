"""Splitting one control step's hand motion between a wheeled base and its arm: a small bounded least squares.

Given the hand displacement a policy asks for in one control step, :func:`split_step` decides how much the arm
does (moving the hand relative to its mount) and how much the base does (carrying mount and hand along), so that

- the hand goes where asked, as closely as the per-step limits allow;
- the hand stays inside the arm's comfortable reach, a box relative to the mount (:class:`SplitLimits`);
- the base moves only as much as that needs: inside the box the arm does everything and the base stands still.

Frames and units. World frame: robosuite's (x towards the table, y left, z up), metres. Base frame: origin at
the arm's mount (the state's ``mount_x, mount_y, mount_z``), x along the base's heading (``mount_yaw``, rad,
counter-clockwise from world x), y to its left, z up; metres. Displacements are per control step (m), positive
along each frame's axes. The base translates in its own x and y (forward, left); it has no z.

The problem, in the base frame, over ``x = [arm_x, arm_y, arm_z, base_x, base_y]`` (m)::

    minimise   |arm + S base - desired|^2 + base_weight * |base|^2
    subject to -arm_step_m <= arm_i <= arm_step_m  and  reach_lo_m_i <= hand_i + arm_i <= reach_hi_m_i   (each axis i)
               -base_step_m <= base_j <= base_step_m                                                     (j = x, y)

where ``S`` puts the base's x and y motion into the hand's x and y, and ``hand`` is the hand's position relative
to the mount. The first term tracks the request; the small second one picks, among the motions that track it
equally well, the one with the least base motion (it costs a shortfall of ``base_weight / (1 + base_weight)`` of
the base's share, 0.1 % at the default). Bounds only, so scipy's bounded-variable least squares solves it exactly.
When the hand is already outside the box (the policy pushed it there, or the base was stopped), the reach bound
on the arm is clipped to the per-step limit: the arm moves back towards the box at most ``arm_step_m`` a step.

What it does NOT handle: the base's yaw (it neither turns the base nor uses turning to reach; a heading is taken
as given for the step); the torso; the hand's orientation (rotation commands pass by it); collisions of base,
arm or hand with anything (the table included: a base that drives into the table is not stopped here);
the reach's true shape (a box is a conservative stand-in for a region that is roughly a shell around the
shoulder); dynamics (the per-step limits are steady-state speeds, so the base's acceleration over its first
steps and the arm's lag behind a moving base show up as tracking error, fixed by the policy's next step).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import lsq_linear

from vlastack.errors import ConfigError


@dataclass(frozen=True)
class SplitLimits:
    """The arm's comfortable reach and the per-step limits the split keeps to (base frame, metres).

    The defaults are the wheeled PandaOmron of robosuite 1.5.2, measured by ``benchmarks/pandaomron_reach.py``
    (2026-12-07): the Panda stalls 0.85 m ahead of its mount at the cube's height (and sags there, the hand
    dropping up to 0.1 m), and loses the hand sideways past ~0.5 m at 0.6 m ahead; the box keeps 0.15 m
    inside the forward limit and 0.2 m inside the sideways one. The arm covers 12.9-13.0 mm a step at full
    command (embodiments/robosuite.py), the base 12.5 mm at half command: its friction eats a quarter of the
    command, so full command is 37 mm a step, and the hand then falls 1.6-2.6 cm behind the mount (4 mm at half)."""

    reach_lo_m: tuple[float, float, float] = (0.30, -0.30, -0.15)
    """Lower corner of the box the hand stays in, relative to the mount, base frame (m): x (behind it the
    hand folds into the arm), y (right), z (below the mount; the table top is 0.10 m below in Lift)."""
    reach_hi_m: tuple[float, float, float] = (0.70, 0.30, 0.40)
    """Upper corner of that box (m): x (ahead), y (left), z (above the mount)."""
    arm_step_m: float = 0.013
    """Most the arm moves the hand relative to the mount in one control step, per axis (m)."""
    base_step_m: float = 0.0125
    """Most the base moves in one control step, per axis of the base frame (m); 0 locks the base."""
    base_weight: float = 1e-3
    """Cost of base motion relative to tracking error (dimensionless, > 0): small, so the base takes only
    what the arm cannot; its share falls short of the request by base_weight / (1 + base_weight)."""

    def __post_init__(self) -> None:
        for name in ("reach_lo_m", "reach_hi_m"):
            v = getattr(self, name)
            if len(v) != 3 or not np.all(np.isfinite(v)):
                raise ConfigError(f"{name} must be 3 finite numbers (x, y, z in m, base frame), got {v}")
        if not all(lo < hi for lo, hi in zip(self.reach_lo_m, self.reach_hi_m)):
            raise ConfigError(f"reach_lo_m must be below reach_hi_m on every axis, got {self.reach_lo_m} and {self.reach_hi_m}")
        if not (np.isfinite(self.arm_step_m) and self.arm_step_m > 0):
            raise ConfigError(f"arm_step_m must be a positive number of metres, got {self.arm_step_m}")
        if not (np.isfinite(self.base_step_m) and self.base_step_m >= 0):
            raise ConfigError(f"base_step_m must be a number of metres >= 0 (0 locks the base), got {self.base_step_m}")
        if not (np.isfinite(self.base_weight) and self.base_weight > 0):
            raise ConfigError(f"base_weight must be > 0 (it picks the least base motion), got {self.base_weight}")


@dataclass(frozen=True)
class Split:
    """One control step's motion, split (metres)."""

    arm_m: np.ndarray
    """[3] the hand's motion relative to the mount, world frame (m): what the arm is commanded."""
    base_m: np.ndarray
    """[2] the base's motion in its own frame, forward and left (m): what the base is commanded."""
    residual_m: np.ndarray
    """[3] asked-for minus planned hand motion, world frame (m): what the limits left out."""
    reach_limited: bool
    """On some axis the request would have taken the hand past the reach box: the box, not the arm's speed, bound it."""


def _vector(name: str, value: object, n: int, what: str) -> np.ndarray:
    v = np.asarray(value, dtype=np.float64)
    if v.shape != (n,) or not np.all(np.isfinite(v)):
        raise ConfigError(f"{name} must be {n} finite numbers ({what}), got {value!r}")
    return v


def base_rotation(yaw_rad: float) -> np.ndarray:
    """[3, 3] world-from-base rotation for a base heading ``yaw_rad`` (rad, about world z)."""
    c, s = np.cos(yaw_rad), np.sin(yaw_rad)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


def split_step(desired_m: object, hand_rel_m: object, yaw_rad: float, limits: SplitLimits) -> Split:
    """Split the hand displacement ``desired_m`` ([3], world frame, m, this control step) between arm and base.

    ``hand_rel_m`` is the hand's position minus the mount's ([3], base frame, m) and ``yaw_rad`` the base's
    heading (rad). See the module docstring for the problem solved and what it leaves out."""
    d_world = _vector("desired_m", desired_m, 3, "hand displacement this step, m, world frame")
    hand = _vector("hand_rel_m", hand_rel_m, 3, "hand minus mount, m, base frame")
    if not np.isfinite(yaw_rad):
        raise ConfigError(f"yaw_rad must be a finite heading in radians, got {yaw_rad!r}")
    world_from_base = base_rotation(float(yaw_rad))
    d = world_from_base.T @ d_world
    lo_box, hi_box = np.asarray(limits.reach_lo_m), np.asarray(limits.reach_hi_m)
    a_step, b_step = limits.arm_step_m, limits.base_step_m
    # Arm bounds: the per-step limit and the reach box, intersected; outside the box, back towards it.
    arm_lo = np.clip(lo_box - hand, -a_step, a_step)
    arm_hi = np.clip(hi_box - hand, -a_step, a_step)
    lower = np.concatenate([arm_lo, [-b_step, -b_step]])
    upper = np.concatenate([arm_hi, [b_step, b_step]])
    # lsq_linear wants lower < upper strictly; an axis pinned (base locked, or the hand far outside the box) gets a
    # sliver of 1e-12 m.
    upper = np.maximum(upper, lower + 1e-12)
    w = np.sqrt(limits.base_weight)
    matrix = np.array(
        [
            [1, 0, 0, 1, 0],  # hand x = arm x + base x
            [0, 1, 0, 0, 1],  # hand y = arm y + base y
            [0, 0, 1, 0, 0],  # hand z = arm z (the base has no z)
            [0, 0, 0, w, 0],  # base effort
            [0, 0, 0, 0, w],
        ],
        dtype=np.float64,
    )
    target = np.concatenate([d, [0.0, 0.0]])
    x = lsq_linear(matrix, target, bounds=(lower, upper), method="bvls").x
    arm, base = x[:3], x[3:]
    planned = arm + np.array([base[0], base[1], 0.0])
    # Reach-limited: on some axis the request goes past a box bound that is tighter than the per-step limit.
    tol = 1e-9
    on_box_hi = (d > arm_hi + tol) & (hi_box - hand < a_step)
    on_box_lo = (d < arm_lo - tol) & (lo_box - hand > -a_step)
    return Split(
        arm_m=world_from_base @ arm,
        base_m=base,
        residual_m=world_from_base @ (d - planned),
        reach_limited=bool(np.any(on_box_hi | on_box_lo)),
    )
