"""Temporal ensembling of overlapping chunks, as in ACT (Zhao et al., 2023, arXiv 2304.13705).

The policy is asked every ``query_every`` steps (ACT: every step). Each chunk, asked at step s,
predicts the actions of steps s .. s + H - 1. At step t, every stored chunk that covers t
contributes its prediction for t, and the executed action is their weighted mean::

    a_t = sum_i w_i * a_t^(i) / sum_i w_i,    w_i = exp(-m * i)

with i = 0 the *oldest* prediction still covering t (asked earliest), i = 1 the next, and so on.
This is ACT's weighting (``exp_weights = np.exp(-k * np.arange(n))`` over predictions in the
order they were made, k = 0.01 there): with m > 0 older predictions weigh *more*, which smooths
the motion and makes it slower to react to new observations; m = 0 is the plain mean; m < 0
weighs the newest prediction most.

Inference is synchronous, one call per ``query_every`` steps, so its latency is paid that often.
"""

from __future__ import annotations

import math
from collections import deque

import numpy as np

from vlastack.errors import ConfigError
from vlastack.execution.base import ENSEMBLED, EXECUTORS, Clock, Executor, PolicyFn
from vlastack.types import Action, Observation


@EXECUTORS.register("ensemble")
class TemporalEnsembleExecutor(Executor):
    """ACT temporal ensembling; ``m`` is the weighting exponent (ACT's k), ``query_every`` the query period in steps."""

    name = "ensemble"

    def __init__(self, policy: PolicyFn, m: float = 0.01, query_every: int = 1, *, clock: Clock | None = None) -> None:
        if not math.isfinite(m):
            raise ConfigError(f"ensemble executor: m must be finite, got {m!r}")
        if isinstance(query_every, bool) or not isinstance(query_every, int) or query_every < 1:
            raise ConfigError(f"ensemble executor: query_every must be a positive integer, got {query_every!r}")
        self.m, self.query_every = float(m), query_every
        super().__init__(policy, **({} if clock is None else {"clock": clock}))

    def _reset(self) -> None:
        self._chunks: deque[tuple[int, np.ndarray]] = deque()  # (step asked, [H, D]), oldest first

    def _min_horizon(self) -> int:
        # a shorter chunk would leave the steps before the next query with no prediction
        return self.query_every

    def weights(self, n: int) -> np.ndarray:
        """Normalised weights of n predictions, oldest first."""
        w = np.exp(-self.m * np.arange(n, dtype=np.float64))
        return w / w.sum()

    def _step(self, observation: Observation, now_s: float) -> Action | None:
        t = self.step_index
        if t % self.query_every == 0:
            actions = self._infer(observation)  # None for a chunk shorter than query_every (see _min_horizon)
            if actions is not None:
                self._chunks.append((t, actions))
        while self._chunks and self._chunks[0][0] + len(self._chunks[0][1]) <= t:
            self._chunks.popleft()
        predictions = [actions[t - start] for start, actions in self._chunks]
        if not predictions:
            return None
        w = self.weights(len(predictions))
        self._emit(ENSEMBLED, n=len(predictions))
        return (w[:, None] * np.stack(predictions).astype(np.float64)).sum(axis=0).astype(np.float32)
