"""Built-in safety specs, as named Python objects. ``specs/<name>.json`` holds the same data as JSON.

Meta-World (Sawyer, v3, ``metaworld==3.1.1``), numbers measured or read from its source:

- action ``[dx, dy, dz, grip]`` in [-1, 1]; the mocap moves by ``a[:3] / 100`` m per step; the
  control period is ``frame_skip 5 * 0.0025 s = 0.0125 s`` (80 Hz). ``grip > 0`` closes.
- Every task clips the mocap to ``hand_low (-0.5, 0.40, 0.05)`` .. ``hand_high (0.5, 1.0, 0.5)``
  (some tasks lower the z floor or y, e.g. pick-out-of-hole z -0.15; the class defaults
  ``mocap_low/high`` are overwritten in ``__init__``).
- Workspace: it must hold the controller targets the experts command, not only the hand positions
  they reach, because the layer keeps the target a stopping margin inside it (below). Experts of
  all 50 tasks, seeds 0-4, behind a layer that never binds (``benchmarks/safety_workspace.py
  --tasks mt50 --seeds 5``): hand x -0.499 .. 0.485, y 0.393 .. 0.890, z 0.044 .. 0.441; mocap
  target x -0.5 .. 0.5 (Meta-World's clip), y 0.40 .. 0.954 (sweep-into pushes it 13 cm past
  where the hand gets), z 0.014 (pick-out-of-hole, pressed into the table) .. 0.473 (door-lock).
  Box: x +-0.53 (the hand coasts up to 23.5 mm past Meta-World's own clip at +-0.5 when driven
  into it at full speed, ``safety_reached.py``), y 0.37 .. 0.965, z 0.0 (the table top: the
  target may be pressed into the table down to the stopping margin above it) .. 0.48.
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
  the tightest and loosest of them, shifted 4 mm down to the hand's frame. ``workspace`` is on
  (2026-11-29): the target is kept the stopping margin inside the workspace too. Fuzzed streams
  (``benchmarks/safety_reached_fuzz.py``) showed more: a hand moving at 0.5 m/s coasts 1 cm past a
  target that stops, so the margin grows by ``overshoot_s`` 0.03 s times the hand's measured speed;
  the hand trails its target and cuts corners the target goes round, so boxes are kept off by the
  hand's lag too; near the top of the reach (z 0.45-0.5 at y beyond 0.75) the hand rides 1-3 cm
  above its target, so a settled offset adds to the margin and the target is pulled back in, and
  within ``slow_within_m`` 10 cm of a wall other than the table the speed is capped (0.3 m/s at the
  wall). Under 100,000 fuzzed steps that still left the hand up to 11.2 mm past the z-high wall and
  3.8 mm into a keep-out box: the hand drifts sideways off a target that moves, 1-2 cm, up at the
  top of the reach and towards a box face it slides along. So (2026-11-29, later) an offset of the
  hand beyond its target that is not closing (at rest *or growing*) is pulled in, not only a settled
  one, and a hand within its stopping margin of a box face, not moving away, has its target pushed
  off that face: 0.0 mm on fuzz seeds 1 and 3. On seed 2 an arm pressed against the door at the
  contact limit while its target ran 13 cm ahead whipped 37 mm past the z-high wall when it came
  free: ``max_lead_m`` 0.10 m bounds that wind-up. It scales the motion down except where the
  motion is one of the corrections (they move the target away from the hand on purpose; scaled
  away, the hand crept 3.2 mm past a wall on seed 1 and 2.3 mm into the box on seed 3). With it,
  0.0 mm on all three seeds; a 4 cm bound had cost the experts 22 of 250 episodes (door-open and
  lever-pull push by leading the target), 10 cm costs none (door-close and sweep-into take longer).
- With this spec (2026-11-29) the experts of all 50 tasks, seeds 0-4, succeed in 247/250 episodes,
  as without the layer (soccer, sweep-into, stick-pull fail once each either way); episodes take
  87.0 steps on average instead of 84.3 (button-press 83 instead of 61: the speed cap near walls;
  door-close 101 and sweep-into 193 instead of 83 and 143: the lead bound).
- (2026-11-29, night) The speed cap near a wall no longer applies to a motion that clearly leaves
  that wall (``geometry.LEAVING_FRACTION``): capping the shipped policy's first fast move out of
  window-open's start, 8.5 cm from the y- face, changed what it did next and cost 2 of 10 episodes
  with unseen wording (both succeed without the cap). Fuzz seed 3, its streams now on new paths, then found the hand riding
  4 cm above a target pulled in below the top wall while moving sideways at 0.3-0.4 m/s, 2.8 mm
  past the wall: a hand more than ``RIDING_M`` 2 cm beyond a target being pulled in now gets no
  sideways motion until it is back within 2 cm. With both: 0.0 mm on fuzz seeds 1, 2 and 3; the
  experts of all 50 tasks, seeds 0-4, 247/250 as before, 85.5 steps per episode instead of 87.0
  (door-lock 63 instead of 86, door-close 81 instead of 101, button-press 80 instead of 83).
- Contact force on the arm (``Observation.arm_contact``: the net force of every contact between a
  moving arm link, fingers included, and anything else): MT10 experts, seeds 10000-10009, peak
  at most 352 N in every task but door-open (421-755 N in its 9 successful episodes); on door-open
  seed 10000 the fingers wedge against the door and, without the limit, the arm pushes at over
  900 N for 521 steps (peak 3,726 N; fingers 4,426 N); with it, 169 steps (peak 1,066 N). The
  limit, 900 N, is 20 % above every successful expert's peak and below the wedge; above it,
  motion into the contact is removed and the arm backs off at 1 mm/s per newton of excess (at
  most 0.2 m/s). Meta-World's forces come from a stiff mocap weld and are far above
  what ISO/TS 15066 allows for a person; the number is for this simulator, not a robot.
"""

from __future__ import annotations

from vlastack.safety.loading import PRESETS
from vlastack.safety.spec import ActionLayout, Box, ContactLimits, GripperLimits, MotionLimits, SafetySpec, TargetTracking

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
        # Wide enough for the controller targets the experts command (plus the stopping margin), see above.
        workspace=Box(low=(-0.53, 0.37, 0.0), high=(0.53, 0.965, 0.48), name="sawyer reach"),
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
            workspace=True,
            overshoot_s=0.03,
            max_lead_m=0.1,
            slow_within_m=0.1,
            slow_speed_m_s=0.3,
            slow_faces=("x-", "x+", "y-", "y+", "z+"),
        ),
        contact=ContactLimits(max_force_n=900.0, backoff_m_s_per_n=0.001, max_backoff_m_s=0.2),
    )
)

# The robosuite arms' specs (robosuite_<arm>) live in their own file; importing it registers them.
import vlastack.safety.presets_fetch  # noqa: E402, F401  (Fetch: the spec ``fetch``)
import vlastack.safety.presets_robosuite  # noqa: E402, F401
import vlastack.safety.presets_robosuite_mobile  # noqa: E402, F401  (the wheeled PandaOmron: robosuite_pandaomron)
