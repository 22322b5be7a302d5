"""Evaluation episodes are reproducible: the flow policy's sampling noise is seeded per episode."""

from __future__ import annotations

import numpy as np
import pytest

from vlastack.envs.metaworld import make_env
from vlastack.evaluation.runner import _LocalPolicy
from vlastack.policies import PRESETS
from vlastack.policies.untrained import untrained_policy

pytestmark = pytest.mark.slow


def test_same_episode_seed_gives_the_same_actions_and_another_seed_does_not(monkeypatch, tmp_path):
    from dataclasses import replace

    monkeypatch.setenv("MUJOCO_GL", "egl")
    flow = replace(PRESETS.get("debug").policy, variant="flow", tokenizer=None)  # its actions start from random noise
    untrained_policy(flow).save_pretrained(tmp_path / "flow")
    policy = _LocalPolicy(tmp_path / "flow")
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
