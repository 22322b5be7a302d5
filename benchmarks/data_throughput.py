"""Training-data throughput and memory: WindowDataset + collate with frames in memory vs memory-mapped.

    nice python benchmarks/data_throughput.py --dataset runs/mt10_50 --cache-dir /tmp/mt10_50_cache

Each mode runs in its own fresh process, so peak memory is that mode's alone:

- ``memory``: decode every frame into this process (the default of WindowDataset);
- ``memmap-build``: build the on-disk frame cache (decodes once, writes ``--cache-dir``);
- ``memmap``: open the built cache and read frames through the page cache;
- ``interleaved`` (not run by default): both in one process, batches timed in turn, for a speed
  comparison that load from other jobs cannot tilt.

Reported per mode: construction seconds, samples/s over ``--batches`` random batches of
``--batch-size`` (indices drawn like a shuffled epoch, after ``--warmup`` untimed batches), both
per wall-clock second and per CPU second of this process (the latter is steadier where other
jobs share the cores), peak
resident memory (VmHWM) and, at the end, anonymous (process-owned) vs file-backed (page-cache,
reclaimable) resident memory in MiB. The page cache is not dropped between modes (that would
disturb other users of the machine), so ``memmap`` reads from a warm cache when RAM allows.
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np


def memory_mib() -> dict[str, float]:
    """Peak and current resident memory of this process, from /proc/self/status, in MiB."""
    out = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmHWM", "RssAnon", "RssFile"):
            out[name] = int(value.split()[0]) / 1024  # the file states kB
    return out


def run_mode(args: argparse.Namespace) -> dict:
    import torch

    from vlastack import keys
    from vlastack.data.windows import WindowDataset, collate
    from vlastack.episodes.reader import DatasetReader

    torch.set_num_threads(1)  # the collate work is single-threaded; keep runs comparable on a shared machine
    reader = DatasetReader(args.dataset)
    options = dict(
        obs_history=args.obs_history,
        action_horizon=args.horizon,
        depth=args.depth,
        image_keys=[keys.image_key(c) for c in args.cameras.split(",")],
    )
    if args.mode != "memory":
        options.update(frames="memmap", cache_dir=args.cache_dir)
    if args.mode == "interleaved":
        return interleaved(args, reader, options)
    t = time.perf_counter()
    ds = WindowDataset(reader, **options)
    built_s = time.perf_counter() - t
    result = {"mode": args.mode, "samples": len(ds), "construct_s": round(built_s, 1)}
    if args.mode != "memmap-build":
        rng = np.random.default_rng(0)
        order = rng.permutation(len(ds))
        need = (args.warmup + args.batches) * args.batch_size
        order = np.resize(order, need)  # wraps around when the dataset is smaller than the run
        batches = order.reshape(-1, args.batch_size)
        for idx in batches[: args.warmup]:
            collate([ds[int(i)] for i in idx])
        t, cpu = time.perf_counter(), time.process_time()
        for idx in batches[args.warmup :]:
            collate([ds[int(i)] for i in idx])
        n = args.batches * args.batch_size
        result["samples_per_s"] = round(n / (time.perf_counter() - t), 1)
        # Per CPU second (user + system, page faults included): steadier than wall time on a shared machine.
        result["samples_per_cpu_s"] = round(n / (time.process_time() - cpu), 1)
    result["memory_mib"] = {k: round(v) for k, v in memory_mib().items()}
    return result


def interleaved(args: argparse.Namespace, reader, options: dict) -> dict:
    """Both stores in one process, timed batch by batch in turn, so that load from other jobs on
    the machine falls on both alike (memory figures here are of the two together)."""
    from vlastack.data.windows import WindowDataset, collate

    stores = {
        "memory": WindowDataset(reader, **{k: v for k, v in options.items() if k not in ("frames", "cache_dir")}),
        "memmap": WindowDataset(reader, **options),
    }
    order = np.resize(np.random.default_rng(0).permutation(len(stores["memory"])), (args.warmup + args.batches) * args.batch_size)
    batches = order.reshape(-1, args.batch_size)
    spent = {name: 0.0 for name in stores}
    for b, idx in enumerate(batches):
        for name in ("memory", "memmap") if b % 2 else ("memmap", "memory"):  # alternate who goes first
            t = time.perf_counter()
            collate([stores[name][int(i)] for i in idx])
            if b >= args.warmup:
                spent[name] += time.perf_counter() - t
    n = args.batches * args.batch_size
    return {
        "mode": "interleaved",
        "samples": len(stores["memory"]),
        "construct_s": "-",
        "samples_per_s": " / ".join(f"{name} {n / s:.0f}" for name, s in spent.items()),
        "memory_mib": {k: round(v) for k, v in memory_mib().items()},
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dataset", type=Path, required=True)
    ap.add_argument("--cache-dir", type=Path, default=None, help="frame cache location (default <dataset>/cache)")
    ap.add_argument("--cameras", default="corner2,gripperPOV")
    ap.add_argument("--depth", action="store_true", help="also load the depth maps (float32, 4/3 the bytes of RGB)")
    ap.add_argument("--obs-history", type=int, default=1)
    ap.add_argument("--horizon", type=int, default=16)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--batches", type=int, default=100)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--modes", default="memory,memmap-build,memmap")
    ap.add_argument("--mode", default=None, help=argparse.SUPPRESS)  # one mode, in a child process
    args = ap.parse_args()
    if args.mode is not None:
        print(json.dumps(run_mode(args)))
        return
    rows = []
    for mode in args.modes.split(","):
        child = [f"--{k.replace('_', '-')}={v}" for k, v in vars(args).items() if v is not None and k not in ("modes", "mode", "depth")] + (
            ["--depth"] if args.depth else []
        )
        r = subprocess.run([sys.executable, __file__, *child, "--mode", mode], capture_output=True, text=True)
        if r.returncode != 0:
            sys.exit(f"{mode} failed:\n{r.stderr}")
        rows.append(json.loads(r.stdout.strip().splitlines()[-1]))
    print(f"# WindowDataset + collate on {args.dataset} ({platform.processor() or platform.machine()}, {time.strftime('%Y-%m-%d')})\n")
    print(
        f"cameras {args.cameras}, depth {args.depth}, obs_history {args.obs_history}, horizon {args.horizon}, "
        f"batch {args.batch_size}, {args.batches} timed batches\n"
    )
    print(
        "| mode | samples | construct s | samples/s (wall) | samples per CPU s | peak RSS MiB | anon RSS MiB (end) | file RSS MiB (end) |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        m = r["memory_mib"]
        print(
            f"| {r['mode']} | {r['samples']} | {r['construct_s']} | {r.get('samples_per_s', '-')} | "
            f"{r.get('samples_per_cpu_s', '-')} | "
            f"{m['VmHWM']} | {m['RssAnon']} | {m['RssFile']} |"
        )


if __name__ == "__main__":
    main()
