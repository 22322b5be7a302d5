"""``vlastack train`` end to end on a tiny dataset written to disk: the real CLI in a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
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


def _episode(n: int, seed: int, action_dim: int = 4, camera: str = "corner2") -> Episode:
    rng = np.random.default_rng(seed)
    frames = {
        keys.image_key(camera): rng.integers(0, 256, (n, 32, 32, 3), dtype=np.uint8),
        keys.STATE: rng.normal(size=(n, 4)).astype(np.float32),
        keys.ACTION: np.tanh(rng.normal(size=(n, action_dim)).cumsum(0) * 0.2).astype(np.float32),
    }
    return Episode(task=["reach the goal", "open the drawer"][seed % 2], frames=frames, fps=20, success=True, seed=seed)


def test_cli_trains_debug_and_resumes(tmp_path):
    data = _write_dataset(tmp_path / "data", [_episode(12, 0), _episode(10, 1)])
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "vlastack", "train", "--preset", "debug", "--dataset", str(data), "--out", str(tmp_path / "run"),
           "--steps", "3", "--save-every", "2", "--no-progress"]
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "trained debug to step 3/3" in done.stdout
    assert (tmp_path / "run" / "checkpoints" / "step_00000003" / "model.safetensors").is_file()
    run = json.loads((tmp_path / "run" / "run.json").read_text())
    assert run["preset"] == "debug" and run["samples"] == 22
    from vlastack.cli.app import app
    import vlastack.cli.train  # noqa: F401  (registers the command)

    again = CliRunner().invoke(app, cmd[3:-5] + ["--steps", "4", "--save-every", "2", "--resume", "--no-progress"])
    assert again.exit_code == 0, again.output
    assert "trained debug to step 4/4" in again.output


def test_cli_names_a_feature_mismatch(tmp_path):
    from vlastack.cli.app import app
    import vlastack.cli.train  # noqa: F401  (registers the command)

    runner = CliRunner()
    wrong_dim = _write_dataset(tmp_path / "d7", [_episode(6, 0, action_dim=7)])
    result = runner.invoke(app, ["train", "--preset", "debug", "--dataset", str(wrong_dim), "--out", str(tmp_path / "r")])
    assert isinstance(result.exception, DatasetError)
    assert "'action' has shape [7] but preset 'debug'" in str(result.exception)
    other_cam = _write_dataset(tmp_path / "cam", [_episode(6, 0, camera="topview")])
    result = runner.invoke(app, ["train", "--preset", "debug", "--dataset", str(other_cam), "--out", str(tmp_path / "r")])
    assert isinstance(result.exception, DatasetError) and "no camera 'corner2'" in str(result.exception) and "topview" in str(result.exception)
    result = runner.invoke(app, ["train", "--preset", "hybird", "--dataset", str(other_cam), "--out", str(tmp_path / "r")])
    assert "Did you mean 'hybrid'" in str(result.exception)
