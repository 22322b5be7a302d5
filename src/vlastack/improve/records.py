"""The small files an improve run keeps: JSON written atomically, and its settings as JSON."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any


def config_dict(config: Any) -> dict[str, Any]:
    """A dataclass config as JSON-safe values (paths as strings), as ``improve_config.json`` holds it."""
    return json.loads(json.dumps(asdict(config), default=str))


def write_json(path: Path, data: Any) -> None:
    """``data`` to ``path`` atomically (a crash leaves the old file or the new one, never half of one)."""
    from vlastack.episodes.layout import write_json_atomic

    path.parent.mkdir(parents=True, exist_ok=True)
    write_json_atomic(path, data)
