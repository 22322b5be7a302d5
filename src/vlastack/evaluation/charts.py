"""The report's charts, drawn by matplotlib and returned as inline SVG (the page needs no network).

Each function takes plain summary data (as results.json stores it), so a report can be drawn again
later from the JSON alone. Text stays text in the SVG (``svg.fonttype: none``): smaller files, and
the page's own font.
"""

from __future__ import annotations

import io
from typing import Any

from vlastack.envs.tasks import DIFFICULTY_GROUPS

GROUP_COLOURS = {"easy": "#4c8dbf", "medium": "#e39b3a", "hard": "#c8553d", "very_hard": "#7a4e9c"}
"""One colour per difficulty group, shared by the charts and the page's legend."""
OURS = "#1f2328"
PUBLISHED = "#9aa4ae"
RUN_COLOURS = ("#4c8dbf", "#e39b3a", "#3a9a5b", "#c8553d", "#7a4e9c", "#8c6d46", "#d46fa8", "#6b7b8c")
"""Colours of the runs in a comparison, in the order given (then repeated)."""

_STYLE = {
    "svg.fonttype": "none",
    "svg.hashsalt": "vlastack",  # stable ids: the same data gives the same file
    "font.size": 9,
    "font.family": "sans-serif",
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.axisbelow": True,
}


def group_label(group: str) -> str:
    return group.replace("_", " ")


def _figure(width_in: float, height_in: float) -> Any:
    from matplotlib.figure import Figure  # no pyplot: no global state, no GUI backend

    return Figure(figsize=(width_in, height_in))


def _svg(fig: Any) -> str:
    import matplotlib

    buf = io.StringIO()
    with matplotlib.rc_context(_STYLE):
        fig.savefig(buf, format="svg", bbox_inches="tight", metadata={"Date": None})
    text = buf.getvalue()
    return text[text.index("<svg") :]  # drop the XML prolog and doctype: the SVG goes inline in HTML


def _styled(draw):
    """Run ``draw`` under the report's style (figures take rcParams when they are created and drawn)."""

    def wrapper(*args: Any, **kwargs: Any) -> str:
        import matplotlib

        with matplotlib.rc_context(_STYLE):
            return draw(*args, **kwargs)

    wrapper.__doc__, wrapper.__name__ = draw.__doc__, draw.__name__
    return wrapper


def _ordered_tasks(per_task: dict[str, dict[str, Any]]) -> list[str]:
    """Tasks grouped by difficulty, in the run's order within a group."""
    rank = {g: i for i, g in enumerate(DIFFICULTY_GROUPS)}
    return sorted(per_task, key=lambda t: rank.get(per_task[t]["group"], len(rank)))


@_styled
def task_success_chart(per_task: dict[str, dict[str, Any]]) -> str:
    """Horizontal bars of success % per task, grouped by difficulty (a coloured band per group)."""
    tasks = _ordered_tasks(per_task)
    fig = _figure(5.6, 0.8 + 0.24 * len(tasks))
    ax = fig.add_subplot()
    y = list(range(len(tasks)))[::-1]
    values = [100 * per_task[t]["success"] for t in tasks]
    colours = [GROUP_COLOURS.get(per_task[t]["group"], PUBLISHED) for t in tasks]
    ax.barh(y, values, color=colours, height=0.7)
    for yi, v in zip(y, values):
        ax.text(min(v, 100) + 1, yi, f"{v:.0f}", va="center", fontsize=8)
    ax.set_yticks(y, [t.removesuffix("-v3") for t in tasks])
    ax.set_xlim(0, 108)
    ax.set_xticks([0, 25, 50, 75, 100])
    ax.set_xlabel("success % of episodes")
    ax.grid(axis="x", color="#e5e8eb")
    seen = []
    for t in tasks:
        g = per_task[t]["group"]
        if g not in seen:
            seen.append(g)
    from matplotlib.patches import Patch

    ax.legend(
        handles=[Patch(color=GROUP_COLOURS.get(g, PUBLISHED), label=group_label(g)) for g in seen],
        loc="lower center",
        bbox_to_anchor=(0.5, 1.0),
        ncol=len(seen),
        frameon=False,
    )
    return _svg(fig)


@_styled
def published_comparison_chart(
    ours: dict[str, float], our_avg: float, our_label: str, rows: list[tuple[str, dict[str, float], float]]
) -> str:
    """Dot plot: one row per policy (ours first), a dot per difficulty group, a bar at Avg.

    ``ours`` and each row's groups map group name -> success fraction; ``rows`` is (label, groups, avg).
    """
    entries = [(our_label, ours, our_avg, True), *((label, g, a, False) for label, g, a in rows)]
    fig = _figure(6.2, 0.9 + 0.32 * len(entries))
    ax = fig.add_subplot()
    n = len(entries)
    for i, (_label, groups, avg, mine) in enumerate(entries):
        yi = n - 1 - i
        if mine:
            ax.axhspan(yi - 0.45, yi + 0.45, color="#fff3cd", zorder=0)
        for g in DIFFICULTY_GROUPS:
            if g in groups:
                ax.scatter(100 * groups[g], yi, s=42 if mine else 26, color=GROUP_COLOURS[g], edgecolor=OURS if mine else "none", zorder=3)
        ax.scatter(100 * avg, yi, marker="|", s=260, linewidths=2.2, color=OURS, zorder=4)
    ax.set_yticks(range(n), [e[0] for e in entries][::-1])
    for tick, (_l, _g, _a, mine) in zip(ax.get_yticklabels(), entries[::-1]):
        tick.set_fontweight("bold" if mine else "normal")
    ax.set_xlim(-3, 103)  # a dot at 0 or 100 % stays whole
    ax.set_ylim(-0.6, n - 0.4)
    ax.set_xlabel("success %")
    ax.grid(axis="x", color="#e5e8eb")
    from matplotlib.lines import Line2D

    handles = [Line2D([], [], marker="o", linestyle="", color=GROUP_COLOURS[g], label=group_label(g)) for g in DIFFICULTY_GROUPS]
    handles.append(Line2D([], [], marker="|", linestyle="", markersize=12, markeredgewidth=2, color=OURS, label="Avg"))
    ax.legend(handles=handles, loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=5, frameon=False)
    return _svg(fig)


@_styled
def latency_histogram(histogram: dict[str, list[float]], p50: float | None, p99: float | None) -> str:
    """Policy calls per latency bin (milliseconds per chunk), with p50 and p99 marked."""
    edges, counts = histogram.get("edges_ms", []), histogram.get("counts", [])
    fig = _figure(5.0, 2.2)
    ax = fig.add_subplot()
    if counts:
        ax.stairs(counts, edges, fill=True, color="#4c8dbf")
    for value, name, style in ((p50, "p50", "--"), (p99, "p99", ":")):
        if value is not None:
            ax.axvline(value, color=OURS, linestyle=style, linewidth=1)
            ax.text(value, ax.get_ylim()[1], f" {name} {value:.2f} ms", va="top", fontsize=8)
    ax.set_xlabel("policy latency per chunk (ms)")
    ax.set_ylabel("calls")
    return _svg(fig)


@_styled
def runs_group_chart(labels: list[str], groups: list[str], values: list[dict[str, float | None]]) -> str:
    """Grouped bars: for each difficulty group (and Avg), one bar per run; ``values[i]`` maps group -> fraction."""
    import numpy as np

    fig = _figure(min(9.0, 1.6 + 0.4 * len(groups) * len(labels)), 2.8)
    ax = fig.add_subplot()
    width = 0.8 / len(labels)
    x = np.arange(len(groups))
    for i, (label, vals) in enumerate(zip(labels, values)):
        heights = [100 * (vals.get(g) or 0.0) for g in groups]
        bars = ax.bar(x + (i - (len(labels) - 1) / 2) * width, heights, width * 0.92, label=label, color=RUN_COLOURS[i % len(RUN_COLOURS)])
        for bar, g in zip(bars, groups):
            v = vals.get(g)
            ax.text(
                bar.get_x() + bar.get_width() / 2, bar.get_height() + 1, "-" if v is None else f"{100 * v:.0f}", ha="center", fontsize=7
            )
    ax.set_xticks(x, [group_label(g) for g in groups])
    ax.set_ylim(0, 110)
    ax.set_ylabel("success %")
    ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=min(4, len(labels)), frameon=False)
    return _svg(fig)
