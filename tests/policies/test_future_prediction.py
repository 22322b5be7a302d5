"""Future prediction: the l1 policy's training-only loss on its own image features ``future_offset`` frames ahead.

The dataset serves the frames ahead (``future.<stream>``) only when a config asks for them, clamped at
the episode's last frame, from the same frame store as the observation; the target is computed
without gradient; inference, checkpoints and export work without the frames ahead.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from vlastack import keys
from vlastack.data.windows import WindowDataset, collate
from vlastack.episodes.reader import DatasetReader
from vlastack.episodes.video import VideoSettings
from vlastack.episodes.writer import DatasetWriter
from vlastack.errors import ConfigError, DatasetError
from vlastack.policies import load_policy
from vlastack.policies.base import fake_samples, stack_samples
from vlastack.policies.l1.config import L1Config
from vlastack.policies.presets import PRESETS
from vlastack.policies.untrained import untrained_policy
from vlastack.training.checkpoint import export_policy

CAM = keys.image_key("corner2")
AHEAD = keys.future_key(CAM)


@pytest.fixture
def dataset(tmp_path, make_episode):
    """Two episodes (5 and 7 frames) of random, lossless frames, with depth."""
    writer = DatasetWriter(tmp_path / "ds", video=VideoSettings(codec="h264-lossless", crf=0))
    for seed, n in ((0, 5), (1, 7)):
        writer.add_episode(make_episode(n, seed, depth=True))
    return DatasetReader(tmp_path / "ds")


@pytest.mark.parametrize("frames", ["memory", "memmap"])
def test_frames_ahead_are_the_right_ones_and_clamped_at_the_episode_end(dataset, frames, tmp_path):
    plain = WindowDataset(dataset, obs_history=2, action_horizon=3, depth=True)
    assert not any(k.startswith(keys.FUTURE_PREFIX) for k in plain[0])
    cache = {"cache_dir": tmp_path / "cache"} if frames == "memmap" else {}
    ds = WindowDataset(dataset, obs_history=2, action_horizon=3, depth=True, frames=frames, future_offsets=(2, 4), **cache)
    depth = keys.depth_key("corner2")
    for i in range(len(ds)):
        sample = ds[i]
        start = i - sample[keys.FRAME_INDEX]  # the episode's first sample
        n = 5 if sample[keys.EPISODE_INDEX] == 0 else 7
        assert sample[AHEAD].shape == (2, 3, 16, 16) and sample[AHEAD].dtype == torch.float32
        assert sample[keys.future_key(depth)].shape == (2, 1, 16, 16)
        for row, k in enumerate((2, 4)):
            there = ds[start + min(sample[keys.FRAME_INDEX] + k, n - 1)]  # the sample whose current frame is t + k, clamped
            torch.testing.assert_close(sample[AHEAD][row], there[CAM][-1], rtol=0, atol=0)
            torch.testing.assert_close(sample[keys.future_key(depth)][row], there[depth][-1], rtol=0, atol=0)
    # the frames differ over time (the comparisons above could not pass by accident), and the last frame repeats at the end
    assert not torch.equal(ds[0][CAM][-1], ds[2][CAM][-1])
    last = ds[4]  # episode 0, frame 4: both offsets run past the end
    torch.testing.assert_close(last[AHEAD][0], last[AHEAD][1], rtol=0, atol=0)
    torch.testing.assert_close(last[AHEAD][0], last[CAM][-1], rtol=0, atol=0)
    assert collate([ds[0], ds[1]]).features[AHEAD].shape == (2, 2, 3, 16, 16)


@pytest.mark.parametrize("offsets", [(0,), (-1,), (1.5,), (True,)])
def test_bad_future_offsets_are_named(dataset, offsets):
    with pytest.raises(ConfigError, match="future_offsets"):
        WindowDataset(dataset, future_offsets=offsets)


def test_config_asks_for_frames_ahead_only_with_a_weight(cfg_for):
    assert cfg_for("l1").future_frame_offsets == ()
    assert cfg_for("l1-future").future_frame_offsets == (8,)
    assert cfg_for("l1-debug", future_weight=0.5, future_offset=3).future_frame_offsets == (3,)
    for field, value, message in (
        ("future_weight", -0.1, "must be >= 0"),
        ("future_offset", 0, "must be >= 1"),
        ("future_offset", 2.5, "must be a whole number of frames"),
    ):
        with pytest.raises(ConfigError, match=rf"\.{field}: {message}"):
            cfg_for("l1-debug", **{field: value})


def test_the_preset_is_l1_with_the_future_loss():
    l1, future = PRESETS.get("l1"), PRESETS.get("l1-future")
    assert set(l1.policy.diff(future.policy)) == {"name", "future_weight"}
    assert (l1.policy.future_weight, future.policy.future_weight, future.policy.future_offset) == (0.0, 0.5, 8)
    assert l1.train == future.train


def test_old_checkpoints_without_the_fields_load_unchanged(cfg_for, policy_for, tmp_path):
    cfg = cfg_for("l1-debug", augment_shift=0)
    old = {k: v for k, v in json.loads(json.dumps(cfg.to_dict())).items() if not k.startswith("future_")}
    assert L1Config.from_dict(old) == cfg
    policy = policy_for(cfg)
    assert not hasattr(policy, "future_head")
    policy.save_pretrained(tmp_path / "ckpt")
    meta = json.loads((tmp_path / "ckpt" / "config.json").read_text())
    meta["config"] = {k: v for k, v in meta["config"].items() if not k.startswith("future_")}
    (tmp_path / "ckpt" / "config.json").write_text(json.dumps(meta))
    batch = stack_samples(fake_samples(cfg, 2, seed=1, with_action=False))
    loaded = load_policy(tmp_path / "ckpt")
    assert loaded.config.future_weight == 0.0
    np.testing.assert_array_equal(policy.eval().sample_actions(batch).actions, loaded.sample_actions(batch).actions)
    loaded.train().compute_loss(stack_samples(fake_samples(cfg, 2)))
    assert "loss_future" not in loaded.last_terms


def test_future_loss_trains_the_predictor_and_no_gradient_reaches_the_target(cfg_for):
    torch.manual_seed(0)
    cfg = cfg_for("l1-debug", future_weight=1.0, future_offset=3, augment_shift=0)
    policy = untrained_policy(cfg, samples=8, data_seed=7).train()
    batch = stack_samples(fake_samples(cfg, 8, seed=7))
    assert batch.features[AHEAD].shape == (8, 1, 3, 32, 32)

    # one step: the frames ahead get no gradient (the target is computed under no_grad), the observation does
    probe = stack_samples(fake_samples(cfg, 8, seed=7))
    probe.features[AHEAD].requires_grad_(True)
    probe.features[CAM].requires_grad_(True)
    policy.compute_loss(probe).mean().backward()
    assert np.isfinite(policy.last_terms["loss_future"])
    assert probe.features[AHEAD].grad is None
    assert probe.features[CAM].grad is not None and probe.features[CAM].grad.abs().sum() > 0
    assert policy.future_head[0].weight.grad.abs().sum() > 0

    opt = torch.optim.AdamW(policy.parameters(), lr=3e-3, weight_decay=0.0)
    future = []
    for _ in range(100):
        loss = policy.compute_loss(batch).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        future.append(policy.last_terms["loss_future"])
    assert np.mean(future[-10:]) < future[0] / 2, f"future loss {future[0]:.3f} -> {np.mean(future[-10:]):.3f}"


def test_frames_ahead_get_the_shift_of_their_current_frame(cfg_for):
    """With the frame ahead equal to the current one, both trunk calls see the very same (shifted) images."""
    cfg = cfg_for("l1-debug", future_weight=1.0, augment_shift=3, obs_history=2)
    policy = untrained_policy(cfg, samples=4, data_seed=2).train()
    batch = stack_samples(fake_samples(cfg, 4, seed=2))
    batch.features[AHEAD] = batch.features[CAM][:, -1:].clone()
    seen = []
    hook = policy.encoder.register_forward_hook(lambda module, inputs, out: seen.append(inputs[0].detach()))
    try:
        torch.manual_seed(0)
        policy.compute_loss(batch)
    finally:
        hook.remove()
    now, ahead = seen  # [C*B*T, ...] observation rows, then [C*B*1, ...] frames ahead
    assert not torch.equal(now.view(4, 2, *now.shape[1:])[:, -1], batch.features[CAM][:, -1])  # it was shifted
    torch.testing.assert_close(ahead, now.view(4, 2, *now.shape[1:])[:, -1], rtol=0, atol=0)


def test_inference_and_export_need_no_frames_ahead(cfg_for, tmp_path):
    cfg = cfg_for("l1-debug", future_weight=0.5, future_offset=2)
    policy = untrained_policy(cfg, samples=4, data_seed=5)
    batch = stack_samples(fake_samples(cfg, 2, seed=1, with_action=False))
    assert AHEAD not in batch.features
    before = policy.eval().sample_actions(batch).actions
    assert np.isfinite(before).all()
    # like aux_state's readout, the small predictor is part of the weights (the checkpoint must fit the
    # config it records) and is simply never called when acting
    policy.save_pretrained(tmp_path / "ckpt")
    exported = export_policy(tmp_path / "ckpt", tmp_path / "shipped")
    loaded = load_policy(exported, expect=cfg)
    assert any(k.startswith("future_head.") for k in loaded.state_dict())
    np.testing.assert_array_equal(loaded.sample_actions(batch).actions, before)
    # training without the frames ahead is a clear error naming them
    with pytest.raises(DatasetError, match=AHEAD):
        policy.train().compute_loss(stack_samples([{k: v for k, v in s.items() if k != AHEAD} for s in fake_samples(cfg, 2)]))


def test_the_train_command_serves_the_frames_ahead_and_logs_the_loss(dataset, tmp_path):
    import vlastack.cli.train  # noqa: F401
    from vlastack.cli.app import app

    out = tmp_path / "run"
    args = ["train", "--preset", "l1-debug", "--dataset", str(dataset.root), "--out", str(out), "--steps", "2", "--no-progress"]
    done = CliRunner().invoke(app, [*args, "--frames", "memmap", "--set", "policy.future_weight=0.5", "--set", "policy.future_offset=3"])
    assert done.exit_code == 0, done.output
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert rows and all(np.isfinite(r["loss_future"]) for r in rows)
    assert load_policy(out / "checkpoints" / "step_00000002").config.future_offset == 3
