"""Training of the chunk predictor and of the latent-action model on cached embeddings.

Both loops are the same few lines: sample a batch from the training episodes' embeddings with a
seeded generator, AdamW with cosine decay, checkpoint every ``save_every`` steps. ``resume`` continues
from the latest checkpoint in ``out`` with its optimizer and sampler state, so an interrupted run
and an uninterrupted one take the same batches.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from vlastack.checkpoint import latest_checkpoint
from vlastack.episodes.reader import DatasetReader
from vlastack.errors import ConfigError, DatasetError
from vlastack.world_model import checkpoint
from vlastack.world_model.config import DynamicsConfig, HeadsConfig, LatentActionConfig, ProgressConfig
from vlastack.world_model.dynamics import ChunkPredictor
from vlastack.world_model.embeddings import EmbeddingTable
from vlastack.world_model.heads import EVENTS, ProgressHead, SafetyHeads
from vlastack.world_model.latent_actions import LatentActionModel, codebook_usage

METRICS = "metrics.jsonl"


def split_by_task(reader: DatasetReader, held_out_every: int, per_task: int | None = None) -> tuple[list[int], list[int]]:
    """(training, held-out) episodes: every ``held_out_every``-th episode of each task is held out;
    ``per_task`` keeps only the first that many episodes of each task (None: all)."""
    if held_out_every < 2:
        raise ConfigError(f"held_out_every must be >= 2 (one episode in N held out), got {held_out_every}")
    if per_task is not None and per_task < 1:
        raise ConfigError(f"per_task must be >= 1 episode, got {per_task}")
    seen: dict[str, int] = {}
    train, held = [], []
    for e in range(reader.num_episodes):
        meta = reader.episode_meta(e)
        task = str(meta.get("vlastack/env_task") or meta["tasks"][0])
        k = seen.get(task, 0)
        seen[task] = k + 1
        if per_task is not None and k >= per_task:
            continue
        (held if k % held_out_every == held_out_every - 1 else train).append(e)
    return train, held


class Spans:
    """Row bookkeeping of an EmbeddingTable: for each row, its episode's first row and length."""

    def __init__(self, table: EmbeddingTable) -> None:
        first = torch.zeros(len(table.z), dtype=torch.long)
        length = torch.zeros(len(table.z), dtype=torch.long)
        for start, n in table.spans().values():
            first[start : start + n] = start
            length[start : start + n] = n
        self.first, self.length = first, length
        self.t = torch.arange(len(table.z)) - first  # frame position within the episode

    def anchors(self, min_ahead: int) -> torch.Tensor:
        """Rows with at least ``min_ahead`` later frames in their episode."""
        rows = torch.nonzero(self.t + min_ahead <= self.length - 1).flatten()
        if len(rows) == 0:
            raise DatasetError(f"no training frame has {min_ahead} later frames in its episode (episodes too short)")
        return rows

    def ahead(self, rows: torch.Tensor, steps: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Rows ``steps`` frames after ``rows`` clamped to their episode's last frame, and whether in range."""
        t = self.t[rows] + steps
        valid = t <= self.length[rows] - 1
        return self.first[rows] + torch.minimum(t, self.length[rows] - 1), valid


def dynamics_batch(z: torch.Tensor, action: torch.Tensor, spans: Spans, anchors: torch.Tensor, cfg: DynamicsConfig, g: torch.Generator):
    """One training batch: z0 [B, F]; per chunk r, actions [B, K, D], mask [B, K], target z [B, F], valid [B]."""
    b, k = cfg.batch_size, cfg.chunk
    rows = anchors[torch.randint(len(anchors), (b,), generator=g)]
    partial = torch.rand(b, cfg.rollout_chunks, generator=g) < cfg.partial_prob
    lengths = torch.where(partial, torch.randint(1, k + 1, (b, cfg.rollout_chunks), generator=g), k)
    ends = lengths.cumsum(1)
    chunks = []
    for r in range(cfg.rollout_chunks):
        start = ends[:, r] - lengths[:, r]
        steps = start.unsqueeze(1) + torch.arange(k)  # [B, K] offsets from the anchor
        act_rows, _ = spans.ahead(rows.repeat_interleave(k), steps.flatten())
        mask = torch.arange(k).unsqueeze(0) < lengths[:, r : r + 1]
        target_rows, valid = spans.ahead(rows, ends[:, r])
        chunks.append((action[act_rows].view(b, k, -1), mask, z[target_rows], valid))
    return z[rows], chunks


def dynamics_loss(model: ChunkPredictor, z0: torch.Tensor, chunks) -> torch.Tensor:
    """Mean squared error (normalised units) over every in-episode chunk of the rollouts."""
    pred, total, count = z0, z0.new_zeros(()), z0.new_zeros(())
    for actions, mask, target, valid in chunks:
        pred = model(pred, actions, mask)
        err = ((pred - target) ** 2).mean(1)
        total = total + (err * valid).sum()
        count = count + valid.sum()
    return total / count.clamp_min(1)


def train_dynamics(
    table: EmbeddingTable, cfg: DynamicsConfig, out: Path, meta: dict[str, Any], resume: bool = False, log: Callable[[str], None] = print
) -> Path:
    """Train the chunk predictor on ``table`` (the training episodes' rows); returns the last checkpoint."""
    if table.action is None:
        raise DatasetError("the chunk predictor needs actions; this dataset has none (train the latent-action model instead)")
    torch.manual_seed(cfg.seed)  # initialisation depends on the config's seed alone
    model = ChunkPredictor(cfg, table.z.shape[1], table.action.shape[1])
    model.norm.fit(table.z)
    meta = {**meta, "embed_dim": model.embed_dim, "action_dim": model.action_dim}
    spans = Spans(table)
    anchors = spans.anchors(1)

    def batch(z: torch.Tensor, g: torch.Generator):
        return dynamics_batch(z, table.action, spans, anchors, cfg, g)

    return _loop(model, "dynamics", table, cfg, out, meta, resume, log, batch, lambda m, b: dynamics_loss(m, *b))


def latent_batch(z: torch.Tensor, spans: Spans, anchors: torch.Tensor, cfg: LatentActionConfig, g: torch.Generator):
    rows = anchors[torch.randint(len(anchors), (cfg.batch_size,), generator=g)]
    return z[rows], z[spans.ahead(rows, torch.full_like(rows, cfg.gap))[0]]


def train_latent_actions(
    table: EmbeddingTable,
    cfg: LatentActionConfig,
    out: Path,
    meta: dict[str, Any],
    resume: bool = False,
    log: Callable[[str], None] = print,
) -> Path:
    """Train inverse dynamics + forward model on ``table``; actions, if the table has them, are not read."""
    torch.manual_seed(cfg.seed)
    model = LatentActionModel(cfg, table.z.shape[1])
    model.norm.fit(table.z)
    meta = {**meta, "embed_dim": model.embed_dim}
    spans = Spans(table)
    anchors = spans.anchors(cfg.gap)

    def batch(z: torch.Tensor, g: torch.Generator):
        return latent_batch(z, spans, anchors, cfg, g)

    def loss(m: LatentActionModel, b) -> torch.Tensor:
        pred, _, _ = m(*b)
        return ((pred - b[1]) ** 2).mean()

    return _loop(model, "latent_actions", table, cfg, out, meta, resume, log, batch, loss)


def heads_batch(
    z: torch.Tensor,
    table: EmbeddingTable,
    labels: torch.Tensor,
    spans: Spans,
    dynamics: ChunkPredictor | None,
    cfg: HeadsConfig,
    g: torch.Generator,
) -> tuple[torch.Tensor, torch.Tensor]:
    """(inputs [B, F] normalised, labels [B, E] float): true embeddings of random training frames, a
    share of them replaced by rollouts (:func:`predicted_inputs`)."""
    rows = torch.randint(len(z), (cfg.batch_size,), generator=g)
    return predicted_inputs(z, rows, table, spans, dynamics, cfg.max_rollout, cfg.predicted_prob, g), labels[rows].float()


def use_dynamics_units(model: torch.nn.Module, dynamics: ChunkPredictor | None, table: EmbeddingTable) -> None:
    """Give a model that reads embeddings (heads, preview decoder) the dynamics model's normaliser, so true and
    rolled-out embeddings arrive in the same units (and put ``dynamics`` in eval mode for the rollouts); without
    a dynamics model, fit the normaliser on ``table``."""
    if dynamics is not None:
        model.norm.load_state_dict(dynamics.norm.state_dict())
        dynamics.eval()
    else:
        model.norm.fit(table.z)


def predicted_inputs(
    z: torch.Tensor,
    rows: torch.Tensor,
    table: EmbeddingTable,
    spans: Spans,
    dynamics: ChunkPredictor | None,
    max_rollout: int,
    predicted_prob: float,
    g: torch.Generator,
) -> torch.Tensor:
    """z[rows] (normalised) with a ``predicted_prob`` share replaced by the dynamics model's rollout to that
    frame from j steps earlier (one j in 1..max_rollout per batch, with the recorded actions; frames with
    t < j stay true). Used by the heads and the preview decoder, so they learn the predictor's outputs too."""
    j = int(torch.randint(1, max_rollout + 1, (1,), generator=g))
    swap = torch.rand(len(rows), generator=g) < predicted_prob
    x = z[rows].clone()
    if dynamics is not None and table.action is not None:
        swap &= spans.t[rows] >= j
        if swap.any():
            target = rows[swap]
            start = target - j
            act = table.action[(start.unsqueeze(1) + torch.arange(j)).flatten()].view(len(target), j, -1)
            with torch.no_grad():
                x[swap] = dynamics.rollout(z[start], act, j)
    return x


def train_heads(
    table: EmbeddingTable,
    labels: torch.Tensor,
    dynamics: ChunkPredictor | None,
    cfg: HeadsConfig,
    out: Path,
    meta: dict[str, Any],
    resume: bool = False,
    log: Callable[[str], None] = print,
) -> Path:
    """Train the reward and safety heads on ``table`` (training rows) with per-row event ``labels``
    (bool [N, len(EVENTS)]); inputs are normalised with ``dynamics``' normaliser, and a share of them
    are its rollouts (``HeadsConfig.predicted_prob``). Without a dynamics model: true embeddings only,
    normalised by the table's own statistics."""
    if labels.shape != (len(table.z), len(EVENTS)):
        raise DatasetError(f"labels have shape {tuple(labels.shape)}, expected {(len(table.z), len(EVENTS))}")
    torch.manual_seed(cfg.seed)
    model = SafetyHeads(cfg, table.z.shape[1])
    use_dynamics_units(model, dynamics, table)
    pos = labels.float().sum(0)
    # rare events weigh more, up to a cap; an event with no positive frame keeps weight 1 (its head learns "never")
    pos_weight = torch.where(pos > 0, ((len(labels) - pos) / pos.clamp_min(1)).clamp(1.0, cfg.max_pos_weight), torch.ones_like(pos))
    meta = {
        **meta,
        "embed_dim": model.embed_dim,
        "events": list(EVENTS),
        "train_positives": [int(v) for v in pos],
        "pos_weight": pos_weight.tolist(),
    }
    spans = Spans(table)

    def batch(z: torch.Tensor, g: torch.Generator):
        return heads_batch(z, table, labels, spans, dynamics, cfg, g)

    def loss(m: SafetyHeads, b) -> torch.Tensor:
        return torch.nn.functional.binary_cross_entropy_with_logits(m(b[0]), b[1], pos_weight=pos_weight)

    return _loop(model, "heads", table, cfg, out, meta, resume, log, batch, loss)


def train_progress(
    table: EmbeddingTable,
    targets: torch.Tensor,
    dynamics: ChunkPredictor | None,
    cfg: ProgressConfig,
    out: Path,
    meta: dict[str, Any],
    resume: bool = False,
    log: Callable[[str], None] = print,
) -> Path:
    """Train the progress head on ``table`` (training rows) with per-row targets in [0, 1] (float32 [N],
    ``heads.table_progress``); inputs as the safety heads' (``dynamics``' normaliser, a share of rollouts)."""
    if targets.shape != (len(table.z),):
        raise DatasetError(f"progress targets have shape {tuple(targets.shape)}, expected {(len(table.z),)}")
    torch.manual_seed(cfg.seed)
    model = ProgressHead(cfg, table.z.shape[1])
    use_dynamics_units(model, dynamics, table)
    meta = {**meta, "embed_dim": model.embed_dim, "train_mean_target": float(targets.mean()) if len(targets) else float("nan")}
    spans = Spans(table)

    def batch(z: torch.Tensor, g: torch.Generator):
        rows = torch.randint(len(z), (cfg.batch_size,), generator=g)
        return predicted_inputs(z, rows, table, spans, dynamics, cfg.max_rollout, cfg.predicted_prob, g), targets[rows].float()

    def loss(m: ProgressHead, b) -> torch.Tensor:
        return torch.nn.functional.binary_cross_entropy_with_logits(m(b[0]), b[1])  # soft targets in [0, 1]

    return _loop(model, "progress", table, cfg, out, meta, resume, log, batch, loss)


def _loop(model, kind, table, cfg, out: Path, meta, resume, log, make_batch, loss_fn) -> Path:
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    g = torch.Generator().manual_seed(cfg.seed)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    step = 0
    last = latest_checkpoint(out)
    if resume and last is not None:
        step = checkpoint.restore(last, model, opt, g)
        log(f"resumed from {last} at step {step}")
    elif last is not None:
        raise ConfigError(f"{out} already holds checkpoints ({last.name}); pass resume to continue, or choose another out")
    z = model.norm.normalize(table.z)
    model.train()
    running = []
    while step < cfg.steps:
        # cosine decay from lr to lr/10, a function of the step alone so resuming needs no scheduler state
        lr = cfg.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * step / cfg.steps)))
        for group in opt.param_groups:
            group["lr"] = lr
        loss = loss_fn(model, make_batch(z, g))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        step += 1
        running.append(loss.item())
        if step % 100 == 0 or step == cfg.steps:
            row = {"step": step, "loss": sum(running) / len(running), "lr": lr}
            if kind == "latent_actions":
                with torch.no_grad():
                    _, codes = model.encode(*make_batch(z, torch.Generator().manual_seed(step)))
                row.update({f"code_{k}": v for k, v in codebook_usage(codes, cfg.codebook_size).items()})
            with (out / METRICS).open("a") as f:
                f.write(json.dumps(row) + "\n")
            log(json.dumps(row))
            running = []
        if step % cfg.save_every == 0 or step == cfg.steps:
            last = checkpoint.save(out, step, kind, model, meta, opt, g)
    model.eval()
    return last
