"""``run_assisted`` step by step with a fake environment, policy and operator: who acts, what is
recorded, and that the step which hands back acts on a chunk planned there."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from vlastack.improve.interventions import EXPERT_ACTION, INTERVENTION, POLICY_ACTION, count_takeovers, run_assisted
from vlastack.types import ActionChunk, Observation


class _Env:
    """Twelve steps of nothing: the observation carries the step index in its state."""

    def __init__(self) -> None:
        self.config = SimpleNamespace(task="fake-v3")
        self.action_space = SimpleNamespace(shape=(4,))
        self.instruction = "do nothing"
        self.sent: list[np.ndarray] = []

    def _obs(self) -> tuple[Observation, dict]:
        obs = Observation(images={}, state=np.array([len(self.sent), 0, 0, 0], np.float32), instruction=self.instruction)
        return obs, {"privileged": np.zeros(39), "success": False}

    def reset(self, seed=None):
        self.sent = []
        return self._obs()

    def step(self, action):
        self.sent.append(np.asarray(action, np.float32))
        obs, info = self._obs()
        return obs, 0.0, False, len(self.sent) >= 12, info


class _Policy:
    """Each chunk's actions are all (step it was planned at) / 100, so an action says where it came from."""

    def __call__(self, observation):
        step = float(observation.state[0])
        return ActionChunk(np.full((1, 8, 4), step / 100, np.float32))


class _Operator:
    """Takes over at steps 3-5 with the action -1 (whatever the policy proposes)."""

    def reset(self) -> None:
        self.t = -1

    def step(self, observation, info, proposed):
        self.t += 1
        return (np.full(4, -1.0, np.float32), True) if 3 <= self.t <= 5 else (proposed, False)


def test_the_operator_acts_in_its_steps_and_the_hand_back_step_plans_afresh():
    env = _Env()
    result = run_assisted(env, _Policy(), _Operator(), seed=0, safety=None, execute_steps=4)
    sent = np.stack(env.sent)[:, 0]
    planned_at = [0, 0, 0, -100, -100, -100, 6, 6, 6, 6, 10, 10]  # x100; -100: the operator's -1
    assert np.allclose(sent * 100, planned_at)  # step 6 hands back and acts on a chunk planned at step 6
    frames = result.episode.frames
    assert frames[INTERVENTION].reshape(-1).tolist() == [False] * 3 + [True] * 3 + [False] * 6
    proposals = frames[POLICY_ACTION][:, 0] * 100
    assert np.allclose(proposals[:6], [0, 0, 0, 0, 4, 4])  # the policy is asked during the takeover too
    assert np.allclose(proposals[6], 6)
    assert result.takeovers == 1 and result.intervention_frames == 3


class _LabellingOperator(_Operator):
    """The same operator, which also says what it would send at every step (its label): -(step + 1) / 100."""

    def step(self, observation, info, proposed):
        out = super().step(observation, info, proposed)
        self.label = np.full(4, -(self.t + 1) / 100, np.float32)
        return out


def test_an_operator_with_labels_labels_every_frame_whoever_acted():
    env = _Env()
    frames = run_assisted(env, _Policy(), _LabellingOperator(), seed=0, safety=None, execute_steps=4).episode.frames
    assert np.allclose(frames[EXPERT_ACTION][:, 0] * 100, -np.arange(1, 13))  # the policy's steps too
    assert frames[EXPERT_ACTION].shape == (12, 4)
    assert EXPERT_ACTION not in run_assisted(_Env(), _Policy(), _Operator(), seed=0, safety=None, execute_steps=4).episode.frames


def test_count_takeovers_counts_runs_of_operator_steps():
    assert count_takeovers([]) == 0
    assert count_takeovers([True, True, False, True, False, False, True]) == 3
    assert count_takeovers(np.array([[False], [True], [True]])) == 1
