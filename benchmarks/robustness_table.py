"""Markdown tables of the robustness runs (issue 17, item 6): one row per perturbation level, two columns per policy.

Reads ``<root>/<prefix><tag>_<level>/results.json`` (``vlastack eval --perturb <level> --report <dir>``):

    python benchmarks/robustness_table.py plain rand                      # runs/robust17/effnet_{plain,rand}_<level>
    python benchmarks/robustness_table.py --root runs/robust17 --prefix effnet_ plain rand

Per level and policy: success as the mean over tasks (successes of the episodes run) and success within every
limit of the safety layer; then per task, % of episodes.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

LEVELS = ("none", "lighting", "table_colour", "object_colour", "camera_2cm_3deg", "camera_5cm_6deg", "distractors")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("tags", nargs="+", help="Policy tags, e.g. plain rand.")
    ap.add_argument("--root", default="runs/robust17", help="Folder of the report directories.")
    ap.add_argument("--prefix", default="effnet_", help="Report directory prefix before the tag.")
    args = ap.parse_args()
    found = {}
    for tag in args.tags:
        for level in LEVELS:
            path = Path(args.root) / f"{args.prefix}{tag}_{level}" / "results.json"
            if path.exists():
                found[(tag, level)] = json.loads(path.read_text())["summary"]
    if not found:
        raise SystemExit(f"no results.json under {args.root}/{args.prefix}<tag>_<level>")
    head = " | ".join(f"{t}: mean over tasks (successes) | {t}: within limits" for t in args.tags)
    print(f"| level | {head} |\n|---|" + "---|" * (2 * len(args.tags)))
    for level in LEVELS:
        cells = []
        for tag in args.tags:
            s = found.get((tag, level))
            if s is None:
                cells += ["-", "-"]
                continue
            wins = sum(round(v["success"] * v["episodes"]) for v in s["per_task"].values())
            cells += [f"{100 * s['mean_success_over_tasks']:.0f} ({wins})", f"{100 * s['mean_success_within_limits']:.0f}"]
        print(f"| {level} | " + " | ".join(cells) + " |")
    tasks = list(next(iter(found.values()))["per_task"])
    for tag in args.tags:
        print(f"\n{tag}: success per task, % of episodes\n\n| task | " + " | ".join(LEVELS) + " |\n|---|" + "---|" * len(LEVELS))
        for task in tasks:
            row = [f"{100 * found[(tag, lv)]['per_task'][task]['success']:.0f}" if (tag, lv) in found else "-" for lv in LEVELS]
            print(f"| {task} | " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
