"""gymnasium-robotics' (1.4.2) Fetch as an embodiment: one entry, the robot of every ``fetch-...`` task.

Native action ``[dx, dy, dz, grip]`` in [-1, 1] (envs/fetch_env.py): the hand's mocap target is put ``0.05 * a`` m
from where the hand is, every step (25 Hz), world frame; the hand's orientation is fixed; ``grip > 0`` closes (the
adapter negates gymnasium-robotics' own sign). No rotation command.

Frame: Fetch's locked base stands at x 0.4 m facing +x, the table beyond it (centre x 1.3 m, y 0.75 m, top z 0.4 m):
the world frame is already x forward, y left, z up: yaw 0.

Scaling, measured (``benchmarks/embodiment_scaling.py --embodiments fetch``, fetch-reach, seed 0, 2026-12-07): the
hand moves 32.4, 33.1, 33.0 mm per step per unit along world x, y, z (mean of both signs at 0.25 and 0.5, and of +z
at 1.0), two thirds of the target's 5 cm, from the first step on (the mocap weld is stiff). Excluded: the -z runs at
0.5 and 1.0 (the hand reaches the table within the 20 measured steps) and x at 1.0 (28.5 mm: 60 cm of travel reaches
the arm's limits).
"""

from __future__ import annotations

from vlastack.embodiments.embodiment import Embodiment
from vlastack.embodiments.registry import register

FETCH = register(
    Embodiment(
        id="fetch",
        suite="fetch",
        robot="Fetch",
        native_action_names=("dx", "dy", "dz", "grip"),
        control_period_s=0.04,  # MuJoCo timestep 2 ms x 20 substeps
        translation_dims=(0, 1, 2),
        translation_m_per_unit=(0.0324, 0.0331, 0.0330),
        yaw_rad=0.0,
        gripper_dim=3,
        gripper_close_sign=1,
        safety_spec="fetch",  # safety/presets_fetch.py
        tasks="fetch-reach, fetch-push, fetch-pickplace",
        note="x at full command 12 % slower per unit than at 0.25 over long moves (the arm's reach)",
        # The table top's centre (table0 at x 1.3, y 0.75, top z 0.4 m): the hand starts about (0.04, 0, 0.13) m from it.
        state_origin_m=(1.3, 0.75, 0.4),
    )
)
