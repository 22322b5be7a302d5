"""The evaluation runner feeds a multi-frame policy its history, and reports a policy that raises as a crash
(the executor keeps the control loop alive and the layer holds the arm, so without this such an episode
looked like an ordinary 500-step failure)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from vlastack.evaluation import runner
from vlastack.evaluation.runner import EvalConfig, run_episode
from vlastack.policies import PRESETS
from vlastack.policies.untrained import untrained_policy

pytestmark = pytest.mark.slow


@pytest.fixture
def checkpoint(tmp_path, monkeypatch):
    """An untrained two-frame `l1` policy (hash text encoder: no sentence model to load)."""
    monkeypatch.setenv("MUJOCO_GL", "egl")
    config = replace(PRESETS.get("l1").policy, obs_history=2, text_encoder="hash", image_size=(32, 32), channels=(8, 8, 8))
    untrained_policy(config).save_pretrained(tmp_path / "hist2")
    yield tmp_path / "hist2"
    runner.close_envs()  # the simulator's scenes closed now, not at interpreter exit


def test_a_two_frame_policy_gets_two_frames_of_consecutive_steps(checkpoint, monkeypatch):
    import vlastack.policies as policies  # the runner imports batch_from_observation from here at call time

    seen = []

    original = policies.batch_from_observation

    def spy(observations, *args, **kwargs):
        seen.append(observations)
        return original(observations, *args, **kwargs)

    monkeypatch.setattr(policies, "batch_from_observation", spy)
    config = EvalConfig(checkpoint=checkpoint, tasks=("reach-v3",), episodes=1, max_steps=12, execute_steps=4)
    result, _ = run_episode(config, "reach-v3", 0, record=False)
    assert result.error is None and result.steps == 12
    assert len(result.latency_ms) == 3  # asked at steps 0, 4 and 8
    assert all(isinstance(o, list) and len(o) == 2 for o in seen)
    assert seen[0][0] is seen[0][1]  # the episode's first step stands in for the step before it
    # consecutive control steps: at the call of step 4 the older frame is step 3's, neither step 4's nor step 0's
    assert seen[1][0] is not seen[1][1] and seen[1][0] is not seen[0][0]


def test_a_policy_that_raises_makes_a_crashed_episode_with_the_reason(checkpoint, monkeypatch):
    def broken(self, observation):
        raise RuntimeError("weights went missing")

    monkeypatch.setattr(runner._LocalPolicy, "__call__", broken)
    config = EvalConfig(checkpoint=checkpoint, tasks=("reach-v3",), episodes=1, max_steps=8)
    result, _ = run_episode(config, "reach-v3", 0, record=False)
    assert not result.success and result.error is not None
    assert "the policy failed" in result.error and "RuntimeError: weights went missing" in result.error
