"""``vlastack report RUN_A RUN_B``: results read from folders, results.json or ``eval --json`` output,
compared per group and per task; bad input named."""

from __future__ import annotations

import json
import re

import pytest
from typer.testing import CliRunner

from vlastack.cli import app
from vlastack.errors import ConfigError
from vlastack.evaluation.compare import load_runs, markdown_tables
from vlastack.evaluation.protocol import EpisodeResult, summarize


def _result(tasks: list[str], wins: set[str], **config) -> dict:
    results = [EpisodeResult(t, 100000, t in wins, 50) for t in tasks]
    summary = summarize(results, tasks)
    summary["config"] = {"checkpoint": "/abs/runs/a/checkpoints/step_00000010", "episodes": 1, "seed_offset": 100000, **config}
    return {"summary": summary, "episodes": [r.to_dict() for r in results]}


@pytest.fixture
def three_runs(tmp_path):
    folder = tmp_path / "run_a"
    folder.mkdir()
    (folder / "results.json").write_text(json.dumps(_result(["reach-v3", "push-v3"], {"reach-v3"})))
    (tmp_path / "b.json").write_text(json.dumps(_result(["reach-v3", "push-v3"], {"reach-v3", "push-v3"})))
    # what `vlastack eval --json > c.json` saves: the summary alone, of another task set and seed range
    (tmp_path / "c.json").write_text(json.dumps(_result(["reach-v3", "door-open-v3"], set(), seed_offset=200000)["summary"]))
    return [folder, tmp_path / "b.json", tmp_path / "c.json"]


def test_runs_load_from_folders_files_and_json_output(three_runs):
    runs = load_runs(three_runs, labels=["first"])
    assert runs[0].label == "first" and runs[1].label.startswith("a/step_00000010 (") and runs[1].label != runs[2].label
    assert [len(r.episodes) for r in runs] == [2, 2, 0]
    md = markdown_tables(runs)
    assert (
        "| reach-v3 | easy | 100 | 100 | 0 |" in md
        and "| push-v3 | hard | 0 | 100 | - |" in md
        and "| door-open-v3 | easy | - | - | 0 |" in md
    )


def test_bad_input_names_the_file_and_what_was_expected(tmp_path):
    (tmp_path / "x.json").write_text('{"hello": 1}')
    with pytest.raises(ConfigError, match=r"x\.json: no evaluation summary .*vlastack eval --json"):
        load_runs([tmp_path / "x.json"])
    with pytest.raises(ConfigError, match=r"empty: not found"):
        load_runs([tmp_path / "empty"])
    with pytest.raises(ConfigError, match="--label was given 2 times for 1 results"):
        load_runs([tmp_path / "x.json"], labels=["a", "b"])


def test_the_report_command_writes_a_comparison_page(three_runs, tmp_path):
    out = tmp_path / "cmp"
    r = CliRunner().invoke(app, ["report", *map(str, three_runs), "--out", str(out), "--label", "A", "--label", "B", "--label", "C"])
    assert r.exit_code == 0, r.output
    assert re.search(r"reach-v3\s+easy\s+100\s+100\s+0", r.output) and r.output.rstrip().endswith(str(out / "report.html"))
    page = (out / "report.html").read_text()
    tasks = re.search(r"id='tasks'>.*?</table>", page, re.S).group(0)
    assert tasks.count("<tr>") == 1 + 3 and all(f">{label}</th>" in tasks for label in "ABC")
    assert "Not run under the same settings" in page and "seed_offset: 100000, 100000, 200000" in page
    assert "/abs/runs" not in page
