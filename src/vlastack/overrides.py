"""``section.field=value`` overrides of frozen config dataclasses, for the command line.

    vlastack train --preset l1 ... --set policy.keypoints=64 --set train.lr=5e-4 --set policy.channels=[16,32,32]

Values are JSON when they parse (numbers, true/false, null, lists, dicts), else plain strings. Each
override goes through ``dataclasses.replace``, so the config's own ``__post_init__`` validation runs;
an unknown section or field is a ConfigError that lists the valid ones. Why not tyro/draccus: every
config here is already a validated frozen dataclass, presets pick the defaults, and one generic
``--set`` covers every field of every policy family without a CLI flag per field to keep in sync.
"""

from __future__ import annotations

import dataclasses
import json
import typing
from collections.abc import Iterable, Mapping
from typing import Any

from vlastack.errors import ConfigError
from vlastack.registry import unknown_name_error


def parse_assignment(text: str) -> tuple[str, str, Any]:
    """``"policy.lr=3e-4"`` -> ("policy", "lr", 0.0003)."""
    name, sep, raw = text.partition("=")
    section, dot, field = name.strip().partition(".")
    if not sep or not dot or not section or not field:
        raise ConfigError(f"--set {text!r}: expected SECTION.FIELD=VALUE, e.g. policy.horizon=8 or train.lr=3e-4")
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        value = raw
    return section, field.strip(), value


def _coerce(cls: type, field: dataclasses.Field, value: Any, where: str) -> Any:
    """JSON values to the field's declared type where the conversion is lossless (list -> tuple, int -> float)."""
    hint = typing.get_type_hints(cls).get(field.name, Any)
    origin = typing.get_origin(hint)
    if origin is tuple and isinstance(value, list):
        return tuple(value)
    if hint is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if hint in (int, float, bool, str) and not isinstance(value, hint):
        raise ConfigError(f"{where}: expected {hint.__name__}, got {value!r}")
    return value


def apply_overrides(configs: Mapping[str, Any], assignments: Iterable[str]) -> dict[str, Any]:
    """``configs`` (section -> frozen dataclass) with every ``SECTION.FIELD=VALUE`` assignment applied."""
    out = dict(configs)
    for text in assignments:
        section, name, value = parse_assignment(text)
        if section not in out:
            raise unknown_name_error("config section", section, out)
        cfg = out[section]
        fields = {f.name: f for f in dataclasses.fields(cfg)}
        if name not in fields:
            raise unknown_name_error(f"{section} field", name, fields)
        where = f"--set {section}.{name}"
        try:
            out[section] = dataclasses.replace(cfg, **{name: _coerce(type(cfg), fields[name], value, where)})
        except (TypeError, ValueError) as err:
            raise ConfigError(f"{where}={value!r}: {err}") from err
    return out
