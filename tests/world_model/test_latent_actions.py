"""Latent actions: FSQ codes, a forward model that must use its code, and training on a dataset
written without an action column, end to end through the CLI."""

from __future__ import annotations

import json

import pytest
import torch
from typer.testing import CliRunner

from vlastack import keys
from vlastack.data.windows import WindowDataset
from vlastack.episodes.reader import DatasetReader
from vlastack.episodes.video import VideoSettings
from vlastack.episodes.writer import DatasetWriter
from vlastack.world_model import checkpoint
from vlastack.world_model.config import LatentActionConfig
from vlastack.world_model.embeddings import EmbeddingTable
from vlastack.world_model.evaluate import latent_report
from vlastack.world_model.latent_actions import FSQ, codebook_usage
from vlastack.world_model.train import train_latent_actions


def test_fsq_codes_cover_the_grid_and_round_trip():
    fsq = FSQ((3, 5))
    x = torch.randn(4000, 2) * 3
    q, codes = fsq(x)
    assert q.abs().max() <= 1.0
    assert set(codes.tolist()) == set(range(15))
    # the code index is the mixed-radix number of the level indices
    levels = torch.round(q * torch.tensor([1.0, 2.0])) + torch.tensor([1.0, 2.0])
    assert torch.equal(codes, (levels[:, 0] + 3 * levels[:, 1]).long())
    x.requires_grad_(True)
    fsq(x)[0].sum().backward()
    assert x.grad.abs().sum() > 0  # straight-through: gradients reach the encoder


def test_codebook_usage_counts_collapse_and_spread():
    collapsed = codebook_usage(torch.zeros(100, dtype=torch.long), 8)
    assert collapsed["perplexity"] == pytest.approx(1.0) and collapsed["dead"] == 7
    even = codebook_usage(torch.arange(800) % 8, 8)
    assert even["perplexity"] == pytest.approx(8.0) and even["dead"] == 0


def discrete_table(episodes: int = 16, length: int = 30, dim: int = 8, seed: int = 0) -> EmbeddingTable:
    """Each step of episode e moves z by fixed vector e % 4; the action is the one-hot of which (for the read-out)."""
    g = torch.Generator().manual_seed(seed)
    moves = torch.randn(4, dim, generator=g) * 0.5
    zs, acts, eps = [], [], []
    for e in range(episodes):
        c = torch.full((length,), e % 4)
        z = torch.cat([torch.zeros(1, dim), moves[c[:-1]].cumsum(0)]) + torch.randn(1, dim, generator=g)
        zs.append(z)
        acts.append(torch.nn.functional.one_hot(c, 4).float())
        eps.append(torch.full((length,), e))
    n = episodes * length
    return EmbeddingTable(z=torch.cat(zs), episode=torch.cat(eps), frame=torch.arange(n) % length, action=torch.cat(acts))


@pytest.mark.parametrize("idm_context", [True, False])
def test_forward_model_uses_the_code(tmp_path, idm_context):
    table = discrete_table()
    cfg = LatentActionConfig(
        gap=8, levels=(3, 3), idm_context=idm_context, hidden=64, layers=2, steps=400, batch_size=64, lr=3e-3, save_every=400
    )
    model, _ = checkpoint.load(train_latent_actions(table.select(list(range(12))), cfg, tmp_path, {}, log=lambda s: None))
    rep = latent_report(model, table.select(list(range(12))), table.select([12, 13, 14, 15]))
    fwd = rep["forward_mse"]
    # the code carries the move: with the code the error is a fraction of copy-last; with another pair's code it is not
    assert fwd["with_own_code"] < 0.2 * fwd["copy_last"]
    assert fwd["with_shuffled_code"] > 3 * fwd["with_own_code"]
    assert rep["codebook_held_out"]["used"] >= 4
    # each move has its own code(s), so a linear read-out from the one-hot code recovers the action
    assert min(rep["action_readout"]["one-hot code"]["r2_per_dim"]) > 0.9


def action_free_dataset(root, make_episode, n_episodes: int = 4):
    writer = DatasetWriter(root, video=VideoSettings(codec="h264-lossless", crf=0))
    for i in range(n_episodes):
        ep = make_episode(20, i, task="reach the goal position" if i % 2 else "open the drawer")
        del ep.frames[keys.ACTION]
        writer.add_episode(ep)
    return DatasetReader(root)


def test_dataset_without_actions_loads_and_trains_through_the_cli(tmp_path, make_episode):
    from vlastack.cli import app
    from vlastack.policies.presets import PRESETS
    from vlastack.policies.untrained import untrained_policy

    reader = action_free_dataset(tmp_path / "ds", make_episode)
    assert keys.ACTION not in reader.features
    data = WindowDataset(reader, action_horizon=4)
    assert not data.has_action and keys.ACTION not in data[0]

    untrained_policy(PRESETS.get("l1-debug").policy).save_pretrained(tmp_path / "enc")
    args = [
        "wm",
        "latent",
        "--dataset",
        str(tmp_path / "ds"),
        "--encoder",
        str(tmp_path / "enc"),
        "--out",
        str(tmp_path / "lam"),
        "--held-out-every",
        "2",
    ]
    small = ["--set", "steps=4", "--set", "save_every=2", "--set", "hidden=16", "--set", "batch_size=8", "--set", "gap=4"]
    result = CliRunner().invoke(app, args + small)
    assert result.exit_code == 0, result.output
    model, meta = checkpoint.load(tmp_path / "lam" / "checkpoints" / "step_00000004")
    assert meta["held_out_episodes"] == [1, 3] and meta["train_episodes"] == [0, 2]  # one env task: every 2nd held out
    table = EmbeddingTable.load(tmp_path / "lam" / "embeddings.safetensors")
    assert table.action is None and len(table.z) == 80
    metrics = [json.loads(line) for line in (tmp_path / "lam" / "metrics.jsonl").read_text().splitlines()]
    assert metrics[-1]["step"] == 4 and metrics[-1]["code_size"] == 125

    # resuming a finished run does nothing more; the dynamics model refuses a dataset without actions
    assert CliRunner().invoke(app, args + small + ["--resume"]).exit_code == 0
    refused = CliRunner().invoke(app, ["wm", "train", *args[2:8], "--out", str(tmp_path / "dyn")])
    assert refused.exit_code != 0 and "needs actions" in str(refused.exception)


def test_strip_actions_makes_a_loadable_action_free_copy(tmp_path, make_episode):
    from vlastack.errors import DatasetError
    from vlastack.world_model.action_free import strip_actions

    writer = DatasetWriter(tmp_path / "src", video=VideoSettings(codec="h264-lossless", crf=0))
    episodes = [make_episode(6, i) for i in range(2)]
    for ep in episodes:
        writer.add_episode(ep)
    copy = strip_actions(tmp_path / "src", tmp_path / "dst")
    assert keys.ACTION not in copy.features and copy.num_frames == 12
    assert keys.ACTION not in copy.read_columns(1)
    assert (copy.read_video(1, keys.image_key("corner2")) == DatasetReader(tmp_path / "src").read_video(1, keys.image_key("corner2"))).all()
    with pytest.raises(DatasetError, match="no 'action' feature"):
        copy.episode_actions()
    with pytest.raises(DatasetError, match="already exists"):
        strip_actions(tmp_path / "src", tmp_path / "dst")
