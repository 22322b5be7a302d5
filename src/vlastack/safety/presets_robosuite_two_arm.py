"""Two-arm safety specs of the robosuite two-arm tasks (``rs_two_arm``, issue 17 item 4): each arm keeps its
make's own spec (safety/presets_robosuite.py) on its 7 entries, plus a keep-out between the two hands.

Layout (envs/robosuite_env.py): joint action ``[arm0 dx..grip, arm1 dx..grip]`` (14), joint state 8 per arm
(hand x, y, z in world metres first), joint touch 6 per arm (wrist force-torque, world frame).

Frames: both arms' ``command_yaw_rad`` is 0. robosuite's "opposed" layout turns the two mounts +90 and -90
degrees about z (mount 0 at y -0.56 m in TwoArmLift, -0.81 m in TwoArmHandover, mount 1 mirrored), and
its controllers read commands in each mount's frame; but vlastack's adapter already takes world-aligned
deltas and turns each arm's into its mount's frame at every step from the live pose of the site
``robot<i>_right_center`` (``RobosuiteEnv._robosuite_action``; ``tests/envs/test_robosuite.py`` checks that
a world +y command moves both hands +y). So the action the layer sees is world-aligned, as is the state:
turning it again here would be wrong. We use the env's convention rather than the embodiment transforms
because no two-arm embodiment exists yet (``embodiment_for_task`` refuses two-arm tasks).

Numbers from one expert episode per task without the layer (TwoArmLift seed 0, TwoArmHandover seed 1,
robosuite 1.5.2, 2026-12; ``benchmarks/two_arm_safety.py`` measures more seeds):

- TwoArmLift: table 0.8 x 0.8 m centred at the origin, top at z 0.80 m: the Lift table, so each arm's
  ``robosuite_panda`` spec is used unchanged. Hands within x -0.12 .. 0.13, y -0.15 .. 0.12, z 0.93 .. 1.03;
  the two hands were never closer than 0.215 m (one per pot handle). Keep-out: 0.15 m.
- TwoArmHandover: table 0.8 x 1.2 m centred at y -0.45 m; the hammer is passed in the air at y 0. Arm 1's
  hand goes to y 0.37 m (beyond the table's edge at y 0.15 m) and arm 0's starts at y -0.49 m, outside the
  Lift table's box (y +-0.4 m). So the workspace is :data:`HANDOVER_SPACE` (the Lift table's x and z,
  y between the two mounts less 0.21 m each side); everything else is ``robosuite_panda``'s. The expert
  grasps the handle 0.04 m either side of its centre (``HandoverExpert.GRASP_OFFSET_M``): the hands were
  0.092 m apart at the closest. Keep-out: 0.06 m.

What the keep-out is not: a collision model. It keeps two *points* (robosuite's end-effector sites, between
the fingertips) apart; the Panda's hand is about 0.2 m across, so with 0.06 m the two grippers can still
touch, and links other than the hands are not considered. Rotation commands are not limited by it either.
"""

from __future__ import annotations

import dataclasses

from vlastack.safety.presets_robosuite import ROBOSUITE_ARM_SPECS
from vlastack.safety.spec import Box, SafetySpec
from vlastack.safety.two_arm_loading import TWO_ARM_PRESETS
from vlastack.safety.two_arm_spec import ArmSlot, MutualKeepOut, TwoArmSpec

#: TwoArmHandover's workspace for both arms (world frame, m): the Lift table's x (+-0.4) and z (0.8 .. 1.3,
#: the table top up to 0.5 m above), y from -0.6 to 0.6 (the mounts stand at y -0.81 and +0.81).
HANDOVER_SPACE = Box(low=(-0.4, -0.6, 0.8), high=(0.4, 0.6, 1.3), name="handover space")
#: One robosuite arm's entries: 7 action, 8 state, 6 touch.
ARM_ACTION, ARM_STATE, ARM_TOUCH = 7, 8, 6
#: Keep-out distance between the two hands per task, metres (see the module docstring).
MIN_DISTANCE_M: dict[str, float] = {"rs-twoarmlift-panda": 0.15, "rs-handover-panda": 0.06}


def two_arm_spec(name: str, arm_specs: tuple[SafetySpec, SafetySpec], min_distance_m: float) -> TwoArmSpec:
    """A spec for two robosuite arms (vlastack's joint layout, world-aligned commands) with the given per-arm specs."""
    slots = tuple(
        ArmSlot(
            spec=spec,
            action_slice=(ARM_ACTION * i, ARM_ACTION * (i + 1)),
            state_slice=(ARM_STATE * i, ARM_STATE * (i + 1)),
            touch_slice=(ARM_TOUCH * i, ARM_TOUCH * (i + 1)),
            rotation_dims=(3, 4, 5),
            command_yaw_rad=0.0,  # world-aligned already: see the module docstring
        )
        for i, spec in enumerate(arm_specs)
    )
    return TwoArmSpec(name=name, action_dim=2 * ARM_ACTION, arms=slots, keep_out=MutualKeepOut(min_distance_m=min_distance_m))


def spec_name(task: str) -> str:
    """The preset name of a two-arm task's spec: ``rs-handover-panda`` -> ``robosuite_handover_panda``."""
    return "robosuite_" + task.removeprefix("rs-").replace("-", "_")


_PANDA = ROBOSUITE_ARM_SPECS["panda"]
_PANDA_HANDOVER = dataclasses.replace(_PANDA, name="robosuite_panda_handover", workspace=HANDOVER_SPACE)

TWO_ARM_SPECS: dict[str, TwoArmSpec] = {
    task: TWO_ARM_PRESETS.register(spec_name(task))(two_arm_spec(spec_name(task), arms, MIN_DISTANCE_M[task]))
    for task, arms in (("rs-twoarmlift-panda", (_PANDA, _PANDA)), ("rs-handover-panda", (_PANDA_HANDOVER, _PANDA_HANDOVER)))
}
"""Two-arm task -> its registered spec (the default for collection, ``CollectConfig.spec_for``)."""
