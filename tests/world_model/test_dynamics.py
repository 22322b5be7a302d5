"""The chunk predictor: learns known dynamics, rolls out over partial chunks, checkpoints round-trip and resume exactly."""

from __future__ import annotations

import pytest
import torch

from vlastack.errors import CheckpointError, ConfigError, DatasetError
from vlastack.world_model import checkpoint
from vlastack.world_model.config import DynamicsConfig, LatentActionConfig
from vlastack.world_model.dynamics import ChunkPredictor
from vlastack.world_model.embeddings import EmbeddingTable
from vlastack.world_model.evaluate import horizon_errors
from vlastack.world_model.train import train_dynamics

TINY = DynamicsConfig(chunk=4, hidden=64, layers=2, rollout_chunks=2, steps=300, batch_size=64, lr=3e-3, save_every=150)


def linear_table(episodes: int = 6, length: int = 30, dim: int = 6, seed: int = 0) -> EmbeddingTable:
    """z(t+1) = z(t) + W a(t): embeddings that actions move in a known, linear way."""
    g = torch.Generator().manual_seed(seed)
    w = torch.randn(2, dim, generator=g) * 0.3
    zs, acts, eps, frames = [], [], [], []
    for e in range(episodes):
        a = torch.rand(length, 2, generator=g) * 2 - 1
        z0 = torch.randn(1, dim, generator=g)
        z = torch.cat([z0, z0 + (a[:-1] @ w).cumsum(0)])
        zs.append(z)
        acts.append(a)
        eps.append(torch.full((length,), e))
        frames.append(torch.arange(length))
    return EmbeddingTable(z=torch.cat(zs), episode=torch.cat(eps), frame=torch.cat(frames), action=torch.cat(acts))


def test_predictor_learns_known_dynamics_and_beats_copy_last(tmp_path):
    table = linear_table()
    ckpt = train_dynamics(table, TINY, tmp_path, {"source": "synthetic"}, log=lambda s: None)
    model, meta = checkpoint.load(ckpt)
    rows = horizon_errors(model, table, [1, 3, 8])
    for r in rows:
        # 3 and 8 steps need a partial chunk and two chunks rolled out
        assert r["model"] < 0.1 * r["copy_last"], r
    assert meta["embed_dim"] == 6 and meta["action_dim"] == 2


def test_checkpoint_round_trip_gives_the_same_predictions(tmp_path):
    table = linear_table(episodes=2)
    model = ChunkPredictor(TINY, 6, 2)
    torch.nn.init.normal_(model.net[-1].weight)
    model.norm.fit(table.z)
    path = checkpoint.save(tmp_path, 7, "dynamics", model, {"embed_dim": 6, "action_dim": 2})
    loaded, _ = checkpoint.load(path)
    z, a = torch.randn(3, 6), torch.randn(3, 9, 2)
    assert torch.equal(model.eval().rollout(z, a, 9), loaded.rollout(z, a, 9))


def test_resume_continues_exactly(tmp_path):
    table = linear_table(episodes=3)
    cfg = DynamicsConfig(chunk=4, hidden=32, layers=1, rollout_chunks=2, steps=40, batch_size=16, save_every=20)
    full = train_dynamics(table, cfg, tmp_path / "a", {}, log=lambda s: None)
    half = DynamicsConfig(**{**cfg.to_dict(), "steps": 40})
    train_dynamics(table, half, tmp_path / "b", {}, log=lambda s: None)
    # drop the final checkpoint of run b and resume from step 20
    import shutil

    shutil.rmtree(tmp_path / "b" / "checkpoints" / "step_00000040")
    resumed = train_dynamics(table, half, tmp_path / "b", {}, resume=True, log=lambda s: None)
    a, _ = checkpoint.load(full)
    b, _ = checkpoint.load(resumed)
    for (name, x), (_, y) in zip(a.state_dict().items(), b.state_dict().items(), strict=True):
        assert torch.allclose(x, y, atol=1e-6), name


def test_existing_run_needs_resume(tmp_path):
    table = linear_table(episodes=2)
    cfg = DynamicsConfig(chunk=2, hidden=8, layers=1, rollout_chunks=1, steps=2, batch_size=4, save_every=2)
    train_dynamics(table, cfg, tmp_path, {}, log=lambda s: None)
    with pytest.raises(ConfigError, match="resume"):
        train_dynamics(table, cfg, tmp_path, {}, log=lambda s: None)


def test_bad_config_names_the_field():
    with pytest.raises(ConfigError, match="DynamicsConfig.chunk"):
        DynamicsConfig(chunk=0)
    with pytest.raises(ConfigError, match="partial_prob"):
        DynamicsConfig(partial_prob=1.5)
    with pytest.raises(ConfigError, match="levels"):
        LatentActionConfig(levels=(4, 5))
    with pytest.raises(ConfigError, match="no fields"):
        DynamicsConfig.from_dict({"chunks": 3})


def test_dynamics_without_actions_is_refused(tmp_path):
    table = linear_table(episodes=2)
    table.action = None
    with pytest.raises(DatasetError, match="needs actions"):
        train_dynamics(table, TINY, tmp_path, {}, log=lambda s: None)


def test_corrupt_checkpoint_is_named(tmp_path):
    (tmp_path / "config.json").write_text("{not json")
    with pytest.raises(CheckpointError, match="config.json"):
        checkpoint.load(tmp_path)
