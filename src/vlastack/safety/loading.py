"""Read and write safety specs as JSON, and find the built-in presets by name.

``load_spec`` accepts a preset name, a path to a ``.json`` file or a dict. Unknown keys, missing
keys and impossible values are rejected with a :class:`~vlastack.safety.spec.SpecError` naming the
field by its dotted path (``motion.max_speed_m_s``, ``keep_out[0].high[2]``).
"""

from __future__ import annotations

import dataclasses
import difflib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from vlastack.errors import ConfigError
from vlastack.registry import Registry
from vlastack.safety.spec import ActionLayout, Box, ContactLimits, GripperLimits, MotionLimits, SafetySpec, SpecError, TargetTracking

#: Built-in specs by name (filled by :mod:`vlastack.safety.presets`).
PRESETS: Registry[SafetySpec] = Registry("safety spec preset")

# Nested fields that hold a spec dataclass (or a list of them) instead of plain values.
_NESTED: dict[type, dict[str, type]] = {
    SafetySpec: {
        "action": ActionLayout,
        "workspace": Box,
        "motion": MotionLimits,
        "gripper": GripperLimits,
        "tracking": TargetTracking,
        "contact": ContactLimits,
    },
    TargetTracking: {"clip_inner": Box, "clip_outer": Box},
}
_LISTS_OF: dict[type, dict[str, type]] = {SafetySpec: {"keep_out": Box}}


def _build(cls: type, data: object, path: str) -> Any:
    """``cls(**data)``, checking keys first and putting ``path`` in front of every error's field."""
    where = path or "spec"
    if not isinstance(data, Mapping):
        raise SpecError(where, f"expected an object with keys, got {type(data).__name__}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    prefix = f"{path}." if path else ""
    for key in data:
        if key not in fields:
            close = difflib.get_close_matches(str(key), fields, n=1, cutoff=0.6)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise SpecError(f"{prefix}{key}", f"unknown key{hint}; valid keys: {', '.join(fields)}")
    required = [n for n, f in fields.items() if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING]
    for name in required:
        if name not in data:
            raise SpecError(f"{prefix}{name}", "missing (required)")
    kwargs: dict[str, Any] = {}
    for key, value in data.items():
        nested = _NESTED.get(cls, {}).get(key)
        listed = _LISTS_OF.get(cls, {}).get(key)
        if nested is not None and value is not None:
            value = _build(nested, value, f"{prefix}{key}")
        elif listed is not None:
            if not isinstance(value, (list, tuple)):
                raise SpecError(f"{prefix}{key}", f"expected a list, got {type(value).__name__}")
            value = tuple(_build(listed, v, f"{prefix}{key}[{i}]") for i, v in enumerate(value))
        kwargs[key] = value
    try:
        return cls(**kwargs)
    except SpecError as e:
        raise (e.within(path) if path else e) from None


def spec_from_dict(data: Mapping[str, Any]) -> SafetySpec:
    """Build and validate a :class:`SafetySpec` from plain data (as read from JSON)."""
    return _build(SafetySpec, data, "")


def spec_to_dict(spec: SafetySpec) -> dict[str, Any]:
    """Plain data (lists, numbers, strings) that :func:`spec_from_dict` turns back into ``spec``."""

    def plain(x: Any) -> Any:
        if dataclasses.is_dataclass(x):
            return {f.name: plain(getattr(x, f.name)) for f in dataclasses.fields(x)}
        if isinstance(x, tuple):
            return [plain(v) for v in x]
        return x

    return plain(spec)


def load_spec(source: str | Path | Mapping[str, Any] | SafetySpec) -> SafetySpec:
    """A validated spec from a preset name, a JSON file path, a dict, or a spec (returned as is)."""
    if isinstance(source, SafetySpec):
        return source
    if isinstance(source, Mapping):
        return spec_from_dict(source)
    text = str(source)
    if not text.endswith(".json") and not Path(text).exists():
        import vlastack.safety.presets  # noqa: F401  (registers the presets)

        return PRESETS.get(text)
    path = Path(text)
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"safety spec file {path} does not exist") from None
    except json.JSONDecodeError as e:
        raise ConfigError(f"safety spec file {path} is not valid JSON: {e}") from None
    try:
        return spec_from_dict(data)
    except SpecError as e:
        raise SpecError(e.field, f"{e.problem} (in {path})") from None


def save_spec(spec: SafetySpec, path: str | Path) -> Path:
    """Write ``spec`` as indented JSON; :func:`load_spec` reads it back unchanged."""
    path = Path(path)
    path.write_text(json.dumps(spec_to_dict(spec), indent=2) + "\n")
    return path
