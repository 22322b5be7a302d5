"""World model preview (issue 14, item 7): how close the decoded predictions come to what happened.

    python benchmarks/world_model_preview.py --preview runs/wm14/preview/dec [--preview OTHER ...] \\
        [--stride 1] [--json out.json] [--png strip.png --episode E --start T --steps K]

``--preview``: a ``vlastack wm preview train`` run (or one checkpoint), repeatable to compare decoders
trained on the same dynamics run; its meta names the dynamics run, whose held-out episodes are scored.
For every held-out frame t (every ``--stride``-th) with t + k in its episode, k in 1, 4, 8, 16, 32, the
true frame t+k (downsized to the decoder's size, [0, 1]) is compared with: the decoded rollout of z(t)
with the recorded actions (model), the true frame t (copy-last), the decoded true z(t) (copy-last through
the decoder), and the decoded true z(t+k) (the decoder's ceiling). PSNR (dB) and SSIM (Gaussian 11 / 1.5)
per image, averaged. ``--png``: the first run's strip of one held-out chunk (``vlastack wm preview show``).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from pathlib import Path

import torch

from vlastack import keys
from vlastack.world_model.preview import run_frames
from vlastack.world_model.preview_eval import SOURCES, chunk_strip, load_preview, preview_metrics, save_strip
from vlastack.world_model.runs import DynamicsRun

HORIZONS = [1, 4, 8, 16, 32]
LABELS = {
    "model": "decoded prediction",
    "copy_last": "copy-last frame",
    "decoded_copy_last": "decoded z(t)",
    "ceiling": "decoded true z(t+k)",
}


def table_md(rows: list[dict], metric: str) -> str:
    head = "| horizon k | pairs | " + " | ".join(LABELS[s] for s in SOURCES) + " |"
    lines = [head, "|" + "---|" * (2 + len(SOURCES))]
    fmt = "{:.2f}" if metric == "psnr" else "{:.3f}"
    for r in rows:
        lines.append(f"| {r['horizon']} | {r['n']:,} | " + " | ".join(fmt.format(r[s][metric]) for s in SOURCES) + " |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--preview", type=Path, action="append", required=True, help="`vlastack wm preview train` run (repeatable)")
    ap.add_argument("--stride", type=int, default=1, help="score every N-th held-out frame t")
    ap.add_argument("--json", type=Path, help="write every number here")
    ap.add_argument("--png", type=Path, help="strip of one held-out chunk from the first --preview run")
    ap.add_argument("--episode", type=int, help="held-out episode of the strip (default: the first)")
    ap.add_argument("--start", type=int, default=0, help="frame t the strip's chunk starts at")
    ap.add_argument("--steps", type=int, default=16, help="steps of the strip's chunk")
    args = ap.parse_args()
    torch.set_num_threads(1)
    result: dict = {"horizons": HORIZONS, "stride": args.stride, "runs": []}
    runs: dict[str, DynamicsRun] = {}
    loaded: dict[tuple, tuple] = {}  # (dynamics, camera, size) -> held-out rows and frames, read once
    for i, path in enumerate(args.preview):
        t0 = time.perf_counter()
        ckpt, decoder, meta = load_preview(path)
        run = runs.setdefault(meta["dynamics"], DynamicsRun.load(meta["dynamics"]))
        cfg = dataclasses.replace(decoder.config, camera=keys.camera_of(meta["camera"]))
        key = (meta["dynamics"], meta["camera"], cfg.image_size)
        if key not in loaded:
            loaded[key] = run_frames(run, run.held_out, cfg)[:2]
        held, frames = loaded[key]
        rows = preview_metrics(decoder, run.model, held, frames, HORIZONS, stride=args.stride)
        wall = time.perf_counter() - t0
        entry = {
            "checkpoint": str(ckpt),
            "dynamics": meta["dynamics"],
            "config": decoder.config.to_dict(),
            "held_out_episodes": len(run.held_out),
        }
        entry.update({"held_out_frames": len(held.z), "rows": rows, "wall_s": wall})
        result["runs"].append(entry)
        print(f"\n{ckpt} (predicted_prob {decoder.config.predicted_prob}, {decoder.config.image_size} px), dynamics {meta['dynamics']}")
        print(f"{len(run.held_out)} held-out episodes, {len(held.z)} frames; {wall:.0f} s\n")
        print("PSNR (dB) against the true frame t+k:\n\n" + table_md(rows, "psnr") + "\n")
        print("SSIM against the true frame t+k:\n\n" + table_md(rows, "ssim"))
        if i == 0 and args.png:
            episode = run.held_out[0] if args.episode is None else args.episode
            table = held.select([episode])
            one = frames[torch.nonzero(held.episode == episode).flatten()]
            imgs, per_step = chunk_strip(decoder, run.model, table, one, episode, args.start, args.steps)
            save_strip(
                imgs, args.png, title=f"episode {episode}, frames {args.start + 1}..{args.start + args.steps} after t = {args.start}"
            )
            result["strip"] = {"png": str(args.png), "episode": episode, "start": args.start, "steps": per_step}
            print(f"\nstrip: {args.png}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
