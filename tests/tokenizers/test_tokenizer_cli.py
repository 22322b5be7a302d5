"""``vlastack tokenizer fit`` and ``report`` on a small synthetic dataset written by the dataset writer."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from vlastack import keys
from vlastack.cli.app import app
from vlastack.episodes.writer import DatasetWriter
from vlastack.errors import ConfigError
from vlastack.tokenizers import load_tokenizer
from vlastack.types import Episode


def write_dataset(root: Path, episodes: list[np.ndarray]) -> Path:
    """A real (LeRobot v3) dataset holding only state and action columns, so no video is encoded."""
    writer = DatasetWriter(root, robot_type="sawyer")
    for i, actions in enumerate(episodes):
        frames = {keys.STATE: np.zeros_like(actions), keys.ACTION: actions}
        writer.add_episode(Episode(task="reach", frames=frames, fps=80, success=True, seed=i, env_task="reach-v3"))
    return root


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory, episodes) -> tuple[Path, list[np.ndarray]]:
    eps = episodes(0, 12)
    return write_dataset(tmp_path_factory.mktemp("cli") / "data", eps), eps


@pytest.mark.parametrize("kind", ["fast", "bins"])
def test_fit_then_report_json(tmp_path: Path, dataset, kind: str) -> None:
    root, eps = dataset
    out = tmp_path / "tok"
    runner = CliRunner()
    fit = runner.invoke(app, ["tokenizer", "fit", "--dataset", str(root), "--kind", kind, "--horizon", "10", "--out", str(out)])
    assert fit.exit_code == 0, fit.output
    tok = load_tokenizer(out)
    assert tok.kind == kind and tok.horizon == 10 and tok.action_dim == 4

    rep = runner.invoke(app, ["tokenizer", "report", "--tokenizer", str(out), "--dataset", str(root), "--json"])
    assert rep.exit_code == 0, rep.output
    report = json.loads(rep.output)
    n_chunks = sum(len(e) for e in eps)  # one chunk per step, the last action repeated
    assert report["n_chunks"] == n_chunks and report["n_episodes"] == 12
    assert report["naive_tokens_per_chunk"] == 40
    assert report["mean_tokens_per_chunk"] <= report["p95_tokens_per_chunk"] <= report["max_tokens_per_chunk"]
    assert report["compression_ratio"] == pytest.approx(40 / report["mean_tokens_per_chunk"])
    assert 0 < report["rmse"] <= report["max_abs_error"] and report["repaired_fraction"] == 0.0
    assert report["encode_us"] > 0 and report["decode_us"] > 0
    if kind == "fast":
        assert report["compression_ratio"] > 2.0
        # the scale-10 rounding bound, in action units, for the largest dimension range
        assert report["max_abs_error"] <= 0.5 * np.sqrt(10) / 10 * tok.stats.half_range.max() + 1e-5
    else:
        assert report["mean_tokens_per_chunk"] == 40 and report["compression_ratio"] == 1.0


def test_report_table(tmp_path: Path, dataset) -> None:
    root, _ = dataset
    runner = CliRunner()
    out = tmp_path / "tok"
    assert (
        runner.invoke(app, ["tokenizer", "fit", "--dataset", str(root), "--kind", "bins", "--horizon", "4", "--out", str(out)]).exit_code
        == 0
    )
    rep = runner.invoke(app, ["tokenizer", "report", "--tokenizer", str(out), "--dataset", str(root)])
    assert rep.exit_code == 0 and "compression_ratio" in rep.output and "max_abs_error" in rep.output


def test_unknown_kind_lists_the_valid_ones(tmp_path: Path, dataset) -> None:
    root, _ = dataset
    result = CliRunner().invoke(
        app, ["tokenizer", "fit", "--dataset", str(root), "--kind", "fats", "--horizon", "4", "--out", str(tmp_path / "t")]
    )
    assert isinstance(result.exception, ConfigError)
    assert "Valid action tokenizers: bins, fast" in str(result.exception)
    assert not (tmp_path / "t").exists()


def test_real_cli_prints_one_line_errors(tmp_path: Path, dataset) -> None:
    """Through ``python -m vlastack``: a vocabulary too small for the coefficients is a one-line error, exit 2."""
    root, _ = dataset
    args = ["tokenizer", "fit", "--dataset", str(root), "--kind", "fast", "--horizon", "10", "--out", str(tmp_path / "t")]
    done = subprocess.run(
        [sys.executable, "-m", "vlastack", *args, "--scale", "200", "--vocab-size", "16"], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 2
    assert done.stderr.startswith("error: vocab_size=16 is too small for the range of integers") and "Traceback" not in done.stderr
