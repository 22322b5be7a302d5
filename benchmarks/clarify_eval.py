"""Ask rate of the clarifier (vlastack.reasoning.clarify) on the labelled instruction set.

    python benchmarks/clarify_eval.py --split dev            # designing: look here only
    python benchmarks/clarify_eval.py --split test           # the reported numbers
    python benchmarks/clarify_eval.py --split dev --sweep    # the margin chosen on dev

The set (benchmarks/data/clarify/) holds instructions written for vlastack, each with the scene it
refers to and a label: ``ask`` (several objects fit about equally) or ``act`` (one object is meant,
``referent``). Bars (issue 16): ask on >= 90 % of ``ask`` items, on <= 5 % of ``act`` items.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

DATA = Path(__file__).parent / "data" / "clarify"


def load(split: str) -> tuple[dict, list[dict]]:
    scenes = json.loads((DATA / "scenes.json").read_text())
    items = [json.loads(line) for line in (DATA / f"{split}.jsonl").read_text().splitlines() if line.strip()]
    return scenes, items


def evaluate(split: str, margin: float, show: bool = False) -> dict:
    from vlastack.reasoning.clarify import SceneObject, decide, warm

    scenes, items = load(split)
    warm([(it["instruction"], tuple(SceneObject(**o) for o in scenes[it["scene"]])) for it in items])
    asked = {"ask": 0, "act": 0}
    total = {"ask": 0, "act": 0}
    right_target = 0
    for it in items:
        objects = tuple(SceneObject(**o) for o in scenes[it["scene"]])
        d = decide(it["instruction"], objects, margin)
        total[it["label"]] += 1
        asked[it["label"]] += not d.act
        if it["label"] == "act" and d.act and d.target.name == it["referent"]:
            right_target += 1
        wrong = d.act == (it["label"] == "ask") or (d.act and it["label"] == "act" and d.target.name != it["referent"])
        if show and wrong:
            print(
                f"  {it['label']:>3} {it['scene']:>20} {it['instruction']!r} -> {'act on ' + d.target.name if d.act else d.question} {d.scores}"
            )
    return {
        "split": split,
        "margin": margin,
        "ask_items": total["ask"],
        "act_items": total["act"],
        "ask_rate_on_ambiguous": asked["ask"] / max(total["ask"], 1),
        "ask_rate_on_unambiguous": asked["act"] / max(total["act"], 1),
        "right_object_on_unambiguous": right_target / max(total["act"], 1),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--split", choices=("dev", "test"), default="dev")
    ap.add_argument("--margin", type=float, default=None, help="Override the clarifier's MARGIN.")
    ap.add_argument("--sweep", action="store_true", help="Print the rates for a range of margins.")
    ap.add_argument("--show", action="store_true", help="Print every item decided wrongly.")
    args = ap.parse_args()
    from vlastack.reasoning.clarify import MARGIN

    if args.sweep:
        for m in (0.02, 0.04, 0.06, 0.08, 0.09, 0.10, 0.11, 0.12, 0.14, 0.16, 0.20):
            print(json.dumps(evaluate(args.split, m)))
        return
    print(json.dumps(evaluate(args.split, MARGIN if args.margin is None else args.margin, show=args.show), indent=1))


if __name__ == "__main__":
    main()
