"""``vlastack wm eval``: tiny dynamics, latent-action and heads runs made through the CLI are evaluated in
one command whose JSON holds every part with sane numbers; a run of the wrong kind names its option."""

from __future__ import annotations

import json
import math

import pytest
import torch
from typer.testing import CliRunner

from tests.conftest import synthetic_episode
from tests.world_model.test_heads import write_dataset

SMALL = ["--set", "steps=4", "--set", "save_every=2", "--set", "hidden=16", "--set", "batch_size=8"]


def _cli(*args):
    from vlastack.cli import app

    return CliRunner().invoke(app, [str(a) for a in args])


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """6 episodes of 40 frames (2 held out); a dynamics run, a latent run on the action-free copy, heads."""
    from vlastack.policies.presets import PRESETS
    from vlastack.policies.untrained import untrained_policy

    root = tmp_path_factory.mktemp("wm_eval")
    write_dataset(root / "data", synthetic_episode, 6, extra=False, length=40)
    untrained_policy(PRESETS.get("l1-debug").policy).save_pretrained(root / "enc")
    split = ["--encoder", root / "enc", "--held-out-every", 3, *SMALL]
    steps = [
        ("wm", "train", "--dataset", root / "data", "--out", root / "dyn", *split, "--set", "chunk=4"),
        ("wm", "strip-actions", "--dataset", root / "data", "--out", root / "data_noaction"),
        ("wm", "latent", "--dataset", root / "data_noaction", "--out", root / "lam", *split, "--set", "gap=4"),
        ("wm", "heads", "--dynamics", root / "dyn", "--out", root / "heads", *SMALL, "--set", "max_rollout=4"),
    ]
    for args in steps:
        result = _cli(*args)
        assert result.exit_code == 0, (args, result.output, result.exception)
    return root


def test_wm_eval_reports_every_run_in_one_json(runs):
    from vlastack.world_model.runs import DynamicsRun

    out = runs / "eval" / "eval.json"
    args = ["--dynamics", runs / "dyn", "--latent", runs / "lam", "--heads", runs / "heads"]
    result = _cli("wm", "eval", *args, "--horizons", "1,4,64", "--guard-horizons", "4", "--json", out)
    assert result.exit_code == 0, (result.output, result.exception)
    for title in (
        "## Embedding prediction error",
        "## Positions read",
        "## Latent actions",
        "| keep_out | 4 |",
        "## Guardrail replay, chunks of 4",
    ):
        assert title in result.output
    rep = json.loads(out.read_text())
    assert list(rep) == ["dynamics", "horizon_mse", "position_readout_cm", "latent_actions", "heads"]

    mse = {r["horizon"]: r for r in rep["horizon_mse"]}
    assert sorted(mse) == [1, 4, 64] and mse[64]["n"] == 0 and math.isnan(mse[64]["copy_last"])  # longer than any episode
    assert mse[1]["n"] == 2 * 38 and all(math.isfinite(mse[h][k]) for h in (1, 4) for k in ("model", "copy_last", "linear"))
    # copy-last at horizon 1 is the mean squared step z(t+1) - z(t), t >= 1, of the held-out episodes
    run = DynamicsRun.load(runs / "dyn")
    held = run.table.select(run.held_out)
    z = run.model.norm.normalize(held.z)
    steps = torch.cat([z[held.episode == e][2:] - z[held.episode == e][1:-1] for e in run.held_out])
    assert mse[1]["copy_last"] == pytest.approx(float((steps**2).mean()), rel=1e-5)
    assert {(r["horizon"], r["target"]) for r in rep["position_readout_cm"]} == {(h, t) for h in (1, 4, 64) for t in ("object", "goal")}
    assert all(math.isfinite(r["true"]) and r["true"] >= 0 for r in rep["position_readout_cm"] if r["n"])

    lat = rep["latent_actions"]
    assert lat["max_abs_embedding_difference_action_free_vs_labelled"] < 1e-5  # the same frames, encoded twice
    assert 1 <= lat["codebook_held_out"]["used"] <= lat["codebook_held_out"]["size"]
    assert "action_readout" in lat and math.isfinite(lat["forward_mse"]["with_own_code"])

    heads = rep["heads"]
    assert heads["dynamics"] == str(run.checkpoint)
    rows = heads["per_dataset"][str(runs / "data")]["rows"]
    assert len(rows) == 3 * 4  # horizons x events
    keep_out = [r for r in rows if r["event"] == "keep_out" and r["horizon"] == 1][0]
    assert keep_out["positives"] > 0 and 0.0 <= keep_out["true"]["auroc"] <= 1.0
    guard = heads["guardrail"]["4"]
    assert "keep_out" in guard["thresholds"] and guard["check_ms_median"] > 0
    assert guard[str(runs / "data")]["checks"] == 2 * (40 - 4)


def test_wm_eval_names_the_option_of_a_run_of_the_wrong_kind(runs):
    from vlastack.errors import CheckpointError, ConfigError

    for option, run, kind in [("--dynamics", "heads", "dynamics"), ("--heads", "dyn", "heads"), ("--latent", "dyn", "latent_actions")]:
        result = _cli("wm", "eval", option, runs / run)
        assert isinstance(result.exception, CheckpointError), result.output
        assert str(result.exception).startswith(f"{option}: ") and f"not a {kind} checkpoint" in str(result.exception)
    result = _cli("wm", "eval")
    assert isinstance(result.exception, ConfigError) and "--dynamics, --latent or --heads" in str(result.exception)
    result = _cli("wm", "eval", "--dynamics", runs / "dyn", "--horizons", "1,x")
    assert isinstance(result.exception, ConfigError) and "--horizons" in str(result.exception)


def test_positions_are_read_out_only_from_a_meta_world_state(runs):
    from vlastack.world_model.report import dynamics_report, markdown
    from vlastack.world_model.runs import DynamicsRun

    run = DynamicsRun.load(runs / "dyn")
    assert "## Positions read" in markdown(dynamics_report(run, [1], [1]))
    run.table.env_state = None  # a dataset without observation.environment_state
    rep = dynamics_report(run, [1], [1])
    assert "position_readout_cm" not in rep and "## Positions read" not in markdown(rep)
