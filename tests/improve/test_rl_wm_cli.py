"""``vlastack improve --method rl-wm`` end to end on tiny data: two tasks' expert demonstrations, an l1-debug policy,
and a world model (dynamics, heads, guardrail at a horizon shorter than the policy's chunk, progress head) made
through the CLI; one round imagines at a few demonstration frames (no environment step), fine-tunes on the kept
labels, validates in the simulator, and a re-run redoes nothing. A world model that does not fit the policy is
refused before anything runs, with the field named."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from tests.improve.conftest import close_worker_envs, tiny_start
from vlastack import keys
from vlastack.checkpoint import load_safetensors
from vlastack.episodes.reader import DatasetReader
from vlastack.errors import ConfigError

pytestmark = pytest.mark.slow

TASKS = "reach-v3,button-press-topdown-v3"
MAX_STEPS = 30


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    import vlastack.cli  # noqa: F401  (registers every command)
    from vlastack.cli.app import app

    root = tmp_path_factory.mktemp("rlwm")
    checkpoint = tiny_start(root, TASKS, 1, "l1-debug", 4)
    small = ["--set", "steps=4", "--set", "save_every=4", "--set", "hidden=16", "--set", "batch_size=8"]
    for cmd in (
        ["wm", "train", "--dataset", str(root / "demos"), "--encoder", str(checkpoint), "--out", str(root / "dyn"), *small]
        + ["--set", "chunk=2"],
        ["wm", "heads", "--dynamics", str(root / "dyn"), "--out", str(root / "heads"), *small, "--set", "max_rollout=3"],
        ["wm", "guardrail", "--heads", str(root / "heads"), "--out", str(root / "guard"), "--horizon", "3"],
        ["wm", "progress", "--dynamics", str(root / "dyn"), "--out", str(root / "progress"), *small, "--set", "max_rollout=3"],
    ):
        done = CliRunner().invoke(app, cmd)
        assert done.exit_code == 0, (cmd, done.output, done.exception)
    yield root, checkpoint
    close_worker_envs()


def _improve(root, checkpoint, out, *extra, world_model=None):
    from vlastack.cli.app import app

    args = ["improve", "--checkpoint", str(checkpoint), "--demos", str(root / "demos"), "--out", str(out), "--tasks", TASKS]
    args += ["--method", "rl-wm", "--rounds", "1", "--workers", "1", "--no-progress"]
    args += ["--world-model", str(world_model or root / "guard"), "--progress-head", str(root / "progress")]
    args += ["--set", "improve.steps=2", "--set", "improve.validation_episodes=1", "--set", f"improve.max_steps={MAX_STEPS}"]
    # margin 0: any candidate the model scores above the policy's own chunk is kept
    args += ["--set", "imagine.frames_per_task=5", "--set", "imagine.candidates=3", "--set", "imagine.margin=0", "--set", "imagine.batch=4"]
    return CliRunner().invoke(app, args + list(extra), env={"COLUMNS": "250"})


def test_a_round_imagines_labels_at_demonstration_frames_takes_no_environment_step_and_resumes(world):
    from vlastack.cli.improve import gathered_steps
    from vlastack.data.windows import WindowDataset, collate
    from vlastack.improve.imagine import ImagineConfig, make_candidates
    from vlastack.policies import load_policy

    root, checkpoint = world
    out = root / "wm_run"
    done = _improve(root, checkpoint, out)
    assert done.exit_code == 0, (done.output, done.exception)
    assert not (out / "data").exists()  # nothing gathered in the simulator
    gathered = json.loads((out / "round_1" / "gathered.json").read_text())
    scored = json.loads((out / "round_1" / "scored.json").read_text())
    labels = load_safetensors(out / "round_1" / "labels.safetensors")
    tasks = TASKS.split(",")
    assert [r["task"] for r in scored] == [tasks[0]] * 5 + [tasks[1]] * 5
    for task in tasks:
        s = gathered["gathered"][task]
        mine = [r for r in scored if r["task"] == task]
        assert s["frames"] == 0 and s["start_frames"] == 5 and s["imagined_rollouts"] == 5 * 4
        assert s["kept"] == sum(r["gain"] > 0 for r in mine) and s["copies"] == sum(r["copies"] for r in mine)
        assert s["promised"] == pytest.approx(sum(r["gain"] for r in mine if r["copies"]) / 5)
    for r in scored:
        assert r["gain"] == pytest.approx(r["best_score"] - r["own_score"]) and r["gain"] >= 0
        assert (r["copies"] > 0) == (r["gain"] > 0) and (r["best"] == 0) == (r["gain"] == 0)
        assert r["steps"] == 3  # the guardrail's horizon, under the policy's 4
    kept = [r for r in scored if r["copies"]]
    assert kept, "the tiny world model should prefer some candidate somewhere"
    assert labels["episode"].tolist() == [r["episode"] for r in kept] and labels["frame"].tolist() == [r["frame"] for r in kept]
    assert labels["copies"].tolist() == [r["copies"] for r in kept] and labels["chunk"].shape == (len(kept), 4, 4)

    # the label of a kept frame is the chosen candidate around the start policy's own chunk at that frame
    r = kept[0]
    policy = load_policy(checkpoint).pack_for_inference()
    reader = DatasetReader(root / "demos")
    windows = WindowDataset(reader, action_horizon=4, image_keys=[keys.image_key("corner2")], frames="memory")
    with torch.inference_mode():
        own = np.asarray(policy.sample_actions(collate([windows[windows.sample_index(r["episode"], r["frame"])]])).actions[0])
    cfg = ImagineConfig(frames_per_task=5, candidates=3, margin=0.0, batch=4)
    expected = make_candidates(own, cfg, (1, r["episode"], r["frame"]))[r["best"]]
    assert np.allclose(labels["chunk"][0].numpy(), expected, atol=1e-5)

    table = json.loads((out / "improve.json").read_text())["rounds"]
    assert [row["round"] for row in table] == [0, 1] and gathered_steps(table[1]) == 0
    assert table[1]["gathered"] == gathered["gathered"] and table[1]["gather_cpu_s"] > 0
    im = table[1]["imagination"]
    after = json.loads((out / "round_1" / "imagined_after.json").read_text())
    for task in tasks:
        assert im[task]["real"] == pytest.approx(table[1]["per_task"][task] - table[0]["per_task"][task])
        assert im[task]["promised"] == gathered["gathered"][task]["promised"] and im[task]["imagined"] == after[task]["imagined"]
        assert after[task]["own_score_before"] == pytest.approx(np.mean([x["own_score"] for x in scored if x["task"] == task]))
    # the fine-tuning set: every demonstration frame once, and each kept frame as many times as its copies
    expected_size = sum(reader.length(e) for e in range(reader.num_episodes)) + sum(r["copies"] for r in kept)
    last = json.loads((out / "round_1" / "train" / "metrics.jsonl").read_text().splitlines()[-1])
    assert round(last["step"] * 64 / last["epoch"]) == expected_size
    assert "imagined rollouts" in done.output and "imagined against real" in done.output
    row = next(line for line in done.output.splitlines() if line.strip("│ ").startswith("1 "))
    cells = [c.strip() for c in row.strip("│").split("│")]
    assert cells[2:5] == ["0", "40", f"{len(kept)} / 10"]  # env steps gathering, imagined rollouts, kept / start frames

    stamp = (out / "round_1" / "labels.safetensors").stat().st_mtime_ns
    again = _improve(root, checkpoint, out)  # finished: nothing is imagined, trained or validated again
    assert again.exit_code == 0, again.output
    assert json.loads((out / "improve.json").read_text())["rounds"] == table
    assert (out / "round_1" / "labels.safetensors").stat().st_mtime_ns == stamp

    (out / "round_1" / "gathered.json").unlink()  # as if stopped before the round's summary: imagined again, the same
    resumed = _improve(root, checkpoint, out)
    assert resumed.exit_code == 0, resumed.output
    assert json.loads((out / "round_1" / "scored.json").read_text()) == scored
    assert torch.equal(load_safetensors(out / "round_1" / "labels.safetensors")["chunk"], labels["chunk"])

    changed = _improve(root, checkpoint, out, "--set", "imagine.candidates=2")
    assert changed.exit_code != 0 and "other settings (imagine)" in str(changed.exception)


def test_a_world_model_that_does_not_fit_the_policy_is_refused_with_the_field_named(world, tmp_path):
    root, checkpoint = world
    record = json.loads((root / "guard" / "guardrail.json").read_text())

    def guard(**changes):
        d = tmp_path / f"guard_{len(list(tmp_path.iterdir()))}"
        d.mkdir()
        (d / "guardrail.json").write_text(json.dumps({**record, **changes}))
        return d

    # a dynamics model trained on other actions (3-d: another robot)
    dyn = tmp_path / "dyn3"
    shutil.copytree(record["dynamics"], dyn)
    cfg = json.loads((dyn / "config.json").read_text())
    cfg["meta"]["action_dim"] = 3
    (dyn / "config.json").write_text(json.dumps(cfg))
    done = _improve(root, checkpoint, tmp_path / "a", world_model=guard(dynamics=str(dyn)))
    assert isinstance(done.exception, ConfigError) and "improve.world_model" in str(done.exception) and "3-d actions" in str(done.exception)
    assert not (tmp_path / "a" / "improve_config.json").exists()  # refused before the run started

    other = tmp_path / "enc"
    shutil.copytree(checkpoint, other)
    done = _improve(root, checkpoint, tmp_path / "b", world_model=guard(encoder=str(other)))
    assert isinstance(done.exception, ConfigError) and "improve.world_model" in str(done.exception) and "encoder" in str(done.exception)

    # a progress head trained with another dynamics run: its inputs would be in other units
    prog = tmp_path / "prog"
    shutil.copytree(root / "progress", prog)
    ckpt = sorted((prog / "checkpoints").iterdir())[-1]
    cfg = json.loads((ckpt / "config.json").read_text())
    cfg["meta"]["dynamics"] = str(dyn)
    (ckpt / "config.json").write_text(json.dumps(cfg))
    from vlastack.cli.app import app

    args = ["improve", "--checkpoint", str(checkpoint), "--demos", str(root / "demos"), "--out", str(tmp_path / "c"), "--tasks", TASKS]
    args += ["--method", "rl-wm", "--world-model", str(root / "guard"), "--progress-head", str(prog), "--no-progress"]
    done = CliRunner().invoke(app, args)
    assert isinstance(done.exception, ConfigError) and "improve.progress_head" in str(done.exception)

    done = _improve(root, checkpoint, tmp_path / "d", world_model=tmp_path)  # no guardrail.json
    assert isinstance(done.exception, ConfigError) and "improve.world_model" in str(done.exception) and "guardrail" in str(done.exception)
