"""Two-arm specs by name, and the one entry point that builds whichever layer a spec needs.

Two-arm specs are Python presets only (:mod:`vlastack.safety.presets_robosuite_two_arm`); there is no JSON
form yet. :func:`load_any_spec` and :func:`make_layer` accept a two-arm preset name or spec wherever a
single-arm one was accepted, so :class:`vlastack.safety.SafeActuator` and collection need no branch.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from vlastack.registry import Registry
from vlastack.safety.layer import SafetyLayer
from vlastack.safety.loading import load_spec
from vlastack.safety.spec import SafetySpec
from vlastack.safety.two_arm_layer import TwoArmSafetyLayer
from vlastack.safety.two_arm_spec import TwoArmSpec

#: Built-in two-arm specs by name (filled by :mod:`vlastack.safety.presets_robosuite_two_arm`).
TWO_ARM_PRESETS: Registry[TwoArmSpec] = Registry("two-arm safety spec preset")


def _registered() -> Registry[TwoArmSpec]:
    import vlastack.safety.presets_robosuite_two_arm  # noqa: F401  (registers the presets)

    return TWO_ARM_PRESETS


def load_any_spec(source: str | Path | dict[str, Any] | SafetySpec | TwoArmSpec) -> SafetySpec | TwoArmSpec:
    """A two-arm spec (a :class:`TwoArmSpec` or a two-arm preset's name), else what :func:`load_spec` gives."""
    if isinstance(source, TwoArmSpec):
        return source
    if isinstance(source, str) and source in _registered():
        return TWO_ARM_PRESETS.get(source)
    return load_spec(source)


def action_dim(spec: SafetySpec | TwoArmSpec) -> int:
    """Entries of the action ``spec`` judges (the joint action for two arms)."""
    return spec.action_dim if isinstance(spec, TwoArmSpec) else spec.action.dim


def make_layer(source: str | Path | dict[str, Any] | SafetySpec | TwoArmSpec) -> SafetyLayer | TwoArmSafetyLayer:
    """The layer for ``source``: a :class:`TwoArmSafetyLayer` for a two-arm spec, a :class:`SafetyLayer` otherwise."""
    spec = load_any_spec(source)
    return TwoArmSafetyLayer(spec) if isinstance(spec, TwoArmSpec) else SafetyLayer(spec)
