"""Reward and safety heads: event labels follow their definitions, the ranking metrics give known
values, heads learn to see an event coming from rolled-out embeddings, and the CLI trains them on two
joined datasets end to end."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from vlastack import keys
from vlastack.episodes.video import VideoSettings
from vlastack.episodes.writer import DatasetWriter
from vlastack.errors import ConfigError, DatasetError
from vlastack.world_model import checkpoint
from vlastack.world_model.config import DynamicsConfig, HeadsConfig
from vlastack.world_model.dynamics import ChunkPredictor
from vlastack.world_model.embeddings import EPISODE_OFFSET, EmbeddingTable, concat_tables
from vlastack.world_model.evaluate import fit_guardrail, guardrail_report, heads_report
from vlastack.world_model.guardrail import Guardrail, rollout_every_step
from vlastack.world_model.heads import EVENTS, FAULT, SafetyHeads, auroc, average_precision, best_f1_threshold, event_labels
from vlastack.world_model.train import train_dynamics, train_heads

CFG = HeadsConfig()


def columns(n: int = 40) -> dict[str, np.ndarray]:
    """A still hand outside the keep-out box, an object resting at 2 cm, light touch, no success."""
    env = np.zeros((n, 39), dtype=np.float32)
    env[:, 0:3] = (-0.3, 0.45, 0.3)
    env[:, 4:7] = (0.0, 0.6, 0.02)
    return {
        keys.ENV_STATE: env,
        keys.TOUCH: np.full((n, 2), 5.0, dtype=np.float32),
        keys.SUCCESS: np.zeros((n, 1), dtype=bool),
    }


def test_event_labels_follow_their_definitions():
    idx = {e: i for i, e in enumerate(EVENTS)}
    assert not event_labels(columns(), CFG).any()

    c = columns()
    c[keys.ENV_STATE][10:15, 0:3] = (0.2, 0.65, 0.1)  # inside the default box
    c[keys.TOUCH][20, 1] = 1600.0  # over the 1500 N grip limit
    c[keys.SUCCESS][30:] = True
    lab = event_labels(c, CFG)
    assert np.flatnonzero(lab[:, idx["keep_out"]]).tolist() == list(range(10, 15))
    assert np.flatnonzero(lab[:, idx["over_force"]]).tolist() == [20]
    assert np.flatnonzero(lab[:, idx["success"]]).tolist() == list(range(30, 40))
    c[keys.ARM_CONTACT] = np.zeros((40, 3), dtype=np.float32)
    c[keys.ARM_CONTACT][25] = (0.0, 600.0, 700.0)  # 922 N on the arm: over 900
    assert np.flatnonzero(event_labels(c, CFG)[:, idx["over_force"]]).tolist() == [20, 25]

    # lifted to 12 cm, then let go at frame 20: falls 1 cm a step back to rest
    c = columns()
    z = np.r_[np.full(10, 0.02), np.linspace(0.02, 0.12, 10), np.maximum(0.12 - 0.01 * np.arange(1, 21), 0.02)]
    c[keys.ENV_STATE][:, 6] = z
    c[keys.TOUCH][:] = 0.0
    dropped = np.flatnonzero(event_labels(c, CFG)[:, idx["object_lost"]])
    assert dropped.size and dropped.min() >= 22 and dropped.max() <= 36
    c[keys.TOUCH][:] = 50.0  # the same descent with the fingers on the object: lowered, not dropped
    assert not event_labels(c, CFG)[:, idx["object_lost"]].any()
    # a button pressed 8 cm down from rest, nothing touching: never above its rest height, so no drop
    c = columns()
    c[keys.ENV_STATE][:, 6] = np.r_[np.full(20, 0.3), np.linspace(0.3, 0.22, 20)]
    c[keys.TOUCH][:] = 0.0
    assert not event_labels(c, CFG)[:, idx["object_lost"]].any()
    c[keys.ENV_STATE][35:, 6] = -0.05  # below the table top: knocked off
    assert np.flatnonzero(event_labels(c, CFG)[:, idx["object_lost"]]).tolist() == list(range(35, 40))


def test_ranking_metrics_give_known_values():
    y = np.array([0, 0, 1, 1], dtype=bool)
    assert auroc(np.array([0.1, 0.2, 0.3, 0.4]), y) == 1.0
    assert auroc(np.array([0.4, 0.3, 0.2, 0.1]), y) == 0.0
    assert auroc(np.zeros(4), y) == 0.5  # all tied
    assert auroc(np.array([0.1, 0.35, 0.3, 0.4]), y) == 0.75
    assert np.isnan(auroc(np.zeros(3), np.zeros(3, dtype=bool)))
    # ranking 1, 0, 1, 0: precision 1 at the first hit, 2/3 at the second
    assert average_precision(np.array([0.9, 0.8, 0.7, 0.6]), np.array([1, 0, 1, 0], dtype=bool)) == pytest.approx((1 + 2 / 3) / 2)
    rng = np.random.default_rng(0)
    yr = rng.random(20000) < 0.1
    assert average_precision(rng.random(20000), yr) == pytest.approx(0.1, abs=0.01)  # random ranking: the base rate
    assert best_f1_threshold(np.array([0.1, 0.2, 0.8, 0.9]), y) == 0.8
    assert best_f1_threshold(np.array([0.1, 0.2]), np.zeros(2, dtype=bool)) == float("inf")


def test_bad_heads_config_names_the_field():
    with pytest.raises(ConfigError, match="keep_out_low"):
        HeadsConfig(keep_out_low=(0.3, 0.0, 0.0), keep_out_high=(0.1, 1.0, 1.0))
    with pytest.raises(ConfigError, match="predicted_prob"):
        HeadsConfig(predicted_prob=1.5)
    assert HeadsConfig.from_dict(HeadsConfig(keep_out_low=(0, 0, 0)).to_dict()).keep_out_low == (0.0, 0.0, 0.0)


def drifting_table(episodes: int = 16, length: int = 40, seed: int = 0) -> tuple[EmbeddingTable, torch.Tensor]:
    """z moves by W a each step, actions held for 10 steps; the event is z[0] > 1 (a region of z space),
    so whether it holds k steps ahead is in z(t) and the next actions, not in z(t) alone."""
    g = torch.Generator().manual_seed(seed)
    dim = 4
    w = torch.zeros(2, dim)
    w[0, 0], w[1, 1] = 0.15, 0.15
    zs, acts, eps, frames = [], [], [], []
    for e in range(episodes):
        a = (torch.rand(length // 10, 1, 2, generator=g) * 2 - 1).expand(-1, 10, -1).reshape(length, 2)
        z0 = torch.randn(1, dim, generator=g) * 0.5
        zs.append(torch.cat([z0, z0 + (a[:-1] @ w).cumsum(0)]))
        acts.append(a)
        eps.append(torch.full((length,), e))
        frames.append(torch.arange(length))
    table = EmbeddingTable(z=torch.cat(zs), episode=torch.cat(eps), frame=torch.cat(frames), action=torch.cat(acts))
    labels = torch.zeros(len(table.z), len(EVENTS), dtype=torch.bool)
    labels[:, EVENTS.index("keep_out")] = table.z[:, 0] > 1.0
    return table, labels


def test_heads_see_an_event_coming_from_rolled_out_embeddings(tmp_path):
    table, labels = drifting_table()
    dyn_cfg = DynamicsConfig(chunk=4, hidden=64, layers=2, rollout_chunks=2, steps=300, batch_size=64, lr=3e-3, save_every=300)
    dynamics, _ = checkpoint.load(train_dynamics(table, dyn_cfg, tmp_path / "dyn", {}, log=lambda s: None))
    cfg = HeadsConfig(hidden=32, layers=2, steps=300, batch_size=128, lr=3e-3, save_every=150, max_rollout=8)
    ckpt = train_heads(table, labels, dynamics, cfg, tmp_path / "heads", {}, log=lambda s: None)
    heads, meta = checkpoint.load(ckpt)
    assert isinstance(heads, SafetyHeads) and meta["train_positives"][EVENTS.index("keep_out")] == int(labels[:, 1].sum())
    assert torch.equal(heads.norm.mean, dynamics.norm.mean)  # same units as the rollouts

    held, held_labels = drifting_table(episodes=8, seed=1)
    rows = {r["event"]: r for r in heads_report(heads, dynamics, table, labels, held, held_labels, [8])}
    r = rows["keep_out"]
    assert r["positives"] > 0 and r["onset_positives"] > 0
    assert r["true"]["auroc"] > 0.95
    assert r["model"]["auroc"] > 0.9
    # where the event has not begun at t, the rollout sees it coming and the present embedding less so
    assert r["model"]["onset_auroc"] > r["copy_last"]["onset_auroc"] + 0.05
    assert r["model"]["onset_ap"] > 2 * r["onset_positives"] / r["onset_n"]
    assert rows["over_force"]["positives"] == 0 and np.isnan(rows["over_force"]["model"]["auroc"])

    # the guardrail: thresholds from the training checks; events without positives are not flagged at all
    guard = fit_guardrail(dynamics, heads, table, labels, 8)
    assert guard.events == ["keep_out"]
    rep = guardrail_report(guard, held, held_labels, 8)
    k = rep["keep_out"]
    assert k["onsets"] > 0 and k["onsets_flagged"] >= 0.7 * k["onsets"] and k["lead_steps_median"] >= 2
    assert k["precision"] > 0.7 and k["recall"] > 0.7
    # a chunk that drives z[0] from 0.5 past 1 is flagged, with the step it crosses; driving away is not
    z = torch.zeros(4)
    z[0] = 0.5
    towards = torch.tensor([[1.0, 0.0]]).repeat(8, 1)  # +0.15 a step: z[0] > 1 from step 4 on
    verdict = guard.check(z, towards)
    assert verdict.flag and verdict.event == "keep_out" and 2 <= verdict.step <= 6, verdict
    assert "keep_out" in verdict.describe()
    assert not guard.check(z, -towards).flag
    z[0] = 1.5  # already in the region: flagged, but not as a new event
    assert guard.check(z, towards).flag and not guard.check(z, towards, new_only=True).flag
    with pytest.raises(ConfigError, match="success"):
        Guardrail(dynamics, heads, {"success": 0.5})


def test_rollout_every_step_matches_the_rollout_of_each_length():
    torch.manual_seed(0)
    model = ChunkPredictor(DynamicsConfig(chunk=4, hidden=16, layers=1), 5, 2)
    torch.nn.init.normal_(model.net[-1].weight, std=0.3)
    z, a = torch.randn(3, 5), torch.randn(3, 11, 2)
    every = rollout_every_step(model.eval(), z, a)
    assert every.shape == (3, 11, 5)
    for j in range(1, 12):
        assert torch.allclose(every[:, j - 1], model.rollout(z, a, j), atol=1e-5), j


def test_joined_tables_shift_episode_ids_and_refuse_mixed_actions():
    a, _ = drifting_table(episodes=2)
    b, _ = drifting_table(episodes=3, seed=2)
    joined = concat_tables([a, b])
    assert joined.episodes == [0, 1, EPISODE_OFFSET, EPISODE_OFFSET + 1, EPISODE_OFFSET + 2]
    assert torch.equal(joined.select([EPISODE_OFFSET + 2]).z, b.select([2]).z)
    b.action = None
    with pytest.raises(DatasetError, match="only some have 'action'"):
        concat_tables([a, b])


def write_dataset(root, make_episode, n: int, extra: bool, length: int = 20) -> None:
    """n short episodes with a privileged state whose hand enters the keep-out box in odd episodes."""
    writer = DatasetWriter(root, video=VideoSettings(codec="h264-lossless", crf=0))
    for i in range(n):
        ep = make_episode(length, i)
        env = np.zeros((length, 39), dtype=np.float32)
        env[:, 0:3] = (0.2, 0.65, 0.1) if i % 2 else (-0.3, 0.45, 0.3)
        env[:, 6] = 0.02
        ep.frames[keys.ENV_STATE] = env
        if extra:
            ep.frames[keys.ARM_CONTACT] = np.zeros((length, 3), dtype=np.float32)
            ep.frames[FAULT] = np.full((length, 1), 2, dtype=np.int64)
        writer.add_episode(ep)


def test_heads_train_through_the_cli_on_two_joined_datasets(tmp_path, make_episode):
    from vlastack.cli import app
    from vlastack.policies.presets import PRESETS
    from vlastack.policies.untrained import untrained_policy
    from vlastack.world_model.runs import DynamicsRun

    write_dataset(tmp_path / "a", make_episode, 4, extra=False)
    write_dataset(tmp_path / "b", make_episode, 4, extra=True)
    untrained_policy(PRESETS.get("l1-debug").policy).save_pretrained(tmp_path / "enc")
    common = ["--set", "steps=4", "--set", "save_every=2", "--set", "hidden=16", "--set", "batch_size=8"]
    train = ["wm", "train", "--dataset", str(tmp_path / "a"), "--dataset", str(tmp_path / "b")]
    train += ["--encoder", str(tmp_path / "enc"), "--out", str(tmp_path / "dyn"), "--held-out-every", "2", *common]
    result = CliRunner().invoke(app, train + ["--set", "chunk=4"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "dyn" / "embeddings_1.safetensors").is_file()

    run = DynamicsRun.load(tmp_path / "dyn")
    assert run.train_episodes == [0, 2, EPISODE_OFFSET, EPISODE_OFFSET + 2]
    assert run.held_out == [1, 3, EPISODE_OFFSET + 1, EPISODE_OFFSET + 3]
    labels, fault = run.labels(HeadsConfig())
    keep_out = labels[:, EVENTS.index("keep_out")].view(8, 20)
    assert keep_out.all(1).tolist() == [False, True] * 4  # odd episodes of both datasets
    assert fault.view(8, 20)[:4].eq(0).all() and fault.view(8, 20)[4:].eq(2).all()

    heads = ["wm", "heads", "--dynamics", str(tmp_path / "dyn"), "--out", str(tmp_path / "heads"), *common]
    result = CliRunner().invoke(app, heads + ["--set", "max_rollout=4"])
    assert result.exit_code == 0, result.output
    model, meta = checkpoint.load(tmp_path / "heads" / "checkpoints" / "step_00000004")
    assert isinstance(model, SafetyHeads) and meta["dynamics"] == str(run.checkpoint)
    assert meta["train_positives"][EVENTS.index("keep_out")] == 0  # training episodes 0 and 2 of each stay outside the box
    assert CliRunner().invoke(app, heads + ["--set", "max_rollout=4", "--resume"]).exit_code == 0
    refused = CliRunner().invoke(app, heads + ["--set", "max_rollout=4"])
    assert refused.exit_code != 0 and "resume" in str(refused.exception)


def test_a_one_dataset_run_loads_and_a_heads_checkpoint_is_not_a_dynamics_run(tmp_path):
    from vlastack.errors import CheckpointError
    from vlastack.world_model.runs import DynamicsRun

    table, labels = drifting_table(episodes=2, length=20)
    cfg = DynamicsConfig(chunk=4, hidden=16, layers=1, rollout_chunks=1, steps=2, batch_size=8, save_every=2)
    # the meta a run made before several datasets could be joined: "dataset", no "datasets"
    train_dynamics(table, cfg, tmp_path / "dyn", {"dataset": "data/x", "train_episodes": [0], "held_out_episodes": [1]}, log=lambda s: None)
    table.save(tmp_path / "dyn" / "embeddings.safetensors")
    run = DynamicsRun.load(tmp_path / "dyn")
    assert run.datasets == ["data/x"] and run.held_out == [1]
    assert torch.equal(run.table.select([1]).z, table.select([1]).z)
    assert run.rows([1]).tolist() == list(range(20, 40))
    hcfg = HeadsConfig(hidden=8, layers=1, steps=2, batch_size=8, save_every=2)
    train_heads(table, labels, run.model, hcfg, tmp_path / "heads", {}, log=lambda s: None)
    with pytest.raises(CheckpointError, match="not a dynamics checkpoint"):
        DynamicsRun.load(tmp_path / "heads")
    with pytest.raises(DatasetError, match="labels have shape"):
        train_heads(table, labels[:5], run.model, hcfg, tmp_path / "heads_bad", {}, log=lambda s: None)
