"""Measurements of the world model on held-out episodes (used by benchmarks/world_model_horizon.py).

Errors are mean squared errors per feature in normalised embedding units (each feature scaled to unit
variance over the training frames), so 1.0 is the size of a feature's whole spread.
"""

from __future__ import annotations

import numpy as np
import torch

from vlastack.world_model.dynamics import ChunkPredictor
from vlastack.world_model.embeddings import EmbeddingTable
from vlastack.world_model.latent_actions import LatentActionModel, codebook_usage
from vlastack.world_model.train import Spans


def _anchors(spans: Spans, ahead: int, behind: int, stride: int) -> torch.Tensor:
    ok = (spans.t + ahead <= spans.length - 1) & (spans.t >= behind) & (spans.t % stride == 0)
    return torch.nonzero(ok).flatten()


@torch.no_grad()
def predict_ahead(model: ChunkPredictor, table: EmbeddingTable, horizon: int, stride: int = 1) -> dict[str, torch.Tensor]:
    """For every ``stride``-th frame t >= 1 with t + horizon in its episode: normalised z(t+h) as
    predicted, as copy-last, as linear extrapolation, and the truth; plus the rows of t and t+h."""
    spans = Spans(table)
    rows = _anchors(spans, horizon, 1, stride)
    z = model.norm.normalize(table.z)
    steps = torch.arange(horizon)
    act_rows = (rows.unsqueeze(1) + steps).flatten()
    actions = table.action[act_rows].view(len(rows), horizon, -1)
    return {
        "model": model.rollout(z[rows], actions, horizon),
        "copy_last": z[rows],
        "linear": z[rows] + horizon * (z[rows] - z[rows - 1]),
        "true": z[rows + horizon],
        "rows": rows,
        "target_rows": rows + horizon,
    }


def horizon_errors(model: ChunkPredictor, table: EmbeddingTable, horizons: list[int], stride: int = 1) -> list[dict]:
    """One row per horizon: n pairs, and the MSE of the model, copy-last and linear extrapolation."""
    out = []
    for h in horizons:
        p = predict_ahead(model, table, h, stride)
        row = {"horizon": h, "n": len(p["rows"])}
        for name in ("model", "copy_last", "linear"):
            row[name] = float(((p[name] - p["true"]) ** 2).mean()) if len(p["rows"]) else float("nan")
        out.append(row)
    return out


def fit_ridge(x: np.ndarray, y: np.ndarray, alpha: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Ridge regression y ~ x @ w + b (closed form, intercept not penalised): returns (w, b)."""
    xm, ym = x.mean(0), y.mean(0)
    xc = x - xm
    w = np.linalg.solve(xc.T @ xc + alpha * np.eye(x.shape[1]), xc.T @ (y - ym))
    return w, ym - xm @ w


def position_readout(
    model: ChunkPredictor, train: EmbeddingTable, held: EmbeddingTable, targets: dict[str, slice], horizons: list[int], alpha: float = 1.0
) -> list[dict]:
    """Positions (metres in env_state; reported in cm) read from embeddings by a ridge read-out fitted
    on the true embeddings of ``train`` and applied on ``held`` to: predicted z(t+h), copy-last z(t),
    and the true z(t+h) (the read-out's own ceiling); beside always answering the training mean."""
    ztr = model.norm.normalize(train.z).numpy()
    fits = {name: fit_ridge(ztr, train.env_state[:, sl].numpy(), alpha) for name, sl in targets.items()}
    out = []
    for h in horizons:
        p = predict_ahead(model, held, h)
        for name, sl in targets.items():
            w, b = fits[name]
            truth = held.env_state[p["target_rows"], sl].numpy()
            row = {"horizon": h, "target": name, "n": len(truth)}
            for src in ("model", "copy_last", "true"):
                row[src] = float(np.linalg.norm(p[src].numpy() @ w + b - truth, axis=1).mean() * 100)
            row["train_mean"] = float(np.linalg.norm(train.env_state[:, sl].numpy().mean(0) - truth, axis=1).mean() * 100)
            out.append(row)
    return out


@torch.no_grad()
def latent_pairs(model: LatentActionModel, table: EmbeddingTable, stride: int = 1) -> dict[str, torch.Tensor]:
    """For every ``stride``-th frame t with t + gap in its episode: latent, code, predictions, truth."""
    spans = Spans(table)
    gap = model.config.gap
    rows = _anchors(spans, gap, 0, stride)
    z = model.norm.normalize(table.z)
    z0, z1 = z[rows], z[rows + gap]
    latent, codes = model.encode(z0, z1)
    shuffled = latent[torch.randperm(len(latent), generator=torch.Generator().manual_seed(0))]
    return {
        "rows": rows,
        "latent": latent,
        "codes": codes,
        "pred": model.predict(z0, latent),
        "pred_shuffled": model.predict(z0, shuffled),
        "z0": z0,
        "z1": z1,
    }


def latent_report(model: LatentActionModel, train: EmbeddingTable, held: EmbeddingTable, alpha: float = 1.0) -> dict:
    """Codebook use and forward errors on ``held``; and, when the tables carry actions, linear read-outs
    from latents to the mean action over the gap, fitted on ``train`` and scored on ``held``."""
    gap = model.config.gap
    ph = latent_pairs(model, held)
    rep: dict = {"held_out_pairs": len(ph["rows"]), "codebook_held_out": codebook_usage(ph["codes"], model.config.codebook_size)}
    rep["codebook_train"] = codebook_usage(latent_pairs(model, train)["codes"], model.config.codebook_size)
    mse = {k: float(((ph[k] - ph["z1"]) ** 2).mean()) for k in ("pred", "pred_shuffled", "z0")}
    rep["forward_mse"] = {"with_own_code": mse["pred"], "with_shuffled_code": mse["pred_shuffled"], "copy_last": mse["z0"]}
    if train.action is None or held.action is None:
        return rep
    pt = latent_pairs(model, train)

    def mean_action(table: EmbeddingTable, rows: torch.Tensor) -> np.ndarray:
        return torch.stack([table.action[rows + i] for i in range(gap)]).mean(0).numpy()

    ytr, yhe = mean_action(train, pt["rows"]), mean_action(held, ph["rows"])
    size = model.config.codebook_size
    features = {
        "latent (d values)": (pt["latent"].numpy(), ph["latent"].numpy()),
        "one-hot code": (np.eye(size)[pt["codes"].numpy()], np.eye(size)[ph["codes"].numpy()]),
        # reference, not a latent: what a linear map gets from the unquantised embedding change itself
        "reference: z(t+k) - z(t)": ((pt["z1"] - pt["z0"]).numpy(), (ph["z1"] - ph["z0"]).numpy()),
    }
    rep["action_readout"] = {"target": f"mean action over the {gap} steps t..t+{gap - 1}"}
    var = ((yhe - ytr.mean(0)) ** 2).mean(0)
    for name, (xtr, xhe) in features.items():
        w, b = fit_ridge(xtr, ytr, alpha)
        err = ((xhe @ w + b - yhe) ** 2).mean(0)
        rep["action_readout"][name] = {"r2_per_dim": [float(v) for v in 1 - err / var], "mae": float(np.abs(xhe @ w + b - yhe).mean())}
    rep["action_readout"]["train_mean_mae"] = float(np.abs(ytr.mean(0) - yhe).mean())
    return rep
