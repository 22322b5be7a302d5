"""What report.html says: one row per task, the published rows beside MT10/MT50 runs only, the policy
named without the machine's paths, and results.json files from before the report's new fields."""

from __future__ import annotations

import json
import re

from vlastack.envs.tasks import resolve_tasks
from vlastack.evaluation.protocol import EpisodeResult, summarize
from vlastack.evaluation.report import write_report
from vlastack.evaluation.report_html import render_run
from vlastack.evaluation.run_info import checkpoint_name


def _summary(tasks: list[str], checkpoint: str) -> tuple[dict, list[dict]]:
    results = [
        EpisodeResult(t, 100000 + k, (i + k) % 2 == 0, 40 + i, [1.0 + i, 2.0], instruction=f"do {t}")
        for i, t in enumerate(tasks)
        for k in range(2)
    ]
    summary = summarize(results, tasks)
    summary["config"] = {"checkpoint": checkpoint, "checkpoint_name": checkpoint_name(checkpoint), "executor": "sync", "safety": "none"}
    return summary, [r.to_dict() for r in results]


def _rows(page: str) -> int:
    table = re.search(r"<table class='sortable' id='tasks'>.*?</table>", page, re.S).group(0)
    return table.count("<tr>") - 1  # minus the header row


def test_an_mt10_run_is_drawn_beside_the_published_rows_and_names_no_path():
    summary, episodes = _summary(resolve_tasks("mt10"), "/home/someone/runs/mt10/l1/checkpoints/step_00024000")
    page = render_run(summary, episodes, "Evaluation")
    assert _rows(page) == 10
    assert "id='published-chart'" in page and "SmolVLA" in page and "arXiv 2506.01844" in page
    assert "this run is MT10" in page  # the caveat: published rows are MT50 figures
    assert "/home/someone" not in page and "l1/step_00024000" in page


def test_other_task_sets_get_no_published_rows():
    summary, episodes = _summary(["reach-v3", "push-v3"], "ckpt")
    page = render_run(summary, episodes, "Evaluation")
    assert _rows(page) == 2 and "published-chart" not in page and "<svg" in page


def test_a_results_file_from_before_the_new_fields_still_renders():
    summary, episodes = _summary(["reach-v3"], "ckpt")
    for key in ("checkpoint_name",):
        summary["config"].pop(key)
    summary["latency_ms"].pop("histogram")
    old = [{k: v for k, v in e.items() if k not in ("instruction", "safety_timeline")} for e in episodes]
    old[0]["safety"] = {"interventions": 4, "steps_changed": 3}
    old[0]["video"] = {"file": "reach-v3.mp4", "width": 128, "height": 144}
    page = render_run(summary, old, "Evaluation")
    assert _rows(page) == 1 and "no timeline in this results file" in page and "instruction not recorded" in page
    assert "no histogram in this results file" in page


def test_write_report_records_each_video_on_its_episode(tmp_path):
    import numpy as np

    summary, episodes = _summary(["reach-v3", "push-v3"], "ckpt")
    frames = np.zeros((4, 144, 128, 3), dtype=np.uint8)
    write_report(tmp_path, summary, episodes, {"push-v3": frames}, "Evaluation")
    saved = json.loads((tmp_path / "results.json").read_text())
    with_video = [(e["task"], e["seed"], e["video"]) for e in saved["episodes"] if "video" in e]
    assert with_video == [("push-v3", 100000, {"file": "push-v3.mp4", "width": 128, "height": 144, "fps": 80})]
    assert (tmp_path / "push-v3.mp4").stat().st_size > 0


def test_the_tiny_evaluation_records_instruction_timeline_and_latency(tiny_report, tiny_results):
    summary, episodes = tiny_results["summary"], tiny_results["episodes"]
    assert summary["config"]["checkpoint_name"] == "debug_policy" and summary["config"]["policy"]["parameters"] > 0
    assert all(e["instruction"] and isinstance(e["safety_timeline"], list) for e in episodes)
    assert sum(summary["latency_ms"]["histogram"]["counts"]) == summary["latency_ms"]["calls"]
    page = (tiny_report / "report.html").read_text()
    assert str(tiny_report.parent) not in page  # the checkpoint sits beside the report: its path must not show
    assert all(e["instruction"] in page for e in episodes)
    # episodes.jsonl keeps the new fields, so a resumed run's report has them too
    from vlastack.evaluation.episode_log import EpisodeLog

    logged = EpisodeLog(
        tiny_report / "episodes.jsonl", json.loads((tiny_report / "episodes.jsonl").read_text().splitlines()[0])["settings"]
    ).load()
    assert [r.instruction for r in logged] == [e["instruction"] for e in episodes]
    # every episode is audited against the spec's limits (12 steps from reset stay inside them all)
    assert all(e["limits"]["within"] and e["limits"]["peak_arm_contact_n"] >= 0.0 for e in episodes)
    assert [r.limits for r in logged] == [e["limits"] for e in episodes]
    assert summary["mean_success_within_limits"] is not None
