"""The l1 policy's keypoint encoder on a frozen ImageNet trunk (``L1Config.vision = "effnet_lite0"``).

    image [N, 3, Hi, Wi] in [0, 1] -> frozen EfficientNet-Lite0 to ``vision_stride`` -> [N, C_trunk, h, w]
      (``tune_blocks`` > 0: frozen up to that many blocks before the cut, then those blocks, trainable)
      -> trainable 1x1 conv (vision_width) -> GroupNorm -> FiLM(instruction) -> ReLU
      -> 1x1 conv to K maps -> spatial softmax -> K (x, y) in [-1, 1]   (+ channel means of the FiLM'd map)
                                                                        (+ the map average-pooled to grid x grid)

FiLM sits after the frozen part, on the trainable 1x1 conv, for two reasons: modulating the frozen layers
would move their activations off the statistics ImageNet's BatchNorms were fitted to, and it keeps the
trunk's output a function of the image alone, so its features could be computed once per frame and cached.
The instruction still selects, per channel, which of the pretrained features the keypoints follow.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from vlastack.policies.components.effnet_lite import FrozenEffNetTrunk, TunedEffNetBlocks, trunk_channels


class FrozenTrunkKeypointEncoder(nn.Module):
    """Images [N, 3, Hi, Wi] in [0, 1] and a task vector [N, task_dim] -> keypoints [N, 2K] (+ pooled features [N, width])
    (+ the grid-pooled map [N, width * grid * grid], rows of cells top-left first, channel-major).

    ``load_weights``: read the ImageNet weights from the safetensors cache (converting the package's .pth the
    first time); False when a checkpoint's weights will replace them (so loading a checkpoint never needs the
    package). The trunk's weights are parameters without gradient and buffers, saved in the checkpoint.
    ``with_trunk`` False: only the trainable part (``from_maps``), for the further members of an ensemble, which
    read the maps of the first member's trunk (``L1Config.members``); ``trunk`` is then None.
    ``tune_blocks``: the trunk's last blocks that train (``tuned``, from ImageNet weights); ``trunk`` then ends before
    them, and ``from_maps`` takes its maps (or a feature cache of them) through the tuned blocks first.
    """

    def __init__(
        self,
        stride: int,
        width: int,
        keypoints: int,
        task_dim: int,
        pool: bool,
        grid: int = 0,
        load_weights: bool = True,
        with_trunk: bool = True,
        tune_blocks: int = 0,
    ) -> None:
        super().__init__()
        from vlastack.policies.l1.model import SpatialSoftmax  # the same head as the conv trunk's

        weights = None
        if load_weights:
            from vlastack.policies.components.effnet_weights import load_effnet_lite0_weights

            weights = load_effnet_lite0_weights()
        self.trunk = FrozenEffNetTrunk(stride, weights, tune_blocks) if with_trunk else None
        self.tuned = TunedEffNetBlocks(stride, tune_blocks, weights) if tune_blocks else None
        self.adapter = nn.Conv2d(trunk_channels(stride), width, 1, bias=False)
        self.norm = nn.GroupNorm(min(8, width), width, affine=False)
        self.film = nn.Linear(task_dim, 2 * width)
        nn.init.zeros_(self.film.weight)
        nn.init.zeros_(self.film.bias)  # starts as plain GroupNorm + ReLU, like the conv trunk's FiLM
        self.to_keypoints = nn.Conv2d(width, keypoints, 1)
        self.softmax = SpatialSoftmax()
        self.pool, self.grid = pool, grid
        self.out_dim = 2 * keypoints + (width if pool else 0) + width * grid * grid

    def forward(self, x: torch.Tensor, task: torch.Tensor) -> torch.Tensor:
        if self.trunk is None:
            raise RuntimeError("this encoder has no trunk of its own (an ensemble member): call from_maps")
        return self.from_maps(self.trunk(x), task)

    def from_maps(self, maps: torch.Tensor, task: torch.Tensor) -> torch.Tensor:
        """The trainable part alone, on the frozen trunk's maps [N, C_trunk, h, w] (computed, or read from the feature cache)."""
        if self.tuned is not None:
            maps = self.tuned(maps)
        gamma, beta = self.film(task)[:, :, None, None].chunk(2, dim=1)
        h = F.relu(self.norm(self.adapter(maps)) * (1.0 + gamma) + beta)
        out = self.softmax(self.to_keypoints(h)).flatten(1)
        if self.pool:
            out = torch.cat([out, h.mean(dim=(2, 3))], dim=1)
        if self.grid:
            out = torch.cat([out, F.adaptive_avg_pool2d(h, self.grid).flatten(1)], dim=1)
        return out
