"""Operators: the scripted operator's gate, and the stream operator a teleoperation device drives."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from vlastack.errors import ConfigError
from vlastack.improve.operator import GateConfig, ScriptedOperator, StreamOperator, disagreement


class _FixedExpert:
    def __init__(self, action):
        self.action = np.asarray(action, np.float32)

    def act(self, observation, info):
        return self.action


def _operator(gate: GateConfig, expert_action) -> ScriptedOperator:
    op = ScriptedOperator("reach-v3", gate)
    op.expert = _FixedExpert(expert_action)  # a constant expert makes the gate's arithmetic visible
    return op


def test_disagreement_is_the_translation_distance_and_a_flipped_gripper_is_infinite():
    assert disagreement(np.array([0.3, 0.4, 0.0, 1.0]), np.zeros(4) + [0, 0, 0, 0.5]) == pytest.approx(0.5)
    assert disagreement(np.array([0.0, 0.0, 0.0, -1.0]), np.array([0.0, 0.0, 0.0, 1.0])) == float("inf")
    assert disagreement(np.array([0.0, 0.0, 0.0, -0.2]), np.array([0.0, 0.0, 0.0, 0.3])) == 0.0  # small gripper differences pass


def test_the_scripted_operator_takes_over_after_patience_steps_and_hands_back_after_takeover_steps():
    expert = [1.0, 0.0, 0.0, -1.0]
    op = _operator(GateConfig(threshold=0.5, patience=3, takeover_steps=4), expert)
    close, far = np.array([0.9, 0.0, 0.0, -1.0], np.float32), np.array([-1.0, 0.0, 0.0, -1.0], np.float32)
    owns = [op.step(None, {}, p)[1] for p in [far, far, close, far, far]]
    assert owns == [False] * 5  # the close proposal resets the count
    sent, own = op.step(None, {}, far)
    assert own and np.array_equal(sent, expert)  # third disagreeing step in a row: the operator acts
    owns = [op.step(None, {}, close)[1] for _ in range(4)]
    assert owns == [True, True, True, False]  # 4 steps of control in all, then the policy again
    assert op.takeovers == 1
    op.reset()
    assert op.takeovers == 0 and not op.step(None, {}, far)[1]
    assert op.step(None, {}, None) == (None, False)  # nothing fresh is passed on to the safety layer


def test_gate_settings_are_checked():
    with pytest.raises(ConfigError, match="threshold"):
        GateConfig(threshold=0)
    with pytest.raises(ConfigError, match="patience"):
        GateConfig(patience=0)


def test_the_stream_operator_follows_commands_from_another_thread_until_released():
    op = StreamOperator()
    proposed = np.array([0.1, 0.2, 0.3, 0.4], np.float32)
    assert op.step(None, {}, proposed) == (proposed, False)
    t = threading.Thread(target=op.command, args=([2.0, 0.0, -0.5, 1.0],))
    t.start()
    t.join()
    sent, own = op.step(None, {}, proposed)
    assert own and sent.tolist() == [1.0, 0.0, -0.5, 1.0]  # clipped into the action space
    assert op.step(None, {}, proposed)[1]  # the last command stays in force
    op.release()
    assert op.step(None, {}, proposed) == (proposed, False)
    with pytest.raises(ConfigError, match="operator command: expected 4 finite numbers"):
        op.command([0.0, float("nan"), 0.0, 0.0])
    with pytest.raises(ConfigError, match="expected 4"):
        op.command([0.0, 0.0])
