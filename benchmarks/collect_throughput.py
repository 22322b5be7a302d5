"""Collection throughput: expert demonstrations on a task group, written as a LeRobot v3 dataset.

    python benchmarks/collect_throughput.py --tasks mt10 --episodes 50 --out runs/mt10_50 --workers 2

Prints a markdown report: wall time, simulated steps per second, milliseconds per rendered frame
(measured separately on the same cameras), expert success per task, dataset size on disk.
"""

from __future__ import annotations

import argparse
import platform
import time
from pathlib import Path

import numpy as np


def render_ms(cameras: tuple[str, ...], size: int, n: int = 200) -> float:
    """Milliseconds to render one camera frame with the project's fast settings."""
    from vlastack.envs import make_env

    env = make_env("reach-v3", cameras=cameras, image_size=size)
    env.reset(seed=0)
    env._renderer.render(env._env.data)  # warm up the GL context
    t = time.perf_counter()
    for _ in range(n):
        env._renderer.render(env._env.data)
    ms = (time.perf_counter() - t) * 1000 / (n * len(cameras))
    env.close()
    return ms


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tasks", default="mt10")
    ap.add_argument("--episodes", type=int, default=50)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--image-size", type=int, default=128)
    args = ap.parse_args()

    from vlastack.envs.collect import collect, resolve_config

    config = resolve_config(args.tasks, episodes=args.episodes, out=args.out, image_size=args.image_size, workers=args.workers)
    t = time.perf_counter()
    summary = collect(config)
    wall = time.perf_counter() - t
    steps = sum(summary.steps.values())
    size_mb = sum(p.stat().st_size for p in args.out.rglob("*") if p.is_file()) / 1e6
    print(f"## Collection: {args.tasks} x {args.episodes}, {args.image_size}px, cameras {config.cameras}")
    print(f"machine: {platform.processor() or platform.machine()}, {__import__('os').cpu_count()} cores; workers {args.workers}")
    print(
        f"wall {wall:.0f} s; {steps} simulated steps (kept and dropped episodes) -> {steps / wall:.1f} steps/s; "
        f"{sum(summary.kept.values()) / wall * 60:.1f} kept episodes/min"
    )
    print(f"render: {render_ms(config.cameras, args.image_size):.1f} ms per camera frame (measured alone)")
    print(f"dataset size on disk: {size_mb:.1f} MB\n")
    print("| task | kept | expert failures | expert success |\n|---|---|---|---|")
    for task in config.tasks:
        k, f = summary.kept[task], summary.failed[task]
        print(f"| {task} | {k} | {f} | {k / max(k + f, 1):.0%} |")
    rates = [summary.kept[t] / max(summary.kept[t] + summary.failed[t], 1) for t in config.tasks]
    print(f"\nmean expert success {np.mean(rates):.1%}")


if __name__ == "__main__":
    main()
