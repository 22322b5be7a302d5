"""The comparison page of ``vlastack report RUN_A RUN_B ...``: the runs, a group chart, and sortable
per-group and per-task tables with the best value of each row or column marked."""

from __future__ import annotations

from typing import Any

from vlastack.envs.tasks import DIFFICULTY_GROUPS
from vlastack.evaluation import charts
from vlastack.evaluation.compare import Run, differing_settings, groups_of, task_rows
from vlastack.evaluation.html_parts import Cell, esc, page, pct, rate_class, sortable_table
from vlastack.evaluation.report_html import task_set
from vlastack.evaluation.run_info import describe


def render_comparison(runs: list[Run], title: str) -> str:
    groups = groups_of(runs)
    series = [{**r.summary["per_group"], "Avg": r.summary["avg"]} for r in runs]
    chart = charts.runs_group_chart([r.label for r in runs], [*groups, "Avg"], series)
    body = [
        f"<h1>{esc(title)}</h1>",
        _runs_table(runs),
        _differences(runs),
        "<h2>Per group</h2>",
        f"<figure class='chart' id='groups-chart'>{chart}<figcaption>Success % per difficulty group and Avg "
        "(the mean of the group rates present).</figcaption></figure>",
        _group_table(runs, groups),
        "<h2>Per task</h2>",
        _task_table(runs),
        "<p class='sub'>Click a column to sort; the best run of each row is shaded.</p>",
    ]
    return page(title, "\n".join(body), files="One file")


def _runs_table(runs: list[Run]) -> str:
    rows = []
    for r in runs:
        config = r.summary.get("config") or {}
        rows.append(
            [
                Cell(esc(r.label), cls="text"),
                Cell(esc(describe(config)) if config else "-", cls="text"),
                Cell(esc((task_set(r.summary["per_task"]) or "").upper() or f"{len(r.summary['per_task'])} tasks"), cls="text"),
                Cell(esc(config.get("executor", "-")), cls="text"),
                Cell(esc(config.get("safety", "-")), cls="text"),
                Cell(esc(config.get("episodes", "-"))),
                Cell(esc(config.get("seed_offset", "-"))),
                Cell(esc(config.get("date", "-")), cls="text"),
            ]
        )
    headers = [("run", "text"), ("policy", "text"), ("tasks", "text"), ("executor", "text"), ("safety", "text")]
    headers += [("episodes per task", "num"), ("first seed", "num"), ("date", "text")]
    return sortable_table(headers, rows, "runs")


def _differences(runs: list[Run]) -> str:
    diff = differing_settings(runs)
    if not diff:
        return ""
    shown = "; ".join(f"{k}: {', '.join(map(str, v))}" for k, v in diff.items())
    return f"<p class='sub'><b>Not run under the same settings</b> ({esc(shown)}): the columns answer different questions.</p>"


def _best(values: list[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return max(known) if len(known) > 1 and len(set(known)) > 1 else None


def _group_table(runs: list[Run], groups: list[str]) -> str:
    columns: list[tuple[str, Any]] = [(g, lambda s, g=g: s["per_group"].get(g)) for g in groups]
    columns += [("Avg", lambda s: s["avg"]), ("mean over tasks", lambda s: s.get("mean_success_over_tasks"))]
    best = {name: _best([get(r.summary) for r in runs]) for name, get in columns}
    rows = []
    for r in runs:
        s, lat = r.summary, r.summary.get("latency_ms") or {}
        cells = [Cell(esc(r.label), cls="text")]
        for name, get in columns:
            v = get(s)
            cells.append(Cell(pct(v, 1), -1 if v is None else v, "best" if v is not None and v == best[name] else ""))
        cells.append(Cell(str(s["episodes"])))
        cells.append(Cell(str(s["crashed_episodes"]), cls="bad" if s["crashed_episodes"] else ""))
        for key in ("p50", "p99"):
            v = lat.get(key)
            cells.append(Cell("-" if v is None else f"{v:.2f}", -1 if v is None else v))
        rows.append(cells)
    headers = [("run", "text"), *((g.replace("_", " "), "num") for g in groups), ("Avg", "num"), ("mean over tasks", "num")]
    headers += [("episodes", "num"), ("crashed", "num"), ("latency p50 ms", "num"), ("latency p99 ms", "num")]
    return sortable_table(headers, rows, "groups")


def _task_table(runs: list[Run]) -> str:
    rank = {g: i for i, g in enumerate(DIFFICULTY_GROUPS)}
    rows = []
    for task, group in task_rows([r.summary for r in runs]):
        values = [(r.summary["per_task"].get(task) or {}).get("success") for r in runs]
        best = _best(values)
        cells = [Cell(esc(task), cls="text"), Cell(esc(group.replace("_", " ")), rank.get(group, 9), "text")]
        for v in values:
            cls = f"{rate_class(v)} best" if v is not None and v == best else rate_class(v)
            cells.append(Cell(pct(v), -1 if v is None else v, cls))
        rows.append(cells)
    headers = [("task", "text"), ("group", "rank"), *((r.label, "num") for r in runs)]
    return sortable_table(headers, rows, "tasks")
