"""``vlastack train`` end to end on a tiny dataset written to disk: the real CLI in a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from vlastack import keys
from vlastack.errors import DatasetError
from vlastack.types import Episode

writer_mod = pytest.importorskip("vlastack.episodes.writer")


def _write_dataset(root, episodes):
    w = writer_mod.DatasetWriter(root)
    for ep in episodes:
        w.add_episode(ep)
    return root


def _episode(n: int, seed: int, action_dim: int = 4, camera: str = "corner2", size: int = 32) -> Episode:
    rng = np.random.default_rng(seed)
    frames = {
        keys.image_key(camera): rng.integers(0, 256, (n, size, size, 3), dtype=np.uint8),
        keys.STATE: rng.normal(size=(n, 4)).astype(np.float32),
        keys.ACTION: np.tanh(rng.normal(size=(n, action_dim)).cumsum(0) * 0.2).astype(np.float32),
    }
    return Episode(task=["reach the goal", "open the drawer"][seed % 2], frames=frames, fps=20, success=True, seed=seed)


def test_cli_trains_debug_and_resumes(tmp_path):
    data = _write_dataset(tmp_path / "data", [_episode(12, 0), _episode(10, 1)])
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [
        sys.executable,
        "-m",
        "vlastack",
        "train",
        "--preset",
        "debug",
        "--dataset",
        str(data),
        "--out",
        str(tmp_path / "run"),
        "--steps",
        "3",
        "--save-every",
        "2",
        "--no-progress",
    ]
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "trained debug to step 3/3" in done.stdout
    assert (tmp_path / "run" / "checkpoints" / "step_00000003" / "model.safetensors").is_file()
    run = json.loads((tmp_path / "run" / "run.json").read_text())
    assert run["preset"] == "debug" and run["samples"] == 22
    import vlastack.cli.train  # noqa: F401  (registers the command)
    from vlastack.cli.app import app

    again = CliRunner().invoke(app, cmd[3:-5] + ["--steps", "4", "--save-every", "2", "--resume", "--no-progress"])
    assert again.exit_code == 0, again.output
    assert "trained debug to step 4/4" in again.output


def test_checkpoints_record_the_data_resolution_and_export_drops_training_state(tmp_path):
    import vlastack.cli.export  # noqa: F401  (registers the commands)
    import vlastack.cli.train  # noqa: F401
    from vlastack.cli.app import app
    from vlastack.errors import CheckpointError
    from vlastack.evaluation.runner import _LocalPolicy
    from vlastack.policies import load_policy

    data = _write_dataset(tmp_path / "data", [_episode(9, 0, size=40), _episode(8, 1, size=40)])
    run = CliRunner().invoke(
        app, ["train", "--preset", "debug", "--dataset", str(data), "--out", str(tmp_path / "run"), "--steps", "2", "--no-progress"]
    )
    assert run.exit_code == 0, run.output
    ckpt = tmp_path / "run" / "checkpoints" / "step_00000002"
    assert json.loads((ckpt / "config.json").read_text())["data"] == {"image_size": [40, 40]}
    out = tmp_path / "shipped"
    done = CliRunner().invoke(app, ["export", "--checkpoint", str(ckpt), "--out", str(out)])
    assert done.exit_code == 0, done.output
    assert (ckpt / "training").is_dir() and not (out / "training").exists()
    assert sorted(p.name for p in out.iterdir()) == sorted(p.name for p in ckpt.iterdir() if p.name != "training")
    loaded, original = load_policy(out), load_policy(ckpt)
    assert loaded.data_info == {"image_size": [40, 40]} and loaded.config == original.config
    assert all(np.array_equal(a, b) for a, b in zip(loaded.state_dict().values(), original.state_dict().values()))
    assert _LocalPolicy(out).image_size == 40  # evaluation renders at the recorded 40 px, not the encoder's 32
    with pytest.raises(CheckpointError, match="already exists"):
        vlastack.cli.export.export(checkpoint=ckpt, out=out)
    with pytest.raises(CheckpointError, match="config.json"):
        vlastack.cli.export.export(checkpoint=tmp_path / "data", out=tmp_path / "nowhere")
    small = tmp_path / "small"
    done = CliRunner().invoke(app, ["export", "--checkpoint", str(ckpt), "--out", str(small), "--half", "--execute-steps", "2"])
    assert done.exit_code == 0, done.output
    from vlastack.checkpoint import load_safetensors

    assert {v.dtype for v in load_safetensors(small / "model.safetensors").values() if v.is_floating_point()} == {torch.float16}
    assert (small / "model.safetensors").stat().st_size < 0.6 * (out / "model.safetensors").stat().st_size
    halved = load_policy(small)
    assert halved.config.execute_steps == 2 and next(halved.parameters()).dtype == torch.float32
    for (name, a), b in zip(halved.state_dict().items(), original.state_dict().values()):
        torch.testing.assert_close(a, b.to(a.dtype), atol=1e-3, rtol=1e-2, msg=name)  # float16 rounding only
    bad = CliRunner().invoke(app, ["export", "--checkpoint", str(ckpt), "--out", str(tmp_path / "bad"), "--execute-steps", "99"])
    assert bad.exit_code != 0 and "execute_steps" in str(bad.exception) and not (tmp_path / "bad").exists()
    assert not (tmp_path / "bad.tmp").exists()


def test_cli_names_a_feature_mismatch(tmp_path):
    import vlastack.cli.train  # noqa: F401  (registers the command)
    from vlastack.cli.app import app

    runner = CliRunner()
    wrong_dim = _write_dataset(tmp_path / "d7", [_episode(6, 0, action_dim=7)])
    result = runner.invoke(app, ["train", "--preset", "debug", "--dataset", str(wrong_dim), "--out", str(tmp_path / "r")])
    assert isinstance(result.exception, DatasetError)
    assert "'action' has shape [7] but preset 'debug'" in str(result.exception)
    assert str(result.exception).endswith("expects [4]: train it with --set policy.action_dim=7")  # the way out, named
    other_cam = _write_dataset(tmp_path / "cam", [_episode(6, 0, camera="topview")])
    result = runner.invoke(app, ["train", "--preset", "debug", "--dataset", str(other_cam), "--out", str(tmp_path / "r")])
    assert (
        isinstance(result.exception, DatasetError) and "no camera 'corner2'" in str(result.exception) and "topview" in str(result.exception)
    )
    result = runner.invoke(app, ["train", "--preset", "hybird", "--dataset", str(other_cam), "--out", str(tmp_path / "r")])
    assert "Did you mean 'hybrid'" in str(result.exception)


def test_cli_input_overrides_change_the_policy_and_are_checked(tmp_path):
    import vlastack.cli.train  # noqa: F401  (registers the command)
    from vlastack.cli.app import app
    from vlastack.policies import load_policy

    runner = CliRunner()
    data = _write_dataset(tmp_path / "d", [_episode(6, 0, camera="topview")])
    result = runner.invoke(
        app, ["train", "--preset", "debug", "--dataset", str(data), "--out", str(tmp_path / "r"), "--cameras", "topview,gripperPOV"]
    )
    assert isinstance(result.exception, DatasetError) and "no camera 'gripperPOV'" in str(result.exception)
    result = runner.invoke(
        app, ["train", "--preset", "debug", "--dataset", str(data), "--out", str(tmp_path / "r"), "--cameras", "topview", "--touch"]
    )
    assert isinstance(result.exception, DatasetError) and "'observation.touch'" in str(result.exception)
    result = runner.invoke(
        app,
        [
            "train",
            "--preset",
            "debug",
            "--dataset",
            str(data),
            "--out",
            str(tmp_path / "r"),
            "--cameras",
            "topview",
            "--steps",
            "1",
            "--no-progress",
        ],
    )
    assert result.exit_code == 0, result.output
    assert load_policy(tmp_path / "r" / "checkpoints" / "step_00000001").config.cameras == ("topview",)


def test_cli_trains_the_l1_policy_with_overrides_and_it_evaluates_offline(tmp_path):
    """The fifth family goes through the same command as the VLA presets; ``--set`` reaches any field."""
    import vlastack.cli.train  # noqa: F401
    from vlastack.cli.app import app
    from vlastack.policies import load_policy

    data = _write_dataset(tmp_path / "data", [_episode(12, 0), _episode(10, 1)])
    args = [
        "train",
        "--preset",
        "l1-debug",
        "--dataset",
        str(data),
        "--out",
        str(tmp_path / "run"),
        "--steps",
        "2",
        "--no-progress",
        "--set",
        "policy.keypoints=6",
        "--set",
        "policy.channels=[4,8,8]",
        "--set",
        "train.lr=0.002",
        "--frames",
        "memmap",
    ]
    done = CliRunner().invoke(app, args)
    assert done.exit_code == 0, done.output
    policy = load_policy(tmp_path / "run" / "checkpoints" / "step_00000002")
    assert policy.policy_name == "l1" and policy.config.keypoints == 6 and policy.config.channels == (4, 8, 8)
    run = json.loads((tmp_path / "run" / "run.json").read_text())
    assert run["train"]["lr"] == 0.002
    assert any((data / "cache").iterdir())  # --frames memmap read the frames from the on-disk cache


@pytest.mark.parametrize(
    ("assignment", "message"),
    [
        ("policy.keypointz=3", "unknown policy field 'keypointz'. Did you mean 'keypoints'?"),
        ("model.lr=3", "unknown config section 'model'"),
        ("policy.keypoints=0", r"keypoints: must be >= 1, got 0"),
        ("train.lr", "expected SECTION.FIELD=VALUE"),
        ("policy.keypoints=many", "expected int, got 'many'"),
        ("train.episodes_per_task=0", "TrainConfig.episodes_per_task: must be an integer >= 1 or None (all episodes), got 0"),
        ("train.tasks=,", "TrainConfig.tasks: must name at least one task, each once, none empty, got ','"),
        ("train.tasks=[1]", "TrainConfig.tasks: must be a list of task names, one comma-separated string of them, or None"),
    ],
)
def test_bad_overrides_are_named(tmp_path, assignment, message):
    import vlastack.cli.train  # noqa: F401
    from vlastack.cli.app import app

    data = _write_dataset(tmp_path / "data", [_episode(6, 0)])
    done = CliRunner().invoke(
        app, ["train", "--preset", "l1-debug", "--dataset", str(data), "--out", str(tmp_path / "run"), "--no-progress", "--set", assignment]
    )
    assert done.exit_code != 0
    assert isinstance(done.exception, Exception) and message in str(done.exception)
    assert not (tmp_path / "run").exists()


def test_cli_trains_on_the_first_episodes_of_each_task_with_their_statistics_and_resumes_exactly(tmp_path):
    import vlastack.cli.train  # noqa: F401
    from vlastack.cli.app import app
    from vlastack.data.subset import subset_stats
    from vlastack.episodes.reader import DatasetReader
    from vlastack.policies import load_policy
    from vlastack.policies.normalize import normalizer_for

    # tasks alternate with the seed: "reach the goal" is episodes 0, 2, 4 and "open the drawer" 1, 3
    data = _write_dataset(tmp_path / "data", [_episode(8 + i, i) for i in range(5)])
    base = [
        "train",
        "--preset",
        "debug",
        "--dataset",
        str(data),
        "--save-every",
        "2",
        "--no-progress",
        "--set",
        "train.episodes_per_task=1",
    ]
    done = CliRunner().invoke(app, base + ["--out", str(tmp_path / "straight"), "--steps", "4"])
    assert done.exit_code == 0, done.output
    run = json.loads((tmp_path / "straight" / "run.json").read_text())
    assert run["episodes"] == [0, 1] and run["samples"] == 8 + 9 and run["train"]["episodes_per_task"] == 1

    # the policy normalises with the statistics of episodes 0 and 1, not the dataset's stats.json
    policy = load_policy(tmp_path / "straight" / "checkpoints" / "step_00000004")
    reader = DatasetReader(data)
    expected = normalizer_for(policy.config, subset_stats(reader, [0, 1])).state_dict()
    whole = normalizer_for(policy.config, reader.stats).state_dict()
    weights = policy.state_dict()
    compared = 0
    for name, value in expected.items():
        (held,) = [v for k, v in weights.items() if k.endswith(name)]
        torch.testing.assert_close(held, value, msg=name)
        compared += 1
    assert compared >= 2 and any(not torch.allclose(expected[k], whole[k]) for k in expected)

    # an interrupted run resumed on the same subset ends with the same weights; another subset is refused
    half = CliRunner().invoke(app, base + ["--out", str(tmp_path / "resumed"), "--steps", "2"])
    assert half.exit_code == 0, half.output
    rest = CliRunner().invoke(app, base + ["--out", str(tmp_path / "resumed"), "--steps", "4", "--resume"])
    assert rest.exit_code == 0, rest.output
    resumed = load_policy(tmp_path / "resumed" / "checkpoints" / "step_00000004").state_dict()
    for name, value in weights.items():
        torch.testing.assert_close(resumed[name], value, rtol=0, atol=0, msg=name)
    other = base[:-1] + ["train.episodes_per_task=2", "--out", str(tmp_path / "resumed"), "--steps", "6", "--resume"]
    refused = CliRunner().invoke(app, other)
    assert refused.exit_code != 0 and "episodes_per_task: run has 1, now 2" in str(refused.exception)

    short = CliRunner().invoke(app, base[:-1] + ["train.episodes_per_task=3", "--out", str(tmp_path / "short"), "--steps", "1"])
    assert isinstance(short.exception, DatasetError)
    assert "train.episodes_per_task=3" in str(short.exception) and "'open the drawer': 2" in str(short.exception)


def test_cli_trains_on_the_named_tasks_only_and_records_their_embodiments(tmp_path):
    """train.tasks: one dataset of several robosuite arms serves a policy of some of them (issue 17 item 3)."""
    import vlastack.cli.train  # noqa: F401
    from vlastack.cli.app import app

    arms = ["rs-lift-panda", "rs-lift-jaco", "rs-lift-panda", "rs-lift-ur5e", "rs-lift-ur5e"]
    episodes = []
    for i, arm in enumerate(arms):
        episodes.append(_episode(8 + i, i))
        episodes[-1].env_task = arm
    data = _write_dataset(tmp_path / "data", episodes)
    base = ["train", "--preset", "debug", "--dataset", str(data), "--steps", "1", "--no-progress"]

    def run(name: str, *sets: str):
        args = base + ["--out", str(tmp_path / name)] + [a for s in sets for a in ("--set", s)]
        return CliRunner().invoke(app, args), tmp_path / name

    done, out = run("two", "train.tasks=rs-lift-panda,rs-lift-ur5e")
    assert done.exit_code == 0, done.output
    info = json.loads((out / "run.json").read_text())
    assert info["episodes"] == [0, 2, 3, 4] and info["train"]["tasks"] == ["rs-lift-panda", "rs-lift-ur5e"]
    config = json.loads((out / "checkpoints" / "step_00000001" / "config.json").read_text())
    assert config["data"]["embodiments"] == ["robosuite_panda", "robosuite_ur5e"]  # not the dataset's jaco

    done, out = run("first", "train.tasks=rs-lift-ur5e,rs-lift-panda", "train.episodes_per_task=1")
    assert done.exit_code == 0, done.output
    assert json.loads((out / "run.json").read_text())["episodes"] == [0, 3]
    done, out = run("json", 'train.tasks=["rs-lift-jaco"]')
    assert done.exit_code == 0, done.output
    assert json.loads((out / "run.json").read_text())["episodes"] == [1]

    refused = CliRunner().invoke(app, base + ["--out", str(out), "--steps", "2", "--resume", "--set", "train.tasks=rs-lift-panda"])
    assert refused.exit_code != 0 and "tasks: run has ['rs-lift-jaco'], now ('rs-lift-panda',)" in str(refused.exception)
    missing, _ = run("missing", "train.tasks=rs-lift-iiwa")
    assert isinstance(missing.exception, DatasetError)
    assert "train.tasks: " in str(missing.exception) and "['rs-lift-iiwa']" in str(missing.exception)
