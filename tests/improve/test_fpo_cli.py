"""``vlastack improve --method rl-sim --set explore.update=fpo`` end to end on the real simulator with the tiny hybrid
VLA: the round's episodes get their advantages and enter once each, and the fine-tuning run logs the ratio."""

from __future__ import annotations

import json
import math

import pytest
from typer.testing import CliRunner

from tests.improve.conftest import close_worker_envs, tiny_start
from vlastack.episodes.reader import DatasetReader
from vlastack.improve.explore import fpo_advantages

MAX_STEPS = 30


@pytest.fixture(scope="module")
def vla_start(tmp_path_factory):
    """One reach-v3 expert demonstration at 32 px and the ``debug`` (hybrid) VLA trained on it for 2 steps."""
    root = tmp_path_factory.mktemp("fpo")
    yield root, tiny_start(root, "reach-v3", 1, "debug", 2)
    close_worker_envs()


def test_rl_sim_with_fpo_gives_every_episode_its_advantage_once_and_logs_the_trust_region(vla_start, monkeypatch):
    from vlastack.cli.app import app
    from vlastack.improve.fpo import FPOLoss

    seen = []
    objective = FPOLoss.__call__

    def recorded(self, model, batch):
        loss = objective(self, model, batch)
        seen.append(dict(model.last_terms))
        return loss

    monkeypatch.setattr(FPOLoss, "__call__", recorded)

    root, checkpoint = vla_start
    out = root / "fpo"
    args = ["improve", "--checkpoint", str(checkpoint), "--demos", str(root / "demos"), "--out", str(out), "--tasks", "reach-v3"]
    args += ["--method", "rl-sim", "--rounds", "1", "--episodes", "2", "--workers", "1", "--no-progress"]
    args += ["--set", "improve.steps=2", "--set", "improve.batch_size=16", "--set", "improve.validation_episodes=1"]
    args += ["--set", f"improve.max_steps={MAX_STEPS}", "--set", "explore.noise_std=0.5"]
    args += ["--set", "explore.update=fpo", "--set", "explore.fpo_clip=0.2", "--set", "explore.fpo_draws=2"]
    done = CliRunner().invoke(app, args, env={"COLUMNS": "200"})
    assert done.exit_code == 0, done.output

    scored = json.loads((out / "round_1" / "gathered.json").read_text())["scored"]
    assert len(scored) == 2 and all(s["copies"] == 1 for s in scored)
    assert [s["advantage"] for s in scored] == pytest.approx(fpo_advantages([s["score"] for s in scored]).tolist())
    assert scored[0]["score"] != scored[1]["score"] and sorted(s["advantage"] for s in scored) == pytest.approx([-1.0, 1.0], abs=1e-3)

    # The first step's policy is the old one (the round's start): every ratio is exactly 1, nothing clipped.
    assert len(seen) == 2 and seen[0]["fpo_explored"] > 0
    assert seen[0]["fpo_ratio_mean"] == 1.0 and seen[0]["fpo_clip_frac"] == 0.0

    run = out / "round_1" / "train"
    assert (run / "checkpoints" / "step_00000002" / "model.safetensors").is_file()
    last = json.loads((run / "metrics.jsonl").read_text().splitlines()[-1])
    assert {"fpo_ratio_mean", "fpo_clip_frac", "fpo_explored", "loss_flow"} <= set(last)
    assert last["fpo_ratio_mean"] == seen[1]["fpo_ratio_mean"] and last["fpo_clip_frac"] == seen[1]["fpo_clip_frac"]
    assert math.isfinite(last["loss"])
    # The fine-tuning set: every demonstration frame once and every explored frame once.
    demos, data = DatasetReader(root / "demos"), DatasetReader(out / "data")
    expected = sum(demos.length(e) for e in range(demos.num_episodes)) + sum(data.length(s["episode_index"]) for s in scored)
    assert round(last["step"] * 16 / last["epoch"]) == expected
