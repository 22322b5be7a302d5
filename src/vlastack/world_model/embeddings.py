"""Embeddings of a dataset's frames under a frozen policy encoder, computed once and cached.

The world model works on the vectors a trained policy sees (``Policy.image_features``): encoding is
the only image work, so training the dynamics afterwards costs an MLP's time on a CPU. The cache is
one safetensors file: ``z`` float32 [N, F], ``episode`` and ``frame`` int64 [N], and when the
dataset has them ``action`` float32 [N, D] (environment units) and ``env_state`` float32 [N, S]
(privileged simulator state, only ever used by read-outs, never as a model input).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from vlastack import keys
from vlastack.checkpoint import load_safetensors, save_safetensors
from vlastack.data.windows import WindowDataset, collate
from vlastack.episodes.reader import DatasetReader
from vlastack.errors import DatasetError


@dataclass
class EmbeddingTable:
    """Per-frame embeddings of some episodes, rows ordered by (episode, frame)."""

    z: torch.Tensor
    """float32 [N, F]: the encoder's image features of each frame."""
    episode: torch.Tensor
    """int64 [N]: dataset episode index of each row."""
    frame: torch.Tensor
    """int64 [N]: frame index within its episode."""
    action: torch.Tensor | None = None
    """float32 [N, D]: the action taken at each frame (None for an action-free dataset)."""
    env_state: torch.Tensor | None = None
    """float32 [N, S]: privileged simulator state, for read-outs only (None when the dataset has none)."""

    def __post_init__(self) -> None:
        n = len(self.z)
        for name in ("episode", "frame", "action", "env_state"):
            v = getattr(self, name)
            if v is not None and len(v) != n:
                raise DatasetError(f"EmbeddingTable.{name} has {len(v)} rows, z has {n}")

    @property
    def episodes(self) -> list[int]:
        return sorted(set(self.episode.tolist()))

    def spans(self) -> dict[int, tuple[int, int]]:
        """episode -> (first row, number of rows)."""
        ep = self.episode.numpy()
        starts = np.flatnonzero(np.r_[True, ep[1:] != ep[:-1]])
        lengths = np.diff(np.r_[starts, len(ep)])
        return {int(ep[s]): (int(s), int(n)) for s, n in zip(starts, lengths, strict=True)}

    def select(self, episodes: list[int]) -> EmbeddingTable:
        """The rows of ``episodes`` (in the given order)."""
        spans = self.spans()
        missing = [e for e in episodes if e not in spans]
        if missing:
            raise DatasetError(f"episodes {missing[:5]} are not in the embedding table (it has {len(spans)} episodes)")
        rows = torch.cat([torch.arange(spans[e][0], spans[e][0] + spans[e][1]) for e in episodes])
        pick = {k: (None if v is None else v[rows]) for k, v in self._tensors().items()}
        return EmbeddingTable(**pick)

    def _tensors(self) -> dict[str, torch.Tensor | None]:
        return {"z": self.z, "episode": self.episode, "frame": self.frame, "action": self.action, "env_state": self.env_state}

    def save(self, path: str | Path, source: dict | None = None) -> None:
        """Write the table; ``source`` (dataset, encoder paths) goes into the file's metadata."""
        tensors = {k: v for k, v in self._tensors().items() if v is not None}
        save_safetensors(tensors, Path(path), metadata={"source": json.dumps(source or {})})

    @classmethod
    def load(cls, path: str | Path) -> EmbeddingTable:
        t = load_safetensors(Path(path))
        return cls(**{k: t.get(k) for k in ("z", "episode", "frame", "action", "env_state")})


def encoder_windows(policy, reader: DatasetReader, episodes: list[int] | None = None, frames: str = "memory") -> WindowDataset:
    """One sample per frame of ``episodes`` with exactly the inputs ``policy.image_features`` reads (its
    cameras, observation history and depth flag; the state because every batch carries it). ``frames``: where
    decoded frames live, as ``WindowDataset``'s argument ('memory' or 'memmap')."""
    c = policy.config
    return WindowDataset(
        reader,
        obs_history=c.obs_history,
        action_horizon=1,
        image_keys=[keys.image_key(cam) for cam in c.cameras],
        state=True,
        depth=c.use_depth,
        episodes=episodes,
        frames=frames,
    )


def encode_dataset(
    policy, reader: DatasetReader, episodes: list[int] | None = None, batch: int = 256, progress: bool = False
) -> EmbeddingTable:
    """Every frame of ``episodes`` (default all) through ``policy.image_features``, in inference mode.

    Only the policy contract is used (its config's cameras, observation history and depth flag, and
    ``image_features``), so any family that exposes image features can serve as the encoder.
    """
    data = encoder_windows(policy, reader, episodes)
    has_env = keys.ENV_STATE in reader.features
    cols = {e: reader.read_columns(e) for e in data.episodes}
    policy.eval()
    zs, eps, frames = [], [], []
    starts = range(0, len(data), batch)
    if progress:
        from tqdm import tqdm

        starts = tqdm(starts, desc="encoding frames", unit="batch")
    with torch.inference_mode():
        for start in starts:
            samples = [data[i] for i in range(start, min(start + batch, len(data)))]
            zs.append(policy.image_features(collate(samples)).float())
            eps += [int(s[keys.EPISODE_INDEX]) for s in samples]
            frames += [int(s[keys.FRAME_INDEX]) for s in samples]
    ep_t, fr_t = torch.tensor(eps), torch.tensor(frames)

    def column(key: str) -> torch.Tensor:
        return torch.from_numpy(np.concatenate([cols[e][key].astype(np.float32).reshape(len(cols[e][key]), -1) for e in data.episodes]))

    return EmbeddingTable(
        z=torch.cat(zs),
        episode=ep_t,
        frame=fr_t,
        action=column(keys.ACTION) if data.has_action else None,
        env_state=column(keys.ENV_STATE) if has_env else None,
    )


def _source(reader: DatasetReader, encoder: str | Path) -> dict[str, str]:
    return {"dataset": str(Path(reader.root).resolve()), "encoder": str(Path(encoder).resolve())}


def read_cached_embeddings(path: str | Path, reader: DatasetReader, encoder: str | Path, episodes: list[int]) -> EmbeddingTable | None:
    """The rows of ``episodes`` from the cache at ``path`` when it was made from the same dataset and encoder and
    holds them all; None otherwise."""
    from safetensors import safe_open

    path = Path(path)
    if not path.is_file():
        return None
    with safe_open(str(path), "pt") as f:
        cached = json.loads((f.metadata() or {}).get("source", "{}"))
    if {k: str(Path(v).resolve()) for k, v in cached.items()} != _source(reader, encoder):
        return None
    table = EmbeddingTable.load(path)
    return table.select(sorted(episodes)) if set(episodes) <= set(table.episodes) else None


def cached_embeddings(
    path: str | Path, reader: DatasetReader, encoder: str | Path, episodes: list[int], progress: bool = False
) -> EmbeddingTable:
    """The rows of ``episodes`` from the cache at ``path`` when it was made from the same dataset and
    encoder and holds them all; otherwise encode them with the policy in ``encoder`` and write the cache."""
    from vlastack.policies import load_policy

    table = read_cached_embeddings(path, reader, encoder, episodes)
    if table is not None:
        return table
    table = encode_dataset(load_policy(encoder), reader, sorted(episodes), progress=progress)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    table.save(path, _source(reader, encoder))
    return table


EPISODE_OFFSET = 1_000_000
"""Episode ids of the i-th dataset of a multi-dataset run are ``i * EPISODE_OFFSET + episode index``."""


def embeddings_path(run: str | Path, i: int) -> Path:
    """Cache file of the i-th dataset of a run: ``embeddings.safetensors`` for the first (as a
    one-dataset run has always had), ``embeddings_<i>.safetensors`` for the others."""
    return Path(run) / ("embeddings.safetensors" if i == 0 else f"embeddings_{i}.safetensors")


def concat_tables(tables: list[EmbeddingTable]) -> EmbeddingTable:
    """Rows of several tables, the i-th table's episode ids shifted by ``i * EPISODE_OFFSET``."""
    if not tables:
        raise DatasetError("no embedding tables to join")
    for name in ("action", "env_state"):
        have = [getattr(t, name) is not None for t in tables]
        if any(have) and not all(have):
            raise DatasetError(f"cannot join datasets where only some have {name!r} (has it: {have})")
    if len({t.z.shape[1] for t in tables}) != 1:
        raise DatasetError(f"embedding widths differ: {[t.z.shape[1] for t in tables]} (different encoders?)")

    def cat(name: str) -> torch.Tensor | None:
        parts = [getattr(t, name) for t in tables]
        return None if parts[0] is None else torch.cat(parts)

    episode = torch.cat([t.episode + i * EPISODE_OFFSET for i, t in enumerate(tables)])
    return EmbeddingTable(z=cat("z"), episode=episode, frame=cat("frame"), action=cat("action"), env_state=cat("env_state"))


def run_embeddings(run: str | Path, datasets: int = 1) -> EmbeddingTable:
    """The embedding table of a ``vlastack wm`` run made from ``datasets`` datasets, joined."""
    return concat_tables([EmbeddingTable.load(embeddings_path(run, i)) for i in range(datasets)])
