"""What a report says about the policy it evaluated: a name and the checkpoint's config, never the
absolute path of the machine it ran on (reports are shared; a home directory says nothing useful)."""

from __future__ import annotations

import json
import math
import struct
from pathlib import Path
from typing import Any

from vlastack.checkpoint import CONFIG_FILE


def checkpoint_name(checkpoint: str | Path | None) -> str | None:
    """The checkpoint's directory name, with its run's name when it is a training checkpoint
    (``runs/mt10/l1/checkpoints/step_00024000`` -> ``l1/step_00024000``)."""
    if checkpoint is None:
        return None
    path = Path(checkpoint)
    if path.parent.name == "checkpoints" and path.parent.parent.name:
        return f"{path.parent.parent.name}/{path.name}"
    return path.name


def policy_description(checkpoint: Path) -> dict[str, Any]:
    """The shared contract fields of a checkpoint's config.json, and its parameter count.

    Only fields every policy family has (its type, cameras, horizon, execute_steps, the recorded
    image size), so the report never depends on one family's own fields.
    """
    meta = json.loads((Path(checkpoint) / CONFIG_FILE).read_text())
    config = meta.get("config", {})
    recorded = (meta.get("data") or {}).get("image_size") or config.get("image_size")
    return {
        "type": meta.get("policy"),
        "cameras": list(config.get("cameras", [])),
        "image_size": list(recorded) if recorded else None,
        "horizon": config.get("horizon"),
        "execute_steps": config.get("execute_steps"),
        "parameters": _parameter_count(Path(checkpoint) / "model.safetensors"),
    }


def _parameter_count(weights: Path) -> int | None:
    """Numbers stored in a safetensors file, read from its header alone (no torch, no tensor loaded)."""
    try:
        with open(weights, "rb") as f:
            (size,) = struct.unpack("<Q", f.read(8))
            if size > weights.stat().st_size - 8:  # not a safetensors file (a corrupt one is reported by the loader)
                return None
            header = json.loads(f.read(size))
        return sum(math.prod(v["shape"]) for k, v in header.items() if k != "__metadata__" and isinstance(v, dict))
    except (OSError, struct.error, ValueError, TypeError, KeyError, AttributeError):
        return None


def describe(summary_config: dict[str, Any]) -> str:
    """One line naming the policy and how it ran, for titles and terminal output."""
    policy = summary_config.get("policy") or {}
    name = summary_config.get("checkpoint_name") or summary_config.get("server") or checkpoint_name(summary_config.get("checkpoint"))
    parts = [str(name)]
    if policy.get("type"):
        parts.append(f"{policy['type']} policy")
    if policy.get("parameters"):
        parts.append(f"{policy['parameters'] / 1e6:.2f} M parameters")
    if summary_config.get("base_arm_layer"):
        parts.append("under the base-arm layer")
    return ", ".join(parts)
