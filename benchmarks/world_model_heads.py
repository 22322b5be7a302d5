"""Reward and safety heads of the world model (issue 14, item 4) on held-out episodes, k steps ahead.

    python benchmarks/world_model_heads.py --heads runs/wm14/heads [--horizons 1 8 16] [--json out.json]

The same tables as ``vlastack wm eval --heads RUN`` (``vlastack.world_model.report``).

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
from pathlib import Path

import torch

from vlastack.world_model.report import GUARD_HORIZONS, HEADS_HORIZONS, heads_eval, heads_markdown


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--heads", type=Path, required=True, help="`vlastack wm heads` run directory or checkpoint")
    ap.add_argument("--horizons", type=int, nargs="+", default=HEADS_HORIZONS, help="steps ahead (80 Hz: 8 steps = 0.1 s)")
    ap.add_argument("--guard-horizons", type=int, nargs="*", default=GUARD_HORIZONS, help="chunk lengths checked by the guardrail replay")
    ap.add_argument("--json", type=Path, help="write every number here")
    args = ap.parse_args()
    torch.set_num_threads(1)
    result = heads_eval(args.heads, args.horizons, args.guard_horizons)
    print(heads_markdown(result))
    if args.json:
        args.json.write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
