"""Latent-action labels (issue 14 item 3 (b), LAPA-style pretraining): a copy of a dataset whose ``action`` column
holds, for every frame, the latent action that a ``vlastack wm latent`` model infers from the frame and the one
``gap`` (k) steps later.

A policy trained on the copy learns to predict latent actions from the frames of every episode, labelled or not
(stage 1); it is then aligned to the robot's actions on the few labelled episodes (stage 2: ``vlastack train
--init-from STAGE1 --set train.init_partial=true``, where everything but the action head's last layer and the action
normaliser carries over). benchmarks/latent_pretraining.sh runs the whole recipe.

The label of frame t is the FSQ-quantised latent vector of the model's inverse dynamics on (z(t), z(t+k)): one value
per latent dimension (``len(levels)``), each one of its levels scaled to [-1, 1] (for 5 levels: -1, -0.5, 0, 0.5, 1);
z is the embedding of the model's frozen encoder, normalised as in its training. Where t+k is past the episode's end
the episode's last frame stands in for frame t+k (the last frame is paired with itself). The model was trained on
whole k-step pairs only, so those last k-1 labels describe a shorter stretch of motion, at the end of an episode
where an expert's demonstration has mostly come to rest.

Embeddings: those the model's run cached, when that cache was made from this very dataset (its path) by the run's
encoder and holds every episode; otherwise every frame is encoded once with the run's encoder (the path is the cache's
key, so a stripped copy's cache is not reused for its source, whose frames are the same). The copy is written by
relabel.py; ``meta/latent_labels.json`` records the model, k, the levels, where the embeddings came from and how the
codes were used.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from vlastack import keys
from vlastack.episodes.reader import DatasetReader
from vlastack.errors import DatasetError
from vlastack.world_model import checkpoint
from vlastack.world_model.embeddings import EmbeddingTable, embeddings_path, encode_dataset, read_cached_embeddings
from vlastack.world_model.latent_actions import LatentActionModel, codebook_usage
from vlastack.world_model.relabel import relabelled_copy
from vlastack.world_model.train import Spans

REPORT_PATH = "meta/latent_labels.json"
ROWS_PER_CALL = 8192
"""Frame pairs through the inverse-dynamics model at once (memory: a few of its hidden layers of this many rows)."""


def dataset_embeddings(run: Path, meta: dict[str, Any], reader: DatasetReader, progress: bool = False) -> tuple[EmbeddingTable, str]:
    """(every frame of ``reader``'s dataset under the encoder of the ``vlastack wm latent`` run ``run`` whose
    checkpoint meta is ``meta``, where they came from: the run's cache file, or ``encoded``)."""
    from vlastack.policies import load_policy

    episodes = list(range(reader.num_episodes))
    for i in range(len(meta.get("datasets") or [meta["dataset"]])):
        table = read_cached_embeddings(embeddings_path(run, i), reader, meta["encoder"], episodes)
        if table is not None:
            return table, str(embeddings_path(run, i))
    return encode_dataset(load_policy(meta["encoder"]), reader, episodes, progress=progress), "encoded"


def frame_latents(model: LatentActionModel, table: EmbeddingTable) -> tuple[torch.Tensor, torch.Tensor]:
    """(quantised latent float32 [N, d], code index [N]) of every row of ``table``, whose rows must be every frame of
    each of its episodes in order: the pair (frame t, frame t + gap clamped to the episode's last frame)."""
    spans = Spans(table)
    if not torch.equal(table.frame, spans.t):
        raise DatasetError("latent labels need every frame of each episode, in order, in the embedding table")
    rows = torch.arange(len(table.z))
    ahead, _ = spans.ahead(rows, torch.full_like(rows, model.config.gap))
    z = model.norm.normalize(table.z)
    latents, codes = [], []
    with torch.no_grad():
        for start in range(0, len(rows), ROWS_PER_CALL):
            part = rows[start : start + ROWS_PER_CALL]
            latent, code = model.encode(z[part], z[ahead[part]])
            latents.append(latent)
            codes.append(code)
    return torch.cat(latents).float(), torch.cat(codes)


def latent_label(
    lam: str | Path, src: str | Path, dst: str | Path, log: Callable[[str], None] = print, progress: bool = False
) -> DatasetReader:
    """Write to the new directory ``dst`` the copy of dataset ``src`` whose ``action`` column (added where ``src``
    has none) is the latent action of every frame under the ``vlastack wm latent`` run (or checkpoint) ``lam``;
    returns the copy's reader."""
    ckpt, model, meta = checkpoint.load_kind(lam, "latent_actions", "vlastack wm latent")
    src, dst = Path(src), Path(dst)
    reader = DatasetReader(src)
    if dst.exists():
        raise DatasetError(f"{dst} already exists; choose a new directory for the latent-labelled copy")
    start = time.perf_counter()
    table, source = dataset_embeddings(ckpt.parent.parent, meta, reader, progress)
    if table.z.shape[1] != model.embed_dim:
        raise DatasetError(f"embeddings of {src} have {table.z.shape[1]} values, the latent-action model reads {model.embed_dim}")
    log(f"embeddings {list(table.z.shape)} from {source} ({time.perf_counter() - start:.1f} s)")
    spans = table.spans()
    missing = sorted(set(range(reader.num_episodes)) - set(spans))
    if missing or any(spans[e][1] != reader.length(e) for e in spans):
        raise DatasetError(f"the embeddings of {src} do not cover every frame of every episode (e.g. episodes {missing[:5]})")
    latent, codes = frame_latents(model, table)
    actions = {e: latent[s : s + n].numpy().astype(np.float32) for e, (s, n) in spans.items()}
    cfg = model.config
    d = len(cfg.levels)
    report = {
        "dataset": str(src.resolve()),
        "latent_model": str(ckpt.resolve()),
        "gap": cfg.gap,
        "levels": list(cfg.levels),
        "idm_context": cfg.idm_context,
        "encoder": str(Path(meta["encoder"]).resolve()),
        "latent_model_datasets": meta.get("datasets") or [meta["dataset"]],
        "embeddings": source,
        "frames": len(table.z),
        "end_of_episode": "t+k past the episode's end: its last frame stands in for frame t+k",
        "codebook": codebook_usage(codes, cfg.codebook_size),
        "replaced_action_feature": reader.features.get(keys.ACTION),
    }
    feature = {"dtype": "float32", "shape": [d], "names": [f"latent_{i}" for i in range(d)]}
    return relabelled_copy(src, dst, actions, REPORT_PATH, report, feature=feature, log=log)
