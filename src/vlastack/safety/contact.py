"""Contact-force limiting: above the limit, no motion into the contact, and a motion away from it.

The reading is the net force the surroundings apply to the arm (N, world frame, [3]); its direction
``n`` points from the contact into the arm, i.e. the way the arm is being pushed. A commanded
velocity ``v`` goes *into* the contact when ``v . n < 0``. With the delta-action controllers this
stack drives (Meta-World's mocap, an impedance set point), the force comes from the controller's
target pressed into the obstacle, so stopping the command does not release it: the check also
moves the target back along ``n``, by ``backoff_m_s_per_n`` per newton of excess. The result is
kept inside the action range, and :class:`ContactKept`, after the geometric checks, makes sure that
what they leave of it still goes into no overloaded contact.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from vlastack.safety import geometry as geo
from vlastack.safety import interventions as iv
from vlastack.safety.context import Command, Context
from vlastack.safety.interventions import Intervention


def contact_force(reading: object) -> np.ndarray | None:
    """The force (N, float64 [3]) of a contact reading; None if missing, wrongly shaped or not finite."""
    if reading is None:
        return None
    try:
        f = np.asarray(reading, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError):
        return None
    if f.shape != (3,) or not np.all(np.isfinite(f)):
        return None
    return f


class ContactForce:
    """Above ``contact.max_force_n``: the part of the motion into the contact is removed and a back-off added."""

    name = "contact_force"

    def apply(self, command: Command, ctx: Context) -> list[Intervention]:
        over = _overload(ctx)
        if over is None:
            return []
        limits, size, n = over
        v = geo.velocity_of(ctx.spec, command.action)
        into = float(v @ n)
        backoff = min(limits.backoff_m_s_per_n * (size - limits.max_force_n), limits.max_backoff_m_s)
        out = v - min(0.0, into) * n + backoff * n
        # Removing the part into the contact and adding the back-off can push an entry past the action
        # range (a saturated diagonal proposal); the final check would then hold the whole step (measured:
        # every one of 256 "stalled" steps in 100,000 fuzzed steps). Scaling the whole motion down keeps
        # it out of the contact (v . n >= 0 is kept by any positive scale) and inside the range.
        out = out * _range_scale(ctx.spec, out)
        command.action = geo.with_velocity(ctx.spec, command.action, out)
        return [
            Intervention(
                self.name,
                "contact.max_force_n",
                iv.BACKED_OFF,
                f"contact force on the arm {size:.0f} N exceeds the {limits.max_force_n:.0f} N limit; "
                f"motion into the contact ({max(0.0, -into):.3f} m/s) removed, backing off at {backoff:.3f} m/s "
                f"along {np.round(n, 2).tolist()}",
                value=size,
                bound=limits.max_force_n,
                unit="N",
            )
        ]


#: The least motion away from an overloaded contact (m/s) the shortening below leaves when it must shorten:
#: the action goes out as float32, whose rounding (about 1e-7 m/s here) must not tip it into the contact.
KEPT_AWAY_M_S = 1e-6


class ContactKept:
    """After the workspace and keep-out checks: the motion still goes into no overloaded contact.

    Why a second step: those checks shorten per axis, and shortening one axis of a motion that slides
    along a contact, or backs off it, can tip what is left into it (measured: 87 steps in 100,000
    fuzzed ones, every one then held by the final check). Here the axes going into the contact are
    shortened together, towards zero, until none of the motion does; per-axis shortening towards
    zero keeps the workspace and keep-out rules (zero motion satisfies them from anywhere)."""

    name = "contact_force"

    def apply(self, command: Command, ctx: Context) -> list[Intervention]:
        over = None if command.held else _overload(ctx)
        if over is None:
            return []
        limits, size, n = over
        v = geo.velocity_of(ctx.spec, command.action)
        terms = v * n  # per axis, m/s along n (negative: into the contact)
        into, away = float(terms[terms < 0].sum()), float(terms[terms > 0].sum())
        if into == 0.0 or away + into >= KEPT_AWAY_M_S:
            return []
        keep = max(0.0, min(1.0, (away - KEPT_AWAY_M_S) / -into))  # fraction kept of the axes going in
        command.action = geo.with_velocity(ctx.spec, command.action, np.where(terms < 0, v * keep, v))
        axes = ", ".join(geo.AXES[i] for i in np.flatnonzero(terms < 0))
        return [
            Intervention(
                self.name,
                "contact.max_force_n",
                iv.SHORTENED,
                f"contact force on the arm {size:.0f} N exceeds the {limits.max_force_n:.0f} N limit and, after the "
                f"workspace and keep-out shortening, {-(away + into):.4f} m/s of the motion went into it; "
                f"{axes} motion shortened to {keep:.3f} of it",
                value=size,
                bound=limits.max_force_n,
                unit="N",
            )
        ]


def _overload(ctx: Context) -> tuple[Any, float, np.ndarray] | None:
    """(the spec's contact limits, the force's size in N, its unit direction) when the arm's contact
    force is over the limit; None when it is not, or there is no limit or no valid reading."""
    limits = ctx.spec.contact
    force = contact_force(ctx.contact)
    if limits is None or force is None:
        return None
    size = float(np.linalg.norm(force))
    if size <= limits.max_force_n:
        return None
    return limits, size, force / size


def _range_scale(spec, velocity: np.ndarray) -> float:
    """The largest s in [0, 1] with every translation entry of ``s * velocity`` (m/s) inside the action range."""
    dims = list(spec.action.translation_dims)
    a = velocity * (spec.control_period_s / spec.action.translation_scale_m)  # action units
    low, high = np.asarray(spec.action.low)[dims], np.asarray(spec.action.high)[dims]
    s = 1.0
    for ai, lo, hi in zip(a, low, high, strict=True):
        if ai > hi:
            s = min(s, hi / ai)
        elif ai < lo:
            s = min(s, lo / ai)
    return max(0.0, s)
