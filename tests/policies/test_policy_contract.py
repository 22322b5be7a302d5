"""Contract tests run over every preset: shapes, no mutation, save -> load -> same actions, bad input."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from vlastack import keys
from vlastack.errors import CheckpointError, DatasetError
from vlastack.policies import Policy, VLAConfig, VLAPolicy, fake_batch, load_policy
from vlastack.types import ActionChunk


def _snapshot(batch):
    return {k: v.clone() for k, v in batch.features.items()}, list(batch.instruction)


def _unchanged(batch, snap) -> bool:
    feats, instr = snap
    return set(feats) == set(batch.features) and all(torch.equal(feats[k], batch.features[k]) for k in feats) and instr == batch.instruction


def test_shapes_and_no_mutation(preset_policy: Policy):
    cfg = preset_policy.config
    batch = fake_batch(cfg, batch_size=3, seed=2)
    snap = _snapshot(batch)
    preset_policy.train()
    loss = preset_policy.compute_loss(batch)
    assert loss.shape == (3,) and torch.isfinite(loss).all()
    loss.mean().backward()
    assert _unchanged(batch, snap)
    chunk = preset_policy.sample_actions(batch)
    assert isinstance(chunk, ActionChunk)
    assert chunk.actions.shape == (3, cfg.horizon, cfg.action_dim) and chunk.actions.dtype == np.float32
    assert np.isfinite(chunk.actions).all() and chunk.inference_ms > 0
    assert _unchanged(batch, snap)
    assert preset_policy.training  # sample_actions restores the mode


def test_save_load_identical_actions(preset_policy: Policy, tmp_path):
    cfg = preset_policy.config
    batch = fake_batch(cfg, batch_size=2, seed=3, with_action=False)
    shape = preset_policy.noise_shape(2)
    noise = None if shape is None else torch.randn(shape, generator=torch.Generator().manual_seed(0))
    before = preset_policy.sample_actions(batch, noise=noise).actions
    preset_policy.save_pretrained(tmp_path / "ckpt")
    for name in ("config.json", "model.safetensors", "normalization.safetensors"):
        assert (tmp_path / "ckpt" / name).is_file()
    assert (tmp_path / "ckpt" / "tokenizer" / "tokenizer.json").is_file() == bool(getattr(cfg, "uses_tokens", False))
    loaded = load_policy(tmp_path / "ckpt", expect=cfg)
    after = loaded.sample_actions(batch, noise=noise).actions
    np.testing.assert_array_equal(before, after)
    # the loss is the same function too (same seed for noise and times)
    full = fake_batch(cfg, batch_size=2, seed=3)
    preset_policy.eval(), loaded.eval()
    torch.manual_seed(5)
    a = preset_policy.compute_loss(full)
    torch.manual_seed(5)
    b = loaded.compute_loss(full)
    torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_padded_steps_are_excluded_from_the_losses(preset_policy: Policy):
    """L1 loss and binned-token loss: unchanged when padded steps change (FAST mixes steps, see token_head).
    Flow loss: zero gradient on the velocity at padded steps and padded action dims."""
    cfg = preset_policy.config
    preset_policy.eval()
    batch = fake_batch(cfg, batch_size=2, seed=4)
    pad = batch.features[keys.ACTION + keys.PAD_SUFFIX]
    assert pad[0].any() and not pad[1].any()
    other = fake_batch(cfg, batch_size=2, seed=4)
    other.features[keys.ACTION][pad] = -0.9  # change only the padded steps
    if not isinstance(cfg, VLAConfig):  # a deterministic regression loss: padded steps must not count at all
        torch.testing.assert_close(preset_policy.compute_loss(batch), preset_policy.compute_loss(other), rtol=0, atol=0)
        return
    if cfg.tokenizer_kind == "bins":
        torch.testing.assert_close(preset_policy.loss_terms(batch)["tokens"], preset_policy.loss_terms(other)["tokens"], rtol=0, atol=0)
    if cfg.uses_flow:
        seen = {}

        def keep(module, inputs, out):
            out.retain_grad()
            seen["v"] = out

        hook = preset_policy.expert.action_out.register_forward_hook(keep)
        try:
            preset_policy.loss_terms(batch)["flow"].sum().backward()
        finally:
            hook.remove()
        g = seen["v"].grad.abs()  # [B, H, max_action_dim]
        assert g[pad].sum() == 0 and g[..., cfg.action_dim :].sum() == 0
        assert (g[~pad][:, : cfg.action_dim] > 0).all()


def test_checkpoint_of_another_variant_is_refused(tmp_path, cfg_for, policy_for):
    flow = policy_for(cfg_for("debug", variant="flow", tokenizer=None))
    flow.save_pretrained(tmp_path / "flow")
    with pytest.raises(CheckpointError, match=r"'flow' checkpoint .* expected variant 'hybrid'"):
        VLAPolicy.from_pretrained(tmp_path / "flow", expect="hybrid")
    with pytest.raises(CheckpointError, match="variant: expected 'hybrid', checkpoint has 'flow'"):
        VLAPolicy.from_pretrained(tmp_path / "flow", expect=cfg_for("debug"))


def test_corrupt_or_missing_files_are_named(tmp_path, cfg_for, policy_for):
    policy = policy_for(cfg_for("debug"))
    policy.save_pretrained(tmp_path / "c")
    path = tmp_path / "c" / "model.safetensors"
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(CheckpointError, match="model.safetensors is corrupt or truncated"):
        load_policy(tmp_path / "c")
    (tmp_path / "c" / "normalization.safetensors").unlink()
    policy.save_pretrained(tmp_path / "d")
    (tmp_path / "d" / "normalization.safetensors").unlink()
    with pytest.raises(CheckpointError, match="normalization.safetensors is missing"):
        load_policy(tmp_path / "d")
    with pytest.raises(CheckpointError, match="does not exist"):
        load_policy(tmp_path / "nowhere")


def test_weights_of_another_shape_are_refused(tmp_path, cfg_for, policy_for):
    policy_for(cfg_for("debug")).save_pretrained(tmp_path / "small")
    other = policy_for(cfg_for("debug", d_model=64))
    with pytest.raises(CheckpointError, match="shape mismatches"):
        other.load_weights(tmp_path / "small")


def test_dataset_feature_mismatch_is_named(cfg_for, policy_for):
    cfg = cfg_for("hybrid")
    good = {
        keys.image_key("corner2"): {"dtype": "video", "shape": [96, 96, 3]},
        keys.STATE: {"dtype": "float32", "shape": [4]},
        keys.ACTION: {"dtype": "float32", "shape": [4]},
    }
    cfg.check_dataset_features(good)
    missing_cam = {**good}
    del missing_cam[keys.image_key("corner2")]
    missing_cam[keys.image_key("topview")] = good[keys.image_key("corner2")]
    with pytest.raises(DatasetError, match=r"no camera 'corner2' .*'hybrid'.*topview"):
        cfg.check_dataset_features(missing_cam)
    wrong_dim = {**good, keys.ACTION: {"dtype": "float32", "shape": [7]}}
    with pytest.raises(DatasetError, match=r"'action' has shape \[7\] but preset 'hybrid' .* expects \[4\]"):
        cfg.check_dataset_features(wrong_dim)
    batch = fake_batch(cfg, 1)
    del batch.features[keys.image_key("corner2")]
    with pytest.raises(DatasetError, match="no feature 'observation.images.corner2'"):
        policy_for(cfg_for("debug")).sample_actions(batch)


def test_packed_inference_gives_the_same_actions(preset_policy: Policy, tmp_path):
    """The opt-in CPU fast path agrees with the module path for every preset, and survives save -> load -> pack."""
    cfg = preset_policy.config
    batch = fake_batch(cfg, batch_size=2, seed=6, with_action=False)
    shape = preset_policy.noise_shape(2)
    noise = None if shape is None else torch.randn(shape, generator=torch.Generator().manual_seed(1))
    preset_policy.eval()
    plain = preset_policy.sample_actions(batch, noise=noise).actions
    preset_policy.reset()  # a new episode: a hierarchical policy's plan must not move on between the two calls
    packed = preset_policy.pack_for_inference().sample_actions(batch, noise=noise).actions
    np.testing.assert_allclose(packed, plain, atol=1e-5, rtol=1e-5)
    preset_policy.save_pretrained(tmp_path / "p")
    reloaded = load_policy(tmp_path / "p").pack_for_inference().sample_actions(batch, noise=noise).actions
    np.testing.assert_array_equal(reloaded, packed)
