"""Normalisation that lives inside the policy (diffusion_policy-style).

The statistics are buffers of a module, so they travel with the weights into the checkpoint
(``normalization.safetensors``) and nothing is recomputed from the training data at run time.
Every mode is an affine map ``normalised = (x - offset) / scale``:

    mean_std   offset = mean,               scale = std
    min_max    offset = (max + min) / 2,    scale = (max - min) / 2      (range -> [-1, 1])
    quantile   offset = (q99 + q01) / 2,    scale = (q99 - q01) / 2      (1st..99th pct -> [-1, 1])

Scales are clamped to at least ``MIN_SCALE`` so that a constant dimension does not blow up.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import torch
from torch import nn

from vlastack.errors import DatasetError

MODES = ("mean_std", "min_max", "quantile")
MIN_SCALE = 1e-3


def _affine(stats: Mapping[str, np.ndarray], mode: str) -> tuple[np.ndarray, np.ndarray]:
    def get(name: str) -> np.ndarray:
        if name not in stats:
            raise DatasetError(f"normalisation mode {mode!r} needs the statistic {name!r}; have {sorted(stats)}")
        return np.asarray(stats[name], dtype=np.float64).reshape(-1)

    if mode == "mean_std":
        offset, scale = get("mean"), get("std")
    elif mode == "min_max":
        lo, hi = get("min"), get("max")
        offset, scale = (hi + lo) / 2, (hi - lo) / 2
    elif mode == "quantile":
        lo, hi = get("q01"), get("q99")
        offset, scale = (hi + lo) / 2, (hi - lo) / 2
    else:
        raise ValueError(f"unknown normalisation mode {mode!r}; valid: {', '.join(MODES)}")
    return offset, np.maximum(scale, MIN_SCALE)


def _buffer_name(key: str) -> str:
    return key.replace(".", "__")


class Normalizer(nn.Module):
    """Per-feature affine normalisation with the statistics held as buffers.

    ``dims`` maps a feature name to (dimension, mode). Without statistics a feature is left
    unchanged (offset 0, scale 1) until :meth:`set_stats` fills it in.
    """

    def __init__(self, dims: Mapping[str, tuple[int, str]]) -> None:
        super().__init__()
        self.modes = {k: mode for k, (_, mode) in dims.items()}
        for key, (dim, mode) in dims.items():
            if mode not in MODES:
                raise ValueError(f"unknown normalisation mode {mode!r} for {key!r}; valid: {', '.join(MODES)}")
            self.register_buffer(_buffer_name(key) + "__offset", torch.zeros(dim))
            self.register_buffer(_buffer_name(key) + "__scale", torch.ones(dim))

    def set_stats(self, stats: Mapping[str, Mapping[str, np.ndarray]]) -> None:
        """Fill the buffers from dataset statistics (name -> {"mean", "std", "min", "max", "q01", "q99"})."""
        for key, mode in self.modes.items():
            if key not in stats:
                raise DatasetError(f"dataset statistics have no entry for {key!r}; have {sorted(stats)}")
            offset, scale = _affine(stats[key], mode)
            want = self.offset(key).shape[0]
            if offset.shape[0] != want:
                raise DatasetError(f"statistics of {key!r} have {offset.shape[0]} dimensions, the policy expects {want}")
            self.offset(key).copy_(torch.from_numpy(offset).float())
            self.scale(key).copy_(torch.from_numpy(scale).float())

    def offset(self, key: str) -> torch.Tensor:
        return getattr(self, _buffer_name(key) + "__offset")

    def scale(self, key: str) -> torch.Tensor:
        return getattr(self, _buffer_name(key) + "__scale")

    def buffer_names(self, key: str) -> tuple[str, str]:
        """Names of ``key``'s offset and scale in this module's state dict."""
        return _buffer_name(key) + "__offset", _buffer_name(key) + "__scale"

    def normalize(self, key: str, x: torch.Tensor) -> torch.Tensor:
        """Environment units -> normalised; returns a new tensor (the input is never modified)."""
        return (x - self.offset(key)) / self.scale(key)

    def unnormalize(self, key: str, x: torch.Tensor) -> torch.Tensor:
        """Normalised -> environment units."""
        return x * self.scale(key) + self.offset(key)

    def describe(self) -> dict[str, dict[str, list[float] | str]]:
        """Human-readable view for logs: name -> {mode, offset, scale}."""
        return {k: {"mode": m, "offset": self.offset(k).tolist(), "scale": self.scale(k).tolist()} for k, m in self.modes.items()}


def normalizer_for(config, stats: Mapping[str, Mapping[str, np.ndarray]] | None = None) -> Normalizer:
    """The normaliser of a policy config's vector features: state and action (and touch when used), with
    the config's modes; filled from dataset ``stats`` when given."""
    from vlastack import keys

    dims = {keys.STATE: (config.state_dim, config.state_norm), keys.ACTION: (config.action_dim, config.action_norm)}
    if config.use_touch:
        dims[keys.TOUCH] = (config.touch_dim, config.state_norm)
    normalizer = Normalizer(dims)
    if stats is not None:
        normalizer.set_stats(stats)
    return normalizer


def stats_from_arrays(arrays: Mapping[str, np.ndarray]) -> dict[str, dict[str, np.ndarray]]:
    """Statistics in the dataset reader's format from raw arrays [N, ..., dim] (for tests and fake data)."""
    out = {}
    for key, arr in arrays.items():
        flat = np.asarray(arr, dtype=np.float64).reshape(-1, np.asarray(arr).shape[-1])
        out[key] = {
            "mean": flat.mean(0),
            "std": flat.std(0),
            "min": flat.min(0),
            "max": flat.max(0),
            "q01": np.quantile(flat, 0.01, axis=0),
            "q99": np.quantile(flat, 0.99, axis=0),
        }
    return out
