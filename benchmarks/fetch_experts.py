"""Success of the scripted Fetch experts (envs/fetch_experts.py) and milliseconds per step.

    MUJOCO_GL=egl nice -n 19 python benchmarks/fetch_experts.py --seeds 50 --out runs/fetch17/experts.json

Per task: reset seeds 0..N-1 (the demonstration seeds ``vlastack collect`` tries first), no safety layer (``--safety
fetch``: through the Fetch spec, as ``vlastack collect`` runs them), the task's
episode limit (100 steps at 25 Hz); success is gymnasium-robotics' ``is_success``. Timing: ``ms_physics`` is the
whole run stepped with no camera (simulation, contact forces and the expert); ``ms_frame`` the same seeds again
rendering ``--cameras`` at ``--image-size`` every step (simulation plus frames). One process, one task after the other.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np


def run(task: str, seeds: int, cameras: tuple[str, ...], image_size: int, safety: str | None = None) -> dict:
    from vlastack.envs import make_env
    from vlastack.envs.experts import expert_for
    from vlastack.envs.rollout import rollout
    from vlastack.safety import SafeActuator

    expert = expert_for(task)
    out: dict = {}
    for label, cams in (("physics", ()), ("frame", cameras)):
        env = make_env(task, cameras=cams, image_size=image_size)
        stepped = env if safety is None else SafeActuator(env, safety)
        ok, steps, sim_ms = [], [], 0.0
        for seed in range(seeds):
            r = rollout(stepped, expert.act, seed=seed, record=False)
            ok.append(r.success)
            steps.append(r.steps)
            sim_ms += r.sim_ms
        env.close()
        out[f"ms_{label}"] = sim_ms / sum(steps)
        if label == "physics":
            ok_arr, steps_arr = np.array(ok), np.array(steps)
            out.update(
                success=float(ok_arr.mean()),
                seeds=seeds,
                failed_seeds=[int(s) for s in np.nonzero(~ok_arr)[0]],
                mean_steps_success=float(steps_arr[ok_arr].mean()) if ok_arr.any() else None,
                max_steps_success=int(steps_arr[ok_arr].max()) if ok_arr.any() else None,
            )
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tasks", default="fetch", help="Fetch tasks or the group 'fetch', comma-separated.")
    ap.add_argument("--seeds", type=int, default=50, help="Reset seeds 0..N-1 per task.")
    ap.add_argument("--cameras", default="external_camera_0", help="Cameras rendered in the timed second pass, comma-separated.")
    ap.add_argument("--image-size", type=int, default=128, help="Square image side in pixels.")
    ap.add_argument("--safety", default=None, help="Step through the safety layer with this spec (e.g. 'fetch'); default: none.")
    ap.add_argument("--out", type=Path, default=None, help="Write the table as JSON here too.")
    args = ap.parse_args()
    from vlastack.envs.tasks import resolve_tasks

    cameras = tuple(c.strip() for c in args.cameras.split(",") if c.strip())
    results = {}
    t0 = time.time()
    for task in resolve_tasks(args.tasks):
        results[task] = r = run(task, args.seeds, cameras, args.image_size, args.safety)
        print(
            f"{task:16s} success {r['success']:.0%} ({args.seeds} seeds, failed {r['failed_seeds']}), "
            f"steps mean {r['mean_steps_success']:.1f} max {r['max_steps_success']}, "
            f"ms/step physics {r['ms_physics']:.2f}, physics + {len(cameras)} frame(s) of {args.image_size} px {r['ms_frame']:.2f}",
            flush=True,
        )
    print(f"total {time.time() - t0:.0f} s")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(
            json.dumps({"cameras": cameras, "image_size": args.image_size, "safety": args.safety, "tasks": results}, indent=2)
        )


if __name__ == "__main__":
    main()
