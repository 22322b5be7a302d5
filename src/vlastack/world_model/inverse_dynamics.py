"""An inverse-dynamics model (IDM) on proprioception: the action a(t) from the states around frame t.

Trained on a few labelled episodes, it labels episodes recorded without actions (pseudo_labels.py).
It sees only ``observation.state`` (for Meta-World: hand xyz in metres and the gripper opening), the
"video + proprioception, no action" setting; images are not used.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from vlastack.errors import DatasetError
from vlastack.world_model.config import PseudoLabelConfig


def idm_inputs(state: np.ndarray, offsets: tuple[int, ...]) -> np.ndarray:
    """Raw IDM inputs of every frame of one episode, float32 [N, K*S + (K-1)*S + K] for K offsets and an
    S-d state: the states s(t+o) (indices clamped into the episode), their consecutive differences (the
    motion, in state units per step), and 1.0 where an offset was clamped."""
    state = np.asarray(state, dtype=np.float32).reshape(len(state), -1)
    n = len(state)
    t = np.arange(n)[:, None] + np.asarray(offsets)[None, :]  # [N, K]
    pad = (t < 0) | (t >= n)
    values = state[np.clip(t, 0, n - 1)]  # [N, K, S]
    deltas = values[:, 1:] - values[:, :-1]
    return np.concatenate([values.reshape(n, -1), deltas.reshape(n, -1), pad.astype(np.float32)], axis=1)


@dataclass
class Standardiser:
    """x -> (x - mean) / std per column, fitted on training rows (std floored so constant columns stay 0)."""

    mean: torch.Tensor
    std: torch.Tensor

    @classmethod
    def fit(cls, x: torch.Tensor) -> Standardiser:
        return cls(x.mean(0), x.std(0, unbiased=False).clamp_min(1e-6))

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.std

    def inverse(self, y: torch.Tensor) -> torch.Tensor:
        return y * self.std + self.mean


class InverseDynamics(nn.Module):
    """MLP from standardised IDM inputs to standardised actions, with its two standardisers."""

    def __init__(self, cfg: PseudoLabelConfig, x_norm: Standardiser, y_norm: Standardiser) -> None:
        super().__init__()
        width, layers = [len(x_norm.mean)], []
        for _ in range(cfg.layers):
            layers += [nn.Linear(width[-1], cfg.hidden), nn.GELU()]
            width.append(cfg.hidden)
        layers.append(nn.Linear(width[-1], len(y_norm.mean)))
        self.net = nn.Sequential(*layers)
        self.x_norm, self.y_norm = x_norm, y_norm

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Raw inputs [B, F] -> standardised actions [B, D]."""
        return self.net(self.x_norm(x))

    @torch.no_grad()
    def predict(self, x: torch.Tensor) -> torch.Tensor:
        """Raw inputs [B, F] -> actions [B, D] in environment units (not clipped)."""
        self.eval()
        return self.y_norm.inverse(self(x))


def errors(pred: np.ndarray, true: np.ndarray) -> dict[str, list[float | None]]:
    """Per action dimension: mean absolute error (action units) and R^2 (1 - residual / total variance);
    R^2 is None where the true actions are constant (variance below 1e-8), as an expert's gripper often is
    within one task: there is no variance to explain, and the MAE says how far off the labels are."""
    pred, true = np.asarray(pred, dtype=np.float64), np.asarray(true, dtype=np.float64)
    mae = np.abs(pred - true).mean(0)
    var = true.var(0)
    r2 = 1.0 - ((pred - true) ** 2).mean(0) / np.maximum(var, 1e-12)
    return {
        "mae": [round(float(v), 5) for v in mae],
        "r2": [round(float(r), 4) if v >= 1e-8 else None for r, v in zip(r2, var, strict=True)],
    }


@dataclass
class FitResult:
    model: InverseDynamics
    """The IDM at ``best_step`` (or after all ``steps`` when there was no validation data)."""
    best_step: int
    """The step with the lowest validation loss (``steps`` without validation data)."""
    curve: list[dict[str, float]]
    """Validation loss (standardised units) every ``eval_every`` steps: {"step", "val_loss"}."""


def fit_idm(
    x: torch.Tensor, y: torch.Tensor, cfg: PseudoLabelConfig, steps: int | None = None, val: tuple[torch.Tensor, torch.Tensor] | None = None
) -> FitResult:
    """Train an IDM on inputs ``x`` [N, F] and actions ``y`` [N, D] (environment units) for ``steps``
    (default ``cfg.steps``); with ``val`` (inputs, actions), keep the weights of the best validation step."""
    if len(x) == 0 or len(x) != len(y):
        raise DatasetError(f"the IDM needs as many action rows as input rows, and some: got {len(x)} inputs, {len(y)} actions")
    steps = cfg.steps if steps is None else steps
    torch.manual_seed(cfg.seed)  # initialisation depends on the seed alone
    model = InverseDynamics(cfg, Standardiser.fit(x), Standardiser.fit(y))
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    g = torch.Generator().manual_seed(cfg.seed)
    target = model.y_norm(y)

    def loss_of(pred: torch.Tensor, true: torch.Tensor) -> torch.Tensor:
        err = pred - true
        return err.abs().mean() if cfg.loss == "l1" else (err**2).mean()

    best, best_step, curve = None, steps, []
    for step in range(1, steps + 1):
        model.train()
        rows = torch.randint(len(x), (cfg.batch_size,), generator=g)
        loss = loss_of(model(x[rows]), target[rows])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if val is not None and (step % cfg.eval_every == 0 or step == steps):
            model.eval()
            with torch.no_grad():
                v = float(loss_of(model(val[0]), model.y_norm(val[1])))
            curve.append({"step": step, "val_loss": round(v, 5)})
            if best is None or v < best[0]:
                best = (v, {k: t.clone() for k, t in model.state_dict().items()})
                best_step = step
    if best is not None:
        model.load_state_dict(best[1])
    model.eval()
    return FitResult(model, best_step, curve)
