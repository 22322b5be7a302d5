"""Image tokens from the frozen ImageNet EfficientNet-Lite0 trunk: the VLA family's ``effnet_lite0`` vision encoder.

    image [N, 3, Hi, Wi] RGB in [0, 1] -> frozen EfficientNet-Lite0 cut at ``stride`` -> [N, C_trunk, h, w]
      -> average-pooled to grid x grid cells (skipped when the map already is grid x grid)
      -> trainable 1x1 conv to d_model -> tokens [N, grid*grid, d_model] (cells row-major, top-left first)
         + a learned embedding per cell

Only the 1x1 projection and the cell embeddings train. The trunk's output is a function of the image alone,
so its maps can be computed once per frame and read from the feature cache while training
(:meth:`EffNetTokenEncoder.from_maps`; data/feature_cache.py). Pooling comes before the projection: both are
linear, so the order gives the same tokens, and pooling the trunk's 112 channels is cheaper than pooling d_model.

The trunk starts with random weights; a new policy calls :meth:`EffNetTokenEncoder.load_pretrained_weights`
(the ImageNet file), a policy loaded from a checkpoint gets them from the checkpoint instead (they are ordinary
parameters and buffers of this module), so loading a checkpoint never needs the weights package.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from vlastack.errors import ConfigError
from vlastack.policies.components.effnet_lite import OUTPUT_STRIDES, FrozenEffNetTrunk, trunk_channels

NAME = "effnet_lite0"
"""The name the encoder is registered under in ``VISION_ENCODERS``; also the trunk's name in the feature cache's
identity, the same as l1's ``vision="effnet_lite0"``, so l1-effnet and the VLA presets share one cache."""


class EffNetTokenEncoder(nn.Module):
    """Images [N, 3, Hi, Wi] in [0, 1] -> tokens [N, grid*grid, d_model] (see the module docstring).

    ``stride``: output stride of the frozen trunk in pixels (8: 40 channels, 16: 112, 32: 320); ``grid``: cells per
    side of the token grid. The trunk is always frozen (no gradient, BatchNorm in eval mode); ``freeze()`` is
    therefore a no-op, and the projection trains either way, as with the ``pretrained`` encoder.
    """

    def __init__(self, d_model: int, stride: int = 16, grid: int = 4) -> None:
        super().__init__()
        self.trunk = FrozenEffNetTrunk(stride)  # random weights until load_pretrained_weights() or a checkpoint
        self.proj = nn.Conv2d(trunk_channels(stride), d_model, 1)
        self.pos = nn.Parameter(torch.randn(1, grid * grid, d_model) * 0.02)
        self.stride, self.grid = stride, grid
        self.num_tokens = grid * grid
        self.in_channels = 3

    def load_pretrained_weights(self) -> None:
        """Put the ImageNet weights in the trunk (a new policy; read from the safetensors cache, converted from the
        weights package the first time). Looked up at call time, so tests can stand random weights in for the file."""
        from vlastack.policies.components.effnet_weights import load_effnet_lite0_weights

        device = self.proj.weight.device
        self.trunk = FrozenEffNetTrunk(self.stride, load_effnet_lite0_weights()).to(device)

    def freeze(self) -> None:
        """Nothing to do: the trunk is frozen already, and the projection to d_model always trains."""

    def map_size(self, image_size: tuple[int, int]) -> tuple[int, int]:
        """(h, w) cells of the trunk's map for images of ``image_size`` (H, W) pixels: ceil(size / stride)."""
        return math.ceil(image_size[0] / self.stride), math.ceil(image_size[1] / self.stride)

    def check_image_size(self, image_size: tuple[int, int]) -> None:
        """Refuse a grid finer than the trunk's map at this image size (pooling would then repeat cells, not pool them)."""
        h, w = self.map_size(image_size)
        if self.grid > min(h, w):
            raise ConfigError(
                f"vision_options['grid']={self.grid} is more cells per side than the effnet_lite0 trunk's map has at "
                f"image_size {list(image_size)} and stride {self.stride} ({h}x{w}); use a grid of at most {min(h, w)}"
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.from_maps(self.trunk(x))

    def from_maps(self, maps: torch.Tensor) -> torch.Tensor:
        """The trainable part alone, on the trunk's maps [N, C_trunk, h, w] (computed, or read from the feature cache)."""
        if tuple(maps.shape[-2:]) != (self.grid, self.grid):
            maps = F.adaptive_avg_pool2d(maps, self.grid)
        return self.proj(maps).flatten(2).transpose(1, 2) + self.pos


def build_effnet_tokens(in_channels: int, d_model: int, stride: int = 16, grid: int = 4) -> EffNetTokenEncoder:
    """The ``effnet_lite0`` builder of ``VISION_ENCODERS``; bad options raise a ConfigError naming them."""
    if in_channels != 3:
        raise ConfigError("the effnet_lite0 vision encoder takes RGB only (use_depth must be False)")
    if isinstance(stride, bool) or stride not in OUTPUT_STRIDES:
        raise ConfigError(f"vision_options['stride'] must be one of {sorted(OUTPUT_STRIDES)} (pixels), got {stride!r}")
    if isinstance(grid, bool) or not isinstance(grid, int) or grid < 1:
        raise ConfigError(f"vision_options['grid'] must be a whole number of cells >= 1, got {grid!r}")
    return EffNetTokenEncoder(d_model, stride, grid)
