"""robosuite's (1.5.2) arms as embodiments: one entry per arm make of ``rs_lift``, and the wheeled PandaOmron.

Native action (envs/robosuite_env.py): ``[dx, dy, dz, drx, dry, drz, grip]`` in [-1, 1], arm deltas in
the world frame (the adapter turns them into each arm's mount frame for robosuite's OSC_POSE
controller, whose goal is the hand's current pose plus 5 cm / 0.5 rad per unit), gripper +1 closes;
20 Hz. PandaOmron adds its base (forward, sideways, turn) and torso commands, passed through as
``extra0..extra3``.

Frame: every single-arm table scene puts the arm's base at x = -0.56 m facing +x, so the world frame is
already x forward, y left, z up: yaw 0.

Scaling, measured (``benchmarks/embodiment_scaling.py --rot``, rs-lift-<arm>, seed 0, 2026-12-06): the
hand's steady-state metres (radians) per step per unit along (about) world x, y, z, mean of both signs
at magnitudes 0.25, 0.5 and 1.0 (rotation: 0.5 and 1.0). It differs by arm and axis (8.8 to 13.3 mm)
because each arm's joint limits, torque limits and posture shape how fast the same controller goal is
reached. Per unit, 0.25 and 1.0 agree within 3 % for Sawyer, Kinova3, IIWA, Jaco and PandaOmron; the
exceptions are in each entry's ``note``.
"""

from __future__ import annotations

from vlastack.embodiments.embodiment import Embodiment
from vlastack.embodiments.registry import register

ARM_ACTION_NAMES = ("dx", "dy", "dz", "drx", "dry", "drz", "grip")
MOBILE_ACTION_NAMES = ("base_forward", "base_side", "base_yaw", "torso")
#: robosuite's control period (control_freq 20 Hz).
CONTROL_PERIOD_S = 0.05

#: robosuite robot -> (translation m per step per unit, rotation rad per step per unit, note), measured as above.
MEASURED: dict[str, tuple[tuple[float, float, float], tuple[float, float, float], str]] = {
    "Panda": ((0.0129, 0.0121, 0.0131), (0.097, 0.084, 0.082), "y at full command 15 % slower per unit than at 0.25 (10.8 vs 12.7 mm)"),
    "Sawyer": ((0.0117, 0.0088, 0.0127), (0.074, 0.071, 0.069), ""),
    "UR5e": (
        (0.0118, 0.0126, 0.0127),
        (0.114, 0.118, 0.131),
        "x and z at full command 13 % and 8 % slower per unit than at 0.25 (+x 9.4 mm)",
    ),
    "Kinova3": ((0.0107, 0.0121, 0.0130), (0.107, 0.097, 0.129), ""),
    "IIWA": ((0.0113, 0.0133, 0.0131), (0.099, 0.107, 0.121), ""),
    "Jaco": ((0.0116, 0.0126, 0.0131), (0.100, 0.083, 0.086), ""),
    "XArm7": ((0.0102, 0.0112, 0.0104), (0.125, 0.104, 0.126), "not linear: 0.25 gives 22-25 % less per unit than 1.0"),
    "PandaOmron": ((0.0129, 0.0130, 0.0130), (0.094, 0.082, 0.082), "base and torso still"),
}


def _arm(robot: str) -> Embodiment:
    trans, rot, note = MEASURED[robot]
    mobile = robot == "PandaOmron"
    return register(
        Embodiment(
            id=f"robosuite_{robot.lower()}",
            suite="robosuite",
            robot=robot,
            native_action_names=ARM_ACTION_NAMES + (MOBILE_ACTION_NAMES if mobile else ()),
            control_period_s=CONTROL_PERIOD_S,
            translation_dims=(0, 1, 2),
            translation_m_per_unit=trans,
            yaw_rad=0.0,
            gripper_dim=6,
            gripper_close_sign=1,
            rotation_dims=(3, 4, 5),
            rotation_rad_per_unit=rot,
            extra_dims=(7, 8, 9, 10) if mobile else (),
            # safety/presets_robosuite.py; the wheeled robot's (hand limits plus base and torso bounds): presets_robosuite_mobile.py
            safety_spec=f"robosuite_{robot.lower()}",
            tasks=f"rs-lift-{robot.lower()}",
            note=note,
            # Lift's table top centre (robosuite's table_offset): the hand starts about (-0.1, 0, 0.21) m from it.
            # The wheeled robot's kitchen scenes have no such table: its origin is Lift's too, unchecked there.
            state_origin_m=(0.0, 0.0, 0.8),
        )
    )


ROBOSUITE_ARMS: dict[str, Embodiment] = {robot: _arm(robot) for robot in MEASURED}
"""robosuite robot name -> its embodiment."""
