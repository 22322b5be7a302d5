"""Normalisation statistics: min, max, mean, std, count and the 1/10/50/90/99th percentiles.

Vector features (state, action, touch, ...) get exact statistics over every frame of the dataset,
per dimension. Image features get per-channel statistics of pixel values scaled to [0, 1], shaped
[3, 1, 1] as LeRobot stores them; they are computed per episode on at most ``MAX_IMAGE_FRAMES``
evenly spaced frames and combined across episodes (min, max, mean and std exactly for those
frames; percentiles as the frame-weighted mean of the per-episode percentiles, an approximation
LeRobot also makes).
"""

from __future__ import annotations

import numpy as np

from vlastack.episodes.layout import QUANTILES

MAX_IMAGE_FRAMES = 64


def vector_stats(values: np.ndarray) -> dict[str, np.ndarray]:
    """Statistics over axis 0 of a [N, ...] array (N frames); each entry has shape [...]."""
    x = np.asarray(values, dtype=np.float64)
    if x.ndim == 1:
        x = x[:, None]
    out = {
        "min": x.min(axis=0),
        "max": x.max(axis=0),
        "mean": x.mean(axis=0),
        "std": x.std(axis=0),
        "count": np.array([len(x)]),
    }
    qs = np.quantile(x, list(QUANTILES.values()), axis=0)
    out.update({name: q for name, q in zip(QUANTILES, qs)})
    return out


def image_stats(frames: np.ndarray) -> dict[str, np.ndarray]:
    """Per-channel statistics of uint8 [N, H, W, 3] frames, scaled to [0, 1], each shaped [3, 1, 1]."""
    n = len(frames)
    pick = np.linspace(0, n - 1, min(n, MAX_IMAGE_FRAMES)).round().astype(int)
    px = frames[pick].reshape(-1, frames.shape[-1]).astype(np.float64) / 255.0
    st = vector_stats(px)
    out = {k: v.reshape(-1, 1, 1) for k, v in st.items() if k != "count"}
    out["count"] = np.array([n])
    return out


def merge_image_stats(per_episode: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """Combine per-episode image statistics into dataset statistics (see the module docstring)."""
    counts = np.array([float(s["count"][0]) for s in per_episode])
    w = counts / counts.sum()
    mean = sum(wi * s["mean"] for wi, s in zip(w, per_episode))
    # Parallel-axis rule: total variance = mean of variances + variance of means.
    var = sum(wi * (s["std"] ** 2 + (s["mean"] - mean) ** 2) for wi, s in zip(w, per_episode))
    out = {
        "min": np.min([s["min"] for s in per_episode], axis=0),
        "max": np.max([s["max"] for s in per_episode], axis=0),
        "mean": mean,
        "std": np.sqrt(var),
        "count": np.array([int(counts.sum())]),
    }
    for q in QUANTILES:
        out[q] = sum(wi * s[q] for wi, s in zip(w, per_episode))
    return out
