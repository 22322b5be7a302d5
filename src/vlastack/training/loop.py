"""The training loop: one function, read top to bottom (nanoGPT / cleanrl style).

    train(policy_config, train_config, dataset, collate, out_dir, stats=..., policy_inputs=..., resume=...)

What it does, in order: pick the device and precision (accelerate when installed: ``accelerate launch
-m vlastack train ...`` runs DDP; a plain ``python`` run is one process, no accelerate config needed);
build or resume the policy, AdamW, EMA and the data order; then per step: the batch, the learning rate
(warm-up + cosine), the loss under autocast, backward, gradient clipping, the optimizer step, the EMA
update, a metrics row (``metrics.jsonl``, optionally TensorBoard), and every ``save_every`` steps a
checkpoint. Resuming restores weights, EMA, optimizer, RNG states and the position in the data order,
so an interrupted run continued from its last checkpoint ends with the same weights as an
uninterrupted one (same seed, same machine).
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from vlastack.errors import CheckpointError, ConfigError
from vlastack.policies.registry import make_policy, policy_class
from vlastack.train_config import TrainConfig
from vlastack.training import checkpoint as ckpt
from vlastack.training.ema import EMA
from vlastack.training.optim import lr_at, make_optimizer, set_lr

METRICS_FILE = "metrics.jsonl"
RUN_FILE = "run.json"
#: Train-config fields that change the arithmetic: a resumed run must keep them.
_MUST_MATCH = (
    "batch_size",
    "lr",
    "min_lr_ratio",
    "warmup_steps",
    "weight_decay",
    "betas",
    "grad_clip",
    "ema_decay",
    "seed",
    "mixed_precision",
    "episodes_per_task",
    "tasks",
    "trainable",
)


@dataclass
class TrainResult:
    out_dir: Path
    checkpoint: Path | None
    """The last checkpoint written (None when stopped before the first one)."""
    step: int
    """Optimizer steps done."""
    metrics: dict[str, float]
    """The last metrics row."""
    is_main: bool = True
    """Whether this process is the main one (the one that reports)."""
    grounding_dropped: dict | None = None
    """What a fine-tune did not carry over of its start policy's instruction grounding (``_drop_stale_grounding``), or None."""


class DataOrder:
    """The global sample order: epoch e is a permutation of the N samples seeded by (seed, e).

    ``position`` counts samples consumed by all processes together; a step takes the next
    ``batch_size * world`` of them and process ``rank`` keeps its slice. Saving ``position`` is enough
    to continue the exact same order.
    """

    def __init__(self, n: int, batch_size: int, seed: int, rank: int = 0, world: int = 1, position: int = 0) -> None:
        if n < 1:
            raise ConfigError("the training dataset is empty")
        self.n, self.batch_size, self.seed, self.rank, self.world = n, batch_size, seed, rank, world
        self.position = position
        self._epoch, self._perm = -1, None

    def _index(self, pos: int) -> int:
        epoch = pos // self.n
        if epoch != self._epoch:
            g = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
            self._epoch, self._perm = epoch, torch.randperm(self.n, generator=g).tolist()
        return self._perm[pos % self.n]

    def __iter__(self) -> Iterator[list[int]]:
        pos = self.position
        while True:
            start = pos + self.rank * self.batch_size
            yield [self._index(p) for p in range(start, start + self.batch_size)]
            pos += self.batch_size * self.world


class _OneProcess:
    """The handful of ``accelerate.Accelerator`` members the loop uses, for runs without accelerate."""

    is_main_process, num_processes, process_index = True, 1, 0

    def __init__(self, cpu: bool) -> None:
        self.device = torch.device("cuda" if torch.cuda.is_available() and not cpu else "cpu")
        self.bf16 = False

    def prepare(self, *objs):
        return objs

    def autocast(self):
        return torch.autocast(self.device.type, dtype=torch.bfloat16) if self.bf16 else contextlib.nullcontext()

    def backward(self, loss: torch.Tensor) -> None:
        loss.backward()

    def clip_grad_norm_(self, params, max_norm: float) -> torch.Tensor:
        return torch.nn.utils.clip_grad_norm_(params, max_norm)

    def unwrap_model(self, model):
        return model

    def gather(self, tensor: torch.Tensor) -> torch.Tensor:
        return tensor

    def wait_for_everyone(self) -> None:
        pass


def _runtime(cfg: TrainConfig):
    """An ``accelerate.Accelerator`` when installed (DDP under ``accelerate launch``), else a one-process stand-in."""
    cuda = torch.cuda.is_available() and not cfg.cpu
    bf16 = cfg.mixed_precision == "bf16" or (cfg.mixed_precision == "auto" and cuda and torch.cuda.is_bf16_supported())
    try:
        from accelerate import Accelerator
    except ImportError:
        if int(os.environ.get("WORLD_SIZE", "1")) > 1:
            raise ConfigError("a multi-process launch needs accelerate (pip install 'vlastack[train]')") from None
        rt = _OneProcess(cfg.cpu)
        rt.bf16 = bf16
        return rt
    # cpu=True on a machine without a GPU lets accelerate run several CPU processes (gloo) under torchrun.
    return Accelerator(mixed_precision="bf16" if bf16 else "no", cpu=not cuda)


def _seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def _row_step(line: str) -> float:
    try:
        return float(json.loads(line)["step"])
    except (ValueError, KeyError, TypeError):
        return float("inf")  # a line torn by an interruption


def _check_resume(out_dir: Path, cfg: TrainConfig) -> None:
    run = json.loads((out_dir / RUN_FILE).read_text()) if (out_dir / RUN_FILE).is_file() else {}
    saved = run.get("train", {})
    diff = [
        f"{k}: run has {saved[k]!r}, now {getattr(cfg, k)!r}"
        for k in _MUST_MATCH
        if k in saved and saved[k] != json.loads(json.dumps(getattr(cfg, k)))
    ]
    if diff:
        raise CheckpointError(f"cannot resume {out_dir} with other training settings ({'; '.join(diff)})")


def _drop_stale_grounding(policy: Any, instructions: Sequence[str]) -> dict | None:
    """Forget the start policy's instruction grounding when this run trains on phrasings it does not know.

    A grounding maps any instruction it does not know onto one of the start policy's trained phrasings
    (policies/components/grounding.py). Carried into a fine-tune on other tasks, it would take the run's own
    instructions for new words and hand the policy another task's phrasing instead: a fine-tune from the MT50
    policy onto the long-horizon suite acted on "open the drawer" for "look inside the drawer, then leave it
    shut". Kept when it knows every instruction of the new data (post-training on the same tasks); otherwise
    dropped, and what was dropped goes into run.json (``vlastack ground`` fits one for the new tasks)."""
    grounding = policy.grounding  # every Policy has one (None: no grounding)
    if grounding is None or not instructions:
        return None
    unknown = sorted({t for t in instructions if not grounding.knows(t)})
    if not unknown:
        return None
    policy.grounding = None
    return {"tasks": len(grounding.task_names), "unknown_instructions": len(unknown), "first_unknown": unknown[:3]}


def _freeze_all_but(policy: torch.nn.Module, prefixes: tuple[str, ...]) -> None:
    """``TrainConfig.trainable``: only parameters whose name starts with one of ``prefixes`` (a module's name, or a
    parameter's) stay trainable. One the policy keeps frozen itself (a frozen ImageNet trunk, whose maps a feature
    cache may hold) stays frozen. A prefix that names no parameter is an error (a typo would freeze everything)."""
    names = [n for n, _ in policy.named_parameters()]

    def chosen(name: str, prefix: str) -> bool:
        return name == prefix or name.startswith(prefix + ".")

    unmatched = [p for p in prefixes if not any(chosen(n, p) for n in names)]
    if unmatched:
        tops = sorted({n.split(".")[0] for n in names})
        raise ConfigError(f"TrainConfig.trainable: {unmatched} name no parameter of the policy; its modules are {tops}")
    for name, param in policy.named_parameters():
        param.requires_grad_(param.requires_grad and any(chosen(name, p) for p in prefixes))


def train(
    policy_cfg: Any,
    cfg: TrainConfig,
    dataset: Sequence[Any],
    collate: Callable[[list[Any]], Any],
    out_dir: str | Path,
    *,
    stats: dict | None = None,
    policy_inputs: dict | None = None,
    resume: bool = False,
    stop_after: int | None = None,
    progress: bool = True,
    extra_run_info: dict | None = None,
    instructions: Sequence[str] = (),
    data_info: dict | None = None,
    init_from: str | Path | None = None,
    loss_fn: Callable[[torch.nn.Module, Any], torch.Tensor] | None = None,
) -> TrainResult:
    """Train (or resume) any registered policy; checkpoints and metrics go under ``out_dir``.

    ``dataset[i]`` is one sample and ``collate(list_of_samples)`` a :class:`~vlastack.types.Batch`.
    ``policy_cfg`` is any policy config (``PolicyConfig`` subclass); ``stats`` (dataset statistics) and
    ``policy_inputs`` (what the policy class's ``fit_inputs`` returned, e.g. a fitted action tokenizer)
    are used for a fresh run; a resumed run takes both from its checkpoint. ``stop_after`` ends the run after that many steps of this call
    without a final checkpoint, like an interruption (for tests). ``instructions`` (the dataset's
    tasks) are embedded up front, so a frozen text encoder's cache in every checkpoint covers them all.
    ``data_info`` (e.g. the recorded image size) is saved with every checkpoint of a fresh run; a run
    started ``init_from`` a policy keeps that policy's, adding the embodiments ``data_info`` names.
    ``init_from`` (a policy directory) starts a fresh run from its ``model.safetensors`` (a training
    checkpoint's EMA weights; its raw weights and optimizer state are not used), normalisation statistics
    and fitted inputs instead of new ones (fine-tuning); ``stats`` and ``policy_inputs`` are then unused,
    and a checkpoint already in ``out_dir`` (with ``resume``) takes precedence. It is recorded in run.json. The start's
    instruction grounding stays only if it knows every one of ``instructions`` (``_drop_stale_grounding``).
    With ``cfg.init_partial`` the run starts as a fresh one (``stats``, ``policy_inputs``, ``data_info``) and takes
    from ``init_from`` only the tensors whose name and shape match (training/checkpoint.py ``load_matching``),
    whatever the two configs; run.json's ``init_partial`` says which tensors stayed fresh.
    ``loss_fn(model, batch)`` (per-sample [B] or scalar) replaces the policy's own loss (``model(batch)``, its
    ``compute_loss``), e.g. improve/fpo.py's objective; its mean is minimised. ``model`` is the prepared model (an
    accelerate/DDP wrapper under a multi-process launch, where a loss that does not call its forward skips the
    wrapper's gradient synchronisation: such a ``loss_fn`` is for one-process runs).
    """
    out_dir = Path(out_dir)
    acc = _runtime(cfg)
    is_main, rank, world = acc.is_main_process, acc.process_index, acc.num_processes

    # ---- the policy: fresh, or from the last checkpoint ----------------------------------------
    last = ckpt.latest_checkpoint(out_dir) if resume else None
    if not resume and ckpt.list_checkpoints(out_dir):
        raise CheckpointError(f"{out_dir} already holds checkpoints; pass --resume to continue that run, or choose another --out")
    if last is None and cfg.init_partial and init_from is None:
        raise ConfigError("train.init_partial=true needs a start policy (--init-from DIR)")
    _seed_everything(cfg.seed)  # same initial weights on every process
    partial, stale_grounding = None, None
    if last is not None:
        _check_resume(out_dir, cfg)  # the policy config is checked by from_pretrained(expect=...)
        policy = policy_class(policy_cfg).from_pretrained(last, expect=policy_cfg)
    elif init_from is not None and cfg.init_partial:
        policy = make_policy(policy_cfg, stats=stats, **(policy_inputs or {}))
        policy.data_info = dict(data_info or {})
        partial = ckpt.load_matching(policy, Path(init_from))
    elif init_from is not None:
        policy = policy_class(policy_cfg).from_pretrained(Path(init_from), expect=policy_cfg)
        # A fine-tune also knows the robots of its new data (the start's data info is kept otherwise).
        known = list(policy.data_info.get("embodiments") or [])
        added = [e for e in (data_info or {}).get("embodiments") or [] if e not in known]
        if added:
            policy.data_info["embodiments"] = known + added
        stale_grounding = _drop_stale_grounding(policy, instructions)
    else:
        policy = make_policy(policy_cfg, stats=stats, **(policy_inputs or {}))
        policy.data_info = dict(data_info or {})
    if cfg.trainable:
        _freeze_all_but(policy, cfg.trainable)
    policy.to(acc.device)
    if instructions:
        policy.prepare_instructions(list(instructions))
    optimizer = make_optimizer(policy, cfg)
    ema = EMA(policy, cfg.ema_decay) if cfg.ema_decay > 0 else None
    start_step, position = 0, 0
    if last is not None:
        state = ckpt.restore_training(last, policy, optimizer, ema, rank)  # also restores the RNG states
        start_step, position = int(state["step"]), int(state["data_position"])
    else:
        _seed_everything(cfg.seed + rank)
    model, optimizer = acc.prepare(policy, optimizer)

    # ---- data: a fixed global order, continued from the saved position -------------------------
    order = DataOrder(len(dataset), cfg.batch_size, cfg.seed, rank, world, position)
    loader = torch.utils.data.DataLoader(
        dataset,
        batch_sampler=order,
        collate_fn=collate,
        num_workers=cfg.num_workers,
        generator=torch.Generator().manual_seed(cfg.seed),  # keeps the global RNG untouched
    )
    batches = iter(loader)

    # ---- logging --------------------------------------------------------------------------------
    writer = None
    if is_main:
        out_dir.mkdir(parents=True, exist_ok=True)
        if last is None:
            run = {"policy": policy_cfg.to_dict(), "train": cfg.to_dict(), "world_size": world, **(extra_run_info or {})}
            if init_from is not None:
                run["init_from"] = str(Path(init_from).resolve())
            if partial is not None:
                run["init_partial"] = partial
            if stale_grounding is not None:
                run["grounding_dropped"] = stale_grounding
            (out_dir / RUN_FILE).write_text(json.dumps(run, indent=1) + "\n")
        metrics_path = out_dir / METRICS_FILE
        old_rows = metrics_path.read_text().splitlines() if metrics_path.is_file() and last else []
        kept = [line for line in old_rows if _row_step(line) <= start_step]
        metrics_path.write_text("".join(line + "\n" for line in kept))  # drop rows past the checkpoint (and a torn last line)
        if cfg.tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter
            except ImportError as err:
                raise ConfigError("tensorboard=True needs the tensorboard package (pip install tensorboard)") from err
            writer = SummaryWriter(str(out_dir / "tensorboard"), purge_step=start_step + 1)
    bar = None
    if progress and is_main:
        from tqdm.auto import tqdm

        bar = tqdm(total=cfg.steps, initial=start_step, desc=f"train {policy_cfg.name}", dynamic_ncols=True)

    # ---- the loop -------------------------------------------------------------------------------
    model.train()
    params = [p for p in policy.parameters() if p.requires_grad]
    saved, row, tick, logged, steps_this_call = last, {}, time.perf_counter(), start_step, 0
    for step in range(start_step, cfg.steps):
        if stop_after is not None and steps_this_call >= stop_after:
            break
        batch = next(batches)
        lr = lr_at(step, cfg)
        set_lr(optimizer, lr)
        with acc.autocast():
            loss = (model(batch) if loss_fn is None else loss_fn(model, batch)).mean()
        acc.backward(loss)
        grad_norm = acc.clip_grad_norm_(params, cfg.grad_clip) if cfg.grad_clip > 0 else torch.tensor(float("nan"))
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        if ema is not None:
            ema.update(policy)
        order.position += cfg.batch_size * world
        steps_this_call += 1
        done = step + 1

        if done % cfg.log_every == 0 or done == cfg.steps:
            now = time.perf_counter()
            mean_loss = float(acc.gather(loss.detach()[None]).mean())  # over every process
            row = {
                "step": done,
                "loss": mean_loss,
                "lr": lr,
                "grad_norm": float(grad_norm),
                "epoch": order.position / len(dataset),
                **acc.unwrap_model(model).last_terms,
                "samples_per_s": (done - logged) * cfg.batch_size * world / max(now - tick, 1e-9),
            }
            tick, logged = now, done
            if is_main:
                with open(out_dir / METRICS_FILE, "a") as f:
                    f.write(json.dumps(row) + "\n")
                if writer is not None:
                    for k, v in row.items():
                        if isinstance(v, float):
                            writer.add_scalar(f"train/{k}", v, done)
        if bar is not None:
            bar.update(1)
            bar.set_postfix(loss=f"{float(loss.detach()):.4f}", lr=f"{lr:.2e}")

        if done % cfg.save_every == 0 or done == cfg.steps:
            final = ckpt.save_checkpoint(
                out_dir, done, policy, optimizer, ema, {"data_position": order.position, "train": cfg.to_dict()}, is_main=is_main, rank=rank
            )
            acc.wait_for_everyone()
            if is_main:
                ckpt.finalize_checkpoint(final, cfg.keep_checkpoints)
            acc.wait_for_everyone()
            saved = final
    if bar is not None:
        bar.close()
    if writer is not None:
        writer.close()
    return TrainResult(
        out_dir=out_dir,
        checkpoint=saved,
        step=start_step + steps_this_call,
        metrics=row,
        is_main=is_main,
        grounding_dropped=stale_grounding,
    )
