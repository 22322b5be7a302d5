"""Several evaluation results side by side: loading them, and the markdown tables BENCHMARKS.md uses.

A result is any of: a report folder (``vlastack eval --report DIR``, holding results.json), its
results.json, or the summary ``vlastack eval --json`` prints (redirected to a file).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vlastack.envs.tasks import DIFFICULTY_GROUPS
from vlastack.errors import ConfigError
from vlastack.evaluation.run_info import checkpoint_name

RESULTS_FILE = "results.json"
SETTINGS_THAT_MATTER = ("episodes", "max_steps", "seed_offset", "instruction_variant", "safety", "executor")
"""Settings whose difference between runs makes their numbers answer different questions (the page says so)."""


@dataclass(frozen=True)
class Run:
    """One evaluation result, as loaded."""

    label: str
    """Column name: the checkpoint's name unless the user gave one."""
    path: Path
    """The file or folder it was read from, as given."""
    summary: dict[str, Any]
    """The summary (``protocol.summarize`` plus ``config``)."""
    episodes: list[dict[str, Any]]
    """Per-episode records; empty for a ``--json`` summary, which has none."""


def load_run(path: Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The summary and episodes of one result; a ConfigError naming the path and what was expected."""
    expected = f"a report folder with {RESULTS_FILE}, a {RESULTS_FILE}, or the output of `vlastack eval --json`"
    path = Path(path)
    file = path / RESULTS_FILE if path.is_dir() else path
    if not file.is_file():
        raise ConfigError(f"{path}: not found; expected {expected}")
    try:
        data = json.loads(file.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ConfigError(f"{file}: not readable JSON ({err}); expected {expected}") from err
    if isinstance(data, dict) and isinstance(data.get("summary"), dict):
        summary, episodes = data["summary"], data.get("episodes") or []
    else:
        summary, episodes = data, []
    missing = [
        k for k in ("per_task", "per_group", "avg", "episodes", "crashed_episodes") if not isinstance(summary, dict) or k not in summary
    ]
    if missing:
        raise ConfigError(f"{file}: no evaluation summary (missing {', '.join(missing)}); expected {expected}")
    return summary, episodes


def load_runs(paths: list[Path], labels: list[str] | None = None) -> list[Run]:
    """Every result in ``paths``; ``labels`` name the first ones, the rest are named after their checkpoints."""
    labels = list(labels or [])
    if len(labels) > len(paths):
        raise ConfigError(f"--label was given {len(labels)} times for {len(paths)} results")
    loaded = [(Path(p), *load_run(Path(p))) for p in paths]
    names = labels + [_default_label(s, p) for p, s, _ in loaded[len(labels) :]]
    twice = {n for n in names[len(labels) :] if names.count(n) > 1}  # one checkpoint, other settings: tell them apart by path
    names = [f"{n} ({loaded[i][0]})" if i >= len(labels) and n in twice else n for i, n in enumerate(names)]
    return [Run(n, p, s, e) for n, (p, s, e) in zip(names, loaded)]


def _default_label(summary: dict[str, Any], path: Path) -> str:
    config = summary.get("config") or {}
    return config.get("checkpoint_name") or config.get("server") or checkpoint_name(config.get("checkpoint")) or path.stem


def differing_settings(runs: list[Run]) -> dict[str, list[Any]]:
    """Settings (of ``SETTINGS_THAT_MATTER``) that are not the same in every run, with each run's value."""
    out = {}
    for key in SETTINGS_THAT_MATTER:
        values = [(r.summary.get("config") or {}).get(key) for r in runs]
        if len({json.dumps(v) for v in values}) > 1:
            out[key] = values
    return out


def groups_of(runs: list[Run]) -> list[str]:
    """Difficulty groups present in any run, in the protocol's order."""
    return [g for g in DIFFICULTY_GROUPS if any(g in r.summary["per_group"] for r in runs)]


def task_rows(summaries: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """Every task of any run, once, in the order they first appear, with its group."""
    seen: dict[str, str] = {}
    for s in summaries:
        for task, v in s["per_task"].items():
            seen.setdefault(task, v["group"])
    return list(seen.items())


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.0f}"


def markdown_tables(runs: list[Run]) -> str:
    """The group table and the per-task table, one row (resp. column) per run, as in BENCHMARKS.md."""
    groups = groups_of(runs)
    lines = ["| run | " + " | ".join(groups) + " | Avg | mean over tasks | mean length | latency p50 / p99 ms | crashed |"]
    lines.append("|---" * (len(groups) + 6) + "|")
    for r in runs:
        s, lat = r.summary, r.summary.get("latency_ms") or {}
        latency = "-" if lat.get("p50") is None else f"{lat['p50']:.1f} / {lat['p99']:.1f}"
        lines.append(
            f"| {r.label} | "
            + " | ".join(_pct(s["per_group"].get(g)) for g in groups)
            + f" | {_pct(s['avg'])} | {_pct(s.get('mean_success_over_tasks'))} | {s.get('mean_length', 0):.0f} | {latency} | {s['crashed_episodes']} |"
        )
    lines += ["", "| task | group | " + " | ".join(r.label for r in runs) + " |", "|---|---|" + "---|" * len(runs)]
    for task, group in task_rows([r.summary for r in runs]):
        lines.append(
            f"| {task} | {group} | " + " | ".join(_pct((r.summary["per_task"].get(task) or {}).get("success")) for r in runs) + " |"
        )
    return "\n".join(lines) + "\n"
