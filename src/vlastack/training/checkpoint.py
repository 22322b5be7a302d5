"""Training checkpoints: a policy directory plus everything needed to resume exactly.

    <out>/checkpoints/step_00001000/
        config.json  model.safetensors  normalization.safetensors  tokenizer/  ...   <- a policy directory;
                                                model.safetensors holds the EMA weights when EMA is on
        training/
            weights.safetensors      the raw (non-EMA) weights, when EMA is on
            optimizer.safetensors    AdamW moment tensors, keys "state.<param index>.<name>"
            state.json               step, data position, train config, optimizer hyper-parameters,
                                     python and numpy RNG scalars, EMA update count
            rng_rank<r>.safetensors  torch CPU/CUDA generator states and numpy's key, per process

Safetensors and JSON only (no pickle). A checkpoint is written into ``step_XXXXXXXX.tmp`` and renamed
when complete, so an interruption while saving leaves the previous checkpoint as the latest one.
"""

from __future__ import annotations

import json
import random
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import torch

from vlastack.checkpoint import (
    CONFIG_FILE,
    MODEL_FILE,
    checkpoint_dir,
    latest_checkpoint,
    list_checkpoints,
    load_safetensors,
    save_safetensors,
)
from vlastack.errors import CheckpointError

__all__ = ["checkpoint_dir", "latest_checkpoint", "list_checkpoints", "restore_training", "save_checkpoint", "finalize_checkpoint"]

TRAINING = "training"
STATE_FILE = "state.json"
OPTIMIZER_FILE = "optimizer.safetensors"
WEIGHTS_FILE = "weights.safetensors"


# ---- RNG states ---------------------------------------------------------------------------------
def rng_state() -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """(tensors, JSON scalars) capturing torch (CPU and CUDA), numpy and python RNGs of this process."""
    tensors = {"torch_cpu": torch.get_rng_state()}
    if torch.cuda.is_available():
        for i, s in enumerate(torch.cuda.get_rng_state_all()):
            tensors[f"torch_cuda.{i}"] = s
    kind, key, pos, has_gauss, cached = np.random.get_state()
    tensors["numpy_key"] = torch.from_numpy(np.asarray(key, dtype=np.int64))
    version, internal, gauss = random.getstate()
    scalars = {"numpy": [kind, int(pos), int(has_gauss), float(cached)], "python": [version, list(internal), gauss]}
    return tensors, scalars


def set_rng_state(tensors: dict[str, torch.Tensor], scalars: dict[str, Any]) -> None:
    torch.set_rng_state(tensors["torch_cpu"])
    cuda = [tensors[k] for k in sorted(k for k in tensors if k.startswith("torch_cuda."))]
    if cuda and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(cuda)
    kind, pos, has_gauss, cached = scalars["numpy"]
    np.random.set_state((kind, tensors["numpy_key"].numpy().astype(np.uint32), pos, has_gauss, cached))
    version, internal, gauss = scalars["python"]
    random.setstate((version, tuple(internal), gauss))


# ---- optimizer state ----------------------------------------------------------------------------
def optimizer_to_files(optimizer: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    sd = optimizer.state_dict()
    tensors, scalars = {}, {}
    for idx, state in sd["state"].items():
        for name, value in state.items():
            if torch.is_tensor(value):
                tensors[f"state.{idx}.{name}"] = value
            else:
                scalars[f"{idx}.{name}"] = value
    return tensors, {"param_groups": sd["param_groups"], "scalars": scalars}


def optimizer_from_files(optimizer: torch.optim.Optimizer, tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> None:
    state: dict[int, dict[str, Any]] = {}
    for key, value in tensors.items():
        _, idx, name = key.split(".", 2)
        state.setdefault(int(idx), {})[name] = value
    for key, value in meta["scalars"].items():
        idx, name = key.split(".", 1)
        state.setdefault(int(idx), {})[name] = value
    groups = [{k: tuple(v) if k == "betas" else v for k, v in g.items()} for g in meta["param_groups"]]
    try:
        optimizer.load_state_dict({"state": state, "param_groups": groups})
    except (ValueError, KeyError, RuntimeError) as err:
        raise CheckpointError(f"optimizer state does not fit this model: {err}") from err


# ---- save and load ------------------------------------------------------------------------------
def save_checkpoint(
    out_dir: Path,
    step: int,
    policy,
    optimizer: torch.optim.Optimizer,
    ema,
    state: dict[str, Any],
    is_main: bool = True,
    rank: int = 0,
    keep: int = 0,
) -> Path:
    """Write checkpoint ``step`` (after ``step`` optimizer steps); returns its directory.

    Every process writes its own RNG file into the temporary directory; the main process writes the
    rest and renames it. In multi-process runs the caller waits for every process between the
    RNG write and the rename (``barrier``), see :func:`vlastack.training.loop.train`.
    """
    final = checkpoint_dir(out_dir, step)
    tmp = final.with_name(final.name + ".tmp")
    (tmp / TRAINING).mkdir(parents=True, exist_ok=True)
    rng_tensors, rng_scalars = rng_state()
    save_safetensors(rng_tensors, tmp / TRAINING / f"rng_rank{rank}.safetensors")
    (tmp / TRAINING / f"rng_rank{rank}.json").write_text(json.dumps(rng_scalars))
    if not is_main:
        return final
    raw = policy.state_dict()
    policy.save_pretrained(tmp, state_dict=ema.state_dict() if ema is not None else raw)
    if ema is not None:
        save_safetensors(raw, tmp / TRAINING / WEIGHTS_FILE)
    opt_tensors, opt_meta = optimizer_to_files(optimizer)
    save_safetensors(opt_tensors, tmp / TRAINING / OPTIMIZER_FILE)
    full = {**state, "step": step, "optimizer": opt_meta, "ema_updates": ema.updates if ema is not None else 0}
    (tmp / TRAINING / STATE_FILE).write_text(json.dumps(full, indent=1))
    return final


def finalize_checkpoint(final: Path, keep: int) -> None:
    """Rename the temporary directory into place and delete checkpoints beyond the newest ``keep`` (main process)."""
    tmp = final.with_name(final.name + ".tmp")
    if final.exists():
        shutil.rmtree(final)
    tmp.rename(final)
    if keep > 0:
        for old in list_checkpoints(final.parent.parent)[:-keep]:
            shutil.rmtree(old, ignore_errors=True)


def read_training_state(ckpt: Path) -> dict[str, Any]:
    path = ckpt / TRAINING / STATE_FILE
    try:
        return json.loads(path.read_text())
    except FileNotFoundError as err:
        raise CheckpointError(f"{path} is missing: {ckpt} is a policy directory, not a training checkpoint") from err
    except json.JSONDecodeError as err:
        raise CheckpointError(f"{path} is not valid JSON: {err}") from err


def restore_training(ckpt: Path, policy, optimizer: torch.optim.Optimizer, ema, rank: int = 0) -> dict[str, Any]:
    """Load raw weights, EMA weights, optimizer state and this process's RNG; returns the saved state dict.

    ``policy`` must already hold the checkpoint's top-level weights (``from_pretrained``), which are the
    EMA weights when EMA was on.
    """
    state = read_training_state(ckpt)
    if ema is not None:
        ema.load(policy.state_dict(), int(state.get("ema_updates", 0)))
        policy.load_state_dict_checked(load_safetensors(ckpt / TRAINING / WEIGHTS_FILE), str(ckpt / TRAINING / WEIGHTS_FILE))
    optimizer_from_files(optimizer, load_safetensors(ckpt / TRAINING / OPTIMIZER_FILE), state["optimizer"])
    rng_file = ckpt / TRAINING / f"rng_rank{rank}.safetensors"
    if not rng_file.is_file():  # resumed on more processes than saved: fall back to rank 0's stream
        rng_file = ckpt / TRAINING / "rng_rank0.safetensors"
    scalars = json.loads(rng_file.with_suffix(".json").read_text())
    set_rng_state(load_safetensors(rng_file), scalars)
    return state


MIN_MATCHED_SHARE = 0.5
"""A partial initialisation (``TrainConfig.init_partial``) is refused unless the tensors it loads hold at least this
share of the new policy's parameter values (frozen ones included): fewer means another policy than the one meant."""


def load_matching(policy, directory: Path) -> dict[str, Any]:
    """Partial initialisation (``TrainConfig.init_partial``): copy into the freshly built ``policy`` every tensor of
    the policy directory ``directory`` (its weights and normalisation statistics) whose name and shape match; the
    others keep their fresh values. The action's normalisation always stays fresh (the new data's, even where the
    dimension agrees): the start policy's describes its own actions. Extra files (text cache, grounding) are not read.
    The start must be a policy of the same family (another family's tensors that happen to match mean nothing).

    Returns what run.json records: the start, how many tensors were loaded and the share of the parameter values
    they hold, the tensors kept fresh with the reason, the start's tensors left unused, and the config fields that
    differ. Refuses (CheckpointError) another family, and a start whose matching tensors are none or hold less than
    ``MIN_MATCHED_SHARE`` of the parameter values."""
    from vlastack import keys
    from vlastack.checkpoint import NORM_FILE, read_policy_meta
    from vlastack.policies.base import NORM_PREFIX

    directory = Path(directory)
    meta = read_policy_meta(directory)
    if meta["policy"] != policy.policy_name:
        raise CheckpointError(
            f"train.init_partial: {directory} holds a {meta['policy']!r} policy, this run trains a {policy.policy_name!r} one"
        )
    start = load_safetensors(directory / MODEL_FILE)
    start.update({NORM_PREFIX + k: v for k, v in load_safetensors(directory / NORM_FILE).items()})
    own = policy.state_dict()
    action_norm = {NORM_PREFIX + n for n in policy.normalizer.buffer_names(keys.ACTION)}
    loaded, fresh = {}, {}
    for name, value in own.items():
        if name in action_norm:
            fresh[name] = "the action's normalisation: the new data's"
        elif name not in start:
            fresh[name] = "not in the start policy"
        elif tuple(start[name].shape) != tuple(value.shape):
            fresh[name] = f"shape {list(start[name].shape)} in the start policy, {list(value.shape)} here"
        else:
            loaded[name] = start[name]
    params = dict(policy.named_parameters())
    share = sum(params[n].numel() for n in loaded if n in params) / max(1, sum(p.numel() for p in params.values()))
    if not loaded or share < MIN_MATCHED_SHARE:
        what = "no tensor" if not loaded else f"only {len(loaded)} of {len(own)} tensors ({share:.0%} of the parameter values)"
        examples = "; ".join(f"{k}: {v}" for k, v in list(fresh.items())[:3])
        raise CheckpointError(
            f"train.init_partial: {what} of this {policy.config.label} policy match {directory} by name and shape, and at "
            f"least {MIN_MATCHED_SHARE:.0%} of the values must (kept fresh, e.g. {examples}); is it the start policy meant?"
        )
    policy.load_state_dict({**own, **loaded})
    now, then = json.loads(json.dumps(policy.config.to_dict())), meta["config"]
    return {
        "from": str(directory.resolve()),
        "loaded": len(loaded),
        "loaded_value_share": round(share, 6),
        "fresh": fresh,
        "unused": sorted(set(start) - set(own)),
        "config_differences": {
            k: [then.get(k), now.get(k)] for k in sorted(now.keys() | then.keys()) if k != "name" and then.get(k) != now.get(k)
        },
    }


def export_policy(ckpt: Path, out: Path, half: bool = False, execute_steps: int | None = None) -> Path:
    """Copy the policy directory of training checkpoint ``ckpt`` to ``out`` without its ``training/`` state
    (optimizer moments, raw weights, RNG): what is needed to act, about a third of the size.

    ``half`` stores the weights (``model.safetensors``) in float16, half the size again; they are cast
    back to float32 when loaded (normalisation statistics stay float32). ``execute_steps`` replaces the
    config's (how many actions of a chunk an executor runs before asking again), checked by the config.
    Written into ``<out>.tmp`` and renamed, so an interrupted export leaves no half directory behind.
    """
    from vlastack.checkpoint import read_policy_meta

    ckpt, out = Path(ckpt), Path(out)
    read_policy_meta(ckpt)  # a clear error when ckpt is not a policy directory
    if out.exists():
        raise CheckpointError(f"{out} already exists; choose another --out or delete it first")
    tmp = out.with_name(out.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        shutil.copytree(ckpt, tmp, ignore=lambda d, names: [TRAINING] if Path(d) == ckpt else [])
        if half:
            weights = load_safetensors(tmp / MODEL_FILE)
            save_safetensors({k: v.half() if v.is_floating_point() else v for k, v in weights.items()}, tmp / MODEL_FILE)
        if execute_steps is not None:
            from vlastack.policies.registry import policy_class

            meta = read_policy_meta(tmp)
            config = policy_class(meta["policy"]).config_class.from_dict({**meta["config"], "execute_steps": execute_steps})
            meta["config"] = config.to_dict()
            (tmp / CONFIG_FILE).write_text(json.dumps(meta, indent=2) + "\n")
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)  # a refused setting leaves nothing behind
        raise
    tmp.rename(out)
    return out
