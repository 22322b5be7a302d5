"""World-model checkpoints: safetensors and JSON only, written to a ``.tmp`` folder and renamed.

<out>/checkpoints/step_00001000/
    config.json                 {"kind": "dynamics" | "latent_actions" | "heads" | "preview" | "progress", "config": {...}, "meta": {...}}
    model.safetensors           weights and the embedding normaliser
    training/optimizer.safetensors, training/state.json, training/rng.safetensors   (for resume)
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import torch

from vlastack.checkpoint import CONFIG_FILE, MODEL_FILE, checkpoint_dir, load_safetensors, save_safetensors
from vlastack.errors import CheckpointError
from vlastack.training.checkpoint import optimizer_from_files, optimizer_to_files
from vlastack.world_model.config import DynamicsConfig, HeadsConfig, LatentActionConfig, PreviewConfig, ProgressConfig
from vlastack.world_model.dynamics import ChunkPredictor
from vlastack.world_model.heads import ProgressHead, SafetyHeads
from vlastack.world_model.latent_actions import LatentActionModel
from vlastack.world_model.preview import PreviewDecoder

KINDS = {
    "dynamics": DynamicsConfig,
    "latent_actions": LatentActionConfig,
    "heads": HeadsConfig,
    "preview": PreviewConfig,
    "progress": ProgressConfig,
}
"""Checkpoint kind -> config class."""
TRAINING = "training"


def save(out: Path, step: int, kind: str, model: torch.nn.Module, meta: dict[str, Any], optimizer=None, generator=None) -> Path:
    """Write checkpoint ``step`` of a run in ``out``; with ``optimizer`` and ``generator`` it can be resumed."""
    final = checkpoint_dir(out, step)
    tmp = final.with_name(final.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    (tmp / TRAINING).mkdir(parents=True)
    (tmp / CONFIG_FILE).write_text(json.dumps({"kind": kind, "config": model.config.to_dict(), "meta": meta}, indent=1))
    save_safetensors(model.state_dict(), tmp / MODEL_FILE)
    if optimizer is not None:
        tensors, scalars = optimizer_to_files(optimizer)
        save_safetensors(tensors, tmp / TRAINING / "optimizer.safetensors")
        (tmp / TRAINING / "state.json").write_text(json.dumps({"step": step, "optimizer": scalars}))
    if generator is not None:
        save_safetensors({"sampler": generator.get_state(), "torch_cpu": torch.get_rng_state()}, tmp / TRAINING / "rng.safetensors")
    shutil.rmtree(final, ignore_errors=True)
    tmp.rename(final)
    return final


def read_config(ckpt: Path) -> dict[str, Any]:
    path = Path(ckpt) / CONFIG_FILE
    if not path.is_file():
        raise CheckpointError(f"{path} is missing: {ckpt} is not a world-model checkpoint")
    try:
        d = json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise CheckpointError(f"{path} is corrupt (invalid JSON: {err})") from err
    if d.get("kind") not in KINDS:
        raise CheckpointError(f"{path}: kind is {d.get('kind')!r}, expected one of {sorted(KINDS)}")
    return d


def load(ckpt: str | Path) -> tuple[torch.nn.Module, dict[str, Any]]:
    """(model in eval mode, meta) of a world-model checkpoint directory."""
    ckpt = Path(ckpt)
    d = read_config(ckpt)
    config = KINDS[d["kind"]].from_dict(d["config"])
    meta = d["meta"]
    if d["kind"] == "dynamics":
        model = ChunkPredictor(config, meta["embed_dim"], meta["action_dim"])
    elif d["kind"] == "heads":
        model = SafetyHeads(config, meta["embed_dim"])
    elif d["kind"] == "preview":
        model = PreviewDecoder(config, meta["embed_dim"])
    elif d["kind"] == "progress":
        model = ProgressHead(config, meta["embed_dim"])
    else:
        model = LatentActionModel(config, meta["embed_dim"])
    state = load_safetensors(ckpt / MODEL_FILE)
    try:
        model.load_state_dict(state)
    except RuntimeError as err:
        raise CheckpointError(f"{ckpt / MODEL_FILE} does not fit the model its config.json describes: {err}") from err
    return model.eval(), meta


def load_kind(path: str | Path, kind: str, made_by: str) -> tuple[Path, torch.nn.Module, dict[str, Any]]:
    """(checkpoint, model in eval mode, meta) of a run directory (its latest checkpoint) or a checkpoint directory,
    which must hold a ``kind`` checkpoint; ``made_by`` names the command that makes one, for the error."""
    from vlastack.checkpoint import latest_checkpoint

    path = Path(path)
    ckpt = path if (path / CONFIG_FILE).is_file() else latest_checkpoint(path)
    if ckpt is None:
        raise CheckpointError(f"{path} holds no checkpoint")
    if read_config(ckpt)["kind"] != kind:
        raise CheckpointError(f"{ckpt} is not a {kind} checkpoint (made by `{made_by}`)")
    model, meta = load(ckpt)
    return ckpt, model, meta


def restore(ckpt: Path, model: torch.nn.Module, optimizer, generator: torch.Generator) -> int:
    """Load weights, optimizer and RNG state of ``ckpt`` into the given objects; returns its step."""
    state = load_safetensors(ckpt / MODEL_FILE)
    model.load_state_dict(state)
    path = ckpt / TRAINING / "state.json"
    if not path.is_file():
        raise CheckpointError(f"{path} is missing: {ckpt} cannot be resumed (saved without training state)")
    st = json.loads(path.read_text())
    optimizer_from_files(optimizer, load_safetensors(ckpt / TRAINING / "optimizer.safetensors"), st["optimizer"])
    rng = load_safetensors(ckpt / TRAINING / "rng.safetensors")
    generator.set_state(rng["sampler"])
    torch.set_rng_state(rng["torch_cpu"])
    return int(st["step"])
