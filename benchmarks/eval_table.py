"""Markdown tables from ``vlastack eval --json`` results and their training runs.

    python benchmarks/eval_table.py runs/mt10/bins/eval.json runs/mt10/flow/eval.json ...
    python benchmarks/eval_table.py --label "flow, held-out phrasing" runs/mt10/flow/eval_heldout.json ...

For each result: the group rates, Avg (mean of the group rates), the mean over tasks, mean episode
length and policy latency per chunk; then one column per result in a per-task table. When the
result sits in a training run directory (``<run>/eval.json`` beside ``<run>/run.json``), the
policy's parameter count, training steps, samples seen and the training time measured by
``/usr/bin/time -v`` in ``<run>.log`` (wall clock and CPU) are added; a run resumed across sessions
keeps one log per part (``<run>_part1.log``, ``<run>_part2.log``, ...) and their times are summed.
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

GROUPS = ("easy", "medium", "hard", "very_hard")


def training_info(result: Path, summary: dict) -> dict:
    """Steps, samples, parameters and time of the run a result belongs to (empty when unknown)."""
    run = result.parent
    ckpt_dir = Path(summary["config"]["checkpoint"])
    info: dict = {}
    if (run / "run.json").is_file():
        meta = json.loads((run / "run.json").read_text())
        found = re.search(r"step_(\d+)", ckpt_dir.name)
        step = int(found.group(1)) if found else None
        info["steps"] = step
        info["samples_seen"] = step * meta["train"]["batch_size"] * meta.get("world_size", 1) if step else None
        info["epochs"] = info["samples_seen"] / meta["samples"] if step else None
    # One /usr/bin/time log per training process: <run>.log, or <run>_part1.log, <run>_part2.log, ...
    # for a run resumed across sessions. Their times are added up to the part that reached this
    # result's checkpoint; parts that trained on beyond it do not count.
    logs = [p for p in [run.with_suffix(".log"), *sorted(run.parent.glob(f"{run.name}_part*.log"), key=_part_number)] if p.is_file()]
    reached = False
    for log in logs:
        if reached:
            break
        text = log.read_text()
        ended = re.search(r"trained \S+ to step (\d+)/", text)  # absent when the part was stopped early
        reached = bool(ended and info.get("steps") and int(ended.group(1)) >= info["steps"])
        wall = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): ([\d:.]+)", text)
        user = re.search(r"User time \(seconds\): ([\d.]+)", text)
        system = re.search(r"System time \(seconds\): ([\d.]+)", text)
        if wall:
            parts = [float(p) for p in wall.group(1).split(":")]
            info["wall_min"] = info.get("wall_min", 0.0) + sum(p * 60**i for i, p in enumerate(reversed(parts))) / 60
        if user and system:
            info["cpu_min"] = info.get("cpu_min", 0.0) + (float(user.group(1)) + float(system.group(1))) / 60
    # Any checkpoint of the run has the same parameters (older ones may have been rotated away).
    weights = [c / "model.safetensors" for c in [ckpt_dir, *sorted((run / "checkpoints").glob("step_*"))]]
    weights = [w for w in weights if w.is_file()]
    if weights:
        from safetensors.torch import load_file

        info["params_m"] = sum(t.numel() for t in load_file(str(weights[0])).values()) / 1e6
    return info


def _part_number(log: Path) -> int:
    found = re.search(r"_part(\d+)\.log$", log.name)
    return int(found.group(1)) if found else 0


def pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.0f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("results", nargs="+", type=Path)
    parser.add_argument("--label", action="append", default=[], help="column label per result (default: the run directory name)")
    args = parser.parse_args()
    labels = args.label + [r.parent.name for r in args.results[len(args.label) :]]
    summaries = [json.loads(r.read_text()) for r in args.results]
    rows = [(label, s, training_info(r, s)) for label, r, s in zip(labels, args.results, summaries)]

    print(
        "| policy | params | steps (epochs) | train wall / CPU min | "
        + " | ".join(GROUPS)
        + " | Avg | mean over tasks | mean length | latency p50 / p99 ms |"
    )
    print("|---" * (8 + len(GROUPS)) + "|")
    for label, s, t in rows:
        groups = " | ".join(pct(s["per_group"].get(g)) for g in GROUPS)
        params = f"{t['params_m']:.2f} M" if "params_m" in t else "-"
        steps = f"{t['steps']} ({t['epochs']:.1f})" if t.get("steps") else "-"
        time = f"{t['wall_min']:.0f} / {t['cpu_min']:.0f}" if "wall_min" in t and "cpu_min" in t else "-"
        lat = s["latency_ms"]
        print(
            f"| {label} | {params} | {steps} | {time} | {groups} | {pct(s['avg'])} | {pct(s['mean_success_over_tasks'])} | "
            f"{s['mean_length']:.0f} | {lat['p50']:.1f} / {lat['p99']:.1f} |"
        )
    print()
    tasks = list(rows[0][1]["per_task"])
    print("| task | group | " + " | ".join(label for label, _, _ in rows) + " |")
    print("|---|---|" + "---|" * len(rows))
    for task in tasks:
        cells = " | ".join(pct(s["per_task"].get(task, {}).get("success")) for _, s, _ in rows)
        print(f"| {task} | {rows[0][1]['per_task'][task]['group']} | {cells} |")
    crashed = {label: s["crashed_episodes"] for label, s, _ in rows if s["crashed_episodes"]}
    if crashed:
        print(f"\ncrashed episodes (counted as failures): {crashed}")


if __name__ == "__main__":
    main()
