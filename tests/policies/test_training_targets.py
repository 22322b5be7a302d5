"""Training-only targets: privileged state supervises the l1 trunk in training and is never an input.

The l1 policy's ``aux_state_weight`` reads ``observation.environment_state`` back out of its image
features; the dataset loads it at the current frame only when a config asks for it, and inference
works without it.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from vlastack import keys
from vlastack.data.windows import WindowDataset
from vlastack.episodes.reader import DatasetReader
from vlastack.episodes.video import VideoSettings
from vlastack.episodes.writer import DatasetWriter
from vlastack.errors import DatasetError
from vlastack.policies.base import fake_samples, stack_samples
from vlastack.policies.untrained import untrained_policy


@pytest.fixture
def env_dataset(tmp_path, make_episode):
    """Two episodes whose frames also carry a 6-d environment state (frame t's row is t, t+0.1, ...)."""
    writer = DatasetWriter(tmp_path / "ds", video=VideoSettings(codec="h264-lossless", crf=0))
    for seed, n in ((0, 5), (1, 7)):
        ep = make_episode(n, seed)
        ep.frames[keys.ENV_STATE] = (np.arange(n)[:, None] + np.arange(6)[None] / 10).astype(np.float32)
        writer.add_episode(ep)
    return DatasetReader(tmp_path / "ds")


def test_dataset_loads_targets_at_the_current_frame_only_when_asked(env_dataset):
    plain = WindowDataset(env_dataset, obs_history=2, action_horizon=3)
    assert keys.ENV_STATE not in plain[0]
    ds = WindowDataset(env_dataset, obs_history=2, action_horizon=3, targets=(keys.ENV_STATE,))
    sample = ds[8]  # episode 1, frame 3
    assert sample[keys.FRAME_INDEX] == 3
    assert sample[keys.ENV_STATE].shape == (6,)
    np.testing.assert_allclose(sample[keys.ENV_STATE].numpy(), 3 + np.arange(6) / 10, atol=1e-6)


def test_missing_target_feature_is_a_clear_error(tmp_path, make_episode, cfg_for):
    writer = DatasetWriter(tmp_path / "ds", video=VideoSettings(codec="h264-lossless", crf=0))
    writer.add_episode(make_episode(4, 0))
    reader = DatasetReader(tmp_path / "ds")
    with pytest.raises(DatasetError, match=keys.ENV_STATE):
        WindowDataset(reader, targets=(keys.ENV_STATE,))
    cfg = cfg_for("l1-debug", aux_state_weight=1.0, aux_state_dim=6)
    with pytest.raises(DatasetError, match=keys.ENV_STATE):
        cfg.check_dataset_features(reader.features)


def test_config_asks_for_targets_only_with_a_weight(cfg_for):
    assert cfg_for("l1-debug").training_targets == {}
    assert cfg_for("l1-debug", aux_state_weight=0.5, aux_state_dim=6).training_targets == {keys.ENV_STATE: 6}


def test_aux_loss_trains_the_readout_and_inference_needs_no_privileged_state(cfg_for):
    torch.manual_seed(0)
    cfg = cfg_for("l1-debug", aux_state_weight=1.0, aux_state_dim=6, augment_shift=0)
    policy = untrained_policy(cfg, samples=4, data_seed=7)
    batch = stack_samples(fake_samples(cfg, 4, seed=7))
    assert batch.features[keys.ENV_STATE].shape == (4, 6)
    opt = torch.optim.AdamW(policy.parameters(), lr=3e-3, weight_decay=0.0)
    policy.train()
    aux = []
    for _ in range(150):
        loss = policy.compute_loss(batch).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        aux.append(policy.last_terms["loss_aux"])
    assert np.mean(aux[-10:]) < aux[0] / 5, f"auxiliary loss {aux[0]:.3f} -> {np.mean(aux[-10:]):.3f}"
    without = stack_samples(fake_samples(cfg, 2, seed=1, with_action=False))
    assert keys.ENV_STATE not in without.features
    chunk = policy.eval().sample_actions(without)
    assert chunk.actions.shape == (2, cfg.horizon, cfg.action_dim) and np.isfinite(chunk.actions).all()
    with pytest.raises(DatasetError, match=keys.ENV_STATE):
        policy.train().compute_loss(stack_samples([{k: v for k, v in s.items() if k != keys.ENV_STATE} for s in fake_samples(cfg, 2)]))


@pytest.mark.parametrize("noise", [{"state_noise": 1.0}, {"text_noise": 0.5}])
def test_state_and_text_noise_only_in_training(cfg_for, noise):
    cfg = cfg_for("l1-debug", augment_shift=0, **noise)
    policy = untrained_policy(cfg, samples=4, data_seed=7)
    batch = stack_samples(fake_samples(cfg, 2, seed=1))
    policy.eval()
    a, b = policy.sample_actions(batch).actions, policy.sample_actions(batch).actions
    np.testing.assert_array_equal(a, b)  # inference is deterministic: no noise
    policy.train()
    torch.manual_seed(0)
    first = policy.compute_loss(batch)
    torch.manual_seed(1)
    assert not torch.allclose(first, policy.compute_loss(batch)), f"training sees noise ({noise})"


def test_without_state_the_actions_do_not_depend_on_it(cfg_for):
    cfg = cfg_for("l1-debug", use_state=False, augment_shift=0)
    policy = untrained_policy(cfg, samples=4, data_seed=7).eval()
    batch = stack_samples(fake_samples(cfg, 2, seed=1))
    moved = stack_samples(fake_samples(cfg, 2, seed=1))
    moved.features[keys.STATE] = moved.features[keys.STATE] + 5.0  # the hand far elsewhere
    np.testing.assert_array_equal(policy.sample_actions(batch).actions, policy.sample_actions(moved).actions)
    with_state = untrained_policy(cfg_for("l1-debug", augment_shift=0), samples=4, data_seed=7).eval()
    assert not np.array_equal(with_state.sample_actions(batch).actions, with_state.sample_actions(moved).actions)
    first = policy.head[0].in_features
    assert first == with_state.head[0].in_features - cfg.state_dim * cfg.obs_history  # no inputs spent on it
