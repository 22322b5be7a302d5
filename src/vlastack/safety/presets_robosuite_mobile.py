"""Safety spec of the wheeled robosuite PandaOmron (``robosuite_pandaomron``, issue 17 item 2): its hand as the
``robosuite_<arm>`` specs judge a Panda's (safety/presets_robosuite.py), plus bounds on the base and torso commands.
``specs/robosuite_pandaomron.json`` holds the same data as JSON.

robosuite 1.5.2, Lift, both wheeled tasks: ``rs-lift-pandaomron`` (the base where robosuite puts it, mount at x -0.56)
and ``rs-reachfar-pandaomron`` (the base starts 0.40 m further back and 0.35 m to the left and drives in; its expert is
the Lift expert under the base-arm layer, execution/base_arm_layer.py). Numbers measured 2026-12-07 with
``benchmarks/robosuite_safety.py --tasks rs_mobile,rs_mobile_far --seeds 10`` (the experts, seeds 0-9, without the
layer), and ``benchmarks/pandaomron_base_probe.py`` (the turn and torso commands, each held for 80 steps from seed 0's
reset, base and arm otherwise still).

- action ``[dx, dy, dz, drx, dry, drz, grip, base_forward, base_side, base_yaw, torso]`` (envs/robosuite_env.py), 20 Hz.
  The hand entries are a robosuite arm's: the OSC_POSE goal is the hand's measured position plus 5 cm per unit, so
  ``translation_scale_m`` 0.05 and 1 m/s of commanded speed per unit on an axis, as for ``robosuite_panda``.
- Workspace, one world-frame box x -0.70 .. 0.40, y -0.40 .. 0.50, z 0.80 .. 1.30 m. The experts' hands stay within
  x -0.519 .. 0.029, y -0.040 .. 0.382, z 0.812 .. 1.087 (the far task's start is the -0.519 and the 0.382; in-reach
  alone: x -0.119 .. 0.029, y -0.039 .. 0.048) and their goals within x -0.469 .. 0.039, y -0.043 .. 0.332,
  z 0.803 .. 1.037. The box is the Lift table's (``LIFT_TABLE``: the 0.8 m table from its top to 0.5 m above) widened
  behind the table to x -0.70 (0.18 m beyond the far start) and to the left to y 0.50 (0.12 m beyond it), so the
  driven-in start lies inside. Its floor, the table top z 0.80, binds as on the fixed arms: no goal below the table
  top over the table. What one box does not protect: behind and beside the table (x < -0.40, y > 0.40) it forbids
  the hand below z 0.80 too (stricter than needed, nothing there to hit but the floor); it judges the hand's point
  only, not the arm's links, the base or the mount, so a base that drives into the table edge is not stopped (driven
  forward from Lift's start, the base meets the table after ~0.10 m); and it judges the arm's goal, not where the
  base carries the hand (below).
- Motion: speed 1.0 m/s, acceleration 20 m/s^2, jerk 800 m/s^3, robosuite_panda's (the experts command up to
  1.73 m/s, three axes saturated, and 35 m/s^2). The motion check judges the *arm-commanded* motion only: velocity is
  ``action[translation_dims] * translation_scale_m / control_period_s`` with ``translation_dims`` (0, 1, 2), the
  arm's goal offset. The motion the base (and torso) add to the hand is not in it, and the workspace check predicts
  the next position from the arm's goal alone: a base can carry the hand out of the box, after which only arm motion
  back towards the box is let through. The base's own speed is bounded by the action's range instead:
- Base, by the range of its entries (:class:`~vlastack.safety.spec.ActionLayout` low/high; a command beyond is
  clipped, ``action.high[7]``, and the intervention says so). ``base_forward`` and ``base_side`` in [-0.5, 0.5]:
  the wheels' friction eats the first 0.25 of a command and each unit beyond moves the base 0.05 m a step
  (``WheeledMotionModel``), so 0.5 is at most 12.5 mm a step, 0.25 m/s per axis (0.35 m/s diagonally; full
  command would be 0.75 m/s). The base-arm layer commands at most exactly 0.5 (its ``base_step_m`` 12.5 mm), so its
  commands pass unchanged. ``base_yaw`` in [-0.25, 0.25]: the turn has no such deadband (measured: 0.1 turns
  0.072 rad/s, 0.25 0.21 rad/s, 0.5 0.58, 1.0 1.33), so the bound is at most 0.21 rad/s, which swings the hand
  at most 3.4 mm a step (0.07 m/s; 9.3 mm at 0.5); no expert turns. ``torso`` in [-0.05, 0.05]: the lift joint
  moves 4.6 mm a step per unit up to ~0.2 (0.05: 0.23 mm a step, 4.6 mm/s, the hand with it; full command 25 mm a
  step and the joint's whole 0.2 m travel in about 10 steps); no expert moves it. A per-step bound is not a bound on
  travel: a torso held at -0.05 for a whole 250-step episode lowers the hand 5.8 cm, unseen by the workspace check.
- Grip: as robosuite_panda, the wrist force-torque sensor. The experts' peaks: 7.6 N in-reach, 19.2 N on the far task
  (the base's starts and stops load the wrist), twice that under :data:`WRIST_FLOOR_N`: 50 N.
"""

from __future__ import annotations

from vlastack.safety.loading import PRESETS
from vlastack.safety.presets_robosuite import WRIST_FLOOR_N
from vlastack.safety.spec import ActionLayout, Box, GripperLimits, MotionLimits, SafetySpec

#: Largest ``max |touch|`` (wrist force N / torque N m) in the experts' clean episodes, seeds 0-9, both wheeled tasks.
WRIST_PEAK_N = 19.16
#: Where the hand may be: the Lift table from its top to 0.5 m above, widened behind it and to its left to cover the
#: far task's driven-in start (hand at x -0.52, y 0.38) with a margin.
WHEELED_LIFT = Box(low=(-0.70, -0.40, 0.80), high=(0.40, 0.50, 1.30), name="lift table and the approach to it")
#: Largest base command (forward, sideways; units): the 0.25 deadband plus 0.25, i.e. 12.5 mm a step (0.25 m/s).
BASE_MAX = 0.5
#: Largest base turn command (units): 0.21 rad/s measured.
YAW_MAX = 0.25
#: Largest torso command (units): 0.23 mm a step measured.
TORSO_MAX = 0.05
#: Base speed (m/s per axis) BASE_MAX allows under the motion model (execution/base_arm_layer.WheeledMotionModel).
BASE_SPEED_M_S = (BASE_MAX - 0.25) * 0.05 / 0.05

PANDAOMRON_SPEC = PRESETS.register("robosuite_pandaomron")(
    SafetySpec(
        name="robosuite_pandaomron",
        control_period_s=0.05,
        state_position_dims=(0, 1, 2),
        action=ActionLayout(
            low=(-1.0,) * 7 + (-BASE_MAX, -BASE_MAX, -YAW_MAX, -TORSO_MAX),
            high=(1.0,) * 7 + (BASE_MAX, BASE_MAX, YAW_MAX, TORSO_MAX),
            translation_dims=(0, 1, 2),
            translation_scale_m=0.05,
        ),
        workspace=WHEELED_LIFT,
        motion=MotionLimits(max_speed_m_s=1.0, max_accel_m_s2=20.0, max_jerk_m_s3=800.0),
        gripper=GripperLimits(
            action_index=6,
            close_sign=1,
            max_force_n=float(round(max(2.0 * WRIST_PEAK_N, WRIST_FLOOR_N))),
            backoff_per_n=0.01,
            initial_command=-1.0,
            require_touch=False,
        ),
        watchdog_s=0.1,  # two control periods
    )
)
