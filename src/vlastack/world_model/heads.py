"""Reward and safety heads on world-model embeddings (issue 14, item 4).

One MLP maps a normalised embedding z (the dynamics model's normalisation) to one logit per event in
:data:`EVENTS`. Asked about a true embedding it says whether the event holds at that frame; asked
about the dynamics model's prediction of z(t+k) it says whether the event is expected k steps ahead.

The labels come from recorded data only (see :class:`~vlastack.world_model.config.HeadsConfig` for
the definitions and their units): the task's own success flag, and three unsafe events defined on the
privileged simulator state and the contact forces, which the model never sees as input:

- ``keep_out``: the hand is inside a keep-out box;
- ``over_force``: a finger's contact force, or the net contact force on the arm, is above its limit;
- ``object_lost``: the object is falling after being lifted with no finger on it (dropped), or is below
  the table top (knocked off).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from vlastack import keys
from vlastack.episodes.reader import DatasetReader
from vlastack.errors import DatasetError
from vlastack.world_model.config import HeadsConfig, ProgressConfig
from vlastack.world_model.dynamics import Normalizer, mlp
from vlastack.world_model.embeddings import EPISODE_OFFSET, EmbeddingTable

"""Per-frame feature of fault-rollout datasets: net contact force on the arm, N, world frame, float32 [3]
(``Observation.arm_contact``; the demonstration datasets do not record it)."""
FAULT = "wm.fault"
"""Per-frame feature of fault-rollout datasets, int64 [1]: 0, or 1 + the index of the fault active at that step."""

EVENTS = ("success", "keep_out", "over_force", "object_lost")
"""What the heads predict, in the order of their logits."""
UNSAFE = ("keep_out", "over_force", "object_lost")
"""The events a guardrail treats as unsafe."""

HAND = slice(0, 3)
"""Hand xyz (m) in Meta-World's 39-d privileged state."""
OBJECT = slice(4, 7)
"""The first object's xyz (m) in the privileged state."""


def event_labels(columns: dict[str, np.ndarray], cfg: HeadsConfig) -> np.ndarray:
    """bool [N, len(EVENTS)]: which events hold at each frame of one episode's columns
    (``DatasetReader.read_columns``). A force that is not recorded cannot be over its limit."""
    env = np.asarray(columns[keys.ENV_STATE], dtype=np.float64)
    n = len(env)
    success = np.asarray(columns[keys.SUCCESS]).reshape(n, -1)[:, 0].astype(bool)
    hand = env[:, HAND]
    keep_out = np.all((hand >= cfg.keep_out_low) & (hand <= cfg.keep_out_high), axis=1)
    touch = np.asarray(columns[keys.TOUCH], dtype=np.float64).reshape(n, -1) if keys.TOUCH in columns else np.zeros((n, 1))
    over = touch.max(1) > cfg.finger_force_n
    if keys.ARM_CONTACT in columns:
        over |= np.linalg.norm(np.asarray(columns[keys.ARM_CONTACT], dtype=np.float64).reshape(n, 3), axis=1) > cfg.arm_force_n
    z = env[:, OBJECT][:, 2]
    before = np.r_[np.full(cfg.drop_steps, z[0]), z[: -cfg.drop_steps]] if n > cfg.drop_steps else np.full(n, z[0])
    falling = (before - z > cfg.drop_m) & (before > z[0] + cfg.lifted_m) & (touch.max(1) < cfg.free_touch_n)
    lost = falling | (z < cfg.off_table_z_m)
    return np.stack([success, keep_out, over, lost], axis=1)


def table_labels(table: EmbeddingTable, readers: list[DatasetReader], cfg: HeadsConfig) -> tuple[torch.Tensor, torch.Tensor]:
    """(labels bool [N, len(EVENTS)], fault int64 [N]) for the rows of an EmbeddingTable whose episode
    ids are ``i * EPISODE_OFFSET + e`` for episode e of ``readers[i]``; ``fault`` is 0 where the
    dataset has no :data:`FAULT` column. Read from the datasets' columns, no video is decoded."""
    labels = torch.zeros(len(table.z), len(EVENTS), dtype=torch.bool)
    fault = torch.zeros(len(table.z), dtype=torch.long)
    for ep, (start, n) in table.spans().items():
        cols = readers[ep // EPISODE_OFFSET].read_columns(ep % EPISODE_OFFSET)
        frames = table.frame[start : start + n].numpy()
        labels[start : start + n] = torch.from_numpy(event_labels(cols, cfg)[frames])
        if FAULT in cols:
            fault[start : start + n] = torch.from_numpy(np.asarray(cols[FAULT]).reshape(-1)[frames].astype(np.int64))
    return labels, fault


class SafetyHeads(nn.Module):
    """Normalised z [B, F] -> logits [B, len(EVENTS)]. ``norm`` is a copy of the dynamics model's
    normaliser, so the heads read true and rolled-out embeddings in the same units."""

    def __init__(self, config: HeadsConfig, embed_dim: int) -> None:
        super().__init__()
        self.config, self.embed_dim = config, embed_dim
        self.norm = Normalizer(embed_dim)
        self.net = mlp(embed_dim, config.hidden, config.layers, len(EVENTS))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z)

    def probabilities(self, z: torch.Tensor) -> torch.Tensor:
        """Per-event probabilities [B, len(EVENTS)] of normalised embeddings (the loss weights positives
        up, so these are ranked well but not calibrated: compare them with thresholds fitted on data)."""
        return torch.sigmoid(self(z))


def progress_targets(columns: dict[str, np.ndarray], reward_scale: float) -> np.ndarray:
    """float32 [N]: the progress head's target at each frame of one episode's columns: ``next.reward`` of the step
    before (the reward of arriving at the frame) / ``reward_scale``, clipped to [0, 1]; frame 0 takes step 0's."""
    r = np.asarray(columns[keys.REWARD], dtype=np.float64).reshape(-1)
    arrived = np.r_[r[:1], r[:-1]] if len(r) else r
    return np.clip(arrived / float(reward_scale), 0.0, 1.0).astype(np.float32)


def table_progress(table: EmbeddingTable, readers: list[DatasetReader], reward_scale: float) -> torch.Tensor:
    """float32 [N]: :func:`progress_targets` of every row of an EmbeddingTable (episode ids as in :func:`table_labels`)."""
    out = torch.zeros(len(table.z))
    for ep, (start, n) in table.spans().items():
        reader = readers[ep // EPISODE_OFFSET]
        if keys.REWARD not in reader.features:
            raise DatasetError(f"{reader.root} has no {keys.REWARD!r} column: the progress head learns the dense reward")
        cols = reader.read_columns(ep % EPISODE_OFFSET)
        frames = table.frame[start : start + n].numpy()
        out[start : start + n] = torch.from_numpy(progress_targets(cols, reward_scale)[frames])
    return out


class ProgressHead(nn.Module):
    """Normalised z [B, F] -> logit [B] of the task's progress (the dense reward scaled to [0, 1]); ``norm`` is a
    copy of the dynamics model's normaliser, as in :class:`SafetyHeads`."""

    def __init__(self, config: ProgressConfig, embed_dim: int) -> None:
        super().__init__()
        self.config, self.embed_dim = config, embed_dim
        self.norm = Normalizer(embed_dim)
        self.net = mlp(embed_dim, config.hidden, config.layers, 1)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z).squeeze(-1)

    def progress(self, z: torch.Tensor) -> torch.Tensor:
        """Predicted progress in [0, 1] of normalised embeddings z [..., F] -> [...]."""
        return torch.sigmoid(self(z))


# ---- ranking metrics (numpy; no extra dependency) ---------------------------------------------------------
def auroc(scores: np.ndarray, labels: np.ndarray) -> float:
    """Area under the ROC curve (ties count one half); NaN when one class is absent."""
    labels = np.asarray(labels, dtype=bool)
    pos, neg = int(labels.sum()), int((~labels).sum())
    if pos == 0 or neg == 0:
        return float("nan")
    order = np.argsort(scores, kind="mergesort")
    s = np.asarray(scores)[order]
    ranks = np.empty(len(s))
    # average ranks over ties (1-based), the Mann-Whitney U statistic's convention
    starts = np.flatnonzero(np.r_[True, s[1:] != s[:-1]])
    ends = np.r_[starts[1:], len(s)]
    for a, b in zip(starts, ends, strict=True):
        ranks[a:b] = (a + b + 1) / 2
    r = np.empty(len(s))
    r[order] = ranks
    return float((r[labels].sum() - pos * (pos + 1) / 2) / (pos * neg))


def average_precision(scores: np.ndarray, labels: np.ndarray) -> float:
    """Average precision (area under precision-recall, step-wise); a random ranking scores the positive
    rate. NaN without positives."""
    labels = np.asarray(labels, dtype=bool)
    if labels.sum() == 0:
        return float("nan")
    order = np.argsort(-np.asarray(scores), kind="mergesort")
    hits = labels[order]
    precision = np.cumsum(hits) / np.arange(1, len(hits) + 1)
    return float(precision[hits].mean())


def best_f1_threshold(scores: np.ndarray, labels: np.ndarray) -> float:
    """The score threshold (flag when score >= it) with the best F1 on these data; inf without positives."""
    labels = np.asarray(labels, dtype=bool)
    if labels.sum() == 0:
        return float("inf")
    order = np.argsort(-np.asarray(scores), kind="mergesort")
    s, hits = np.asarray(scores)[order], labels[order]
    tp = np.cumsum(hits)
    f1 = 2 * tp / (np.arange(1, len(s) + 1) + labels.sum())
    last = np.r_[s[1:] != s[:-1], True]  # a threshold can only cut between distinct scores
    i = int(np.argmax(np.where(last, f1, -1)))
    return float(s[i])


def precision_recall(scores: np.ndarray, labels: np.ndarray, threshold: float) -> tuple[float, float]:
    """(precision, recall) of flagging score >= threshold; precision is NaN when nothing is flagged."""
    labels = np.asarray(labels, dtype=bool)
    flag = np.asarray(scores) >= threshold
    tp = int((flag & labels).sum())
    precision = tp / int(flag.sum()) if flag.any() else float("nan")
    recall = tp / int(labels.sum()) if labels.any() else float("nan")
    return float(precision), float(recall)
