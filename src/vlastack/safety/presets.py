"""Built-in safety specs, as named Python objects. ``specs/<name>.json`` holds the same data as JSON.

Meta-World (Sawyer, v3, ``metaworld==3.1.1``), numbers measured or read from its source:

- action ``[dx, dy, dz, grip]`` in [-1, 1]; the mocap moves by ``a[:3] / 100`` m per step; the
  control period is ``frame_skip 5 * 0.0025 s = 0.0125 s`` (80 Hz). ``grip > 0`` closes.
- Every task clips the mocap to ``hand_low (-0.5, 0.40, 0.05)`` .. ``hand_high (0.5, 1.0, 0.5)``
  (some tasks lower the z floor or y, e.g. pick-out-of-hole z -0.15; the class defaults
  ``mocap_low/high`` are overwritten in ``__init__``).
- Workspace, from the hand (tcp) positions the scripted experts of all 50 tasks reach, seeds 0-4,
  behind a layer whose workspace never binds (``benchmarks/safety_workspace.py --tasks mt50
  --seeds 5``, 2026-11-29): x -0.499 (door-close) .. 0.485 (soccer), y 0.393 (door-open) ..
  0.890 (button-press-topdown), z 0.044 (pick-out-of-hole) .. 0.441 (door-lock). On x the
  experts use all of Meta-World's own range (the mocap is clipped at +-0.5). The box below is
  that plus 2 cm on every side except the floor, which gets 1 cm (below it is the table): x
  +-0.52, y 0.37 .. 0.91, z 0.034 .. 0.46. (The earlier box, x +-0.45, z from 0.045, was taken
  from MT10 only and stopped door-close's expert and a learned policy at x = -0.45.)
- The experts command up to 1.39 m/s (all three axes saturated) and change velocity by up to
  128 m/s^2. The speed limit (1.2 m/s) shortens their fastest diagonal moves by about 14 %.
- Acceleration and jerk limits are chosen so that a hold from full speed is within them
  (``stop_within_limits``: 100 * 0.0125 >= 1.2 and 16000 * 0.0125**2 = 2.5 >= 1.2 + 1.25), so
  *every* action leaving the layer is inside every limit, holds included.
- Finger contact forces as the vlastack env reports them (``observation.touch``, normal force
  summed over each finger's claw and pad, MT10 experts, seed 0): about 400 N while a pick-place
  grasp holds, peaks of about 1,050 N. The limit, 1,500 N, is above all clean use and catches
  squeezing harder than any expert does. ``require_touch`` is false because touch can be switched
  off in the env (``touch=False``); with no reading the grip check is skipped.
- Tracking: the mocap target leads the measured hand by up to 3.4 cm at full speed (reach-v3,
  +x at action 1.0), and the hand settles about 4 mm below the mocap; at reset the hand sits up
  to 4.6 mm from the mocap, which the layer cannot see. Judging by the measured position alone,
  driving straight at a keep-out face put the hand 8-47 mm inside it (``benchmarks/
  safety_reached.py``, before tracking). ``margin_m`` 6 mm covers the reset error and the
  settling; with it the hand got 0.0 mm into the box through every face at action magnitudes
  0.25, 0.5 and 1.0, stopping 1.5-26 mm short (26 mm on the -z face, where the arm comes from
  near the table and the clip uncertainty below applies). The mocap clip differs per task
  (``hand_low`` z 0.05, 0.07, -0.05 or -0.15, y 0.35 or 0.40): ``clip_inner``/``clip_outer`` are
  the tightest and loosest of them, shifted 4 mm down to the hand's frame. ``workspace`` is off:
  the experts press the target up to 3 cm into the table (pick-out-of-hole, mocap z 0.014) and
  11 cm past the y the hand reaches (button-press-topdown, mocap y 1.0), and keeping the target
  inside the workspace costs them 4 of 250 episodes (pick-out-of-hole 2/5, shelf-place 4/5). So
  at the workspace walls only the measured position is guaranteed: driving at the y-high and
  z-high walls the hand still ends up to 34 and 36 mm beyond them (0 mm with ``tracking.workspace``
  on, ``safety_reached.py --track-walls``). The walls coincide with or lie near Meta-World's own
  mocap limits on x, y-low and the table; keep-out boxes are where the guarantee holds.
- Measured through ``vlastack.envs.rollout`` with this spec (MT10 experts, seed 0, before the
  workspace was widened): every task still succeeds; speed and acceleration limits bind on 0-47
  steps per episode (door-open takes 125 steps instead of 72, the others 0-3 more), the workspace
  floor on 4 steps of peg-insert-side (by 2 mm); no grip-force interventions. With this spec on
  all 50 tasks, seeds 0-4: 247/250 expert episodes succeed behind the layer, the same 247/250 as
  without it (soccer, sweep-into and stick-pull fail once each either way); no workspace
  interventions. On door-open seeds 10000-10009 the
  expert succeeds 10/10 without the layer and 9/10 with it: on seed 10000 the slower approach
  wedges the fingers against the door, the expert keeps pushing and the contact force climbs to
  about 4,400 N (the grip check then opens the gripper, but nothing limits the arm's push; a
  contact-force limit on motion is a candidate for the next check). With a speed limit of 1.4
  m/s, which the [-1, 1] action range can never exceed, it succeeds 10/10.
"""

from __future__ import annotations

from vlastack.safety.loading import PRESETS
from vlastack.safety.spec import ActionLayout, Box, GripperLimits, MotionLimits, SafetySpec, TargetTracking

METAWORLD_SAWYER = PRESETS.register("metaworld_sawyer")(
    SafetySpec(
        name="metaworld_sawyer",
        control_period_s=0.0125,
        state_position_dims=(0, 1, 2),
        action=ActionLayout(
            low=(-1.0, -1.0, -1.0, -1.0),
            high=(1.0, 1.0, 1.0, 1.0),
            translation_dims=(0, 1, 2),
            translation_scale_m=0.01,
        ),
        workspace=Box(low=(-0.52, 0.37, 0.034), high=(0.52, 0.91, 0.46), name="sawyer reach"),
        motion=MotionLimits(max_speed_m_s=1.2, max_accel_m_s2=100.0, max_jerk_m_s3=16000.0),
        gripper=GripperLimits(
            action_index=3,
            close_sign=1,
            max_force_n=1500.0,
            backoff_per_n=0.001,
            initial_command=-1.0,
            require_touch=False,
        ),
        watchdog_s=0.05,
        keep_out=(),
        tracking=TargetTracking(
            margin_m=0.006,
            clip_inner=Box(low=(-0.5, 0.40, 0.066), high=(0.5, 1.0, 0.496), name="tightest mocap clip"),
            clip_outer=Box(low=(-0.5, 0.35, -0.154), high=(0.5, 1.0, 0.496), name="loosest mocap clip"),
            workspace=False,
        ),
    )
)
