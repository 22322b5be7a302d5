"""The world model inside the safety layer and as a planner, end to end on tiny data: dynamics, heads and a
guardrail directory made through the CLI, then Meta-World episodes evaluated with ``guardrail`` and ``plan``.
A guardrail told to flag everything holds every chunk, so the arm stays where it started."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from vlastack import keys
from vlastack.episodes.video import VideoSettings
from vlastack.episodes.writer import DatasetWriter
from vlastack.errors import ConfigError
from vlastack.evaluation import runner
from vlastack.evaluation.runner import EvalConfig, run_episode
from vlastack.policies import PRESETS
from vlastack.policies.untrained import untrained_policy
from vlastack.world_model.planner import PlanConfig
from vlastack.world_model.shield import GUARDRAIL_FILE, WorldModelShield

pytestmark = pytest.mark.slow


@pytest.fixture
def guard_dir(tmp_path, make_episode, monkeypatch):
    """An untrained 32 px `l1` (the encoder and the acting policy), a dynamics run and heads on 4 tiny
    episodes (the hand in the keep-out box in odd ones), and the guardrail fitted at horizon 4."""
    from vlastack.cli import app

    monkeypatch.setenv("MUJOCO_GL", "egl")
    writer = DatasetWriter(tmp_path / "data", video=VideoSettings(codec="h264-lossless", crf=0))
    for i in range(4):
        ep = make_episode(20, i)
        env = np.zeros((20, 39), dtype=np.float32)
        env[:, 0:3] = (0.2, 0.65, 0.1) if i % 2 else (-0.3, 0.45, 0.3)
        ep.frames[keys.ENV_STATE] = env
        writer.add_episode(ep)
    config = replace(PRESETS.get("l1").policy, text_encoder="hash", image_size=(32, 32), channels=(8, 8, 8), execute_steps=4)
    untrained_policy(config).save_pretrained(tmp_path / "policy")
    common = ["--set", "steps=4", "--set", "save_every=4", "--set", "hidden=16", "--set", "batch_size=8"]
    cli = CliRunner()
    train = ["wm", "train", "--dataset", str(tmp_path / "data"), "--encoder", str(tmp_path / "policy"), "--out", str(tmp_path / "dyn")]
    assert cli.invoke(app, [*train, "--held-out-every", "2", *common, "--set", "chunk=4"]).exit_code == 0
    heads = ["wm", "heads", "--dynamics", str(tmp_path / "dyn"), "--out", str(tmp_path / "heads"), *common, "--set", "max_rollout=4"]
    assert cli.invoke(app, heads).exit_code == 0
    result = cli.invoke(app, ["wm", "guardrail", "--heads", str(tmp_path / "heads"), "--out", str(tmp_path / "guard"), "--horizon", "4"])
    assert result.exit_code == 0, result.output
    yield tmp_path
    runner.close_envs()  # the simulator's scenes closed now, not at interpreter exit


def test_guardrail_and_planner_run_inside_an_evaluation(guard_dir):
    rec = json.loads((guard_dir / "guard" / GUARDRAIL_FILE).read_text())
    assert rec["horizon"] == 4 and set(rec["thresholds"]) <= {"keep_out", "over_force", "object_lost"}
    assert rec["encoder"] == str(guard_dir / "policy")

    shield = WorldModelShield.load(guard_dir / "guard")
    obs = None
    config = EvalConfig(
        checkpoint=guard_dir / "policy", tasks=("reach-v3",), episodes=1, max_steps=12, guardrail=guard_dir / "guard", plan=3
    )
    result, _ = run_episode(config, "reach-v3", 0, record=False)
    assert result.error is None and result.steps == 12
    review = result.safety["chunk_review"]
    assert review["chunks_reviewed"] == len(result.latency_ms) == 3  # asked at steps 0, 4 and 8; every chunk reviewed
    assert review["review_ms_median"] is not None

    # the shield's answers: one probability per event and step, the same for the same chunk, within [0, 1]
    from vlastack.envs import make_env

    env = make_env("reach-v3", cameras=("corner2",), image_size=32, max_steps=12)
    obs, _ = env.reset(seed=5)
    env.close()
    chunks = np.stack([np.zeros((16, 4), np.float32), np.ones((16, 4), np.float32)])
    p = shield.predict(obs, chunks)
    assert p.shape == (2, 4, 4) and torch.all((p >= 0) & (p <= 1))
    assert torch.equal(shield.predict(obs, chunks[:1])[0], p[0])
    assert len(shield.review(obs, chunks)) == 2


def test_a_guardrail_that_flags_everything_holds_every_chunk(guard_dir, monkeypatch):
    from vlastack.safety.layer import SafetyLayer

    sent = []
    original = SafetyLayer.filter

    def spy(self, *args, **kwargs):
        decision = original(self, *args, **kwargs)
        sent.append(decision.action.copy())
        return decision

    monkeypatch.setattr(SafetyLayer, "filter", spy)
    always = guard_dir / "always"
    always.mkdir()
    rec = json.loads((guard_dir / "guard" / GUARDRAIL_FILE).read_text())
    (always / GUARDRAIL_FILE).write_text(json.dumps({**rec, "thresholds": {"keep_out": 0.0}, "new_only": False}))
    config = EvalConfig(checkpoint=guard_dir / "policy", tasks=("reach-v3",), episodes=1, max_steps=12, guardrail=always)
    result, _ = run_episode(config, "reach-v3", 0, record=False)
    assert result.error is None
    review = result.safety["chunk_review"]
    assert review["chunks_reviewed"] == review["chunks_flagged"] == review["chunks_held"] == 3
    assert len(sent) == 12 and np.all(np.stack(sent)[:, :3] == 0.0)  # the hold: the hand never commanded to move
    assert "world_model" not in result.safety["by_check"]  # review interventions are counted per chunk, not per step

    sent.clear()  # the same episode without the guardrail: the untrained policy does move the hand
    run_episode(replace(config, guardrail=None), "reach-v3", 0, record=False)
    assert np.abs(np.stack(sent)[:, :3]).max() > 0.0


def test_guardrail_settings_are_checked_with_the_field_named(tmp_path):
    with pytest.raises(ConfigError, match="guardrail"):
        EvalConfig(checkpoint=tmp_path, tasks=("reach-v3",), guardrail=tmp_path, safety_spec="none")
    with pytest.raises(ConfigError, match="plan"):
        EvalConfig(checkpoint=tmp_path, tasks=("reach-v3",), plan=4)
    with pytest.raises(ConfigError, match="guardrail"):
        WorldModelShield.load(tmp_path)
    with pytest.raises(ConfigError, match="spread"):
        PlanConfig(spread=0.0)
