"""Evaluation reports: JSON, a markdown table, and an HTML page with a bar chart and videos."""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

import numpy as np

from vlastack.envs.tasks import DIFFICULTY_GROUPS
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


def bar_chart_svg(groups: dict[str, float], avg: float) -> str:
    """A small SVG bar chart of success per difficulty group and Avg, in percent."""
    items = [(g, groups[g]) for g in DIFFICULTY_GROUPS if g in groups] + [("Avg", avg)]
    w, h, bar = 60 * len(items) + 20, 180, 40
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}">']
    for i, (name, v) in enumerate(items):
        x, bh = 20 + 60 * i, 130 * v
        parts.append(f'<rect x="{x}" y="{150 - bh:.1f}" width="{bar}" height="{bh:.1f}" fill="#4477aa"/>')
        parts.append(f'<text x="{x + bar / 2}" y="{145 - bh:.1f}" font-size="11" text-anchor="middle">{100 * v:.0f}%</text>')
        parts.append(f'<text x="{x + bar / 2}" y="168" font-size="11" text-anchor="middle">{html.escape(name)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def write_report(
    out: Path, summary: dict[str, Any], episodes: list[dict[str, Any]], videos: dict[str, np.ndarray], title: str, fps: int = 80
) -> list[Path]:
    """Write results.json, report.md, report.html and one MP4 per recorded task into ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps({"summary": summary, "episodes": episodes}, indent=2))
    md = markdown(summary, title)
    (out / "report.md").write_text(md)
    video_tags = []
    for task, frames in videos.items():
        name = f"{task}.mp4"
        encode_video(frames, out / name, fps)
        video_tags.append(f'<figure><video src="{name}" controls width="320"></video><figcaption>{html.escape(task)}</figcaption></figure>')
    safety_rows = "".join(
        f"<tr><td>{html.escape(e['task'])}</td><td>{e['seed']}</td><td>{html.escape(json.dumps(e['safety']))}</td></tr>"
        for e in episodes
        if e.get("safety", {}).get("interventions")
    )
    page = (
        f"<!doctype html><meta charset='utf-8'><title>{html.escape(title)}</title>"
        f"<h1>{html.escape(title)}</h1>{bar_chart_svg(summary['per_group'], summary['avg'])}"
        f"<pre>{html.escape(md)}</pre><h2>Episodes</h2>{''.join(video_tags)}"
        f"<h2>Safety interventions</h2><table><tr><th>task</th><th>seed</th><th>summary</th></tr>{safety_rows}</table>"
    )
    (out / "report.html").write_text(page)
    return [out / "results.json", out / "report.md", out / "report.html"]
