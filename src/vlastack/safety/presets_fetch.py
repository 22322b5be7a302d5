"""Safety spec of the Fetch embodiment (``fetch``, issue 17 item 1): gymnasium-robotics 1.4.2's Fetch over its table.
``specs/fetch.json`` holds the same data as JSON.

Numbers measured (2026-12-07) from the scripted experts of fetch-reach, fetch-push and fetch-pickplace, seeds 0-19,
without the layer (envs/fetch_env.py, envs/fetch_experts.py):

- action ``[dx, dy, dz, grip]`` in [-1, 1], world frame; 25 Hz (``control_period_s`` 0.04). ``grip > 0`` closes.
- What "commanded" means: every step gymnasium-robotics puts the hand's mocap target at the hand's *measured*
  position plus 5 cm per action unit (``translation_scale_m`` 0.05), and the stiff weld pulls the hand about two
  thirds of the way (embodiments/fetch.py). So the layer's predicted next position is the target itself, as for
  robosuite's arms: no integrated target to track (``tracking`` None). 1 action unit on an axis is 1.25 m/s.
- Workspace: the experts' hands stay within x 1.18 .. 1.52, y 0.59 .. 0.94, z 0.414 .. 0.74 m and their targets
  within x 1.17 .. 1.54, y 0.57 .. 0.96, z 0.388 .. 0.79 (pick-and-place goals reach z 0.875). The box: the table's
  footprint (x 1.05 .. 1.55, y 0.40 .. 1.10) widened by 5 cm, from 2 cm below the table top (the push expert's
  targets press 1.2 cm into it) to z 0.95: it binds only on commands that leave the table or rise far above it.
- Speed: the experts command up to 2.17 m/s (three axes saturated). The limit, 1.25 m/s, is the per-axis bound
  (5 cm per 40 ms) applied to the norm; it slows the experts' diagonal moves. Acceleration 40 m/s^2 and jerk
  1,800 m/s^3 are the least round numbers that keep a hold from full speed inside them (``stop_within_limits``:
  40 * 0.04 = 1.6 >= 1.25; 1800 * 0.04**2 = 2.88 >= 1.25 + 1.6).
- Grip: ``observation.touch`` is each finger's contact force (N, world frame; Fetch has no force sensor, MuJoCo's
  contact solver gives it). The mocap weld is stiff and the finger actuators strong, so the numbers are large:
  peaks of 3,593 N while pick-and-place squeezes the block, 19,191 N while push's closed fingers press on the table
  (its gripper is held closed, the grip command does nothing). ``max_force_n`` 40,000 N is twice the largest: it
  only catches forces far beyond what a clean expert makes, and never makes the layer open the gripper in a clean
  push or pick. A number for this simulator, not a robot. ``require_touch`` false (touch can be switched off).
"""

from __future__ import annotations

from vlastack.safety.loading import PRESETS
from vlastack.safety.spec import ActionLayout, Box, GripperLimits, MotionLimits, SafetySpec

#: Largest finger contact force entry |touch| (N) in the experts' clean episodes, seeds 0-19 (push; pick-and-place 3,593).
FINGER_PEAK_N = 19190.8
#: The table's footprint (gymnasium-robotics' table0: centre x 1.3, y 0.75, half sizes 0.25 x 0.35, top z 0.4) widened
#: by 5 cm, from 2 cm below its top to 0.55 m above.
FETCH_TABLE = Box(low=(1.0, 0.35, 0.38), high=(1.6, 1.15, 0.95), name="fetch table")

FETCH_SPEC = PRESETS.register("fetch")(
    SafetySpec(
        name="fetch",
        control_period_s=0.04,
        state_position_dims=(0, 1, 2),
        action=ActionLayout(low=(-1.0,) * 4, high=(1.0,) * 4, translation_dims=(0, 1, 2), translation_scale_m=0.05),
        workspace=FETCH_TABLE,
        motion=MotionLimits(max_speed_m_s=1.25, max_accel_m_s2=40.0, max_jerk_m_s3=1800.0),
        gripper=GripperLimits(
            action_index=3,
            close_sign=1,
            max_force_n=40000.0,
            backoff_per_n=0.001,
            initial_command=-1.0,
            require_touch=False,
        ),
        watchdog_s=0.08,  # two control periods
    )
)
