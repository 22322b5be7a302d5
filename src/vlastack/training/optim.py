"""AdamW with nanoGPT-style weight-decay groups, and the warm-up + cosine learning-rate schedule."""

from __future__ import annotations

import math

import torch
from torch import nn

from vlastack.train_config import TrainConfig


def make_optimizer(model: nn.Module, cfg: TrainConfig) -> torch.optim.AdamW:
    """AdamW; matrices and conv kernels (ndim >= 2) decay, biases/norm scales/1-d vectors do not.

    Parameters are taken in ``model.named_parameters()`` order, so the optimizer state of a
    checkpoint lines up with the same model built again. A model with a ``lr_scale(name)`` method
    (e.g. pretrained layers that fine-tune slowly) gets further groups for the parameters whose factor
    is not 1; each group's ``lr_scale`` multiplies the schedule's rate in :func:`set_lr`.
    """
    scale_of = getattr(model, "lr_scale", lambda name: 1.0)
    by_kind: dict[tuple[bool, float], list[nn.Parameter]] = {(True, 1.0): [], (False, 1.0): []}  # (decays, lr factor)
    for name, p in model.named_parameters():
        if p.requires_grad:
            by_kind.setdefault((p.ndim >= 2, float(scale_of(name))), []).append(p)
    groups = [
        {"params": ps, "weight_decay": cfg.weight_decay if decay else 0.0, "lr_scale": scale}
        for (decay, scale), ps in by_kind.items()
        if ps or scale == 1.0  # the two plain groups always exist, as in checkpoints from before lr factors
    ]
    params = [p for g in groups for p in g["params"]]
    kwargs = {"fused": True} if torch.cuda.is_available() and all(p.is_cuda for p in params) else {}
    return torch.optim.AdamW(groups, lr=cfg.lr, betas=tuple(cfg.betas), **kwargs)


def lr_at(step: int, cfg: TrainConfig) -> float:
    """Learning rate for optimizer step ``step`` (0-based): linear warm-up, then cosine to lr * min_lr_ratio."""
    if step < cfg.warmup_steps:
        return cfg.lr * (step + 1) / cfg.warmup_steps
    span = max(1, cfg.steps - cfg.warmup_steps)
    progress = min(1.0, (step - cfg.warmup_steps) / span)
    floor = cfg.lr * cfg.min_lr_ratio
    return floor + 0.5 * (cfg.lr - floor) * (1.0 + math.cos(math.pi * progress))


def set_lr(optimizer: torch.optim.Optimizer, lr: float) -> None:
    for group in optimizer.param_groups:
        group["lr"] = lr * group.get("lr_scale", 1.0)
