"""Preview decoder (issue 14, item 7): from a normalised embedding to a low-resolution RGB frame.

The world model predicts embeddings, which a person cannot look at. This small conv decoder draws
them: trained on the true embeddings of the dynamics run's training episodes against the dataset's
frames (area-averaged down to ``PreviewConfig.image_size``), and on a share of the dynamics model's
own rollouts to the same frames (``predicted_prob``), it shows what the model expects a chunk of
actions to do beside what happened (``preview_eval``). Frames are uint8 [N, 3, S, S]; decoded frames
float32 [N, 3, S, S] in [0, 1].
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from vlastack import keys
from vlastack.checkpoint import read_policy_meta
from vlastack.episodes.reader import DatasetReader
from vlastack.errors import DatasetError
from vlastack.world_model.config import PreviewConfig
from vlastack.world_model.dynamics import Normalizer
from vlastack.world_model.embeddings import EPISODE_OFFSET, EmbeddingTable


class PreviewDecoder(nn.Module):
    """Normalised z [B, F] -> RGB [B, 3, S, S] in [0, 1] (S = ``config.image_size``). ``norm`` is a copy of
    the dynamics model's normaliser, so true and rolled-out embeddings are read in the same units."""

    def __init__(self, config: PreviewConfig, embed_dim: int) -> None:
        super().__init__()
        self.config, self.embed_dim = config, embed_dim
        self.norm = Normalizer(embed_dim)
        c, s = config.channels, config.image_size // 8
        self.fc = nn.Linear(embed_dim, c[0] * s * s)
        stages: list[nn.Module] = []
        for cin, cout in zip(c[:-1], c[1:], strict=True):
            # upsample + conv rather than a transposed conv: no checkerboard pattern
            stages += [nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(cin, cout, 3, padding=1)]
            stages += [nn.GroupNorm(math.gcd(8, cout), cout), nn.GELU()]
        self.body = nn.Sequential(*stages)
        self.head = nn.Conv2d(c[-1], 3, 3, padding=1)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        s = self.config.image_size // 8
        x = F.gelu(self.fc(z)).view(len(z), self.config.channels[0], s, s)
        return torch.sigmoid(self.head(self.body(x)))

    @torch.no_grad()
    def decode(self, z: torch.Tensor, batch: int = 512) -> torch.Tensor:
        """Frames of normalised embeddings [N, F], in batches (eval mode): float32 [N, 3, S, S] in [0, 1]."""
        self.eval()
        if len(z) == 0:
            s = self.config.image_size
            return torch.zeros(0, 3, s, s)
        return torch.cat([self(z[i : i + batch]) for i in range(0, len(z), batch)])


def downsize(frames: torch.Tensor, size: int) -> torch.Tensor:
    """uint8 [N, 3, H, W] -> uint8 [N, 3, size, size], each output pixel the mean of the input pixels it
    covers (area averaging: no aliasing when H and W are multiples of ``size``)."""
    out = F.interpolate(frames.float(), size=(size, size), mode="area")
    return out.round().clamp(0, 255).to(torch.uint8)


def encoder_camera(encoder: str | Path) -> str:
    """Image key of the first camera of the encoder policy (its ``config.json`` alone is read)."""
    cams = read_policy_meta(encoder)["config"].get("cameras") or []
    if not cams:
        raise DatasetError(f"{encoder}: the encoder policy lists no cameras; set PreviewConfig.camera")
    return keys.image_key(cams[0])


def table_frames(table: EmbeddingTable, datasets: list[str], key: str, size: int, store: str = "memmap") -> torch.Tensor:
    """uint8 [N, 3, size, size]: the frame of camera ``key`` of every row of ``table`` (episode ids
    ``i * EPISODE_OFFSET + e`` for episode e of ``datasets[i]``), downsized. ``store``: ``memmap`` reads the
    dataset's frame cache (built first if missing), ``memory`` decodes the episodes' videos."""
    from vlastack.data.frame_cache import frame_array, open_frame_cache

    readers = [DatasetReader(d) for d in datasets]
    for r in readers:
        if key not in r.video_keys:
            raise DatasetError(f"PreviewConfig.camera: {key!r} is not a camera stream of {r.root}; streams: {r.video_keys}")
    caches = {}
    out = torch.zeros(len(table.z), 3, size, size, dtype=torch.uint8)
    for ep, (start, n) in table.spans().items():
        i, e = divmod(ep, EPISODE_OFFSET)
        idx = table.frame[start : start + n].numpy()
        if store == "memmap":
            if i not in caches:
                caches[i] = open_frame_cache(readers[i], [key], progress=True)[key]
            raw = caches[i].rows(e, idx)
        else:
            raw = frame_array(readers[i], e, key)[idx]
        out[start : start + n] = downsize(torch.from_numpy(np.ascontiguousarray(raw)), size)
    return out


def run_frames(run, episodes: list[int], cfg: PreviewConfig) -> tuple[EmbeddingTable, torch.Tensor, str]:
    """(rows of ``episodes`` in a ``DynamicsRun``'s table, their frames uint8 [N, 3, S, S], the camera's image key)."""
    key = keys.image_key(cfg.camera) if cfg.camera else encoder_camera(run.meta["encoder"])
    table = run.table.select(episodes)
    return table, table_frames(table, run.datasets, key, cfg.image_size, cfg.frames), key


def preview_batch(z, frames, table, spans, dynamics, cfg: PreviewConfig, g: torch.Generator):
    """(inputs [B, F] normalised, target frames [B, 3, S, S] float in [0, 1]) of random training rows, a
    ``predicted_prob`` share of the inputs rolled out by ``dynamics`` (``train.predicted_inputs``)."""
    from vlastack.world_model.train import predicted_inputs

    rows = torch.randint(len(z), (cfg.batch_size,), generator=g)
    x = predicted_inputs(z, rows, table, spans, dynamics, cfg.max_rollout, cfg.predicted_prob, g)
    return x, frames[rows].float() / 255.0


def pixel_loss(pred: torch.Tensor, target: torch.Tensor, loss: str) -> torch.Tensor:
    """Mean L1 or squared error per pixel value ([0, 1] units)."""
    return (pred - target).abs().mean() if loss == "l1" else ((pred - target) ** 2).mean()


def train_preview(
    table: EmbeddingTable,
    frames: torch.Tensor,
    dynamics,
    cfg: PreviewConfig,
    out: Path,
    meta: dict,
    resume: bool = False,
    log: Callable[[str], None] = print,
) -> Path:
    """Train the decoder on ``table`` (training rows) against ``frames`` (uint8 [N, 3, S, S], one per row);
    inputs use ``dynamics``' normaliser (its rollouts too, unless ``dynamics`` is None: then true
    embeddings only, normalised by the table's own statistics). Returns the last checkpoint."""
    from vlastack.world_model.train import Spans, _loop, use_dynamics_units

    s = cfg.image_size
    if frames.shape != (len(table.z), 3, s, s) or frames.dtype != torch.uint8:
        raise DatasetError(f"frames are {frames.dtype} {tuple(frames.shape)}, expected uint8 {(len(table.z), 3, s, s)}")
    torch.manual_seed(cfg.seed)
    model = PreviewDecoder(cfg, table.z.shape[1])
    use_dynamics_units(model, dynamics, table)
    meta = {**meta, "embed_dim": model.embed_dim}
    spans = Spans(table)

    def batch(z: torch.Tensor, g: torch.Generator):
        return preview_batch(z, frames, table, spans, dynamics, cfg, g)

    def loss(m: PreviewDecoder, b) -> torch.Tensor:
        return pixel_loss(m(b[0]), b[1], cfg.loss)

    return _loop(model, "preview", table, cfg, out, meta, resume, log, batch, loss)
