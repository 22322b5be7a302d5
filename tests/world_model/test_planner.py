"""Best-of-K planning: alternatives around a chunk, and the choice by predicted success among chunks predicted safe."""

from __future__ import annotations

import numpy as np
import torch

from vlastack.world_model.guardrail import Verdict
from vlastack.world_model.heads import EVENTS
from vlastack.world_model.planner import PlanConfig, alternatives, best_of_k


def test_alternatives_keep_the_gripper_and_stay_in_range():
    base = np.zeros((16, 4), np.float32)
    base[:, 0], base[:, 3] = 0.9, 0.5
    alts = alternatives(base, 5, np.random.default_rng(0), 0.3)
    assert alts.shape == (5, 16, 4) and alts.dtype == np.float32
    np.testing.assert_allclose(alts[0, :, 0], 0.45)  # the first is the chunk at half speed
    assert np.all(alts[:, :, 3] == 0.5) and np.all(np.abs(alts) <= 1.0)
    shift = alts[1:, 0, :3] - base[0, :3]
    assert np.all(np.linalg.norm(shift, axis=1) > 0.05)  # every shifted one moves off the chunk
    np.testing.assert_array_equal(alts, alternatives(base, 5, np.random.default_rng(0), 0.3))
    assert alternatives(base, 0, np.random.default_rng(0), 0.3).shape == (0, 16, 4)


class FakeShield:
    """Predicted success = the chunk's mean dx at the last step; flagged when dy > 0.5."""

    def verdicts(self, observation, p):
        return [Verdict(bool(x.max() > 0.5), "keep_out", 1, float(x.max())) for x in p[..., 1:2]]

    def predict(self, observation, chunks):
        c = torch.as_tensor(chunks)
        p = torch.zeros(len(c), c.shape[1], len(EVENTS))
        p[..., EVENTS.index("success")] = c[..., 0].clamp(0, 1)
        p[..., 1] = c[..., 1].clamp(0, 1)
        return p

    def success(self, p):
        return p[..., EVENTS.index("success")].max(1).values


def chunks(*rows: tuple[float, float]) -> np.ndarray:
    out = np.zeros((len(rows), 8, 4), np.float32)
    for i, (dx, dy) in enumerate(rows):
        out[i, :, 0], out[i, :, 1] = dx, dy
    return out


def test_best_of_k_takes_the_most_promising_safe_chunk_and_the_policys_own_on_ties():
    shield, cfg = FakeShield(), PlanConfig()
    best, said = best_of_k(shield, None, chunks((0.2, 0.0), (0.9, 0.9), (0.6, 0.0), (0.4, 0.0)), cfg)
    assert best == 2 and said["flagged"] == [False, True, False, False]  # 0.9 is flagged, so 0.6 wins
    assert best_of_k(shield, None, chunks((0.3, 0.0), (0.3, 0.0), (0.1, 0.0)), cfg)[0] == 0
    best, _ = best_of_k(shield, None, chunks((0.9, 0.9), (0.1, 0.9)), cfg)
    assert best == 0  # all flagged: ranked by success among them
