"""Contact-force limiting: above the limit, no motion into the contact, and a motion away from it.

The reading is the net force the surroundings apply to the arm (N, world frame, [3]); its direction
``n`` points from the contact into the arm, i.e. the way the arm is being pushed. A commanded
velocity ``v`` goes *into* the contact when ``v . n < 0``. With the delta-action controllers this
stack drives (Meta-World's mocap, an impedance set point), the force comes from the controller's
target pressed into the obstacle, so stopping the command does not release it: the check also
moves the target back along ``n``, by ``backoff_m_s_per_n`` per newton of excess.
"""

from __future__ import annotations

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
        limits = ctx.spec.contact
        force = contact_force(ctx.contact)
        if limits is None or force is None:
            return []
        size = float(np.linalg.norm(force))
        if size <= limits.max_force_n:
            return []
        n = force / size
        v = geo.velocity_of(ctx.spec, command.action)
        into = float(v @ n)
        backoff = min(limits.backoff_m_s_per_n * (size - limits.max_force_n), limits.max_backoff_m_s)
        out = v - min(0.0, into) * n + backoff * n
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
