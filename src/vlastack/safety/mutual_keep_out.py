"""The mutual keep-out between two arms, as two checks in each arm's own chain (see :class:`MutualKeepOut`).

Both run in the arm's :class:`vlastack.safety.layer.SafetyLayer`, on its action already turned into the
world frame (the two-arm layer does that), and read the other hand's world position from a
:class:`Partner` the two-arm layer fills before each step:

- :class:`KeepOutSlide`, before the hard limits: removes the part of the motion towards the other hand
  that exceeds the arm's half of the slack, and keeps the sideways rest, so the hand slides past instead
  of stopping dead. Removing a component can lengthen single axes, so it runs *before* the hard limits,
  which then cut whatever it produced to the arm's own box and speed limits.
- :class:`KeepOutScale`, after the hard limits: their per-axis shortening can turn motion back towards
  the other hand, so the whole translation is scaled down (towards zero) until the rule holds again.
  Scaling towards zero keeps every one of the arm's own limits: each allowed set contains zero motion
  and the straight line to it (for acceleration and jerk when ``spec.stop_within_limits``), and the
  layer's final check still judges the result.

The rule (per arm, on the controller's goal ``hand + v * dt``): approach along ``n``, the unit vector
from this hand to the other, at most ``max(distance - min_distance_m, 0) / 2`` metres per step.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vlastack.safety import geometry as geo
from vlastack.safety import interventions as iv
from vlastack.safety.context import Command, Context
from vlastack.safety.context import hold_with_reason as _hold
from vlastack.safety.interventions import Intervention

#: Name of both checks in reasons and summaries.
CHECK_NAME = "mutual_keep_out"
#: Limit path in reasons (the spec field).
LIMIT = "keep_out.min_distance_m"
#: Hands closer than this (m) give no direction to keep apart along; the distance cannot fall below 0 anyway.
COINCIDENT_M = 1e-9
#: Approach within this of the allowance (m) is rounding, not news.
ROUNDING_M = 1e-12


@dataclass
class Partner:
    """What one arm's checks know of the other arm this step (filled by the two-arm layer)."""

    arm: int
    """Index of the arm whose chain reads this (0 or 1)."""
    min_distance_m: float
    """The keep-out distance, metres."""
    other_position: np.ndarray | None = None
    """The other hand's position (world frame, m, float64 [3]); None when it cannot be read."""


def _approach(ctx: Context, partner: Partner, v: np.ndarray) -> tuple[np.ndarray, float, float, float] | None:
    """(n, distance, allowance, approach): unit vector to the other hand, the hands' distance (m), how far
    this arm may approach along n this step (m), and how far ``v`` (m/s) approaches; None: no direction."""
    d = partner.other_position - ctx.position
    distance = float(np.linalg.norm(d))
    if distance < COINCIDENT_M:
        return None
    n = d / distance
    allowance = max(distance - partner.min_distance_m, 0.0) / 2.0
    return n, distance, allowance, float(v @ n) * ctx.spec.control_period_s


def _unreadable(command: Command, ctx: Context, partner: Partner, check: str, v: np.ndarray) -> list[Intervention] | None:
    """Hold a moving arm when either hand's position is unknown (fail closed); None when both are known."""
    if ctx.position is not None and partner.other_position is not None:
        return None
    if not np.any(v != 0.0):
        return []
    which = "this arm's" if ctx.position is None else f"the other arm's (arm {1 - partner.arm})"
    return _hold(command, ctx, check, LIMIT, f"arm {partner.arm}: {which} hand position cannot be read, the keep-out cannot be judged")


def _reason(partner: Partner, distance: float, allowance: float, approach: float, what: str) -> Intervention:
    other = 1 - partner.arm
    return Intervention(
        CHECK_NAME,
        LIMIT,
        iv.SHORTENED,
        f"arm {partner.arm}: hands {distance:.4f} m apart (keep-out {partner.min_distance_m} m); its commanded motion "
        f"approaches arm {other} by {approach:.4f} m, more than its half of the slack ({allowance:.4f} m) by "
        f"{approach - allowance:.4f} m; {what}",
        value=approach,
        bound=allowance,
        unit="m",
    )


class _KeepOut:
    """What both keep-out checks share: skip a held command, hold an arm whose or whose partner's hand cannot be
    read, measure the approach, and leave a command within its allowance alone; ``_correct`` changes the rest."""

    name = CHECK_NAME

    def __init__(self, partner: Partner) -> None:
        self.partner = partner

    def apply(self, command: Command, ctx: Context) -> list[Intervention]:
        if command.held:
            return []
        v = geo.velocity_of(ctx.spec, command.action)
        unreadable = _unreadable(command, ctx, self.partner, self.name, v)
        if unreadable is not None:
            return unreadable
        found = _approach(ctx, self.partner, v)
        if found is None:
            return []
        n, distance, allowance, approach = found
        if approach <= allowance + ROUNDING_M:
            return []
        what = self._correct(command, ctx, v, n, approach, allowance)
        return [_reason(self.partner, distance, allowance, approach, what)]

    def _correct(self, command: Command, ctx: Context, v: np.ndarray, n: np.ndarray, approach: float, allowance: float) -> str:
        """Change ``command.action`` so it approaches by at most ``allowance`` (m); returns how, for the reason."""
        raise NotImplementedError


class KeepOutSlide(_KeepOut):
    """Before the hard limits: remove the excess approach towards the other hand, keep the sideways motion."""

    def _correct(self, command: Command, ctx: Context, v: np.ndarray, n: np.ndarray, approach: float, allowance: float) -> str:
        # Take the excess off along n only (m/s): what is left approaches by exactly the allowance.
        excess_m_s = (approach - allowance) / ctx.spec.control_period_s
        command.action = geo.with_velocity(ctx.spec, command.action, v - excess_m_s * n)
        return "the approaching part removed, sideways motion kept"


class KeepOutScale(_KeepOut):
    """After the hard limits: scale the whole translation down until the approach is within the allowance."""

    def _correct(self, command: Command, ctx: Context, v: np.ndarray, n: np.ndarray, approach: float, allowance: float) -> str:
        scale = allowance / approach  # approach > allowance >= 0, so scale is in [0, 1)
        command.action = geo.with_velocity(ctx.spec, command.action, v * scale)
        return f"translation scaled by {scale:.3f} after the arm's own limits"
