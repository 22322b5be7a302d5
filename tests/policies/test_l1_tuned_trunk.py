"""l1 with the frozen trunk's last blocks fine-tuned (``L1Config.vision_tune_blocks``): the frozen part plus the tuned
blocks compute exactly the whole trunk at the start, only the tuned blocks (and the head) learn, their BatchNorm
statistics never move, the optimizer gives them their own learning rate, the feature cache holds the map where the
frozen part ends, and a checkpoint round-trips. Weights are random (a stand-in for the ImageNet file)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from vlastack import keys
from vlastack.errors import ConfigError
from vlastack.policies import load_policy
from vlastack.policies.base import fake_samples, stack_samples
from vlastack.policies.components.effnet_lite import FrozenEffNetTrunk, TunedEffNetBlocks, trunk_cut
from vlastack.policies.registry import policy_class
from vlastack.policies.untrained import untrained_policy
from vlastack.train_config import TrainConfig
from vlastack.training.optim import make_optimizer, set_lr

CAM = keys.image_key("corner2")


def _cfg(cfg_for, **overrides):
    # l1-debug's tiny head at 32 px on the stride-8 trunk (5 blocks); tuning 2 leaves blocks 0-2 frozen (24 ch, stride 4)
    return cfg_for("l1-debug", **{"vision": "effnet_lite0", "vision_stride": 8, "vision_width": 8, "vision_tune_blocks": 2, **overrides})


def test_the_cut_is_where_the_tuned_blocks_begin():
    assert trunk_cut(16, 0) == (11, 112, 16)
    assert trunk_cut(16, 3) == (8, 80, 16)  # stage 5 tuned: the frozen part ends after stage 4
    assert trunk_cut(16, 6) == (5, 40, 8)
    assert trunk_cut(8, 2) == (3, 24, 4)
    with pytest.raises(ValueError, match="tune_blocks must be in"):
        trunk_cut(8, 5)


def test_frozen_part_then_tuned_blocks_is_the_whole_trunk(fake_imagenet):
    weights, _ = fake_imagenet
    x = torch.rand(3, 3, 48, 48)
    whole = FrozenEffNetTrunk(16, weights)(x)
    frozen = FrozenEffNetTrunk(16, weights, tune_blocks=3)
    tuned = TunedEffNetBlocks(16, 3, weights)
    part = frozen(x)
    assert part.shape == (3, 80, 3, 3) and frozen.out_channels == 80 and frozen.output_stride == 16
    with torch.no_grad():
        torch.testing.assert_close(tuned(part), whole, rtol=1e-5, atol=1e-5)
    assert all(p.requires_grad for p in tuned.parameters()) and not any(p.requires_grad for p in frozen.parameters())


def test_only_the_tuned_blocks_and_head_learn_and_batchnorm_statistics_stay(cfg_for, fake_imagenet):
    cfg = _cfg(cfg_for)
    policy = untrained_policy(cfg, samples=8, data_seed=2).train()
    tuned, trunk = policy.encoder.tuned, policy.encoder.trunk
    bns = [m for m in tuned.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert bns and not any(m.training for m in bns)  # policy.train() leaves the tuned blocks' BatchNorms in eval mode
    stats = [m.running_mean.clone() for m in bns]
    frozen_before = {k: v.clone() for k, v in trunk.state_dict().items()}
    conv_before = tuned.blocks[0].depthwise.conv.weight.detach().clone()
    opt = torch.optim.SGD([p for p in policy.parameters() if p.requires_grad], lr=0.5)
    for _ in range(2):
        opt.zero_grad()
        policy.compute_loss(stack_samples(fake_samples(cfg, 8, seed=3))).mean().backward()
        opt.step()
    assert not torch.equal(tuned.blocks[0].depthwise.conv.weight, conv_before)
    assert all(torch.equal(m.running_mean, s) for m, s in zip(bns, stats))
    assert all(torch.equal(v, frozen_before[k]) for k, v in trunk.state_dict().items())


def test_the_optimizer_gives_the_tuned_blocks_their_own_learning_rate(cfg_for, fake_imagenet):
    policy = untrained_policy(_cfg(cfg_for, vision_tune_lr_scale=0.1), samples=8)
    opt = make_optimizer(policy, TrainConfig(lr=1e-3, weight_decay=1e-4))
    set_lr(opt, 1e-3)
    tuned = {id(p) for p in policy.encoder.tuned.parameters()}
    for group in opt.param_groups:
        ids = {id(p) for p in group["params"]}
        want = 1e-4 if ids & tuned else 1e-3
        assert ids <= tuned or not ids & tuned  # a group is all tuned or none
        assert group["lr"] == pytest.approx(want)
    n = sum(len(g["params"]) for g in opt.param_groups)
    assert n == sum(1 for p in policy.parameters() if p.requires_grad)
    # a policy without tuned blocks keeps the two groups it always had
    plain = untrained_policy(_cfg(cfg_for, vision_tune_blocks=0), samples=8)
    assert [g["weight_decay"] for g in make_optimizer(plain, TrainConfig(weight_decay=1e-4)).param_groups] == [1e-4, 0.0]


def test_the_cache_holds_the_frozen_parts_map_and_training_on_it_matches_the_images(cfg_for, fake_imagenet):
    cfg = _cfg(cfg_for)
    policy = untrained_policy(cfg, samples=8, data_seed=2).eval()
    encoder = policy_class(cfg).feature_cache_encoder(cfg)
    assert encoder.name == "effnet_lite0-b3-s4-32x32" and encoder.frame_shape == (24, 8, 8)
    samples = fake_samples(cfg, 3, seed=4)
    g = np.random.default_rng(4)
    for s in samples:
        frames = g.integers(0, 256, (1, 3, 32, 32), dtype=np.uint8)
        s[CAM] = torch.from_numpy(frames).float() / 255.0
        s[keys.cached_key(CAM)] = torch.from_numpy(policy.trunk_feature_encoder()(frames))
    images = stack_samples([{k: v for k, v in s.items() if k != keys.cached_key(CAM)} for s in samples])
    cached = stack_samples([{k: v for k, v in s.items() if k != CAM} for s in samples])
    torch.testing.assert_close(policy.image_features(cached), policy.image_features(images), rtol=1e-4, atol=1e-4)


def test_a_tuned_checkpoint_round_trips(tmp_path, cfg_for, fake_imagenet):
    cfg = _cfg(cfg_for)
    policy = untrained_policy(cfg, samples=8)
    with torch.no_grad():
        policy.encoder.tuned.blocks[-1].project.conv.weight.mul_(1.5)  # tuned away from the ImageNet weights
    policy.eval()
    batch = stack_samples(fake_samples(cfg, 2, seed=5, with_action=False))
    policy.save_pretrained(tmp_path / "p")
    loaded = load_policy(tmp_path / "p")
    assert loaded.config.vision_tune_blocks == 2
    np.testing.assert_array_equal(loaded.sample_actions(batch).actions, policy.sample_actions(batch).actions)


@pytest.mark.parametrize(
    ("overrides", "needle"),
    [
        ({"vision_tune_blocks": 5}, r"vision_tune_blocks: must be in \[0, 4\]"),
        ({"vision_tune_blocks": -1}, "vision_tune_blocks"),
        ({"vision_tune_blocks": 1, "members": 2}, "vision_tune_blocks"),
        ({"vision_tune_lr_scale": -0.1}, "vision_tune_lr_scale"),
        ({"vision": "cnn"}, "vision_tune_blocks: needs a pretrained trunk"),
    ],
)
def test_bad_tuning_settings_name_the_field(cfg_for, overrides, needle):
    with pytest.raises(ConfigError, match=needle):
        _cfg(cfg_for, **overrides)
