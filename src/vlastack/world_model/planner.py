"""Planning with the world model (issue 14, item 6): best of K chunks, and the alternatives the guard falls back on.

The policy proposes one chunk; :func:`alternatives` makes more around it; the world model rolls each out
and :func:`best_of_k` executes the one with the highest predicted success among those it predicts safe
(the policy's own chunk wins ties, so a planner that cannot tell the candidates apart changes nothing).

Where the alternatives come from: the deterministic policies (``l1``) give one chunk per observation, so
the "next-best samples" are the policy's chunk moved: once slowed to half speed, then shifted by a
constant offset in a random direction of the translation (``spread`` action units, 1 unit = the
largest step the actuator takes; the gripper column is never changed). A sampling policy (flow, hybrid)
could give its own samples instead; this module does not ask it to.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from vlastack.errors import ConfigError

TRANSLATION = slice(0, 3)
"""Action columns that move the hand (Meta-World: dx, dy, dz in [-1, 1])."""


@dataclass(frozen=True)
class PlanConfig:
    """How candidate chunks are made and chosen."""

    candidates: int = 8
    """Chunks scored per step of planning, the policy's own included (K)."""
    spread: float = 0.3
    """Size of the constant offset added to the translation of each shifted alternative, in action units."""
    unsafe_penalty: float = 1.0
    """Subtracted from the predicted success of a chunk the guard flags (success is in [0, 1], so 1.0
    ranks every flagged chunk below every safe one)."""

    def __post_init__(self) -> None:
        if self.candidates < 1:
            raise ConfigError(f"plan candidates must be >= 1, got {self.candidates}")
        if not 0.0 < self.spread <= 2.0:
            raise ConfigError(f"plan spread must be in (0, 2] action units, got {self.spread}")


def alternatives(chunk: np.ndarray, n: int, rng: np.random.Generator, spread: float) -> np.ndarray:
    """``n`` chunks around ``chunk`` [H, D], float32 [n, H, D]: first half speed, then constant offsets of
    size ``spread`` in random directions of the translation, clipped to [-1, 1]."""
    chunk = np.asarray(chunk, dtype=np.float32)
    out = np.repeat(chunk[None], n, axis=0)
    if n == 0:
        return out
    out[0, :, TRANSLATION] *= 0.5
    if n > 1:
        d = rng.normal(size=(n - 1, 3))
        d /= np.maximum(np.linalg.norm(d, axis=1, keepdims=True), 1e-9)
        out[1:, :, TRANSLATION] = np.clip(out[1:, :, TRANSLATION] + spread * d[:, None, :], -1.0, 1.0)
    return out


def best_of_k(shield, observation: object, candidates: np.ndarray, config: PlanConfig) -> tuple[int, dict]:
    """Index of the candidate [K, H, D] to execute and what the world model said about each
    (predicted success, flagged)."""
    p = shield.predict(observation, candidates)
    success = shield.success(p)
    flagged = torch.tensor([v.flag for v in shield.verdicts(observation, p)])
    score = success - config.unsafe_penalty * flagged.float()
    best = int(torch.argmax(score))  # the first of equal maxima: the policy's own chunk wins ties
    return best, {"success": success.tolist(), "flagged": flagged.tolist()}
