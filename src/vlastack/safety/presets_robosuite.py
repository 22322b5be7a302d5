"""Safety specs of the robosuite single-arm embodiments (``robosuite_<arm>``, issue 17 item 2), one per arm
make of ``rs_lift``. ``specs/robosuite_<arm>.json`` holds the same data as JSON.

robosuite 1.5.2, the Lift table scene, numbers measured with ``benchmarks/robosuite_safety.py`` (the
experts of every arm, seeds 0-19, without the layer, then through it):

- action ``[dx, dy, dz, drx, dry, drz, grip]`` in [-1, 1], arm deltas world-aligned (envs/robosuite_env.py);
  20 Hz (``control_period_s`` 0.05). ``grip > 0`` closes.
- What "commanded" means here: robosuite's OSC_POSE sets its goal at the hand's *measured* position
  plus 5 cm per action unit (``translation_scale_m`` 0.05, robosuite's ``output_max``), every step (goal
  update mode "achieved"), and the hand moves part of the way (about 1.3 cm per step at full command,
  ``benchmarks/embodiment_scaling.py``). So the layer's predicted next position, hand plus scale times
  action, *is* the controller's goal; keeping it inside the workspace keeps the goal inside, and the hand
  (critically damped towards that goal) with it. There is no integrated target to track: ``tracking`` is
  None. Commanded speed is goal offset per control period: 1 m/s per action unit on an axis.
- Workspace: the table (0.8 x 0.8 m, centred at the world origin, top at z 0.80 m) from its top to
  0.5 m above. The experts' goals stay within x -0.20 .. 0.05, y -0.05 .. 0.14, z 0.801 .. 1.19 and their
  hands within x -0.25 .. 0.05 (UR5e starts furthest back), y -0.06 .. 0.19, z 0.81 .. 1.24 (xArm7
  starts highest): the box binds only on a command that would put the goal below the table top or off it.
- Speed: the experts command up to 1.73 m/s (all three axes saturated). The limit, 1.0 m/s, is the
  controller's own per-axis bound (5 cm of goal offset) applied to the Euclidean norm; it shortens the
  experts' diagonal moves. Acceleration 20 m/s^2 and jerk 800 m/s^3 are the least that keep a hold from
  full speed inside them (``stop_within_limits``: 20 * 0.05 >= 1.0, 800 * 0.05**2 = 2.0 >= 1.0 + 1.0).
- Grip: robosuite reports no finger forces; the layer's grip check reads ``observation.touch``, here the
  wrist force-torque sensor (N and N m, world frame; it carries the gripper's weight and the lifted cube).
  ``max_force_n`` is twice the largest entry seen in clean expert episodes of that arm (:data:`WRIST_PEAK`),
  at least :data:`WRIST_FLOOR_N`: it catches a wrist loaded far beyond anything a successful lift does.
  The peaks come while the fingers close on the cube (xArm7: 650-840 N along z at grasp, its linkage
  pushes; Sawyer 28-152 N; the others 8-25 N). ``require_touch`` is false (touch can be switched off in
  the env). Above the limit the layer stops closing and opens by ``backoff_per_n`` 0.01 per newton.
- With these specs (2026-12-06) the Lift experts of all 7 arms, seeds 0-19, succeed 140/140, as without
  the layer; episodes take 1-11 % more steps (the speed limit on diagonal moves; the workspace and the
  wrist limit never bound). Through the layer the wrist peaks were Sawyer 164 N, xArm7 799 N.
"""

from __future__ import annotations

from vlastack.safety.loading import PRESETS
from vlastack.safety.spec import ActionLayout, Box, GripperLimits, MotionLimits, SafetySpec

#: Largest ``max |touch|`` (wrist force N / torque N m) in the experts' clean Lift episodes, seeds 0-19, per arm make.
WRIST_PEAK: dict[str, float] = {
    "panda": 7.6,
    "sawyer": 152.17,
    "ur5e": 23.06,
    "kinova3": 13.85,
    "iiwa": 24.61,
    "jaco": 12.17,
    "xarm7": 841.18,
}
#: The lowest wrist limit, N: the Panda's gripper and a cube weigh about 8 N on its wrist, and above the
#: limit the layer opens the gripper, so ordinary pressing on the table must stay below it.
WRIST_FLOOR_N = 50.0
#: The Lift table's footprint and its top (robosuite's ``table_full_size`` 0.8 x 0.8 m, ``table_offset`` z 0.8 m) up to 0.5 m above.
LIFT_TABLE = Box(low=(-0.4, -0.4, 0.8), high=(0.4, 0.4, 1.3), name="lift table")


def robosuite_arm_spec(arm: str) -> SafetySpec:
    """The spec of one robosuite arm make (``arm``: a key of :data:`WRIST_PEAK`) on the Lift table."""
    return SafetySpec(
        name=f"robosuite_{arm}",
        control_period_s=0.05,
        state_position_dims=(0, 1, 2),
        action=ActionLayout(low=(-1.0,) * 7, high=(1.0,) * 7, translation_dims=(0, 1, 2), translation_scale_m=0.05),
        workspace=LIFT_TABLE,
        motion=MotionLimits(max_speed_m_s=1.0, max_accel_m_s2=20.0, max_jerk_m_s3=800.0),
        gripper=GripperLimits(
            action_index=6,
            close_sign=1,
            max_force_n=float(round(max(2.0 * WRIST_PEAK[arm], WRIST_FLOOR_N))),
            backoff_per_n=0.01,
            initial_command=-1.0,
            require_touch=False,
        ),
        watchdog_s=0.1,  # two control periods
    )


ROBOSUITE_ARM_SPECS: dict[str, SafetySpec] = {arm: PRESETS.register(f"robosuite_{arm}")(robosuite_arm_spec(arm)) for arm in WRIST_PEAK}
"""Arm make (``rs-lift-<arm>``) -> its registered spec."""
