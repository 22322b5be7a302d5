"""Vision encoders: images [N, C, Hi, Wi] -> tokens [N, num_tokens, d_model].

The interface is small on purpose (so a world model can reuse an encoder on its own):

* ``forward(x)``: x float [N, C, Hi, Wi], RGB in [0, 1] (plus a normalised depth channel when
  ``in_channels == 4``); returns [N, num_tokens, d_model]. Camera and time embeddings are added
  by the policy, not here.
* ``num_tokens``: tokens per image.

Three encoders are registered in :data:`VISION_ENCODERS`:

* ``cnn``: a small conv net trained from scratch, fast on a CPU (under 1 ms for a 96x96 image):
  a patchify stem, a residual 3x3 conv, stride-2 3x3 convs, a 1x1 projection to d_model; any
  image size works (the map is average-pooled to a fixed grid when it does not match).
* ``pretrained``: wraps a Hugging Face vision model saved on disk (``save_pretrained`` directory:
  ViT, DINOv2, SigLIP/CLIP vision towers ...), loaded offline, optionally frozen, its last hidden
  states projected to d_model.
* ``effnet_lite0``: the frozen ImageNet EfficientNet-Lite0 trunk cut at an output stride, its map pooled
  to a grid and projected to d_model by a trainable 1x1 conv (components/effnet_tokens.py); its maps
  can be read from the feature cache while training.

Register your own with ``@VISION_ENCODERS.register(name)`` on a builder
``(in_channels, d_model, **options) -> nn.Module``; a policy config chooses it with
``vision_encoder=name`` and passes ``vision_options`` as the keyword options.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from vlastack.errors import ConfigError
from vlastack.policies.components.effnet_tokens import NAME as EFFNET_NAME
from vlastack.policies.components.effnet_tokens import build_effnet_tokens
from vlastack.registry import Registry, call_builder

#: name -> builder(in_channels, d_model, **options) -> encoder module with ``num_tokens``.
VISION_ENCODERS: Registry[Callable[..., nn.Module]] = Registry("vision encoder")


def _norm(ch: int) -> nn.GroupNorm:
    return nn.GroupNorm(min(8, ch), ch)


class _Residual(nn.Module):
    def __init__(self, ch: int) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(ch, ch, 3, padding=1, bias=False), _norm(ch), nn.SiLU())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class ConvEncoder(nn.Module):
    """Small from-scratch CNN: [N, C, Hi, Wi] -> [N, grid*grid, d_model].

    A patchify stem (``patch`` x ``patch`` conv with the same stride) and a residual 3x3 conv at
    that resolution, then a stride-2 3x3 conv per further entry of ``channels``; GroupNorm + SiLU
    after each; a 1x1 projection to d_model. With the defaults a 96 px image becomes 16x16 -> 8x8
    -> 4x4 = 16 tokens (about 10 MFLOPs; convolutions on small maps are slow on a CPU, so the
    stem does the down-sampling in one matrix product). Other image sizes are average-pooled to
    the grid.
    """

    def __init__(self, in_channels: int, d_model: int, channels: tuple[int, ...] = (32, 64, 128), grid: int = 4, patch: int = 6) -> None:
        super().__init__()
        layers: list[nn.Module] = [
            nn.Conv2d(in_channels, channels[0], patch, stride=patch),
            _norm(channels[0]),
            nn.SiLU(),
            _Residual(channels[0]),
        ]
        for prev, ch in zip(channels, channels[1:]):
            layers += [nn.Conv2d(prev, ch, 3, stride=2, padding=1, bias=False), _norm(ch), nn.SiLU()]
        self.stages = nn.Sequential(*layers)
        self.proj = nn.Conv2d(channels[-1], d_model, 1)
        self.grid = grid
        self.num_tokens = grid * grid
        self.pos = nn.Parameter(torch.randn(1, self.num_tokens, d_model) * 0.02)
        self.in_channels = in_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # Inputs in [0, 1] -> roughly zero-centred.
        f = self.proj(self.stages(x * 2.0 - 1.0))
        if f.shape[-2:] != (self.grid, self.grid):
            f = F.adaptive_avg_pool2d(f, self.grid)
        return f.flatten(2).transpose(1, 2) + self.pos


class PretrainedVisionEncoder(nn.Module):
    """A Hugging Face vision model from a local directory, projected to d_model.

    The model is loaded with ``local_files_only=True`` (never downloads). Images are resized to
    the model's ``image_size`` and normalised with ``image_mean``/``image_std`` from the
    directory's ``preprocessor_config.json`` (0.5/0.5 when absent). Its weights are saved in the
    policy checkpoint like any other, so the checkpoint stays self-contained.
    """

    def __init__(self, path: str | Path, d_model: int, freeze: bool = True) -> None:
        super().__init__()
        path = Path(path)
        if not (path / "config.json").is_file():
            raise ConfigError(f"vision_path {str(path)!r} is not a saved Hugging Face model (no config.json)")
        from transformers import AutoModel  # heavy; only when asked for

        model = AutoModel.from_pretrained(str(path), local_files_only=True)
        self.model = getattr(model, "vision_model", model)  # CLIP/SigLIP: keep the vision tower
        cfg = getattr(model.config, "vision_config", model.config)
        size = getattr(cfg, "image_size", 224)
        self.image_size = tuple(size) if isinstance(size, (list, tuple)) else (size, size)
        mean, std = [0.5] * 3, [0.5] * 3
        pre = path / "preprocessor_config.json"
        if pre.is_file():
            meta = json.loads(pre.read_text())
            mean, std = meta.get("image_mean", mean), meta.get("image_std", std)
        self.register_buffer("mean", torch.tensor(mean).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(std).view(1, 3, 1, 1), persistent=False)
        self.frozen = False
        if freeze:
            self.freeze()
        self.proj = nn.Linear(cfg.hidden_size, d_model)
        with torch.no_grad():
            self.num_tokens = self._features(torch.zeros(1, 3, *self.image_size)).shape[1]
        self.in_channels = 3

    def freeze(self) -> None:
        """Fix the pretrained trunk; the projection to d_model still trains."""
        self.frozen = True
        self.model.requires_grad_(False)

    def train(self, mode: bool = True) -> PretrainedVisionEncoder:
        super().train(mode)
        if self.frozen:
            self.model.eval()  # a frozen encoder keeps dropout and norm statistics fixed
        return self

    def _features(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-2:] != self.image_size:
            x = F.interpolate(x, size=self.image_size, mode="bilinear", align_corners=False)
        return self.model(pixel_values=(x - self.mean) / self.std).last_hidden_state

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.frozen:
            with torch.no_grad():
                feats = self._features(x)
        else:
            feats = self._features(x)
        return self.proj(feats)


@VISION_ENCODERS.register("cnn")
def _build_cnn(in_channels: int, d_model: int, channels: tuple[int, ...] = (32, 64, 128), grid: int = 4, patch: int = 6) -> nn.Module:
    return ConvEncoder(in_channels, d_model, tuple(channels), int(grid), int(patch))


@VISION_ENCODERS.register("pretrained")
def _build_pretrained(in_channels: int, d_model: int, path: str | None = None) -> nn.Module:
    if in_channels != 3:
        raise ConfigError("the pretrained vision encoder takes RGB only (use_depth must be False)")
    if not path:
        raise ConfigError("vision_options['path'] is required with vision_encoder='pretrained' (a saved Hugging Face model directory)")
    return PretrainedVisionEncoder(path, d_model, freeze=False)


@VISION_ENCODERS.register(EFFNET_NAME)
def _build_effnet_lite0(in_channels: int, d_model: int, stride: int = 16, grid: int = 4) -> nn.Module:
    # Default: stride 16 (112 channels, 6x6 cells at 96 px) as l1-effnet, whose probe found that map placing object
    # and goal best, pooled to 4x4 = 16 tokens rather than all 36 cells. 16 is the cnn encoder's token count, so the
    # effnet presets differ from theirs in the encoder alone: same prefix length, same backbone cost per step (with
    # the feature cache the backbone is most of a training step; 36 cells would about double it at one CPU budget)
    # and the same latency past the trunk; and a 4x4 grid of this map read positions out better than its other
    # summaries in that probe. grid=6 keeps every cell at 96 px.
    return build_effnet_tokens(in_channels, d_model, stride, grid)


def build_vision_encoder(name: str, options: dict, in_channels: int, d_model: int, freeze: bool = False) -> nn.Module:
    """The encoder registered as ``name``, built with ``options``; checked to honour the encoder interface.

    ``freeze`` calls the encoder's own ``freeze()`` when it has one (a pretrained encoder keeps its
    projection trainable), else stops gradients to all its parameters.
    """
    builder = VISION_ENCODERS.get(name)
    encoder = call_builder(builder, f"vision encoder {name!r}", "vision_options", options, in_channels, d_model)
    n = getattr(encoder, "num_tokens", None)
    if not isinstance(encoder, nn.Module) or not isinstance(n, int) or n < 1:
        raise ConfigError(f"vision encoder {name!r} must build an nn.Module with an int num_tokens >= 1, got {type(encoder).__name__}")
    if freeze:
        if hasattr(encoder, "freeze"):
            encoder.freeze()
        else:
            encoder.requires_grad_(False)
    return encoder


def shift_offsets(n: int, pad: int, device: torch.device | str = "cpu") -> tuple[torch.Tensor, torch.Tensor]:
    """The random crop offsets (x, y) [N] each in [0, 2 * pad] pixels that :func:`random_shift` draws for N
    images, from torch's global RNG; drawn apart when other images must get the same shifts."""
    ox = torch.randint(0, 2 * pad + 1, (n,), device=device)
    oy = torch.randint(0, 2 * pad + 1, (n,), device=device)
    return ox, oy


def random_shift(x: torch.Tensor, pad: int, offsets: tuple[torch.Tensor, torch.Tensor] | None = None) -> torch.Tensor:
    """DrQ-style augmentation: replicate-pad by ``pad`` pixels and crop back at a random offset per image.

    x [N, C, Hi, Wi] -> same shape; uses torch's global RNG (so it is reproduced on resume). ``offsets``:
    the (x, y) crop offsets [N] to use instead of fresh ones (:func:`shift_offsets`).
    """
    if pad <= 0:
        return x
    n, _, h, w = x.shape
    padded = F.pad(x, (pad, pad, pad, pad), mode="replicate")
    ox, oy = shift_offsets(n, pad, x.device) if offsets is None else offsets
    if ox.shape != (n,) or oy.shape != (n,):
        raise ValueError(f"random_shift: offsets have shapes {tuple(ox.shape)}, {tuple(oy.shape)}; {n} images need [{n}] each")
    rows = (oy[:, None] + torch.arange(h, device=x.device)[None]).view(n, 1, h, 1).expand(-1, x.shape[1], -1, w + 2 * pad)
    out = padded.gather(2, rows)
    cols = (ox[:, None] + torch.arange(w, device=x.device)[None]).view(n, 1, 1, w).expand(-1, x.shape[1], h, -1)
    return out.gather(3, cols)
