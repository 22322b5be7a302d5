"""The safety layer's chunk review: a guard's flag replaces the chunk by the first alternative predicted safe,
or holds it when none is; the intervention says what was predicted; a guard that raises holds; no guard, no change."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vlastack.safety import SafetyLayer
from vlastack.safety import interventions as iv
from vlastack.safety.chunk_review import CHECK, REPLACED


@dataclass
class Said:
    flag: bool
    event: str | None = None
    step: int | None = None
    probability: float = 0.0

    def describe(self) -> str:
        return f"keep_out in {self.step} steps (p = {self.probability:.2f})" if self.flag else "nothing"


class XGuard:
    """Predicts keep_out 3 steps ahead for any chunk whose mean dx is above 0.5; records what it was asked."""

    name = "fake"

    def __init__(self) -> None:
        self.asked: list[int] = []

    def review(self, observation, chunks):
        self.asked.append(len(chunks))
        return [Said(True, "keep_out", 3, 0.9) if c[:, 0].mean() > 0.5 else Said(False) for c in chunks]


class Broken:
    name = "broken"

    def review(self, observation, chunks):
        raise RuntimeError("model file went missing")


def chunk(dx: float, grip: float = -1.0, h: int = 8) -> np.ndarray:
    out = np.zeros((h, 4), dtype=np.float32)
    out[:, 0], out[:, 3] = dx, grip
    return out


def test_a_flagged_chunk_is_replaced_by_the_first_alternative_predicted_safe():
    guard = XGuard()
    layer = SafetyLayer("metaworld_sawyer", chunk_guard=guard)
    safe = layer.review_chunk(None, chunk(0.1), np.stack([chunk(0.9), chunk(0.0)]))
    assert safe.chosen == 0 and safe.intervention is None and guard.asked == [1]  # alternatives not even asked
    np.testing.assert_array_equal(safe.actions, chunk(0.1))

    out = layer.review_chunk(None, chunk(1.0), np.stack([chunk(0.9), chunk(0.2), chunk(0.0)]))
    assert out.chosen == 2 and guard.asked[-1] == 3
    np.testing.assert_array_equal(out.actions, chunk(0.2))
    why = out.intervention
    assert why.check == CHECK and why.effect == REPLACED and why.limit == "fake.keep_out"
    assert "keep_out in 3 steps" in why.message and "alternative 2 of 3" in why.message and why.value == 0.9
    summary = layer.summary()["chunk_review"]
    assert summary["chunks_reviewed"] == 2 and summary["chunks_flagged"] == 1 and summary["chunks_replaced"] == 1
    assert summary["chunks_held"] == 0


def test_with_no_safe_alternative_the_chunk_is_held_with_the_last_gripper_command():
    layer = SafetyLayer("metaworld_sawyer", chunk_guard=XGuard())
    state = np.array([0.0, 0.6, 0.2, 1.0])
    layer.filter(np.array([0.0, 0.0, 0.0, 0.4]), state)  # the gripper was last commanded 0.4
    out = layer.review_chunk(None, chunk(1.0, grip=-1.0), np.stack([chunk(0.8)]))
    assert out.chosen is None and out.intervention.effect == iv.HELD and "none of 1 alternatives" in out.intervention.message
    assert out.actions.shape == (8, 4)
    np.testing.assert_array_equal(out.actions[:, :3], 0.0)
    np.testing.assert_allclose(out.actions[:, 3], 0.4, rtol=1e-6)
    held = layer.review_chunk(None, chunk(1.0), None)  # no alternatives offered: held as well
    assert held.chosen is None
    assert layer.summary()["chunk_review"]["chunks_held"] == 2
    assert layer.chunk_log[-1]["step"] == 1 and layer.chunk_log[-1]["interventions"][0]["effect"] == iv.HELD


def test_a_guard_that_raises_holds_and_no_guard_changes_nothing():
    layer = SafetyLayer("metaworld_sawyer", chunk_guard=Broken())
    out = layer.review_chunk(None, chunk(0.1))
    assert out.chosen is None and "could not review" in out.intervention.message and "went missing" in out.intervention.message
    np.testing.assert_array_equal(out.actions[:, :3], 0.0)

    plain = SafetyLayer("metaworld_sawyer")
    out = plain.review_chunk(None, chunk(1.0))
    assert out.chosen == 0 and out.intervention is None and plain.chunk_log == []
    assert "chunk_review" not in plain.summary()


def test_alternatives_given_as_a_function_are_made_only_for_a_flagged_chunk():
    made = []

    def make():
        made.append(1)
        return np.stack([chunk(0.0)])

    layer = SafetyLayer("metaworld_sawyer", chunk_guard=XGuard())
    assert layer.review_chunk(None, chunk(0.1), make).chosen == 0 and made == []
    assert layer.review_chunk(None, chunk(1.0), make).chosen == 1 and made == [1]
    failing = layer.review_chunk(None, chunk(1.0), lambda: 1 / 0)  # making them fails: the chunk is held
    assert failing.chosen is None and "ZeroDivisionError" in failing.intervention.message
