"""``vlastack improve --method rl-sim`` end to end on the real simulator with a tiny policy: the explored
episodes, their scores and the kept set, the round table, and a re-run that gathers nothing twice."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from vlastack import keys
from vlastack.episodes.reader import DatasetReader
from vlastack.improve.explore import EXPLORE_ACTION, ExploreConfig, episode_score, explore_action, ou_noise
from vlastack.improve.interventions import POLICY_ACTION

MAX_STEPS = 60


def _improve(root, checkpoint, out, *extra):
    from vlastack.cli.app import app

    args = ["improve", "--checkpoint", str(checkpoint), "--demos", str(root / "demos"), "--out", str(out), "--tasks", "reach-v3"]
    args += ["--method", "rl-sim", "--rounds", "1", "--episodes", "2", "--workers", "1", "--no-progress"]
    args += ["--set", "improve.steps=2", "--set", "improve.validation_episodes=1", "--set", f"improve.max_steps={MAX_STEPS}"]
    # A tiny temperature keeps only the better of the two episodes (their scores differ: different noise).
    args += ["--set", "explore.temperature=0.0001", "--set", "explore.noise_std=0.5"]
    return CliRunner().invoke(app, args + list(extra), env={"COLUMNS": "200"})


def test_rl_sim_records_scores_keeps_the_better_episode_and_does_not_gather_twice(start):
    root, checkpoint = start
    out = root / "rl"
    done = _improve(root, checkpoint, out)
    assert done.exit_code == 0, done.output
    reader = DatasetReader(out / "data")
    assert reader.num_episodes == 2
    assert sorted(int(reader.episode_meta(e)["vlastack/seed"]) for e in range(2)) == [610_000, 610_001]
    cfg = ExploreConfig(temperature=0.0001, noise_std=0.5)
    for e in range(2):
        cols, seed = reader.read_columns(e), int(reader.episode_meta(e)["vlastack/seed"])
        n = len(cols[keys.ACTION])
        noise = ou_noise(MAX_STEPS, 4, cfg.noise_std, cfg.noise_steps, seed)[:n]
        # The label is the policy's proposal plus that episode's noise, clipped; unchanged steps sent it as it was.
        assert np.allclose(cols[EXPLORE_ACTION], explore_action(cols[POLICY_ACTION], noise), atol=1e-5)
        assert not np.allclose(cols[EXPLORE_ACTION], cols[POLICY_ACTION], atol=1e-2)
        unchanged = cols["safety.interventions"].reshape(-1) == 0
        assert np.allclose(cols[keys.ACTION][unchanged], cols[EXPLORE_ACTION][unchanged], atol=1e-5)

    gathered = json.loads((out / "round_1" / "gathered.json").read_text())
    scored = gathered["scored"]
    assert [s["seed"] for s in scored] == [610_000, 610_001]
    for s in scored:
        cols = reader.read_columns(s["episode_index"])
        changed = int(np.count_nonzero(cols["safety.interventions"]))
        assert s["safety_changed_steps"] == changed and s["steps"] == len(cols[keys.REWARD])
        assert s["score"] == pytest.approx(episode_score(s["success"], cols[keys.REWARD], changed, MAX_STEPS, cfg))
    best, worst = sorted(scored, key=lambda s: s["score"], reverse=True)
    assert best["score"] > worst["score"]
    assert (best["copies"], worst["copies"]) == (8, 0)  # new_data_weight 4 x weight 2: all the weight on the better one
    stats = gathered["gathered"]["reach-v3"]
    assert stats["episodes"] == 2 and stats["kept"] == 1 and stats["frames"] == sum(s["steps"] for s in scored)
    assert stats["safety_changed_steps"] == sum(s["safety_changed_steps"] for s in scored)
    assert gathered["gather_cpu_episodes"] == 2 and gathered["gather_cpu_s"] > 0

    table = json.loads((out / "improve.json").read_text())["rounds"]
    assert [r["round"] for r in table] == [0, 1] and table[1]["gathered"] == gathered["gathered"]
    assert (out / "round_1" / "train" / "checkpoints" / "step_00000002" / "model.safetensors").is_file()
    row = next(line for line in done.output.splitlines() if line.strip("│ ").startswith("1 "))
    cells = [c.strip() for c in row.strip("│").split("│")]
    # round, success, solved / episodes, env steps so far, kept, CPU s gather / train, safety steps per episode
    assert cells[:5] == ["1", f"{table[1]['success']:.0%}", f"{stats['success']} / 2", str(stats["frames"]), "1"]
    assert cells[5] == f"{gathered['gather_cpu_s']:.0f} / {table[1]['train_cpu_s']:.0f}"
    assert cells[6] == f"{stats['safety_changed_steps'] / 2:.1f} / {table[1]['safety_changed_steps_per_episode']:.1f}"
    assert "kept" in done.output and "env steps" in done.output
    # The fine-tuning set: every demonstration frame once and the kept episode's frames 8 times.
    demos = DatasetReader(root / "demos")
    expected = sum(demos.length(e) for e in range(demos.num_episodes)) + 8 * best["steps"]
    last = json.loads((out / "round_1" / "train" / "metrics.jsonl").read_text().splitlines()[-1])
    assert round(last["step"] * 64 / last["epoch"]) == expected  # epoch = samples drawn / dataset size

    again = _improve(root, checkpoint, out)  # finished: nothing is gathered, trained or validated again
    assert again.exit_code == 0, again.output
    assert DatasetReader(out / "data").num_episodes == 2
    assert json.loads((out / "improve.json").read_text())["rounds"] == table

    (out / "round_1" / "gathered.json").unlink()  # as if stopped after the episodes, before the scores
    resumed = _improve(root, checkpoint, out)
    assert resumed.exit_code == 0, resumed.output
    assert DatasetReader(out / "data").num_episodes == 2  # the episodes on disk are not run again
    assert json.loads((out / "round_1" / "gathered.json").read_text())["scored"] == scored

    changed = _improve(root, checkpoint, out, "--set", "explore.noise_std=0.2")
    assert changed.exit_code != 0 and "other settings (explore)" in str(changed.exception)
    bad = _improve(root, checkpoint, root / "bad", "--set", "explore.noise_steps=0")
    assert bad.exit_code != 0 and "ExploreConfig.noise_steps must be > 0" in str(bad.exception)


@pytest.mark.parametrize("label", ["sent", "applied"])
def test_fine_tuning_reads_the_kept_episodes_labels_from_the_chosen_column(start, tmp_path, monkeypatch, label):
    import shutil

    import vlastack.training.loop as loop
    from vlastack.improve.rounds import ImproveConfig, _fine_tune

    root, checkpoint = start
    out = root / "rl"  # the run of the test above
    if not (out / "round_1" / "gathered.json").is_file():
        pytest.skip("needs the run of test_rl_sim_records_scores_keeps_the_better_episode_and_does_not_gather_twice")
    copy = tmp_path / "rl"
    shutil.copytree(out / "data", copy / "data")
    shutil.copytree(out / "round_1", copy / "round_1", ignore=shutil.ignore_patterns("train", "validation.json"))
    gathered = json.loads((copy / "round_1" / "gathered.json").read_text())
    for s in gathered["scored"]:  # both kept, 3 times each, so the episode the layer changed most is read too
        s["copies"] = 3
    (copy / "round_1" / "gathered.json").write_text(json.dumps(gathered))
    config = ImproveConfig(
        checkpoint=checkpoint,
        demos=root / "demos",
        tasks=("reach-v3",),
        out=copy,
        method="rl-sim",
        explore=ExploreConfig(label=label),
        max_steps=MAX_STEPS,
    )
    seen = {}

    class _Stop(Exception):
        pass

    def fake_train(cfg, tcfg, dataset, *args, **kwargs):
        seen["parts"] = dataset.datasets
        raise _Stop

    monkeypatch.setattr(loop, "train", fake_train)
    with pytest.raises(_Stop):
        _fine_tune(config, checkpoint, 1, progress=False)
    demos, *new = seen["parts"]
    assert len(new) == 3 and all(p is new[0] for p in new) and new[0].episodes == [0, 1]
    e = max(gathered["scored"], key=lambda s: s["safety_changed_steps"])["episode_index"]
    cols = DatasetReader(copy / "data").read_columns(e)
    differ = np.flatnonzero(np.abs(cols[EXPLORE_ACTION] - cols[keys.ACTION]).max(axis=1) > 1e-3)
    assert len(differ) > 0  # the layer changed some of the actions sent: the two columns are not the same
    t = int(differ[0])
    sample = new[0][(DatasetReader(copy / "data").length(0) if e == 1 else 0) + t]  # episode 0's samples come first
    assert sample[keys.FRAME_INDEX] == t and sample[keys.EPISODE_INDEX] == e
    column = EXPLORE_ACTION if label == "sent" else keys.ACTION
    assert np.allclose(sample[keys.ACTION][0].numpy(), cols[column][t], atol=1e-6)


def test_adaptive_noise_from_the_start_validation_and_noise_only_until_first_contact(start, monkeypatch):
    from vlastack.envs.metaworld import MetaWorldEnv

    root, checkpoint = start
    out = root / "rl_adaptive"
    # A scripted first contact (the untrained policy touches nothing in 60 steps): the right finger reads 2 N from step 25 on.
    monkeypatch.setattr(MetaWorldEnv, "_touch", lambda env: np.array([2.0 * (env._steps >= 25), 0.0], np.float32))
    options = ["--set", "explore.adaptive_noise=true", "--set", "explore.noise_until=first_contact"]
    done = _improve(root, checkpoint, out, *options)
    assert done.exit_code == 0, done.output
    s = json.loads((out / "start_validation.json").read_text())["per_task"]["reach-v3"]
    stats = json.loads((out / "round_1" / "gathered.json").read_text())["gathered"]["reach-v3"]
    std = 0.5 * max(0.1, 1 - s)
    assert stats["noise_success"] == s and stats["noise_std"] == pytest.approx(std)
    reader, scored = DatasetReader(out / "data"), json.loads((out / "round_1" / "gathered.json").read_text())["scored"]
    assert stats["noisy_steps"] == sum(e["noisy_steps"] for e in scored)
    for e in scored:
        cols, n = reader.read_columns(e["episode_index"]), e["noisy_steps"]
        touch = cols[keys.TOUCH].max(axis=1)
        # Noise (of the scaled std) until the first frame whose touch is above the threshold, the policy alone after.
        assert n == 25 < e["steps"] and (touch[:n] <= 1.0).all() and touch[n] > 1.0
        noise = ou_noise(MAX_STEPS, 4, std, 20.0, e["seed"])[:n]
        assert np.allclose(cols[EXPLORE_ACTION][:n], explore_action(cols[POLICY_ACTION][:n], noise), atol=1e-5)
        assert np.array_equal(cols[EXPLORE_ACTION][n:], cols[POLICY_ACTION][n:])
    assert f"{std:.2f}" in done.output.splitlines()[-2]  # the table's noise std column, round 1
