"""The progress head (dense reward on embeddings): its targets are the reward of arriving at each frame, scaled
and clipped; it learns a reward that is a function of the embedding; the CLI trains it on a dynamics run."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from vlastack import keys
from vlastack.episodes.video import VideoSettings
from vlastack.episodes.writer import DatasetWriter
from vlastack.errors import ConfigError
from vlastack.world_model import checkpoint
from vlastack.world_model.config import DynamicsConfig, ProgressConfig
from vlastack.world_model.embeddings import EmbeddingTable
from vlastack.world_model.heads import ProgressHead, progress_targets
from vlastack.world_model.train import train_dynamics, train_progress


def test_targets_are_the_reward_of_arriving_at_each_frame_scaled_and_clipped():
    cols = {keys.REWARD: np.array([2.0, 4.0, 10.0, 12.0, -1.0], np.float32)}
    # frame 0 takes step 0's reward; frame t the reward of step t-1; 12 / 10 is clipped to 1, and -1 to 0
    assert progress_targets(cols, 10.0).tolist() == pytest.approx([0.2, 0.2, 0.4, 1.0, 1.0])
    assert progress_targets({keys.REWARD: np.array([[5.0], [-1.0], [3.0]])}, 5.0).tolist() == pytest.approx([1.0, 1.0, 0.0])
    with pytest.raises(ConfigError, match="reward_scale"):
        ProgressConfig(reward_scale=0.0)


def _table(episodes: int, seed: int) -> tuple[EmbeddingTable, torch.Tensor]:
    """z drifts with the actions; progress = z[0] squashed into [0, 1]."""
    g = torch.Generator().manual_seed(seed)
    zs, acts, eps = [], [], []
    for e in range(episodes):
        a = torch.rand(30, 2, generator=g) * 2 - 1
        z0 = torch.randn(1, 4, generator=g)
        step = torch.zeros(30, 4)
        step[:, :2] = 0.1 * a
        zs.append(torch.cat([z0, z0 + step[:-1].cumsum(0)]))
        acts.append(a)
        eps.append(torch.full((30,), e))
    z = torch.cat(zs)
    table = EmbeddingTable(z=z, episode=torch.cat(eps), frame=torch.arange(30).repeat(episodes), action=torch.cat(acts))
    return table, torch.sigmoid(2 * z[:, 0])


def test_the_head_learns_a_progress_that_is_a_function_of_the_embedding(tmp_path):
    table, targets = _table(12, 0)
    dyn = DynamicsConfig(chunk=4, hidden=16, layers=1, rollout_chunks=1, steps=20, batch_size=32, save_every=20)
    dynamics, _ = checkpoint.load(train_dynamics(table, dyn, tmp_path / "dyn", {}, log=lambda s: None))
    cfg = ProgressConfig(hidden=32, layers=2, steps=300, batch_size=64, lr=3e-3, save_every=300, max_rollout=4)
    head, meta = checkpoint.load(train_progress(table, targets, dynamics, cfg, tmp_path / "progress", {}, log=lambda s: None))
    assert isinstance(head, ProgressHead) and torch.equal(head.norm.mean, dynamics.norm.mean)
    assert meta["train_mean_target"] == pytest.approx(float(targets.mean()), abs=1e-6)
    held, held_targets = _table(6, 1)
    with torch.no_grad():
        pred = head.progress(head.norm.normalize(held.z))
    assert pred.min() >= 0 and pred.max() <= 1
    error, constant = (pred - held_targets).abs().mean(), (held_targets - targets.mean()).abs().mean()
    assert error < 0.4 * constant, (float(error), float(constant))


def test_the_cli_trains_it_on_a_dynamics_run_and_reports_the_held_out_error(tmp_path, make_episode):
    from vlastack.cli import app
    from vlastack.policies.presets import PRESETS
    from vlastack.policies.untrained import untrained_policy

    writer = DatasetWriter(tmp_path / "data", video=VideoSettings(codec="h264-lossless", crf=0))
    for i in range(4):
        ep = make_episode(12, i)
        ep.frames[keys.REWARD] = np.linspace(0, 10, 12).astype(np.float32)
        writer.add_episode(ep)
    untrained_policy(PRESETS.get("l1-debug").policy).save_pretrained(tmp_path / "enc")
    common = ["--set", "steps=4", "--set", "save_every=4", "--set", "hidden=16", "--set", "batch_size=8"]
    train = ["wm", "train", "--dataset", str(tmp_path / "data"), "--encoder", str(tmp_path / "enc"), "--out", str(tmp_path / "dyn")]
    assert CliRunner().invoke(app, [*train, "--held-out-every", "2", *common, "--set", "chunk=4"]).exit_code == 0
    cmd = ["wm", "progress", "--dynamics", str(tmp_path / "dyn"), "--out", str(tmp_path / "progress"), *common, "--set", "max_rollout=4"]
    result = CliRunner().invoke(app, cmd)
    assert result.exit_code == 0, result.output
    assert "held-out progress, mean absolute error" in result.output
    head, meta = checkpoint.load(tmp_path / "progress" / "checkpoints" / "step_00000004")
    assert isinstance(head, ProgressHead) and meta["dynamics"].endswith("step_00000004")
    # the mean target of the training episodes (0 and 2): the ramp 0..10 over 12 steps, shifted by one frame, / 10
    ramp = np.linspace(0, 1, 12)
    assert meta["train_mean_target"] == pytest.approx(np.r_[ramp[:1], ramp[:-1]].mean(), abs=1e-5)
