"""Synthetic action data for the tokenizer tests: smooth chunks and Meta-World-like episodes."""

from __future__ import annotations

import numpy as np
import pytest


def make_smooth_chunks(rng: np.random.Generator, n: int, horizon: int, dim: int) -> np.ndarray:
    """[n, horizon, dim] float64: an offset plus three slow cosines per dimension, each dimension in its own units."""
    t = np.linspace(0.0, 1.0, horizon)[None, None, :, None]
    freq = rng.uniform(0.0, 1.5, size=(n, 3, 1, dim))  # cycles per chunk
    phase = rng.uniform(0.0, 2 * np.pi, size=(n, 3, 1, dim))
    amp = rng.normal(size=(n, 3, 1, dim)) / np.array([1.0, 2.0, 4.0])[None, :, None, None]
    x = rng.normal(size=(n, 1, dim)) + (amp * np.cos(2 * np.pi * freq * t + phase)).sum(axis=1)
    units = rng.uniform(0.01, 10.0, size=dim)  # metres, radians, newtons ...: the tokenizer must not care
    return x * units


def make_episodes(rng: np.random.Generator, n_episodes: int, dim: int = 4, min_len: int = 30, max_len: int = 90) -> list[np.ndarray]:
    """Episodes float32 [steps, dim]: smoothed random walks squashed into [-1, 1]; the last dim a +-1 gripper."""
    episodes = []
    for _ in range(n_episodes):
        steps = int(rng.integers(min_len, max_len + 1))
        walk = np.cumsum(rng.normal(scale=0.15, size=(steps + 4, dim)), axis=0)
        smooth = np.stack([np.convolve(walk[:, d], np.ones(5) / 5, mode="valid") for d in range(dim)], axis=1)
        actions = np.tanh(smooth)
        actions[:, -1] = np.where(np.arange(steps) < steps // 2, -1.0, 1.0)
        episodes.append(actions.astype(np.float32))
    return episodes


@pytest.fixture(scope="session")
def smooth_chunks():
    """Factory: ``smooth_chunks(seed, n, horizon, dim)``."""
    return lambda seed, n, horizon, dim: make_smooth_chunks(np.random.default_rng(seed), n, horizon, dim)


@pytest.fixture(scope="session")
def episodes():
    """Factory: ``episodes(seed, n_episodes, dim=4)``."""
    return lambda seed, n_episodes, dim=4: make_episodes(np.random.default_rng(seed), n_episodes, dim)
