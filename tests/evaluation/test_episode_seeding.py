"""Evaluation episodes are reproducible: the flow policy's sampling noise is seeded per episode."""

from __future__ import annotations

import numpy as np
import pytest

from vlastack.assets import DEMO_POLICY
from vlastack.envs.metaworld import make_env
from vlastack.evaluation.runner import _LocalPolicy

pytestmark = pytest.mark.slow


def test_same_episode_seed_gives_the_same_actions_and_another_seed_does_not(monkeypatch):
    monkeypatch.setenv("MUJOCO_GL", "egl")
    policy = _LocalPolicy(DEMO_POLICY)  # the shipped flow policy: its actions start from random noise
    env = make_env("drawer-open-v3", cameras=policy.cameras, image_size=policy.image_size, touch=True)
    try:
        observation, _ = env.reset(seed=100000)
    finally:
        env.close()
    policy.reset(100000)
    first = policy(observation).actions
    policy(observation)  # advances the generator, as a running episode would
    policy.reset(100000)
    again = policy(observation).actions
    policy.reset(100001)
    other = policy(observation).actions
    np.testing.assert_array_equal(first, again)
    assert not np.allclose(first, other), "a different episode seed should draw different noise"
