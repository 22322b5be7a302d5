"""l1 on the frozen trunk trained from cached maps (``TrainConfig.feature_cache``): the cached path gives the
features the trunk gives on the same frame (up to float16 rounding), training on it never runs the trunk,
acting still does, and the shift augmentation moves the maps as the image shift would.
Weights here are random (a stand-in for the ImageNet file, so the tests do not need the package)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from vlastack import keys
from vlastack.errors import ConfigError, DatasetError
from vlastack.policies.base import fake_samples, stack_samples
from vlastack.policies.components.frozen_features import TrunkFeatureEncoder, grid_index, grid_offsets, shift_maps
from vlastack.policies.registry import policy_class
from vlastack.policies.untrained import untrained_policy
from vlastack.train_config import TrainConfig

CAM = keys.image_key("corner2")


def _cfg(cfg_for, **overrides):
    # l1-debug's tiny head at 32 px; the trunk's stride-8 map is then 40 x 4 x 4
    return cfg_for("l1-debug", **{"vision": "effnet_lite0", "vision_stride": 8, "vision_width": 8, **overrides})


def _batches(cfg, policy, n: int = 4, size: int = 24, seed: int = 5, shifts: int = 1):
    """The same uint8 frames (recorded at ``size`` px, resized to the policy's 32 like a dataset's) as an image
    batch and as a batch of their cached float16 maps (observation and frames ahead), everything else shared."""
    samples = fake_samples(cfg, n, seed=seed)
    g = np.random.default_rng(seed)
    encoder = policy.trunk_feature_encoder(shifts)
    ahead = len(cfg.future_frame_offsets)
    for s in samples:
        frames = g.integers(0, 256, (cfg.obs_history + ahead, 3, size, size), dtype=np.uint8)
        s[CAM] = torch.from_numpy(frames[: cfg.obs_history]).float() / 255.0
        maps = torch.from_numpy(encoder(frames)).half()
        s[keys.cached_key(CAM)] = maps[: cfg.obs_history]
        if ahead:
            s[keys.future_key(CAM)] = torch.from_numpy(frames[cfg.obs_history :]).float() / 255.0
            s[keys.future_key(keys.cached_key(CAM))] = maps[cfg.obs_history :]
    images = [{k: v for k, v in s.items() if not k.endswith(keys.cached_key(CAM))} for s in samples]
    cached = [{k: v for k, v in s.items() if k not in (CAM, keys.future_key(CAM))} for s in samples]
    return stack_samples(images), stack_samples(cached)


def test_cached_maps_give_the_trunks_features_up_to_float16_rounding(cfg_for, fake_imagenet):
    cfg = _cfg(cfg_for, obs_history=2)
    policy = untrained_policy(cfg, samples=8, data_seed=2).eval()
    images, cached = _batches(cfg, policy)
    assert cached.features[keys.cached_key(CAM)].shape == (4, 2, 40, 4, 4)
    a, b = policy.image_features(images), policy.image_features(cached)
    assert a.shape == b.shape == (4, 2 * policy.encoder.out_dim)
    # exactly the trunk's path once its output is rounded to float16, the cache's storage precision
    hook = policy.encoder.trunk.register_forward_hook(lambda module, inputs, out: out.half().float())
    try:
        rounded = policy.image_features(images)
    finally:
        hook.remove()
    torch.testing.assert_close(b, rounded, rtol=1e-5, atol=1e-5)
    # and that rounding moves the features far less than another frame does (frames differ: not trivially equal)
    between = torch.cdist(a, a)[~torch.eye(4, dtype=torch.bool)].min()
    assert (b - a).norm(dim=1).max() < 0.1 * between
    # the encoder's maps are the trunk's own on the resized frame
    frames = (images.features[CAM][:, 0] * 255).round().to(torch.uint8).numpy()
    resized = torch.nn.functional.interpolate(images.features[CAM][:, 0], size=(32, 32), mode="bilinear", align_corners=False)
    np.testing.assert_allclose(policy.trunk_feature_encoder()(frames), policy.encoder.trunk(resized).numpy(), rtol=1e-5, atol=1e-5)


def test_training_on_cached_maps_never_runs_the_trunk_and_acting_still_does(cfg_for, fake_imagenet, monkeypatch):
    cfg = _cfg(cfg_for, augment_shift=4, future_weight=0.5, future_offset=2)
    policy = untrained_policy(cfg, samples=8, data_seed=2).train()
    images, cached = _batches(cfg, policy)
    trunk = policy.encoder.trunk
    calls = []
    real_forward = trunk.forward
    monkeypatch.setattr(trunk, "forward", lambda x: calls.append(x.shape) or real_forward(x))
    opt = torch.optim.AdamW([p for p in policy.parameters() if p.requires_grad], lr=1e-2)
    for _ in range(2):
        loss = policy.compute_loss(cached).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert calls == []  # neither the observation nor the frames ahead went through the trunk
    assert {"loss_l1", "loss_future"} <= set(policy.last_terms) and torch.isfinite(loss)
    assert policy.encoder.adapter.weight.grad.abs().sum() > 0
    policy.sample_actions(images)  # acting: the trunk on the real frame
    assert calls == [(4, 3, 32, 32)]
    with pytest.raises(DatasetError, match="'observation.images.corner2'"):
        policy.sample_actions(cached)  # a cached batch cannot act: acting reads the frames themselves


def test_the_map_shift_moves_maps_by_the_image_shift_in_cells():
    torch.manual_seed(0)
    maps = torch.rand(3, 5, 4, 6)
    centre = (torch.full((3,), 4), torch.full((3,), 4))
    torch.testing.assert_close(shift_maps(maps, 4, 16, centre), maps)  # offset = pad: no shift
    # offset 0 in x with pad = stride: one whole cell right; the left column is the border replicated
    right = shift_maps(maps, 8, 8, (torch.zeros(3, dtype=torch.long), torch.full((3,), 8)))
    torch.testing.assert_close(right[..., 1:], maps[..., :-1])
    torch.testing.assert_close(right[..., 0], maps[..., 0])
    # a sub-cell shift (4 px at stride 16 = a quarter cell) blends neighbours: shape kept, values within the input's range
    offsets = (torch.tensor([0, 4, 3]), torch.tensor([4, 0, 5]))  # sample 0: 4 px right, none down
    out = shift_maps(maps, 4, 16, offsets)
    assert out.shape == maps.shape
    assert out.min() >= maps.min() - 1e-6 and out.max() <= maps.max() + 1e-6
    torch.testing.assert_close(out[0, :, :, 1:], 0.75 * maps[0, :, :, 1:] + 0.25 * maps[0, :, :, :-1])
    with pytest.raises(ValueError, match=r"shift_maps: offsets have shapes \(2,\)"):
        shift_maps(maps, 4, 16, (torch.zeros(2), torch.zeros(2)))


def test_a_shift_grid_cache_holds_the_exact_maps_of_the_shifted_frames(cfg_for, fake_imagenet):
    cfg = _cfg(cfg_for, augment_shift=4, obs_history=2)
    policy = untrained_policy(cfg, samples=8, data_seed=2).train()
    images, cached = _batches(cfg, policy, shifts=3)
    assert cached.features[keys.cached_key(CAM)].shape == (4, 2, 9, 40, 4, 4)
    task = policy.task(policy.text(images.instruction, policy.device))
    torch.manual_seed(3)
    offsets = grid_offsets(4 * 2, 4, 3)
    assert set(offsets[0].tolist()) | set(offsets[1].tolist()) <= {0, 4, 8} and len(set(offsets[0].tolist())) > 1
    exact = policy._image_features(images, task, augment=True, shifts=offsets)  # the trunk on the shifted images
    from_cache = policy._image_features(cached, task, augment=True, shifts=offsets)
    hook = policy.encoder.trunk.register_forward_hook(lambda module, inputs, out: out.half().float())
    try:
        rounded = policy._image_features(images, task, augment=True, shifts=offsets)
    finally:
        hook.remove()
    torch.testing.assert_close(from_cache, rounded, rtol=1e-5, atol=1e-5)  # exact up to the float16 storage
    assert (from_cache - exact).abs().max() < 0.1 * (exact - policy._image_features(images, task, augment=False)).abs().max()
    # without augmentation the centre map, the unshifted frame
    torch.testing.assert_close(policy.image_features(cached), policy.image_features(images), rtol=2e-3, atol=2e-3)
    # and a training step draws offsets on the grid without running the trunk
    policy.encoder.trunk.forward = lambda x: pytest.fail("the trunk ran while training on the cache")
    assert torch.isfinite(policy.compute_loss(cached)).all()
    torch.testing.assert_close(grid_index(offsets, 4, 3), offsets[1] // 4 * 3 + offsets[0] // 4)
    with pytest.raises(ValueError, match=r"not all on the cached shift grid \[0, 4, 8\]"):
        grid_index((torch.tensor([0, 3]), torch.tensor([4, 4])), 4, 3)


def test_bad_cached_inputs_are_named(cfg_for, fake_imagenet):
    cfg = _cfg(cfg_for)
    policy = untrained_policy(cfg, samples=4, data_seed=2).train()
    _, cached = _batches(cfg, policy, n=2)
    cached.features[keys.cached_key(CAM)] = cached.features[keys.cached_key(CAM)][..., :2, :]  # a cache of another image size
    with pytest.raises(DatasetError, match=r"cached.observation.images.corner2 has shape \[2, 1, 40, 2, 4\].*expects \[B, 1, 40, 4, 4\]"):
        policy.compute_loss(cached)
    cnn = cfg_for("l1-debug")
    assert policy_class(cnn).feature_cache_encoder(cnn) is None
    enc = policy_class(cfg).feature_cache_encoder(cfg)
    assert isinstance(enc, TrunkFeatureEncoder) and enc.frame_shape == (40, 4, 4) and enc.name == "effnet_lite0-s8-32x32"
    assert enc.identity["weights_sha256"] == policy.trunk_feature_encoder().identity["weights_sha256"]
    other = policy_class(cfg).feature_cache_encoder(_cfg(cfg_for, vision_stride=16))
    assert other.identity["weights_sha256"] != enc.identity["weights_sha256"] and other.name != enc.name
    with pytest.raises(ConfigError, match="feature_cache_shifts=3 caches shifted frames, but .* has augment_shift=0"):
        policy_class(cfg).feature_cache_encoder(_cfg(cfg_for, augment_shift=0), 3)
    with pytest.raises(ConfigError, match="TrainConfig.feature_cache_shifts: must be odd"):
        TrainConfig(feature_cache=True, feature_cache_shifts=2)
    cnn_policy = untrained_policy(cnn, samples=4, data_seed=2)
    batch = stack_samples(fake_samples(cnn, 2, seed=1))
    batch.features[keys.cached_key(CAM)] = torch.zeros(2, 1, 40, 4, 4)
    with pytest.raises(DatasetError, match="has no frozen trunk"):
        cnn_policy.compute_loss(batch)


def test_vlastack_train_builds_the_cache_once_and_then_trains_without_the_trunk(tmp_path, fake_imagenet, monkeypatch):
    from typer.testing import CliRunner

    import vlastack.cli.train  # noqa: F401  (registers the command)
    from vlastack.cli.app import app
    from vlastack.episodes.writer import DatasetWriter
    from vlastack.policies.components.effnet_lite import FrozenEffNetTrunk
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
    base = ["train", "--preset", "l1-debug", "--dataset", str(tmp_path / "data"), "--steps", "3", "--no-progress"]
    base += ["--set", 'policy.vision="effnet_lite0"', "--set", "policy.vision_stride=8", "--set", "policy.vision_width=8"]
    base += ["--set", "policy.future_weight=0.5", "--set", "policy.future_offset=2"]  # the frames ahead come from the cache too
    first = CliRunner().invoke(app, [*base, "--out", str(tmp_path / "a"), "--set", "train.feature_cache=true"])
    assert first.exit_code == 0, first.output
    assert sum(calls) == 16  # every frame once, to build the cache; none while training
    built = sorted(p.name for p in (tmp_path / "data" / "cache").iterdir())
    assert built == [f"{CAM}.effnet_lite0-s8-32x32-{built[0].rsplit('-', 1)[1][:-4]}.{s}" for s in ("bin", "json")]
    run = json.loads((tmp_path / "a" / "run.json").read_text())
    assert run["train"]["feature_cache"] and run["feature_cache"]["identity"]["output_stride"] == 8
    calls.clear()
    second = CliRunner().invoke(app, [*base, "--out", str(tmp_path / "b"), "--set", "train.feature_cache=true"])
    assert second.exit_code == 0, second.output
    assert calls == []  # the cache is reused, and training never runs the trunk
    grid = ["--set", "train.feature_cache_shifts=3", "--set", "policy.augment_shift=2"]
    third = CliRunner().invoke(app, [*base, "--out", str(tmp_path / "g"), "--set", "train.feature_cache=true", *grid])
    assert third.exit_code == 0, third.output
    assert sum(calls) == 16 * 9  # every frame at each of the 9 shifts, once; a cache of its own beside the first
    assert (
        len(list((tmp_path / "data" / "cache").glob("*-shift2x3-*.bin"))) == 1 and len(list((tmp_path / "data" / "cache").iterdir())) == 4
    )
    refused = CliRunner().invoke(
        app,
        [
            "train",
            "--preset",
            "l1-debug",
            "--dataset",
            str(tmp_path / "data"),
            "--out",
            str(tmp_path / "c"),
            "--set",
            "train.feature_cache=true",
        ],
    )
    assert refused.exit_code != 0 and "train.feature_cache" in str(refused.exception)
