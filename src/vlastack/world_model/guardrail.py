"""A learned guardrail (issue 14, item 5, offline part): before a chunk of actions runs, roll it out in
the world model and ask the safety heads whether an unsafe event follows.

``Guardrail.check(z, actions)`` predicts z(t+j) for every step j of the chunk (the dynamics model's
rollout, exactly as ``ChunkPredictor.rollout`` would for j steps, batched: one predictor call per
``DynamicsConfig.chunk`` steps), scores each with the heads, and flags the chunk when any unsafe
event's probability reaches its threshold at some step. The verdict says which event, how many steps
ahead and how sure, so a safety layer can hold the chunk and say why. It adds to the hard limits of
``vlastack.safety``; it does not replace them. ``vlastack.world_model.shield`` puts it inside the
safety layer's chunk review (``SafetyLayer.review_chunk``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from vlastack.errors import ConfigError
from vlastack.world_model.dynamics import ChunkPredictor
from vlastack.world_model.heads import EVENTS, UNSAFE, SafetyHeads


@dataclass(frozen=True)
class Verdict:
    """What the guardrail predicts for one chunk."""

    flag: bool
    """Some unsafe event reaches its threshold at some step of the chunk."""
    event: str | None
    """The flagged event that comes first (the most probable of those at that step); None when not flagged."""
    step: int | None
    """Steps from now (1-based) at which ``event`` is first predicted."""
    probability: float
    """The heads' probability of ``event`` at ``step`` (0.0 when not flagged)."""

    def describe(self) -> str:
        if not self.flag:
            return "no unsafe event predicted"
        return f"world model predicts {self.event} in {self.step} steps (p = {self.probability:.2f})"


@torch.no_grad()
def rollout_every_step(dynamics: ChunkPredictor, z: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
    """Normalised z [B, F] and actions [B, H, D] -> predictions [B, H, F] of z(t+1) .. z(t+H), each
    equal to ``dynamics.rollout(z, actions, j)``: full chunks from the previous chunk's end, then the
    partial one, so all H answers cost ceil(H / chunk) batched predictor calls."""
    b, h, d = actions.shape
    k = dynamics.config.chunk
    out = []
    start = z
    for c0 in range(0, h, k):
        m = min(k, h - c0)
        # row i of this chunk covers i + 1 of its m steps
        chunk = actions[:, c0 : c0 + m].unsqueeze(1).expand(b, m, m, d)
        mask = torch.arange(k).unsqueeze(0) < torch.arange(1, m + 1).unsqueeze(1)  # [m, K]
        padded = torch.zeros(b, m, k, d, dtype=z.dtype)
        padded[:, :, :m] = chunk * mask[:, :m].unsqueeze(0).unsqueeze(-1)
        pred = dynamics(start.unsqueeze(1).expand(b, m, -1).reshape(b * m, -1), padded.reshape(b * m, k, d), mask.repeat(b, 1))
        pred = pred.view(b, m, -1)
        out.append(pred)
        start = pred[:, -1]
    return torch.cat(out, dim=1)


class Guardrail:
    """Dynamics model + safety heads + one threshold per unsafe event."""

    def __init__(self, dynamics: ChunkPredictor, heads: SafetyHeads, thresholds: dict[str, float]) -> None:
        unknown = sorted(set(thresholds) - set(UNSAFE))
        if unknown:
            raise ConfigError(f"guardrail thresholds for {unknown}: only the unsafe events {list(UNSAFE)} can be flagged")
        self.dynamics, self.heads = dynamics.eval(), heads.eval()
        self.events = [e for e in UNSAFE if e in thresholds and np.isfinite(thresholds[e])]
        self._cols = torch.tensor([EVENTS.index(e) for e in self.events], dtype=torch.long)
        self._thr = torch.tensor([thresholds[e] for e in self.events], dtype=torch.float32)

    @property
    def thresholds(self) -> dict[str, float]:
        """event -> probability at or above which it is flagged (only the events this guardrail flags)."""
        return dict(zip(self.events, self._thr.tolist(), strict=True))

    @torch.no_grad()
    def all_probabilities(self, z: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        """Raw embeddings z [B, F] (encoder units) and actions [B, H, D] -> every event's probability
        [B, H, len(EVENTS)] at each predicted step (success included: the planner reads it)."""
        pred = rollout_every_step(self.dynamics, self.dynamics.norm.normalize(z), actions)
        return self.heads.probabilities(pred)

    def probabilities(self, z: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        """Raw embeddings z [B, F] (encoder units) and actions [B, H, D] -> probabilities [B, H, len(self.events)]."""
        return self.unsafe(self.all_probabilities(z, actions))

    def unsafe(self, all_probabilities: torch.Tensor) -> torch.Tensor:
        """The columns of this guardrail's events out of every event's probabilities [..., len(EVENTS)]."""
        return all_probabilities[..., self._cols]

    def flags(self, probabilities: torch.Tensor) -> torch.Tensor:
        """bool [B, H, E']: which event reaches its threshold at which step."""
        return probabilities >= self._thr

    @torch.no_grad()
    def check(self, z: torch.Tensor, actions: torch.Tensor, new_only: bool = False) -> Verdict:
        """One chunk: z [F] (encoder units) at the chunk's start, actions [H, D] in environment units.

        ``new_only``: leave out events the heads already see in z itself (the hand already in the box):
        holding the chunk would keep the robot in them, so they are the hard limits' and recovery's
        business, not a reason to stop."""
        return self.check_many(z, actions.reshape(1, *actions.shape[-2:]), new_only)[0]

    @torch.no_grad()
    def check_many(self, z: torch.Tensor, actions: torch.Tensor, new_only: bool = False) -> list[Verdict]:
        """K candidate chunks from one state: z [F], actions [K, H, D]; one verdict each (see :meth:`check`)."""
        return self.verdicts(z, self.probabilities(z.reshape(1, -1).float().expand(len(actions), -1), actions.float()), new_only)

    def verdicts(self, z: torch.Tensor, p: torch.Tensor, new_only: bool = False) -> list[Verdict]:
        """Verdicts from unsafe-event probabilities p [K, H, len(self.events)] of K chunks starting at z [F]."""
        hit = self.flags(p)
        if new_only:
            now = self.heads.probabilities(self.dynamics.norm.normalize(z.reshape(1, -1).float()))[0, self._cols]
            hit &= ~(now >= self._thr)
        out = []
        for pk, hk in zip(p, hit, strict=True):
            if not hk.any():
                out.append(Verdict(False, None, None, 0.0))
                continue
            step = int(torch.nonzero(hk.any(1)).min())
            e = int(torch.argmax(torch.where(hk[step], pk[step], torch.full_like(pk[step], -1.0))))
            out.append(Verdict(True, self.events[e], step + 1, float(pk[step, e])))
        return out
