"""A frozen image trunk as a feature-cache encoder (data/feature_cache.py), and the shift of cached maps.

:class:`TrunkFeatureEncoder` turns stored frames into exactly what the policy's trunk sees when it reads
images: uint8 RGB / 255, resized bilinearly to the policy's image size the way ``stack_frames`` does
(``align_corners=False``, no antialiasing), then the trunk. Its ``identity`` names everything that output
depends on, so a cache made by another trunk, stride, image size, resize or weights is never read.

:func:`shift_maps` is the shift augmentation for cached maps. Before the cache, the image was shifted by
up to ``augment_shift`` pixels before the trunk; a cached map has no image to shift, so the map itself is
translated by the same amount in its own units (pixels / stride: at 96 px and stride 16, +-4 px is +-0.25
of a cell), bilinearly, with the border replicated like the image's replicate padding. The alternative,
caching K pixel-shifted copies of every frame, is exact but costs K times the storage and the build time
(the 81 integer shifts of +-4 px: 81 x 0.3 GB on MT10 x 50) for an augmentation that is itself only a
regulariser; see runs/effnet_cache_notes.md for how close the map shift comes to the pixel shift.
"""

from __future__ import annotations

import hashlib
import math
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

FEATURES_VERSION = 1
"""Bumped when a trunk's computation changes without its weights changing (padding, input normalisation,
the resize), so caches made by the older code are rebuilt."""
RESIZE = "bilinear, align_corners=False, antialias=False, from the stored frame size (stack_frames)"
"""How stored frames reach the policy's image size: the same interpolation ``stack_frames`` applies."""


def weights_sha256(module: nn.Module) -> str:
    """Hash of a module's parameters and buffers (names, dtypes, shapes, bytes), in name order."""
    h = hashlib.sha256()
    for name, tensor in sorted(module.state_dict().items()):
        t = tensor.detach().cpu().contiguous()
        h.update(f"{name}\0{t.dtype}\0{tuple(t.shape)}\n".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


class TrunkFeatureEncoder:
    """Stored frames uint8 [N, 3, H, W] -> the frozen trunk's maps float32 [N, C, h, w] at ``image_size`` (H, W in pixels).

    ``trunk``: a frozen module with ``out_channels`` and ``output_stride`` whose output is ceil(size / stride)
    cells per side (FrozenEffNetTrunk); ``trunk_name``: its architecture, e.g. ``effnet_lite0``.
    """

    def __init__(self, trunk: nn.Module, trunk_name: str, image_size: tuple[int, int]) -> None:
        self.trunk = trunk
        h, w = (int(s) for s in image_size)
        stride = int(trunk.output_stride)
        self.image_size = (h, w)
        self.frame_shape = (int(trunk.out_channels), math.ceil(h / stride), math.ceil(w / stride))
        self.name = f"{trunk_name}-s{stride}-{h}x{w}"
        self.identity: dict[str, Any] = {
            "trunk": trunk_name,
            "version": FEATURES_VERSION,
            "output_stride": stride,
            "image_size": [h, w],
            "resize": RESIZE,
            "input": "uint8 RGB / 255, [N, 3, H, W]",
            "weights_sha256": weights_sha256(trunk),
        }

    @torch.no_grad()
    def __call__(self, frames: np.ndarray) -> np.ndarray:
        x = torch.from_numpy(np.ascontiguousarray(frames)).float() / 255.0  # as WindowDataset scales images
        if tuple(x.shape[-2:]) != self.image_size:
            x = F.interpolate(x, size=self.image_size, mode="bilinear", align_corners=False)
        was_training = self.trunk.training
        self.trunk.eval()
        try:
            return self.trunk(x).float().numpy()
        finally:
            self.trunk.train(was_training)


def shift_maps(maps: torch.Tensor, pad: int, stride: int, offsets: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
    """Translate maps [N, C, h, w] by the image shift ``random_shift(x, pad, offsets)`` would have applied.

    ``offsets``: the (x, y) crop offsets [N] in pixels of the policy's image, each in [0, 2 * pad]
    (``shift_offsets``); a crop offset o moves the image content by (pad - o) pixels, right/down positive,
    so the map moves by (pad - o) / stride cells. Bilinear interpolation between cells, border cells
    replicated. Offsets of ``pad`` (no shift) return the maps unchanged.
    """
    n, _, h, w = maps.shape
    ox, oy = offsets
    if ox.shape != (n,) or oy.shape != (n,):
        raise ValueError(f"shift_maps: offsets have shapes {tuple(ox.shape)}, {tuple(oy.shape)}; {n} maps need [{n}] each")
    if pad <= 0:
        return maps
    dx = (pad - ox.to(maps.dtype)) / stride  # cells, right positive
    dy = (pad - oy.to(maps.dtype)) / stride  # cells, down positive
    # grid_sample's normalised coordinates (align_corners=False): cell u's centre is (2u + 1) / w - 1, one cell is 2 / w.
    # Output cell u reads the input at u - d: content moves by +d.
    xs = (2 * torch.arange(w, device=maps.device, dtype=maps.dtype) + 1) / w - 1
    ys = (2 * torch.arange(h, device=maps.device, dtype=maps.dtype) + 1) / h - 1
    gx = xs[None, None, :] - (2 * dx / w)[:, None, None]
    gy = ys[None, :, None] - (2 * dy / h)[:, None, None]
    grid = torch.stack([gx.expand(n, h, w), gy.expand(n, h, w)], dim=-1)
    return F.grid_sample(maps, grid, mode="bilinear", padding_mode="border", align_corners=False)
