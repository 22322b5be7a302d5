"""A trained world-model run as the heads, ``vlastack wm eval`` and the benchmarks use it: model, embeddings, split, labels."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from vlastack.world_model import checkpoint
from vlastack.world_model.config import HeadsConfig
from vlastack.world_model.dynamics import ChunkPredictor
from vlastack.world_model.embeddings import EmbeddingTable, run_embeddings
from vlastack.world_model.heads import table_labels


def load_run(path: str | Path, kind: str, made_by: str) -> tuple[Path, torch.nn.Module, dict[str, Any], EmbeddingTable]:
    """(checkpoint, model in eval mode, meta, embeddings of every dataset of the run, joined) of a ``kind`` run
    directory (its latest checkpoint) or checkpoint; ``made_by`` names the command that makes one, for the error."""
    ckpt, model, meta = checkpoint.load_kind(path, kind, made_by)
    return ckpt, model, meta, run_embeddings(ckpt.parent.parent, len(meta.get("datasets") or [meta["dataset"]]))


@dataclass
class DynamicsRun:
    """A ``vlastack wm train`` run: its checkpoint, model, the embeddings of every episode it was made from."""

    checkpoint: Path
    """The checkpoint directory loaded."""
    model: ChunkPredictor
    """The chunk predictor, in eval mode."""
    meta: dict[str, Any]
    """The checkpoint's meta (datasets, encoder, split)."""
    table: EmbeddingTable
    """Embeddings of the training and held-out episodes of every dataset of the run, joined."""

    @classmethod
    def load(cls, path: str | Path) -> DynamicsRun:
        return cls(*load_run(path, "dynamics", "vlastack wm train"))

    @property
    def datasets(self) -> list[str]:
        return list(self.meta.get("datasets") or [self.meta["dataset"]])

    @property
    def train_episodes(self) -> list[int]:
        return list(self.meta["train_episodes"])

    @property
    def held_out(self) -> list[int]:
        return list(self.meta["held_out_episodes"])

    def rows(self, episodes: list[int]) -> torch.Tensor:
        """Row indices of ``episodes`` in ``table``, in the order ``table.select(episodes)`` gives them."""
        spans = self.table.spans()
        return torch.cat([torch.arange(spans[e][0], spans[e][0] + spans[e][1]) for e in episodes])

    def labels(self, cfg: HeadsConfig) -> tuple[torch.Tensor, torch.Tensor]:
        """(event labels bool [N, E], fault int64 [N]) of every row of ``table``, from the datasets' columns."""
        from vlastack.episodes.reader import DatasetReader

        return table_labels(self.table, [DatasetReader(d) for d in self.datasets], cfg)
