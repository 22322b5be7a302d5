"""Success of the scripted robosuite experts per arm make: success rate, steps, milliseconds per step.

    MUJOCO_GL=egl nice -n 19 python benchmarks/robosuite_experts.py --tasks rs_lift --seeds 20 --workers 2 \\
        --out runs/robosuite17/experts.json

Seeds 0..N-1 per task (the demonstration seeds ``vlastack collect`` tries first), no safety layer (the
robosuite arms have none yet), the episode limit of the task (250 steps at 20 Hz). Each step renders
the cameras asked for (default: ``agentview`` at 84 px, so ms per step is simulation plus one frame;
``--cameras none`` times the simulation alone). Tasks run in parallel, one process per task at a time.
"""

from __future__ import annotations

import argparse
import json
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

import numpy as np


def run_task(task: str, seeds: int, cameras: tuple[str, ...], image_size: int) -> dict:
    from vlastack.envs import make_env
    from vlastack.envs.experts import expert_for
    from vlastack.envs.rollout import rollout

    env, expert = make_env(task, cameras=cameras, image_size=image_size), expert_for(task)
    rollout(env, expert.act, seed=10**6, record=False)  # warm-up: robosuite compiles its controller (numba) on first use
    ok, steps, sim_ms = [], [], 0.0
    for seed in range(seeds):
        r = rollout(env, expert.act, seed=seed, record=False)
        ok.append(r.success)
        steps.append(r.steps)
        sim_ms += r.sim_ms
    env.close()
    ok_arr, steps_arr = np.array(ok), np.array(steps)
    return {
        "success": float(ok_arr.mean()),
        "seeds": seeds,
        "failed_seeds": [int(s) for s in np.nonzero(~ok_arr)[0]],
        "mean_steps_success": float(steps_arr[ok_arr].mean()) if ok_arr.any() else None,
        "max_steps_success": int(steps_arr[ok_arr].max()) if ok_arr.any() else None,
        "ms_per_step": sim_ms / steps_arr.sum(),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tasks", default="rs_lift", help="robosuite tasks or groups, comma-separated.")
    ap.add_argument("--seeds", type=int, default=20, help="Reset seeds 0..N-1 per task.")
    ap.add_argument("--cameras", default="agentview", help="Cameras rendered every step, comma-separated, or 'none'.")
    ap.add_argument("--image-size", type=int, default=84, help="Square image side in pixels.")
    ap.add_argument("--workers", type=int, default=1, help="Processes, one task each at a time.")
    ap.add_argument("--out", type=Path, default=None, help="Write the table as JSON here too.")
    args = ap.parse_args()
    from vlastack.envs.robosuite_tasks import is_robosuite_task
    from vlastack.envs.tasks import resolve_tasks

    tasks = resolve_tasks(args.tasks)
    if not all(is_robosuite_task(t) for t in tasks):
        raise SystemExit(f"--tasks: robosuite tasks only, not {[t for t in tasks if not is_robosuite_task(t)]}")
    cameras = () if args.cameras == "none" else tuple(c for c in args.cameras.split(",") if c)
    t0 = time.perf_counter()
    with ProcessPoolExecutor(args.workers, mp_context=get_context("spawn")) as pool:
        futures = {t: pool.submit(run_task, t, args.seeds, cameras, args.image_size) for t in tasks}
        rows = {t: f.result() for t, f in futures.items()}
    print(f"| task | success | failed seeds | mean steps (successes) | max steps | ms per step ({args.cameras}, {args.image_size} px) |")
    print("|---|---|---|---|---|---|")
    for t, r in rows.items():
        print(
            f"| {t} | {r['success']:.0%} ({round(r['success'] * r['seeds'])}/{r['seeds']}) | {r['failed_seeds'] or '-'} | "
            f"{r['mean_steps_success'] or 0:.0f} | {r['max_steps_success'] or '-'} | {r['ms_per_step']:.1f} |"
        )
    print(f"wall time {time.perf_counter() - t0:.0f} s")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps({"args": {k: str(v) for k, v in vars(args).items()}, "rows": rows}, indent=2))


if __name__ == "__main__":
    main()
