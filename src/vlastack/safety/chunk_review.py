"""The safety layer's look ahead: before a chunk runs, a learned guard predicts what it will do.

The per-step hard limits (:mod:`vlastack.safety.checks`) judge each action as it goes out; they cannot
see that a chunk is steering the hand into a keep-out box 12 steps from now. A :class:`ChunkGuard`
can: the world model's guardrail (``vlastack.world_model.shield.WorldModelShield``) rolls the chunk out
in its embedding space and asks its safety heads. :meth:`SafetyLayer.review_chunk` asks the guard
about the policy's chunk and, if it is flagged, about the alternatives offered with it (the next-best
samples of the policy, best first); the first alternative predicted safe replaces the chunk, and when
none is, the chunk is replaced by the hold (no translation, gripper unchanged). Either way one
:class:`~vlastack.safety.interventions.Intervention` says what was predicted.

The review adds to the hard limits and never replaces them: every action of the chosen chunk still
goes through :meth:`SafetyLayer.filter`. It fails closed: a guard that raises holds the chunk.
This module has no torch dependency; the guard brings its own model.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from vlastack.safety import interventions as iv
from vlastack.safety.interventions import Intervention, jsonable

CHECK = "world_model"
"""``Intervention.check`` of every review intervention."""
REPLACED = "replaced"
"""``Intervention.effect``: the chunk was replaced by an alternative the guard predicts safe."""


class Prediction(Protocol):
    """What a guard predicts for one chunk (``vlastack.world_model.guardrail.Verdict`` is one)."""

    flag: bool
    event: str | None
    step: int | None
    probability: float

    def describe(self) -> str: ...


class ChunkGuard(Protocol):
    """Predicts, for each candidate chunk, whether it leads to an unsafe event."""

    name: str

    def review(self, observation: object, chunks: np.ndarray) -> Sequence[Prediction]:
        """``chunks`` float32 [K, H, D] in environment units, all starting from ``observation``; one prediction each."""
        ...


@dataclass(frozen=True)
class ChunkReview:
    """The outcome of one review."""

    actions: np.ndarray
    """float32 [H, D]: the chunk to execute (the proposal, an alternative, or the hold repeated)."""
    chosen: int | None
    """Index of the executed candidate (0: the proposal itself); None when every candidate was flagged and the hold goes out."""
    intervention: Intervention | None
    """Why the proposal was not executed; None when it was."""
    predictions: tuple[Prediction, ...]
    """The guard's prediction for each candidate it was asked about, in order."""
    ms: float
    """Wall-clock milliseconds the guard took."""

    def to_dict(self, step: int) -> dict:
        return {
            "step": step,
            "chosen": self.chosen,
            "candidates_checked": len(self.predictions),
            "flagged": [bool(p.flag) for p in self.predictions],
            "ms": jsonable(self.ms),
            "interventions": [] if self.intervention is None else [self.intervention.to_dict()],
        }


def review(guard: ChunkGuard, observation: object, proposal: np.ndarray, alternatives: object, hold: np.ndarray) -> ChunkReview:
    """Ask ``guard`` about ``proposal`` [H, D] and, only if it is flagged, about ``alternatives`` [K, H, D]
    (best first; or a function that makes them, called only then: drawing a sampling policy's next samples
    costs inference); ``hold`` [D] is the layer's hold, repeated when every candidate is flagged."""
    import time

    proposal = np.asarray(proposal, dtype=np.float32)
    hold_chunk = np.repeat(np.asarray(hold, dtype=np.float32)[None], len(proposal), axis=0)
    t0 = time.perf_counter()
    try:
        first = list(guard.review(observation, proposal[None]))
        if not first[0].flag:
            return ChunkReview(proposal, 0, None, tuple(first), (time.perf_counter() - t0) * 1000)
        rest: list[Prediction] = []
        if callable(alternatives):
            alternatives = alternatives()
        if alternatives is not None and len(alternatives):
            alternatives = np.asarray(alternatives, dtype=np.float32)
            rest = list(guard.review(observation, alternatives))
    except Exception as e:  # fail closed: a guard that cannot answer holds the chunk
        why = Intervention(
            CHECK, "evaluation", iv.HELD, f"the {guard.name} guard could not review the chunk ({type(e).__name__}: {e}); holding"
        )
        return ChunkReview(hold_chunk, None, why, (), (time.perf_counter() - t0) * 1000)
    ms = (time.perf_counter() - t0) * 1000
    said = first[0]
    limit = f"{guard.name}.{said.event}"
    safe = next((i for i, p in enumerate(rest) if not p.flag), None)
    if safe is None:
        msg = f"{guard.name}: {said.describe()}; none of {len(rest)} alternatives predicted safe; holding"
        why = Intervention(CHECK, limit, iv.HELD, msg, value=said.probability, unit="probability")
        return ChunkReview(hold_chunk, None, why, tuple(first + rest), ms)
    msg = f"{guard.name}: {said.describe()}; replaced by alternative {safe + 1} of {len(rest)}, predicted safe"
    why = Intervention(CHECK, limit, REPLACED, msg, value=said.probability, unit="probability")
    return ChunkReview(np.asarray(alternatives[safe], dtype=np.float32), safe + 1, why, tuple(first + rest), ms)


def summarize_reviews(log: list[dict]) -> dict:
    """Episode totals of the chunk reviews: reviewed, flagged, replaced, held, and the guard's time."""
    ms = [e["ms"] for e in log if isinstance(e.get("ms"), float)]
    return {
        "chunks_reviewed": len(log),
        "chunks_flagged": sum(1 for e in log if e["flagged"] and e["flagged"][0]),
        "chunks_replaced": sum(1 for e in log if e["chosen"] not in (0, None)),
        "chunks_held": sum(1 for e in log if e["chosen"] is None),
        "review_ms_median": float(np.median(ms)) if ms else None,
    }
