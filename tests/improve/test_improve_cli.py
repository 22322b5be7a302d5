"""``vlastack improve`` end to end on the real simulator with a tiny policy: the three methods, and resume."""

from __future__ import annotations

import json

import numpy as np
from typer.testing import CliRunner

from vlastack import keys
from vlastack.episodes.reader import DatasetReader
from vlastack.improve.interventions import INTERVENTION, POLICY_ACTION, count_takeovers


def _improve(root, checkpoint, out, *extra):
    from vlastack.cli.app import app

    args = ["improve", "--checkpoint", str(checkpoint), "--demos", str(root / "demos"), "--out", str(out), "--tasks", "reach-v3"]
    args += [
        "--rounds",
        "1",
        "--episodes",
        "2",
        "--workers",
        "1",
        "--no-progress",
        "--set",
        "improve.steps=2",
        "--set",
        "improve.validation_episodes=1",
    ]
    args += ["--set", "improve.max_steps=60"]  # short episodes: the arithmetic, not the skill, is under test
    return CliRunner().invoke(app, args + list(extra))


def test_interventions_are_recorded_fine_tuned_on_and_resumed(start):
    root, checkpoint = start
    out = root / "int"
    # A tiny threshold makes takeovers certain whatever the untrained policy proposes.
    gate = ["--set", "gate.threshold=0.01", "--set", "gate.patience=2", "--set", "gate.takeover_steps=6"]
    done = _improve(root, checkpoint, out, *gate)
    assert done.exit_code == 0, done.output
    reader = DatasetReader(out / "data")
    assert reader.num_episodes == 2
    cols = reader.read_columns(0)
    flags = cols[INTERVENTION].reshape(-1).astype(bool)
    # The policy acts first; the operator from the 2nd disagreeing step in a row, for 6 steps, then again.
    assert flags[:9].tolist() == [False] + [True] * 6 + [False, True]
    assert cols[POLICY_ACTION].shape == cols[keys.ACTION].shape
    table = json.loads((out / "improve.json").read_text())["rounds"]
    assert [r["round"] for r in table] == [0, 1]
    gathered = table[1]["gathered"]["reach-v3"]
    flags = [reader.read_columns(e)[INTERVENTION].reshape(-1) for e in range(2)]
    assert gathered["episodes"] == 2 and gathered["takeovers"] == sum(count_takeovers(f) for f in flags) >= 2
    frames = sum(int(f.sum()) for f in flags)
    assert gathered["intervention_frames"] == frames
    assert (out / "round_1" / "train" / "checkpoints" / "step_00000002" / "model.safetensors").is_file()
    assert "round" in done.output and "takeovers" in done.output

    again = _improve(root, checkpoint, out, *gate)
    assert again.exit_code == 0, again.output
    assert DatasetReader(out / "data").num_episodes == 2  # nothing gathered twice
    assert json.loads((out / "improve.json").read_text())["rounds"] == table

    changed = _improve(root, checkpoint, out, *gate[:4], "--set", "gate.patience=3")
    assert changed.exit_code != 0 and "other settings (gate)" in str(changed.exception)

    control = _improve(root, checkpoint, root / "demos_arm", "--method", "expert-demos", "--match", str(out))
    assert control.exit_code == 0, control.output
    added = DatasetReader(root / "demos_arm" / "data")
    mean_len = np.mean([DatasetReader(root / "demos").length(e) for e in range(2)])
    assert added.num_episodes == int(np.ceil(frames / mean_len))  # as many frames as the operator gave, whole episodes
    assert all(added.episode_meta(e)["vlastack/seed"] >= 900_000 for e in range(added.num_episodes))
    kept = json.loads((root / "demos_arm" / "round_1" / "gathered.json").read_text())["gathered"]["reach-v3"]
    assert kept["episodes"] == added.num_episodes and kept["frames"] == sum(added.length(e) for e in range(added.num_episodes))


def test_dagger_labels_every_frame_with_the_experts_action(start):
    root, checkpoint = start
    out = root / "dagger"
    gate = ["--set", "gate.threshold=0.01", "--set", "gate.patience=2", "--set", "gate.takeover_steps=6"]
    done = _improve(root, checkpoint, out, "--method", "dagger", *gate)
    assert done.exit_code == 0, done.output
    reader = DatasetReader(out / "data")
    cols = reader.read_columns(0)
    flags = cols[INTERVENTION].reshape(-1).astype(bool)
    labels, sent = cols["expert.action"], cols[keys.ACTION]
    assert labels.shape == sent.shape and np.isfinite(labels).all()
    untouched = flags & (cols["safety.interventions"].reshape(-1) == 0)
    assert untouched.any() and np.allclose(labels[untouched], sent[untouched], atol=1e-5)  # the expert's own steps
    assert not np.allclose(labels[~flags], sent[~flags], atol=1e-3)  # the policy's steps carry the expert's answer
    assert (out / "round_1" / "train" / "checkpoints" / "step_00000002" / "model.safetensors").is_file()
