"""Evaluation reports: results.json, a markdown table, and report.html (``report_html``) with the videos."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from vlastack.episodes.video import encode_video


def markdown(summary: dict[str, Any], title: str) -> str:
    lines = [f"# {title}", ""]
    lines.append("| " + " | ".join([*summary["per_group"], "Avg"]) + " |")
    lines.append("|" + "---|" * (len(summary["per_group"]) + 1))
    lines.append("| " + " | ".join(f"{100 * v:.1f}" for v in [*summary["per_group"].values(), summary["avg"]]) + " |")
    lat = summary["latency_ms"]
    lines += [
        "",
        f"{summary['episodes']} episodes, {summary['crashed_episodes']} crashed; mean length "
        f"{summary['mean_length']:.0f} steps; policy latency p50 {lat['p50'] or 0:.2f} ms, p99 {lat['p99'] or 0:.2f} ms "
        f"per chunk ({lat['calls']} calls)",
        "",
        "| task | group | success % | mean length | crashed seeds |",
        "|---|---|---|---|---|",
    ]
    for t, v in summary["per_task"].items():
        lines.append(f"| {t} | {v['group']} | {100 * v['success']:.0f} | {v['mean_length']:.0f} | {v['crashed'] or ''} |")
    return "\n".join(lines) + "\n"


def write_report(
    out: Path,
    summary: dict[str, Any],
    episodes: list[dict[str, Any]],
    videos: dict[str, np.ndarray],
    title: str,
    fps: int = 80,
    previews: dict[str, dict[str, Any]] | None = None,
) -> list[Path]:
    """Write results.json, report.md, report.html and one MP4 per recorded task into ``out``.

    Each recorded episode (the first of its task) gets a ``video`` entry in results.json: the file
    name, its size in pixels and frame rate, so the page can be drawn again from the JSON alone; and
    its entry of ``previews`` (task -> ``chunk_preview.ChunkPreview.draw``'s, PNG already in ``out``) as ``preview``.
    """
    from vlastack.evaluation.report_html import render_run

    out.mkdir(parents=True, exist_ok=True)
    episodes = [dict(e) for e in episodes]

    def first(task: str) -> dict[str, Any]:
        return min((e for e in episodes if e["task"] == task), key=lambda e: e["seed"], default={})

    for task, frames in videos.items():
        name = f"{task}.mp4"
        encode_video(frames, out / name, fps)
        first(task)["video"] = {"file": name, "width": int(frames.shape[2]), "height": int(frames.shape[1]), "fps": fps}
    for task, entry in (previews or {}).items():
        first(task)["preview"] = entry
    (out / "results.json").write_text(json.dumps({"summary": summary, "episodes": episodes}, indent=2))
    (out / "report.md").write_text(markdown(summary, title))
    (out / "report.html").write_text(render_run(summary, episodes, title))
    return [out / "results.json", out / "report.md", out / "report.html"]
