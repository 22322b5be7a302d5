"""The checkpoint format, in one place: policy directories and training runs.

A policy directory (what ``Policy.save_pretrained`` writes, ``load_policy`` reads, evaluation and
serving load)::

    config.json                  {"policy": <registered name>, "format_version": 1, "config": {...}, "data": {...}}
    model.safetensors            weights (no normalisation statistics)
    normalization.safetensors    the normaliser's buffers (offset/scale per feature), modes in metadata
    tokenizer/                   the action tokenizer, when the policy has one
    text_cache.safetensors       cached instruction embeddings, when the text encoder is frozen

A training run (``vlastack train --out RUN``) keeps policy directories under
``RUN/checkpoints/step_XXXXXXXX/``, each with a ``training/`` folder for exact resume (see
:mod:`vlastack.training.checkpoint`). Safetensors and JSON only: nothing is pickled.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vlastack.errors import CheckpointError

if TYPE_CHECKING:
    import torch

FORMAT_VERSION = 1
CONFIG_FILE = "config.json"
MODEL_FILE = "model.safetensors"
NORM_FILE = "normalization.safetensors"
CHECKPOINTS = "checkpoints"
"""Folder of a training run that holds its checkpoints."""


def load_safetensors(path: Path) -> dict[str, torch.Tensor]:
    """Read a safetensors file; a CheckpointError naming the file when it is missing or corrupt."""
    from safetensors.torch import load_file

    if not path.is_file():
        raise CheckpointError(f"{path} is missing; the checkpoint directory is incomplete")
    try:
        return load_file(str(path))
    except Exception as err:  # safetensors raises SafetensorError, OSError, ValueError... for damaged files
        raise CheckpointError(f"{path} is corrupt or truncated and cannot be read as safetensors: {err}") from err


def save_safetensors(tensors: dict[str, torch.Tensor], path: Path, metadata: dict[str, str] | None = None) -> None:
    """Write tensors (moved to the CPU, made contiguous) atomically: a temporary file, then a rename."""
    from safetensors.torch import save_file

    tmp = path.with_name(path.name + ".tmp")
    save_file({k: v.detach().cpu().contiguous() for k, v in tensors.items()}, str(tmp), metadata=metadata)
    tmp.replace(path)


def read_policy_meta(directory: str | Path) -> dict[str, Any]:
    """The parsed ``config.json`` of a policy directory; a CheckpointError when missing or unreadable."""
    path = Path(directory)
    if not path.is_dir():
        raise CheckpointError(f"checkpoint directory {path} does not exist")
    cfg = path / CONFIG_FILE
    try:
        meta = json.loads(cfg.read_text())
    except FileNotFoundError as err:
        raise CheckpointError(f"{cfg} is missing; {path} is not a policy checkpoint") from err
    except (OSError, json.JSONDecodeError) as err:
        raise CheckpointError(f"{cfg} is not valid JSON: {err}") from err
    if not isinstance(meta, dict) or "policy" not in meta or "config" not in meta:
        raise CheckpointError(f"{cfg} lacks the 'policy' and 'config' fields")
    if meta.get("format_version") != FORMAT_VERSION:
        raise CheckpointError(f"{cfg} has format_version {meta.get('format_version')!r}; this vlastack reads {FORMAT_VERSION}")
    return meta


# ---- training runs ------------------------------------------------------------------------------
def checkpoint_dir(out_dir: Path, step: int) -> Path:
    return Path(out_dir) / CHECKPOINTS / f"step_{step:08d}"


def list_checkpoints(out_dir: Path) -> list[Path]:
    """Complete checkpoints of a run, oldest first (``.tmp`` directories are ignored)."""
    root = Path(out_dir) / CHECKPOINTS
    if not root.is_dir():
        return []
    done = [p for p in root.iterdir() if p.is_dir() and p.name.startswith("step_") and not p.name.endswith(".tmp")]
    return sorted(done, key=lambda p: p.name)


def latest_checkpoint(out_dir: Path) -> Path | None:
    found = list_checkpoints(out_dir)
    return found[-1] if found else None


def resolve_checkpoint(directory: str | Path) -> Path:
    """A policy directory: ``directory`` itself, or the latest checkpoint of a training run directory."""
    path = Path(directory)
    if (path / CONFIG_FILE).is_file():
        return path
    if (path / CHECKPOINTS).is_dir():
        latest = latest_checkpoint(path)
        if latest is not None:
            return latest
    raise CheckpointError(f"{path} is neither a policy directory (no {CONFIG_FILE}) nor a training run with {CHECKPOINTS}/")
