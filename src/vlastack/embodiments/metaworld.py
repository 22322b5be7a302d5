"""Meta-World's Sawyer (``metaworld==3.1.1``, v3 tasks) as an embodiment.

Native action ``[dx, dy, dz, grip]`` in [-1, 1] (envs/metaworld.py): the mocap target moves ``a / 100`` m
per control step (80 Hz) in the world frame, and ``grip > 0`` closes. No rotation command.

Frame: the arm's base is at the world origin and the tables lie along world +y (the hand starts near
(0, 0.6, 0.2) m), so the shared frame's forward (x) is world +y and its left (y) is world -x: the
native frame is the shared one turned +90 degrees about z.

Scaling, measured (``benchmarks/embodiment_scaling.py``, reach-v3, seed 0, 2026-12-06): the hand moves
10.0, 9.3, 9.7 mm per step per unit along world x, y, z in the steady state (mean of both signs at
0.25, 0.5 and 1.0: linear within 3 %), behind the mocap's nominal 10 mm; on the first step of a move
from rest it moves 0.3-1.2 mm (the mocap weld's lag).
"""

from __future__ import annotations

import math

from vlastack.embodiments.embodiment import Embodiment
from vlastack.embodiments.registry import register

METAWORLD_SAWYER = register(
    Embodiment(
        id="metaworld_sawyer",
        suite="metaworld",
        robot="Sawyer",
        native_action_names=("dx", "dy", "dz", "grip"),
        control_period_s=0.0125,  # MuJoCo timestep 2.5 ms x frame_skip 5
        translation_dims=(0, 1, 2),
        translation_m_per_unit=(0.0100, 0.0093, 0.0097),
        yaw_rad=math.pi / 2,  # shared forward = world +y, shared left = world -x
        gripper_dim=3,
        gripper_close_sign=1,
        safety_spec="metaworld_sawyer",
        tasks="every Meta-World v3 task and the long-horizon lh-... tasks",
        # The table top (z = 0) straight below the hand's start (0, 0.6, 0.2) m: the hand starts 0.2 m above it.
        state_origin_m=(0.0, 0.6, 0.0),
    )
)
