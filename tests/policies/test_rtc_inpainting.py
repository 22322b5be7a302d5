"""Real-time chunking in the flow expert: the sampled chunk is inpainted towards committed actions."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from vlastack.errors import ConfigError
from vlastack.policies import fake_batch


@pytest.mark.parametrize("packed", [False, True])
def test_committed_actions_come_back_exactly_and_the_rest_is_still_sampled(policy_for, cfg_for, packed):
    policy = policy_for(cfg_for("debug", num_inference_steps=4)).eval()
    if packed:
        policy.pack_for_inference()
    c = policy.config
    batch = fake_batch(c, 1, seed=3, with_action=False)
    noise = torch.randn(1, c.horizon, c.max_action_dim)
    committed = np.full((2, c.action_dim), 0.3, dtype=np.float32)
    with torch.inference_mode():
        free = policy.sample_actions(batch, noise=noise).actions[0]
        guided = policy.sample_actions(batch, noise=noise, prefix_actions=committed, prefix_weights=np.ones(2)).actions[0]
        loose = policy.sample_actions(batch, noise=noise, prefix_actions=committed, prefix_weights=np.zeros(2)).actions[0]
    np.testing.assert_allclose(guided[:2], committed, atol=1e-4)  # weight 1: the committed steps, exactly
    assert not np.allclose(guided[2:], committed[0], atol=1e-3)  # the steps after them are the policy's own
    np.testing.assert_allclose(loose, free, atol=1e-5)  # weight 0: the same chunk as without a prefix


def test_a_prefix_of_the_wrong_shape_or_weights_is_refused_by_name(policy_for, cfg_for):
    policy = policy_for(cfg_for("debug")).eval()
    c = policy.config
    batch = fake_batch(c, 1, seed=3, with_action=False)
    with pytest.raises(ConfigError, match="prefix_actions"):
        policy.sample_actions(batch, prefix_actions=np.zeros((c.horizon + 1, c.action_dim)))
    with pytest.raises(ConfigError, match="prefix_weights"):
        policy.sample_actions(batch, prefix_actions=np.zeros((2, c.action_dim)), prefix_weights=np.array([1.0, 2.0]))
