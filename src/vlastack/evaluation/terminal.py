"""The terminal summary of ``eval``, ``demo`` and ``report``: aligned tables (rich), pass/fail in colour.

rich drops the colours by itself when the output is not a terminal (a pipe, a file, CI logs).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.markup import escape

from vlastack.envs.tasks import DIFFICULTY_GROUPS
from vlastack.evaluation.compare import task_rows


def _console() -> Any:
    from rich.console import Console

    console = Console(highlight=False)
    if not console.is_terminal:  # a pipe or a file: no terminal width to fit, so never squeeze a column
        console.width = 200
    return console


def _rate(x: float | None) -> str:
    """A success rate in percent, coloured: green when every episode passed, red when none did."""
    if x is None:
        return "[dim]-[/]"
    colour = "green" if x >= 1.0 else "red" if x <= 0.0 else "yellow"
    return f"[{colour}]{100 * x:.0f}[/]"


def print_summary(summary: dict[str, Any], title: str, report: Path | None = None, console: Any = None) -> None:
    """Per-task table, group rates and Avg, crashes and latency; the report's path last."""
    from rich import box
    from rich.table import Table

    console = console or _console()
    tasks = Table(title=escape(title), title_justify="left", box=box.SIMPLE_HEAD)
    # Task names are never cut: on a narrow terminal (or a pipe, which rich takes as 80 columns) other columns give way.
    tasks.add_column("task", no_wrap=True, min_width=max(map(len, summary["per_task"]), default=4))
    audited = summary.get("mean_success_within_limits") is not None
    for name in ("group", "success %", *(["within limits %"] if audited else []), "episodes", "mean length"):
        tasks.add_column(name, justify="left" if name == "group" else "right")
    any_crash = any(v.get("crashed") for v in summary["per_task"].values())
    if any_crash:
        tasks.add_column("crashed seeds", style="red")
    for task, v in summary["per_task"].items():
        within = [_rate(v.get("success_within_limits"))] if audited else []
        row = [task, v["group"], _rate(v["success"]), *within, str(v.get("episodes", "")), f"{v['mean_length']:.0f}"]
        tasks.add_row(*row, *([", ".join(map(str, v.get("crashed") or []))] if any_crash else []))
    console.print(tasks)

    groups = Table(box=box.SIMPLE_HEAD)
    present = [g for g in DIFFICULTY_GROUPS if g in summary["per_group"]]
    for g in present:
        groups.add_column(g.replace("_", " "), justify="right")
    groups.add_column("Avg", justify="right", style="bold")
    groups.add_column("mean over tasks", justify="right")
    groups.add_row(
        *(f"{100 * summary['per_group'][g]:.1f}" for g in present),
        f"{100 * summary['avg']:.1f}",
        f"{100 * summary.get('mean_success_over_tasks', 0.0):.1f}",
    )
    console.print(groups)

    lat = summary["latency_ms"]
    crashed = summary["crashed_episodes"]
    latency = "no policy calls" if lat.get("p50") is None else f"policy latency p50 {lat['p50']:.2f} ms, p99 {lat['p99']:.2f} ms"
    console.print(
        f"{summary['episodes']} episodes, "
        + (f"[bold red]{crashed} crashed[/]" if crashed else "0 crashed")
        + f"; mean length {summary['mean_length']:.0f} steps; {latency} per chunk ({lat.get('calls', 0)} calls)",
        soft_wrap=True,
    )
    if audited:
        console.print(
            f"success that stayed inside every limit of the safety spec (where the arm went, the force it applied): "
            f"{100 * summary['mean_success_within_limits']:.1f} % over tasks",
            soft_wrap=True,
        )
    if report is not None:
        console.print(f"report: [bold]{escape(str(report))}[/]", soft_wrap=True)


def print_comparison(labels: list[str], summaries: list[dict[str, Any]], page: Path | None = None, console: Any = None) -> None:
    """One column per run: group rates and Avg, then success per task."""
    from rich import box
    from rich.table import Table

    console = console or _console()
    groups = [g for g in DIFFICULTY_GROUPS if any(g in s["per_group"] for s in summaries)]
    top = Table(title="Success % per group", title_justify="left", box=box.SIMPLE_HEAD)
    top.add_column("run", no_wrap=True)
    for g in groups:
        top.add_column(g.replace("_", " "), justify="right")
    for name in ("Avg", "mean over tasks", "episodes", "crashed"):
        top.add_column(name, justify="right")
    for label, s in zip(labels, summaries):
        top.add_row(
            escape(label),
            *(_rate(s["per_group"].get(g)) for g in groups),
            f"[bold]{100 * s['avg']:.1f}[/]",
            f"{100 * s.get('mean_success_over_tasks', 0.0):.1f}",
            str(s["episodes"]),
            f"[red]{s['crashed_episodes']}[/]" if s["crashed_episodes"] else "0",
        )
    console.print(top)
    per_task = Table(title="Success % per task", title_justify="left", box=box.SIMPLE_HEAD)
    per_task.add_column("task", no_wrap=True)
    per_task.add_column("group")
    for label in labels:
        per_task.add_column(escape(label), justify="right")
    for task, group in task_rows(summaries):
        per_task.add_row(task, group, *(_rate((s["per_task"].get(task) or {}).get("success")) for s in summaries))
    console.print(per_task)
    if page is not None:
        console.print(f"report: [bold]{escape(str(page))}[/]", soft_wrap=True)
