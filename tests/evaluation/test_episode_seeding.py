"""Evaluation episodes are reproducible: the flow policy's sampling noise is seeded per episode."""

from __future__ import annotations

import numpy as np
import pytest

from vlastack.envs.metaworld import make_env
from vlastack.evaluation.runner import _LocalPolicy
from vlastack.policies import PRESETS
from vlastack.policies.untrained import untrained_policy

pytestmark = pytest.mark.slow


@pytest.fixture
def flow_and_observation(monkeypatch, tmp_path):
    """An untrained flow policy (its actions start from random noise) loaded as the runner loads one, and the first
    observation of drawer-open-v3 at seed 100000."""
    from dataclasses import replace

    monkeypatch.setenv("MUJOCO_GL", "egl")
    flow = replace(PRESETS.get("debug").policy, variant="flow", tokenizer=None)
    untrained_policy(flow).save_pretrained(tmp_path / "flow")
    policy = _LocalPolicy(tmp_path / "flow")
    env = make_env("drawer-open-v3", cameras=policy.cameras, image_size=policy.image_size, touch=True)
    try:
        observation, _ = env.reset(seed=100000)
    finally:
        env.close()
    return policy, observation


def test_same_episode_seed_gives_the_same_actions_and_another_seed_does_not(flow_and_observation):
    policy, observation = flow_and_observation
    policy.reset(100000)
    first = policy(observation).actions
    policy(observation)  # advances the generator, as a running episode would
    policy.reset(100000)
    again = policy(observation).actions
    policy.reset(100001)
    other = policy(observation).actions
    np.testing.assert_array_equal(first, again)
    assert not np.allclose(first, other), "a different episode seed should draw different noise"


def test_a_sampling_policy_gives_its_own_next_samples_as_the_guardrails_alternatives(flow_and_observation, tmp_path):
    from vlastack.evaluation.runner import _policy_samples

    policy, observation = flow_and_observation
    untrained_policy(PRESETS.get("l1-debug").policy).save_pretrained(tmp_path / "l1")
    samples = _policy_samples(policy, observation, 3, np.random.default_rng(0))
    own = policy(observation).actions[0]
    assert samples.shape == (3, *own.shape) and samples.dtype == np.float32
    assert not np.allclose(samples[0], samples[1])  # three draws, not one repeated
    np.testing.assert_array_equal(samples, _policy_samples(policy, observation, 3, np.random.default_rng(0)))
    assert _policy_samples(_LocalPolicy(tmp_path / "l1"), observation, 3, np.random.default_rng(0)) is None  # deterministic
