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
(the 81 integer shifts of +-4 px: 81 x 0.3 GB on MT10 x 50).

Both are offered, because the map shift turned out a poor stand-in at stride 16 (measured on MT10 x 50,
runs/effnet_cache_notes.md: a +-4 px image shift changes the stride-16 map by 40% of its norm, the map shift
reproduces about 8% of that change, cosine 0.40 between the two changes): the trunk is far from shift-equivariant
at sub-cell shifts. With ``shifts`` per axis > 1 the encoder caches that many exact pixel shifts per axis
(3: the 9 shifts (-a, 0, +a)^2 pixels, a = augment_shift, K = 9 maps per frame) and training draws one of them
(:func:`grid_offsets`, :func:`grid_index`); the centre one is the unshifted frame.

:func:`stack_cached_maps` and :func:`augment_cached_maps` are what a policy on a frozen trunk does with the maps a
training batch carries (``keys.cached_key``) in place of its images: check and stack them like ``stack_frames``
stacks images, then apply the shift augmentation (pick a shift-grid map, or move the map). Every family on the
frozen trunk (l1, vla) uses these two, so the cache means the same thing to all of them.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from vlastack.errors import ConfigError, DatasetError
from vlastack.policies.components.vision import random_shift, shift_offsets

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


def grid_offsets(n: int, pad: int, per_axis: int, device: torch.device | str = "cpu") -> tuple[torch.Tensor, torch.Tensor]:
    """(x, y) crop offsets [n] (``random_shift``'s convention, pixels in [0, 2 * pad]) drawn uniformly from the
    ``per_axis`` evenly spaced values 0 .. 2 * pad of each axis: the shifts a shift-grid cache holds. Torch's global RNG."""
    values = torch.linspace(0, 2 * pad, per_axis, device=device).round().long()
    pick = torch.randint(0, per_axis, (2, n), device=device)
    return values[pick[0]], values[pick[1]]


def grid_index(offsets: tuple[torch.Tensor, torch.Tensor], pad: int, per_axis: int) -> torch.Tensor:
    """Index [n] into a shift-grid cache's K = per_axis^2 maps (row-major: y, then x) of crop offsets on that grid."""
    values = torch.linspace(0, 2 * pad, per_axis, device=offsets[0].device).round().long()
    idx = []
    for o in offsets:
        hit = o.long()[:, None] == values[None]
        if not bool(hit.any(1).all()):
            raise ValueError(f"grid_index: offsets {sorted(set(o.tolist()))} are not all on the cached shift grid {values.tolist()}")
        idx.append(hit.long().argmax(1))
    return idx[1] * per_axis + idx[0]


class TrunkFeatureEncoder:
    """Stored frames uint8 [N, 3, H, W] -> the frozen trunk's maps float32 [N, C, h, w] at ``image_size`` (H, W in pixels);
    with ``shifts`` > 1, [N, K, C, h, w]: the maps of the frame shifted by each of the K = shifts^2 crop offsets
    (``random_shift`` with ``pad``; row-major, y then x; index K // 2 is the unshifted frame).

    ``trunk``: a frozen module with ``out_channels`` and ``output_stride`` whose output is ceil(size / stride)
    cells per side (FrozenEffNetTrunk); ``trunk_name``: its architecture, e.g. ``effnet_lite0``.
    """

    def __init__(self, trunk: nn.Module, trunk_name: str, image_size: tuple[int, int], pad: int = 0, shifts: int = 1) -> None:
        if shifts < 1 or shifts % 2 == 0:
            raise ValueError(f"TrunkFeatureEncoder: shifts must be odd and >= 1 (the centre is the unshifted frame), got {shifts}")
        if shifts > 1 and pad < 1:
            raise ValueError(f"TrunkFeatureEncoder: caching {shifts} shifts per axis needs a shift pad >= 1 pixel, got {pad}")
        self.trunk = trunk
        h, w = (int(s) for s in image_size)
        stride = int(trunk.output_stride)
        self.image_size, self.pad, self.shifts = (h, w), int(pad), int(shifts)
        self.frame_shape: tuple[int, ...] = (int(trunk.out_channels), math.ceil(h / stride), math.ceil(w / stride))
        self.name = f"{trunk_name}-s{stride}-{h}x{w}"
        if shifts > 1:
            self.frame_shape = (shifts * shifts, *self.frame_shape)
            self.name += f"-shift{pad}x{shifts}"
        self.identity: dict[str, Any] = {
            "trunk": trunk_name,
            "version": FEATURES_VERSION,
            "output_stride": stride,
            "image_size": [h, w],
            "resize": RESIZE,
            "input": "uint8 RGB / 255, [N, 3, H, W]",
            "weights_sha256": weights_sha256(trunk),
        }
        if shifts > 1:
            self.identity["shifts"] = {"pad": self.pad, "per_axis": self.shifts, "convention": "random_shift crop offsets, y-major"}

    @torch.no_grad()
    def __call__(self, frames: np.ndarray) -> np.ndarray:
        x = torch.from_numpy(np.ascontiguousarray(frames)).float() / 255.0  # as WindowDataset scales images
        if tuple(x.shape[-2:]) != self.image_size:
            x = F.interpolate(x, size=self.image_size, mode="bilinear", align_corners=False)
        was_training = self.trunk.training
        self.trunk.eval()
        try:
            if self.shifts == 1:
                return self.trunk(x).float().numpy()
            values = torch.linspace(0, 2 * self.pad, self.shifts).round().long()
            n, maps = len(x), []
            for oy in values:
                for ox in values:
                    maps.append(self.trunk(random_shift(x, self.pad, (ox.repeat(n), oy.repeat(n)))))
            return torch.stack(maps, dim=1).float().numpy()
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


def grid_side(k: int) -> int | None:
    """Shifts per axis of a shift-grid cache of ``k`` maps per frame (k = side^2, side odd > 1); None otherwise."""
    side = math.isqrt(k)
    return side if side * side == k and side % 2 == 1 and side > 1 else None


def stack_cached_maps(
    feature: Callable[[str], torch.Tensor],
    names: Sequence[str],
    frames: int,
    want: tuple[int, int, int],
    label: str,
    image_size: Sequence[int],
    stride: int,
) -> torch.Tensor:
    """The cached trunk maps ``names`` (one per camera, ``keys.cached_key`` of its image key) stacked like
    ``stack_frames`` stacks images: [C*B*frames, C_trunk, h, w], rows ordered (camera, sample, frame); a shift-grid
    cache gives [C*B*frames, K, C_trunk, h, w]. ``feature(name)``: the batch feature as float32 [B, frames, ...];
    ``want``: (C_trunk, h, w) of the policy's trunk at its ``image_size`` and ``stride`` (pixels); ``label`` names the
    policy in the DatasetError a map of another shape raises (a cache of another trunk setting)."""
    out = []
    for name in names:
        x = feature(name)
        if (
            x.dim() not in (5, 6)
            or x.shape[1] != frames
            or tuple(x.shape[-3:]) != tuple(want)
            or (x.dim() == 6 and grid_side(x.shape[2]) is None)
        ):
            raise DatasetError(
                f"{name} has shape {list(x.shape)}; {label} expects [B, {frames}, {', '.join(map(str, want))}] "
                f"(the trunk's map at image_size {list(image_size)}, stride {stride}): a cache of another trunk setting?"
            )
        out.append(x.flatten(0, 1))
    return torch.cat(out)


def augment_cached_maps(
    maps: torch.Tensor, pad: int, stride: int, augment: bool, shifts: tuple[torch.Tensor, torch.Tensor] | None = None
) -> torch.Tensor:
    """Cached trunk maps [N, C_trunk, h, w] -> the same, moved by the image shift of up to ``pad`` pixels that the
    augmentation stands for (:func:`shift_maps`; ``stride``: the trunk's output stride in pixels). A shift-grid cache
    ([N, K, C_trunk, h, w]) holds the maps of K exactly shifted copies: augmentation picks the one of each row's crop
    offsets (``shifts``, on the grid, or freshly drawn from it with torch's global RNG), no augmentation (or
    ``pad`` 0) the centre one, the unshifted frame."""
    if maps.dim() == 5:
        side = grid_side(maps.shape[1])
        if augment and pad > 0:
            offsets = grid_offsets(maps.shape[0], pad, side, maps.device) if shifts is None else shifts
            pick = grid_index(offsets, pad, side)
        else:
            pick = torch.full((maps.shape[0],), maps.shape[1] // 2, device=maps.device)
        return maps[torch.arange(maps.shape[0], device=maps.device), pick]
    if augment and pad > 0:
        offsets = shift_offsets(maps.shape[0], pad, maps.device) if shifts is None else shifts
        maps = shift_maps(maps, pad, stride, offsets)
    return maps


def trunk_cache_encoder(trunk: Any, name: str, config: Any, shifts: int) -> TrunkFeatureEncoder:
    """``trunk`` as a feature-cache encoder for a policy ``config`` (its ``image_size``, ``augment_shift`` and ``label``);
    ``name`` is the trunk's name in the cache identity. ``shifts`` > 1 caches shifted copies, so the policy must shift."""
    if shifts > 1 and config.augment_shift < 1:
        raise ConfigError(f"train.feature_cache_shifts={shifts} caches shifted frames, but {config.label} has augment_shift=0")
    return TrunkFeatureEncoder(trunk, name, config.image_size, config.augment_shift, shifts)
