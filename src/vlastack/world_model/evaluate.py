"""Measurements of the world model on held-out episodes (assembled into reports by ``world_model.report``
for ``vlastack wm eval`` and benchmarks/world_model_horizon.py, benchmarks/world_model_heads.py).

Errors are mean squared errors per feature in normalised embedding units (each feature scaled to unit
variance over the training frames), so 1.0 is the size of a feature's whole spread.
"""

from __future__ import annotations

import numpy as np
import torch

from vlastack.errors import ConfigError
from vlastack.world_model.dynamics import ChunkPredictor
from vlastack.world_model.embeddings import EmbeddingTable
from vlastack.world_model.guardrail import Guardrail
from vlastack.world_model.heads import EVENTS, UNSAFE, SafetyHeads, auroc, average_precision, best_f1_threshold, precision_recall
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
    actions = table.action[act_rows].view(len(rows), horizon, table.action.shape[1])  # no pairs: [0, h, D]
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


def _mean_cm(pred: np.ndarray, truth: np.ndarray) -> float:
    """Mean Euclidean distance of ``pred`` from the rows of ``truth`` (metres), in cm; NaN without rows."""
    return float(np.linalg.norm(pred - truth, axis=1).mean() * 100) if len(truth) else float("nan")


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
                row[src] = _mean_cm(p[src].numpy() @ w + b, truth)
            row["train_mean"] = _mean_cm(train.env_state[:, sl].numpy().mean(0), truth)
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


SOURCES = ("true", "model", "copy_last")
"""Inputs the heads are scored on for frame t+k: the true z(t+k) (the heads' own ceiling), the dynamics
model's rollout from z(t) with the recorded actions, and z(t) itself (what the present already tells)."""


@torch.no_grad()
def head_probabilities(heads: SafetyHeads, dynamics: ChunkPredictor, table: EmbeddingTable, horizon: int) -> dict[str, torch.Tensor]:
    """For every frame t with t + horizon in its episode: per-event probabilities [n, E] from each of
    :data:`SOURCES`, and the rows of t and t + horizon."""
    spans = Spans(table)
    rows = _anchors(spans, horizon, 0, 1)
    z = dynamics.norm.normalize(table.z)
    act_rows = (rows.unsqueeze(1) + torch.arange(horizon)).flatten()
    pred = (
        dynamics.rollout(z[rows], table.action[act_rows].view(len(rows), horizon, table.action.shape[1]), horizon) if horizon else z[rows]
    )
    return {
        "true": heads.probabilities(z[rows + horizon]),
        "model": heads.probabilities(pred),
        "copy_last": heads.probabilities(z[rows]),
        "rows": rows,
        "target_rows": rows + horizon,
    }


def heads_report(
    heads: SafetyHeads,
    dynamics: ChunkPredictor,
    train: EmbeddingTable,
    train_labels: torch.Tensor,
    held: EmbeddingTable,
    held_labels: torch.Tensor,
    horizons: list[int],
) -> list[dict]:
    """One row per (horizon k, event) on ``held``: pairs (t, t+k), positives at t+k, and per source
    AUROC, average precision, and precision / recall at the threshold with the best F1 on ``train``
    (fitted per source and horizon, so each is judged at its own operating point). ``onset_*``: the same
    on the pairs where the event does not hold at t yet (what only a look ahead can tell)."""
    out = []
    for k in horizons:
        ptr = head_probabilities(heads, dynamics, train, k)
        phe = head_probabilities(heads, dynamics, held, k)
        for j, event in enumerate(EVENTS):
            ytr = train_labels[ptr["target_rows"], j].numpy()
            y = held_labels[phe["target_rows"], j].numpy()
            now = held_labels[phe["rows"], j].numpy()
            row: dict = {
                "horizon": k,
                "event": event,
                "n": len(y),
                "positives": int(y.sum()),
                "rate": float(y.mean()) if len(y) else float("nan"),
            }
            row["onset_n"], row["onset_positives"] = int((~now).sum()), int((y & ~now).sum())
            for src in SOURCES:
                s, s_train = phe[src][:, j].numpy(), ptr[src][:, j].numpy()
                threshold = best_f1_threshold(s_train, ytr)
                precision, recall = precision_recall(s, y, threshold)
                row[src] = {
                    "auroc": auroc(s, y),
                    "ap": average_precision(s, y),
                    "threshold": threshold,
                    "precision": precision,
                    "recall": recall,
                    "onset_auroc": auroc(s[~now], y[~now]),
                    "onset_ap": average_precision(s[~now], y[~now]),
                }
            out.append(row)
    return out


@torch.no_grad()
def guardrail_checks(guard: Guardrail, table: EmbeddingTable, labels: torch.Tensor, horizon: int, batch: int = 2048) -> dict:
    """Replay every frame t with ``horizon`` recorded actions ahead as one guardrail check of the chunk
    a(t..t+H-1): per check and unsafe event of ``guard``, the highest probability over the chunk's steps,
    whether it was flagged, and whether the event really holds at some frame t+1..t+H."""
    spans = Spans(table)
    rows = _anchors(spans, horizon, 0, 1)
    if not len(rows):
        raise ConfigError(f"guardrail chunks of {horizon} steps: no episode here has the {horizon + 1} frames one check needs")
    cols = [EVENTS.index(e) for e in guard.events]
    peak, flag = [], []
    for s in range(0, len(rows), batch):
        r = rows[s : s + batch]
        act = table.action[(r.unsqueeze(1) + torch.arange(horizon)).flatten()].view(len(r), horizon, -1)
        p = guard.probabilities(table.z[r], act)
        peak.append(p.max(1).values)
        flag.append(guard.flags(p).any(1))
    ahead = torch.stack([labels[rows + j][:, cols] for j in range(1, horizon + 1)]).any(0)
    return {"rows": rows, "peak": torch.cat(peak), "flag": torch.cat(flag), "truth": ahead, "now": labels[rows][:, cols]}


def fit_guardrail(
    dynamics: ChunkPredictor, heads: SafetyHeads, train: EmbeddingTable, train_labels: torch.Tensor, horizon: int
) -> Guardrail:
    """A guardrail whose threshold per unsafe event is the one with the best F1 over the training
    episodes' checks (highest probability over the chunk against "the event holds within it")."""
    probe = Guardrail(dynamics, heads, {e: 0.5 for e in UNSAFE})
    c = guardrail_checks(probe, train, train_labels, horizon)
    thresholds = {e: best_f1_threshold(c["peak"][:, i].numpy(), c["truth"][:, i].numpy()) for i, e in enumerate(probe.events)}
    return Guardrail(dynamics, heads, thresholds)


def guardrail_report(guard: Guardrail, table: EmbeddingTable, labels: torch.Tensor, horizon: int) -> dict:
    """Offline replay on ``table``'s episodes. Per unsafe event and for any of them:
    check-level precision and recall (a check is positive when the event holds in its window);
    onsets (first frame of an event, t >= 1) and how many were flagged by a check 1..H steps before,
    with the lead time in steps of the earliest such flag; false alarms: maximal runs of consecutive
    flagged checks none of whose windows holds the event, per episode."""
    c = guardrail_checks(guard, table, labels, horizon)
    rows, spans = c["rows"], Spans(table)
    episode_of = table.episode[rows]
    n_episodes = len(table.episodes)
    out: dict = {
        "checks": len(rows),
        "episodes": n_episodes,
        "horizon": horizon,
        "thresholds": guard.thresholds,
    }
    names = [*guard.events, "any"]
    flags = torch.cat([c["flag"], c["flag"].any(1, keepdim=True)], 1)
    truth = torch.cat([c["truth"], c["truth"].any(1, keepdim=True)], 1)
    cols = [EVENTS.index(e) for e in guard.events]
    event_now = torch.cat([labels[:, cols], labels[:, cols].any(1, keepdim=True)], 1)  # per table row
    check_at = {int(r): i for i, r in enumerate(rows.tolist())}
    for j, name in enumerate(names):
        f, y = flags[:, j].numpy(), truth[:, j].numpy()
        precision, recall = precision_recall(f.astype(float), y, 0.5)
        # onsets: rows where the event starts (not at the episode's first frame)
        now = event_now[:, j]
        onset = torch.nonzero(now & ~torch.roll(now, 1) & (spans.t >= 1)).flatten().tolist()
        leads = []
        for o in onset:
            flagged = [o - t for t in range(max(o - horizon, int(spans.first[o])), o) if t in check_at and f[check_at[t]]]
            if flagged:
                leads.append(max(flagged))
        # false alarms: runs of consecutive flagged checks in one episode with no event in any window
        false_runs = 0
        per_episode = {}
        run_true, in_run = False, False
        for i in range(len(rows) + 1):
            same = i < len(rows) and in_run and int(rows[i]) == int(rows[i - 1]) + 1 and int(episode_of[i]) == int(episode_of[i - 1])
            if in_run and not (i < len(rows) and f[i] and same):
                if not run_true:
                    false_runs += 1
                    per_episode[int(episode_of[i - 1])] = per_episode.get(int(episode_of[i - 1]), 0) + 1
                in_run = False
            if i < len(rows) and f[i]:
                if not in_run:
                    in_run, run_true = True, False
                run_true |= bool(y[i])
        out[name] = {
            "positive_checks": int(y.sum()),
            "flagged_checks": int(f.sum()),
            "precision": precision,
            "recall": recall,
            "onsets": len(onset),
            "onsets_flagged": len(leads),
            "lead_steps_median": float(np.median(leads)) if leads else float("nan"),
            "lead_steps_mean": float(np.mean(leads)) if leads else float("nan"),
            "false_alarms": false_runs,
            "false_alarms_per_episode": false_runs / max(n_episodes, 1),
            "episodes_with_false_alarm": len(per_episode),
        }
    return out
