"""Contacts between two robots of one robosuite scene: what the two-arm benchmark and evaluation count.

A MuJoCo contact is arm-arm when its two geoms belong to different robots. A geom's robot is read from
its body's name prefix (``robot<i>_`` links, ``gripper<i>_`` gripper, ``fixed_mount<i>_`` mount; robosuite
1.5.2's naming); every other geom (table, objects, floor) belongs to no robot. Counted per simulator
state, so a caller sums over steps (contacts) or counts steps with any (contact steps).
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np

#: A robosuite body of robot i: its links (``robot<i>_``), gripper (``gripper<i>_``) and mount (``fixed_mount<i>_``).
ROBOT_BODY = re.compile(r"^(?:robot|gripper|fixed_mount)(\d+)_")


def geom_robots(model: Any) -> np.ndarray:
    """int [ngeom]: the robot each geom of the MuJoCo ``model`` belongs to (by its body's name), -1 for the rest of the scene."""
    import mujoco

    out = np.full(model.ngeom, -1, dtype=np.int64)
    for g in range(model.ngeom):
        name = mujoco.mj_id2name(model, mujoco.mjtObj.mjOBJ_BODY, int(model.geom_bodyid[g])) or ""
        m = ROBOT_BODY.match(name)
        if m:
            out[g] = int(m.group(1))
    return out


def arm_arm_contacts(data: Any, robots: np.ndarray) -> int:
    """Active contacts of the MuJoCo ``data`` between geoms of two different robots (``robots``: :func:`geom_robots`)."""
    n = int(data.ncon)
    if n == 0:
        return 0
    a, b = robots[data.contact.geom1[:n]], robots[data.contact.geom2[:n]]
    return int(np.sum((a >= 0) & (b >= 0) & (a != b)))
