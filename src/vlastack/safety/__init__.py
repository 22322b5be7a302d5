"""The safety layer, between executor and actuator, always on.

    executor --action | None--> SafeActuator --SafetyLayer.filter--> env.step

- :mod:`.spec`: the per-embodiment spec (frozen dataclasses); :mod:`.loading`: JSON in and out,
  presets by name (:mod:`.presets`: ``metaworld_sawyer``; :mod:`.presets_robosuite`: ``robosuite_<arm>``;
  :mod:`.presets_robosuite_mobile`: ``robosuite_pandaomron``, the wheeled robot; :mod:`.presets_fetch`: ``fetch``).
- :mod:`.checks`: the chain (watchdog, validity, workspace, keep-out, motion, grip force);
  :mod:`.verify`: the rules every output satisfies, used as the last gate.
- :mod:`.layer`: :class:`SafetyLayer`; :mod:`.actuator`: :class:`SafeActuator`, the only way to step.
- Two arms: :mod:`.two_arm_spec` (each arm's own spec on its slice, and the mutual keep-out),
  :mod:`.mutual_keep_out` (its checks), :mod:`.two_arm_layer` (:class:`TwoArmSafetyLayer`),
  :mod:`.two_arm_loading` (presets by name, :func:`make_layer`), :mod:`.presets_robosuite_two_arm`.
- :mod:`.interventions`: the reasons, in words and fields, and the per-episode summary.
- :mod:`.faults`: fault injection for the measurements.
"""

from vlastack.safety.actuator import SAFETY_INFO_KEY, SafeActuator
from vlastack.safety.interventions import Intervention, SafetyDecision
from vlastack.safety.layer import SafetyLayer
from vlastack.safety.loading import PRESETS, load_spec, save_spec, spec_from_dict, spec_to_dict
from vlastack.safety.presets import METAWORLD_SAWYER
from vlastack.safety.spec import ActionLayout, Box, GripperLimits, MotionLimits, SafetySpec, SpecError
from vlastack.safety.two_arm_layer import TwoArmSafetyLayer
from vlastack.safety.two_arm_loading import TWO_ARM_PRESETS, load_any_spec, make_layer
from vlastack.safety.two_arm_spec import ArmSlot, MutualKeepOut, TwoArmSpec

__all__ = [
    "SAFETY_INFO_KEY",
    "SafeActuator",
    "Intervention",
    "SafetyDecision",
    "SafetyLayer",
    "PRESETS",
    "load_spec",
    "save_spec",
    "spec_from_dict",
    "spec_to_dict",
    "METAWORLD_SAWYER",
    "ActionLayout",
    "Box",
    "GripperLimits",
    "MotionLimits",
    "SafetySpec",
    "SpecError",
    "TwoArmSafetyLayer",
    "TWO_ARM_PRESETS",
    "load_any_spec",
    "make_layer",
    "ArmSlot",
    "MutualKeepOut",
    "TwoArmSpec",
]
