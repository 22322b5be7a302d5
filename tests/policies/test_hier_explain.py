"""The hierarchical policy explains every re-plan: its subtask, its plan and a reason built from its own
numbers (choice probability, done-detector, the motion its chunk commands); other policies explain nothing."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from vlastack.policies import fake_batch
from vlastack.policies.hier import HierPolicy
from vlastack.policies.hier.explain import MAX_PLAN_STEPS
from vlastack.policies.l1 import L1Policy
from vlastack.policies.untrained import untrained_policy
from vlastack.reasoning.motion import describe_motion, gripper_words, hand_motion_m
from vlastack.types import EXPLANATIONS, Explanation


def _chunk(dx: float, dy: float, dz: float, grip: list[float]) -> np.ndarray:
    return np.array([[dx, dy, dz, g] for g in grip], dtype=np.float32)


def test_motion_words_follow_the_commanded_displacement_and_gripper():
    # 4 steps of -0.5 in x: 2 cm left; +0.25 in z: 1 cm up; y below 1 cm is left out
    actions = _chunk(-0.5, 0.05, 0.25, [-1, -1, -1, -1])
    np.testing.assert_allclose(hand_motion_m(actions), [-0.02, 0.002, 0.01], atol=1e-7)
    assert describe_motion(actions) == "the next 4 steps move the hand 2 cm left and 1 cm up, gripper open"
    assert describe_motion(_chunk(0.0, 1.0, 0.0, [1, 1])) == "the next 2 steps move the hand 2 cm forward, gripper closed"
    assert describe_motion(_chunk(0.0, 0.0, 0.0, [0.5])) == "the next 1 step keep the hand within 1 cm of where it is, gripper closed"
    assert gripper_words(np.array([-1, -0.2, 0.6, 1.0])) == "closing the gripper at step 3"
    assert gripper_words(np.array([1, -1])) == "opening the gripper at step 2"
    with pytest.raises(ValueError, match="dx, dy, dz, grip"):
        hand_motion_m(np.zeros((4, 3)))


def _factored(cfg_for) -> HierPolicy:
    policy = untrained_policy(cfg_for("hier-debug"), samples=24).eval()
    assert policy.config.head == "factored"
    return policy


def _fixed_low_level(monkeypatch, actions: np.ndarray) -> None:
    """The l1 low level answers ``actions`` [H, D] whatever it is asked."""

    def low(self, batch, seen):
        return np.repeat(actions[None], batch.size, axis=0), {"policy": "l1"}

    monkeypatch.setattr(L1Policy, "_act", low)


def test_factored_explanation_names_subtask_plan_confidence_and_the_chunks_motion(cfg_for, monkeypatch):
    policy = _factored(cfg_for)
    vocab = policy.config.subtasks
    batch = fake_batch(policy.config, batch_size=1, seed=0, with_action=False)
    fires = iter([-9.0, 4.0])  # done-detector logits: ignored at the start, then "done" (p = 0.982)
    monkeypatch.setattr(policy, "done_logit", lambda inputs, current, history: torch.tensor([next(fires)]))

    def plan(inputs, history):  # next = vocab[number done], 8 nats above the rest
        out = torch.zeros((history.shape[0], len(vocab)))
        out[torch.arange(history.shape[0]), history.sum(1).long()] = 8.0
        return out

    monkeypatch.setattr(policy, "plan_logits", plan)
    p_pick = float(torch.softmax(torch.tensor([8.0] + [0.0] * (len(vocab) - 1)), 0)[0])
    _fixed_low_level(monkeypatch, _chunk(1.0, 0.0, -0.5, [-1, -1, 1, 1]))

    first = policy.sample_actions(batch).explanations
    assert first is not None and len(first) == 1
    e = first[0]
    assert e.subtask == vocab[0] and e.plan == tuple(vocab[:MAX_PLAN_STEPS]) and e.plan_index == 0
    assert e.confidence == pytest.approx(p_pick)
    assert e.hand_motion_m == pytest.approx((0.04, 0.0, -0.02))
    assert e.reason == (
        f"starting the plan with '{vocab[0]}', {p_pick:.0%} sure of this subtask; "
        "the next 4 steps move the hand 4 cm right and 2 cm down, closing the gripper at step 3"
    )

    _fixed_low_level(monkeypatch, _chunk(0.0, -1.0, 0.0, [1, 1, 1, 1]))  # another chunk: another reason
    second = policy.sample_actions(batch).explanations[0]
    assert second.subtask == vocab[1] and second.plan_index == 1 and second.plan[:2] == (vocab[0], vocab[1])
    assert second.reason.startswith(f"'{vocab[0]}' looks done (the done-detector says 98%), so on to '{vocab[1]}'")
    assert second.reason.endswith("the next 4 steps move the hand 4 cm back, gripper closed")


def test_look_ahead_stops_at_a_low_confidence_pick_and_at_a_repeat(cfg_for, monkeypatch):
    policy = _factored(cfg_for)
    vocab = policy.config.subtasks
    batch = fake_batch(policy.config, batch_size=2, seed=0, with_action=False)
    monkeypatch.setattr(policy, "done_logit", lambda inputs, current, history: torch.full((history.shape[0],), -9.0))

    def plan(inputs, history):
        out = torch.zeros((2, len(vocab)))
        out[0, 0] = 9.0 if history[0].sum() == 0 else 0.1  # row 0: sure of vocab[0], then unsure of anything
        out[1, 1] = 9.0  # row 1: always vocab[1], so "and then?" repeats it
        return out

    monkeypatch.setattr(policy, "plan_logits", plan)
    explanations = policy.sample_actions(batch).explanations
    assert [e.plan for e in explanations] == [(vocab[0],), (vocab[1],)]
    assert [e.subtask for e in explanations] == [vocab[0], vocab[1]]


def test_joint_explanation_has_no_look_ahead_and_says_when_it_moved_on(cfg_for, monkeypatch):
    policy = untrained_policy(cfg_for("hier-debug", head="joint"), samples=24).eval()
    vocab = policy.config.subtasks
    batch = fake_batch(policy.config, batch_size=1, seed=0, with_action=False)
    picks = iter([0, 0, 1])

    def logits(b, history, augment=False, seen=None):
        out = torch.zeros((1, len(vocab)))
        out[0, next(picks)] = 6.0
        return out

    monkeypatch.setattr(policy, "subtask_logits", logits)
    reasons = [policy.sample_actions(batch).explanations[0] for _ in range(3)]
    assert [e.plan for e in reasons] == [(vocab[0],), (vocab[0],), (vocab[0], vocab[1])]
    assert reasons[1].reason.startswith(f"'{vocab[0]}' is still the subtask head's pick")
    assert reasons[2].reason.startswith(f"'{vocab[0]}' looks done (the subtask head now picks another subtask), so on to '{vocab[1]}'")
    assert reasons[2].plan_index == 1


def test_untrained_policy_explains_with_its_real_outputs(cfg_for):
    """No monkeypatching: the explanation agrees with what the policy reports elsewhere."""
    policy = _factored(cfg_for)
    batch = fake_batch(policy.config, batch_size=1, seed=3, with_action=False)
    chunk = policy.sample_actions(batch)
    e = chunk.explanations[0]
    entry = policy.last_plan[0]
    assert e.subtask == chunk.info["subtask"][0] == entry["subtask"]
    assert e.confidence == pytest.approx(entry["probability"])
    np.testing.assert_allclose(e.hand_motion_m, chunk.actions[0].sum(0)[:3] * 0.01, atol=1e-6)
    assert e.reason.endswith(describe_motion(chunk.actions[0]))
    assert e.plan[e.plan_index] == e.subtask and len(e.plan) <= MAX_PLAN_STEPS


def test_a_flat_policy_explains_nothing(cfg_for, policy_for):
    policy = policy_for(cfg_for("l1-debug")).eval()
    chunk = policy.sample_actions(fake_batch(policy.config, batch_size=1, seed=0, with_action=False))
    assert chunk.explanations is None and EXPLANATIONS not in chunk.info


def test_explanation_round_trip_and_checks():
    e = Explanation("open the drawer", "because", plan=("a", "open the drawer"), plan_index=1, confidence=0.75, hand_motion_m=(0.01, 0, 0))
    d = e.to_dict()
    assert d == {
        "subtask": "open the drawer",
        "reason": "because",
        "plan": ["a", "open the drawer"],
        "plan_index": 1,
        "confidence": 0.75,
        "hand_motion_m": [0.01, 0.0, 0.0],
    }
    assert Explanation.from_dict(d) == e
    assert Explanation.from_dict({"subtask": "x", "reason": "y"}) == Explanation("x", "y")
    with pytest.raises(ValueError, match="plan_index"):
        Explanation("x", "y", plan=("a", "b"), plan_index=0)
    with pytest.raises(ValueError, match="confidence"):
        Explanation("x", "y", confidence=1.5)
    with pytest.raises(ValueError, match="reason"):
        Explanation("x", "")
    with pytest.raises(ValueError, match="'subtask' and 'reason'"):
        Explanation.from_dict({"subtask": "x"})


def test_factored_reason_when_done_fires_but_the_plan_names_the_same_subtask(cfg_for, monkeypatch):
    policy = _factored(cfg_for)
    vocab = policy.config.subtasks
    batch = fake_batch(policy.config, batch_size=1, seed=0, with_action=False)
    fires = iter([-9.0, 4.0, -4.0])
    monkeypatch.setattr(policy, "done_logit", lambda inputs, current, history: torch.tensor([next(fires)]))
    picks = iter([0, 0, 0, 0, 2])  # plan head: vocab[0] at two re-plans and their look-aheads, then vocab[2]

    def plan(inputs, history):
        out = torch.zeros((1, len(vocab)))
        out[0, next(picks)] = 9.0
        return out

    monkeypatch.setattr(policy, "plan_logits", plan)
    policy.sample_actions(batch)  # re-plan 1: vocab[0]; its look-ahead repeats it and stops
    again = policy.sample_actions(batch).explanations[0]  # re-plan 2: done fires, the plan head names vocab[0] again
    assert again.plan == (vocab[0], vocab[0]) and again.plan_index == 1
    assert again.reason.startswith(f"'{vocab[0]}' looks done (the done-detector says 98%), and the plan names it again")
    monkeypatch.setattr(policy, "_look_ahead", lambda inputs: [[]])
    kept = policy.sample_actions(batch).explanations[0]  # re-plan 3: not done; the plan head would pick vocab[2]
    assert kept.subtask == vocab[0]  # but it is asked only when the detector fires (or at the start)
    assert kept.reason.startswith(f"'{vocab[0]}' is not done yet (the done-detector says 2%)")
    assert kept.plan == (vocab[0], vocab[0])


def test_no_motion_words_for_an_action_layout_other_than_metaworlds(cfg_for, monkeypatch):
    """A robosuite arm's [dx, dy, dz, drx, dry, drz, grip]: index 3 is a rotation, not the gripper, and the
    translation is in another frame and scale, so the reason must not read them with Meta-World's words."""
    policy = _factored(cfg_for)
    batch = fake_batch(policy.config, batch_size=1, seed=0, with_action=False)
    arm = np.array([[1.0, 0.0, 0.0, 1.0, 0.0, 0.0, -1.0]] * 4, dtype=np.float32)  # forward, turning, gripper open
    _fixed_low_level(monkeypatch, arm)
    e = policy.sample_actions(batch).explanations[0]
    assert e.hand_motion_m is None
    assert "the next" not in e.reason and "gripper" not in e.reason, e.reason


@pytest.mark.parametrize(
    "field, value",
    [
        ("plan_index", "one"),
        ("plan_index", None),
        ("confidence", "high"),
        ("hand_motion_m", 5),
        ("hand_motion_m", ["a", 0, 0]),
        ("plan", "a b"),
    ],
)
def test_a_malformed_reply_field_is_a_value_error_naming_it(field, value):
    """A reply from another server (or a bad one) gives an error naming the field, never a bare TypeError."""
    with pytest.raises(ValueError, match=rf"Explanation\.{field} must be"):
        Explanation.from_dict({"subtask": "a b", "reason": "y", field: value})
