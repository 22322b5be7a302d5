"""Reward and safety heads of the world model (issue 14, item 4) on held-out episodes, k steps ahead.

    python benchmarks/world_model_heads.py --heads runs/wm14/heads [--horizons 1 8 16] [--json out.json]

``--heads``: a ``vlastack wm heads`` run (or one checkpoint). Its meta names the dynamics checkpoint,
whose run folder holds the embeddings of every dataset it was trained on and the split (every 5th
episode of each task of each dataset held out). For each dataset, horizon k and event: the held-out
pairs (t, t+k); the event's rate at t+k (the class balance; the average precision of a random ranking);
and, from three inputs, AUROC, average precision (AP), and precision / recall at the threshold with the
best F1 on the training episodes (fitted for that input and k):

- ``true``: the heads on the true embedding z(t+k) (their ceiling: how well the event can be read at all);
- ``predicted``: the heads on the dynamics model's rollout of z(t+k) from z(t) with the recorded actions;
- ``now``: the heads on z(t) (what the present frame already says about t+k).

``onset``: the same measures on the pairs where the event does not hold at t, the cases only a look
ahead can catch. Event labels (see ``HeadsConfig``) come from the datasets' recorded columns.

Guardrail (issue 14, item 5, offline replay; ``--guard-horizons``): every held-out frame t is one check
of the recorded chunk a(t..t+H-1), rolled out step by step and scored by the heads; an unsafe event is
flagged when its probability reaches a threshold (best F1 over the training episodes' checks) at some
step. Reported per event and for any: check-level precision and recall (positive: the event holds at
some frame t+1..t+H), onsets flagged 1..H steps before and the lead time of the earliest flag, false
alarms (runs of consecutive flagged checks with no event in any of their windows) per episode, and the
time of one check (batch 1, one thread) in ms. Closed loop (holding the chunk, success cost) is not measured here.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import time
from pathlib import Path

import torch

from vlastack.checkpoint import latest_checkpoint
from vlastack.world_model import checkpoint
from vlastack.world_model.embeddings import EPISODE_OFFSET
from vlastack.world_model.evaluate import fit_guardrail, guardrail_report, heads_report, horizon_errors
from vlastack.world_model.heads import EVENTS
from vlastack.world_model.runs import DynamicsRun

NAMES = {"true": "true", "model": "predicted", "copy_last": "now"}


def load_heads(path: Path):
    ckpt = path if (path / "config.json").is_file() else latest_checkpoint(path)
    if ckpt is None:
        raise SystemExit(f"{path} holds no checkpoint")
    heads, meta = checkpoint.load(ckpt)
    return ckpt, heads, meta


def fmt(v: float, digits: int = 2) -> str:
    return "-" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.{digits}f}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--heads", type=Path, required=True, help="`vlastack wm heads` run directory or checkpoint")
    ap.add_argument("--horizons", type=int, nargs="+", default=[1, 8, 16], help="steps ahead (80 Hz: 8 steps = 0.1 s)")
    ap.add_argument("--guard-horizons", type=int, nargs="*", default=[8], help="chunk lengths checked by the guardrail replay")
    ap.add_argument("--json", type=Path, help="write every number here")
    args = ap.parse_args()
    torch.set_num_threads(1)
    ckpt, heads, meta = load_heads(args.heads)
    run = DynamicsRun.load(meta["dynamics"])
    labels, _ = run.labels(heads.config)
    train_eps = run.train_episodes
    train_rows = run.rows(train_eps)
    result: dict = {"heads": str(ckpt), "dynamics": str(run.checkpoint), "datasets": run.datasets, "per_dataset": {}}
    print(f"heads {ckpt}, dynamics {run.checkpoint}")
    for i, dataset in enumerate(run.datasets):
        held = [e for e in run.held_out if e // EPISODE_OFFSET == i]
        if not held:
            continue
        held_rows = run.rows(held)
        counts = {e: int(n) for e, n in zip(EVENTS, labels[held_rows].sum(0).tolist(), strict=True)}
        rows = heads_report(
            heads, run.model, run.table.select(train_eps), labels[train_rows], run.table.select(held), labels[held_rows], args.horizons
        )
        mse = horizon_errors(run.model, run.table.select(held), args.horizons)
        result["per_dataset"][dataset] = {
            "held_out_episodes": len(held),
            "held_out_frames": len(held_rows),
            "positive_frames": counts,
            "rows": rows,
            "rollout_mse": mse,
        }
        print(f"\n## {dataset}: {len(held)} held-out episodes, {len(held_rows)} frames; positive frames {counts}")
        print(
            "rollout MSE (normalised units) predicted / copy-last: "
            + ", ".join(f"k={r['horizon']} {r['model']:.4f} / {r['copy_last']:.4f}" for r in mse)
            + "\n"
        )
        print(
            "| event | k | pairs | positives (rate) | AUROC true / predicted / now | AP true / predicted / now "
            "| precision / recall, predicted | onset pairs (positives) | onset AUROC predicted / now | onset AP predicted / now |"
        )
        print("|---|---|---|---|---|---|---|---|---|---|")
        for r in rows:
            if r["positives"] == 0:
                print(f"| {r['event']} | {r['horizon']} | {r['n']} | 0 | no positives | | | | | |")
                continue
            a = " / ".join(fmt(r[s]["auroc"], 3) for s in NAMES)
            p = " / ".join(fmt(r[s]["ap"], 3) for s in NAMES)
            m = r["model"]
            print(
                f"| {r['event']} | {r['horizon']} | {r['n']} | {r['positives']} ({100 * r['rate']:.1f} %) | {a} | {p} "
                f"| {fmt(m['precision'])} / {fmt(m['recall'])} | {r['onset_n']} ({r['onset_positives']}) "
                f"| {fmt(m['onset_auroc'], 3)} / {fmt(r['copy_last']['onset_auroc'], 3)} | {fmt(m['onset_ap'], 3)} / {fmt(r['copy_last']['onset_ap'], 3)} |"
            )
    train_table, train_labels = run.table.select(train_eps), labels[train_rows]
    for h in args.guard_horizons:
        guard = fit_guardrail(run.model, heads, train_table, train_labels, h)
        z, a = run.table.z[0], torch.zeros(h, run.table.action.shape[1])
        times = []
        for _ in range(300):
            t0 = time.perf_counter()
            guard.check(z, a)
            times.append((time.perf_counter() - t0) * 1000)
        ms = statistics.median(times[50:])
        result.setdefault("guardrail", {})[h] = {
            "check_ms_median": ms,
            "thresholds": guard.thresholds,
        }
        print(f"\n## Guardrail replay, chunks of {h} steps; one check {ms:.2f} ms (median, batch 1, 1 thread)\n")
        print(
            "| dataset | event | checks (positive) | flagged | precision | recall | onsets | flagged before onset "
            "| lead steps median / mean | false alarms / episode | episodes with a false alarm |"
        )
        print("|---|---|---|---|---|---|---|---|---|---|---|")
        for i, dataset in enumerate(run.datasets):
            held = [e for e in run.held_out if e // EPISODE_OFFSET == i]
            if not held:
                continue
            rep = guardrail_report(guard, run.table.select(held), labels[run.rows(held)], h)
            result["guardrail"][h][dataset] = rep
            for name in [*guard.events, "any"]:
                r = rep[name]
                print(
                    f"| {dataset} | {name} | {rep['checks']} ({r['positive_checks']}) | {r['flagged_checks']} | {fmt(r['precision'])} "
                    f"| {fmt(r['recall'])} | {r['onsets']} | {r['onsets_flagged']} | {fmt(r['lead_steps_median'], 1)} / {fmt(r['lead_steps_mean'], 1)} "
                    f"| {r['false_alarms_per_episode']:.2f} | {r['episodes_with_false_alarm']} of {rep['episodes']} |"
                )
    if args.json:
        args.json.write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
