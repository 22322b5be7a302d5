"""The world model inside the safety layer (issue 14, item 5): a guardrail directory and its chunk guard.

``vlastack wm guardrail --heads RUN --out DIR`` fits the guardrail's thresholds (best F1 per unsafe event
over the training episodes' replayed chunks, at the horizon it will check) and writes
``DIR/guardrail.json``: which heads, dynamics model and encoder, the horizon and the thresholds. Nothing
is fitted at evaluation time.

:class:`WorldModelShield` loads it and is a :class:`vlastack.safety.chunk_review.ChunkGuard`: given the
observation a chunk starts from, it encodes the frame with the encoder policy's ``image_features`` (the
embeddings the world model was trained on; one pass per observation, shared by the planner and the
review), rolls every candidate chunk out step by step in the dynamics model, and asks the heads.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from vlastack.errors import ConfigError
from vlastack.world_model.guardrail import Guardrail, Verdict
from vlastack.world_model.heads import EVENTS

GUARDRAIL_FILE = "guardrail.json"


@dataclass(frozen=True)
class ShieldConfig:
    """What a guardrail directory records besides its models."""

    horizon: int = 16
    """Steps of each chunk rolled out and checked (the thresholds are fitted for this many; a chunk
    shorter than this is checked whole). 16 = the l1 policy's full chunk, though it executes 4: the
    chunk is what the policy intends, and a longer look gives more warning."""
    new_only: bool = True
    """Leave out events the heads already see in the current frame (the hand already in the box): holding
    would keep the arm in them; getting out is the policy's and the hard limits' business."""

    def __post_init__(self) -> None:
        if self.horizon < 1:
            raise ConfigError(f"guardrail horizon must be >= 1 step, got {self.horizon}")


def fit_shield(heads: str | Path, out: str | Path, config: ShieldConfig = ShieldConfig()) -> dict:
    """Fit the thresholds of ``heads`` (a ``vlastack wm heads`` run or checkpoint) for ``config.horizon``
    and write ``out/guardrail.json``; returns what was written."""
    from vlastack.world_model.checkpoint import load_kind
    from vlastack.world_model.evaluate import fit_guardrail
    from vlastack.world_model.runs import DynamicsRun

    ckpt, model, meta = load_kind(heads, "heads", "vlastack wm heads")
    run = DynamicsRun.load(meta["dynamics"])
    labels, _ = run.labels(model.config)
    train = run.table.select(run.train_episodes)
    guard = fit_guardrail(run.model, model, train, labels[run.rows(run.train_episodes)], config.horizon)
    record = {
        "heads": str(Path(ckpt).resolve()),
        "dynamics": str(Path(run.checkpoint).resolve()),
        "encoder": str(run.meta["encoder"]),
        "horizon": config.horizon,
        "new_only": config.new_only,
        "thresholds": guard.thresholds,
        "fitted_on": f"{len(run.train_episodes)} training episodes of {run.datasets}",
    }
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / GUARDRAIL_FILE).write_text(json.dumps(record, indent=1))
    return record


class WorldModelShield:
    """Encoder + dynamics + heads + thresholds: the world model as a chunk guard and a chunk scorer."""

    name = "world_model"

    def __init__(self, encoder, guard: Guardrail, config: ShieldConfig) -> None:
        self.encoder, self.guard, self.config = encoder, guard, config
        self._last: tuple[object, torch.Tensor] | None = None  # (observation, z): one encoder pass per frame

    @classmethod
    def load(cls, directory: str | Path) -> WorldModelShield:
        from vlastack.checkpoint import resolve_checkpoint
        from vlastack.policies import load_policy
        from vlastack.world_model.checkpoint import load_kind

        path = Path(directory) / GUARDRAIL_FILE
        if not path.is_file():
            raise ConfigError(
                f"guardrail: {directory} has no {GUARDRAIL_FILE}; make one with `vlastack wm guardrail --heads RUN --out DIR`"
            )
        rec = json.loads(path.read_text())
        _, heads, _ = load_kind(rec["heads"], "heads", "vlastack wm heads")
        _, dynamics, _ = load_kind(rec["dynamics"], "dynamics", "vlastack wm train")
        encoder = load_policy(resolve_checkpoint(Path(rec["encoder"]))).pack_for_inference()
        config = ShieldConfig(horizon=int(rec["horizon"]), new_only=bool(rec["new_only"]))
        return cls(encoder, Guardrail(dynamics, heads, rec["thresholds"]), config)

    @torch.no_grad()
    def embed(self, observation: object) -> torch.Tensor:
        """z [F] of the frame, in encoder units (the same observation twice in a row costs one pass)."""
        if self._last is not None and self._last[0] is observation:
            return self._last[1]
        from vlastack.policies import batch_from_observation

        with torch.inference_mode():
            z = self.encoder.image_features(batch_from_observation(observation))[0].float().clone()
        self._last = (observation, z)
        return z

    @torch.no_grad()
    def predict(self, observation: object, chunks: np.ndarray) -> torch.Tensor:
        """Every event's probability [K, h, len(EVENTS)] at each of the first h = min(horizon, H) steps of
        each chunk [K, H, D] (environment units) started from ``observation``."""
        chunks = torch.as_tensor(np.asarray(chunks, dtype=np.float32))
        if chunks.ndim != 3:
            raise ConfigError(f"chunks must be [K, H, D], got shape {tuple(chunks.shape)}")
        h = min(self.config.horizon, chunks.shape[1])
        z = self.embed(observation)
        return self.guard.all_probabilities(z.expand(len(chunks), -1), chunks[:, :h])

    def review(self, observation: object, chunks: np.ndarray) -> list[Verdict]:
        """One verdict per chunk (the ``ChunkGuard`` protocol)."""
        return self.verdicts(observation, self.predict(observation, chunks))

    def verdicts(self, observation: object, probabilities: torch.Tensor) -> list[Verdict]:
        """One verdict per chunk from :meth:`predict`'s probabilities of chunks started from ``observation``."""
        return self.guard.verdicts(self.embed(observation), self.guard.unsafe(probabilities), self.config.new_only)

    def success(self, probabilities: torch.Tensor) -> torch.Tensor:
        """[K]: the highest predicted success probability over each chunk's steps (the planner's objective)."""
        return probabilities[..., EVENTS.index("success")].max(1).values
