"""Cut per-episode action arrays into action chunks [N, horizon, action_dim].

A chunk starts at every step of every episode (``stride`` 1), as a policy that predicts ``horizon``
actions from each observation sees them in training.

Near an episode's end a window runs past the last action. ``pad="repeat"`` (the default) fills those
steps with the episode's last action, as LeRobot-style windowing does (the policy's targets there are
padded the same way, so the tokenizer should be fitted on them too); it yields one chunk per step.
``pad="drop"`` keeps only windows that fit entirely inside the episode (``N_i - horizon + 1`` per
episode, none for an episode shorter than the horizon). Repeated tails are constant, so they compress
well: compression measured with ``"repeat"`` is a little higher than with ``"drop"``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np

from vlastack.errors import ConfigError

Pad = Literal["repeat", "drop"]
PAD_CHOICES: tuple[str, ...] = ("repeat", "drop")


def make_chunks(episodes: Sequence[np.ndarray], horizon: int, *, stride: int = 1, pad: Pad = "repeat") -> np.ndarray:
    """Chunks float32 [N, horizon, action_dim] from ``episodes`` (each float [N_i, action_dim]).

    Windows start at steps ``0, stride, 2 * stride, ...`` of each episode, episodes in the given order.
    Empty episodes are skipped. Raises a ConfigError for a bad horizon, stride, pad, rank, a mismatched
    action_dim, NaN/infinite actions, or when no chunk results.
    """
    if isinstance(horizon, bool) or not isinstance(horizon, (int, np.integer)) or horizon < 1:
        raise ConfigError(f"horizon must be a positive integer number of steps, got {horizon!r}")
    if isinstance(stride, bool) or not isinstance(stride, (int, np.integer)) or stride < 1:
        raise ConfigError(f"stride must be a positive integer number of steps, got {stride!r}")
    if pad not in PAD_CHOICES:
        raise ConfigError(f"pad must be one of {', '.join(PAD_CHOICES)}, got {pad!r}")
    out: list[np.ndarray] = []
    dim: int | None = None
    offsets = np.arange(horizon)
    for i, episode in enumerate(episodes):
        actions = np.asarray(episode, dtype=np.float32)
        if actions.ndim != 2:
            raise ConfigError(f"episode {i} has actions of rank {actions.ndim} (shape {actions.shape}); expected [steps, action_dim]")
        if dim is None:
            dim = actions.shape[1]
        elif actions.shape[1] != dim:
            raise ConfigError(
                f"episode {i} has action_dim {actions.shape[1]} but earlier episodes have {dim}; "
                "tokenize one embodiment at a time (or pad actions to a common size first)"
            )
        steps = len(actions)
        if steps == 0:
            continue
        if not np.all(np.isfinite(actions)):
            step = int(np.argwhere(~np.isfinite(actions))[0, 0])
            raise ConfigError(f"episode {i} has NaN or infinite actions (first at step {step}); repair or drop that episode")
        last_start = steps - 1 if pad == "repeat" else steps - horizon
        if last_start < 0:
            continue
        starts = np.arange(0, last_start + 1, stride)
        index = np.minimum(starts[:, None] + offsets[None, :], steps - 1)
        out.append(actions[index])
    if not out:
        raise ConfigError(
            f"no chunks of {horizon} steps could be cut from {len(episodes)} episodes; "
            "check that the dataset has actions, lower the horizon, or use pad='repeat'"
        )
    return np.concatenate(out, axis=0)


def subsample(chunks: np.ndarray, max_chunks: int | None) -> np.ndarray:
    """At most ``max_chunks`` chunks, evenly spaced and in order (deterministic); all when None or 0."""
    if not max_chunks or len(chunks) <= max_chunks:
        return chunks
    index = np.linspace(0, len(chunks) - 1, num=max_chunks).round().astype(np.int64)
    return chunks[index]
