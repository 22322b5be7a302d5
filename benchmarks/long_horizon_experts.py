"""Success of the chained scripted experts on the long-horizon suite, per stage and overall.

    MUJOCO_GL=egl python benchmarks/long_horizon_experts.py --seeds 50

Seeds 0..N-1 (the demonstration seeds ``vlastack collect`` tries first); actions pass through the
safety layer with contact forces sensed, as in ``vlastack collect``, unless ``--safety none`` or
``--no-touch``; no cameras rendered (the experts read the privileged state only).
"""

from __future__ import annotations

import argparse
import json

import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, default=50, help="Reset seeds 0..N-1 per task.")
    ap.add_argument("--tasks", default="long_horizon", help="Long-horizon tasks or the group long_horizon, comma-separated.")
    ap.add_argument("--safety", default="metaworld_sawyer", help="Safety spec the actions pass through, as in collect; 'none' for none.")
    ap.add_argument(
        "--no-touch", dest="touch", action="store_false", help="Sense no contact forces (the safety layer's force limit then never acts)."
    )
    args = ap.parse_args()
    from vlastack.envs.experts import expert_for
    from vlastack.envs.long_horizon import SUITE
    from vlastack.envs.long_horizon_env import STAGES_DONE
    from vlastack.envs.metaworld import make_env
    from vlastack.envs.tasks import resolve_tasks
    from vlastack.safety import SafeActuator

    rows = {}
    tasks = resolve_tasks(args.tasks)
    if not set(tasks) <= set(SUITE):
        raise SystemExit(f"--tasks: only long-horizon tasks have stages; not {sorted(set(tasks) - set(SUITE))}")
    for task in tasks:
        env, expert = make_env(task, cameras=(), touch=args.touch), expert_for(task)
        stepped = env if args.safety == "none" else SafeActuator(env, args.safety)
        n = len(SUITE[task].stages)
        done, steps = [], []
        for seed in range(args.seeds):
            obs, info = stepped.reset(seed=seed)
            n_steps, over = 0, False
            while not over:
                obs, _, terminated, truncated, info = stepped.step(expert.act(obs, info))
                n_steps += 1
                over = terminated or truncated
            done.append(info[STAGES_DONE])
            steps.append(n_steps)
        done_arr = np.array(done)
        rows[task] = {
            "stages": n,
            "per_stage_success": [float(np.mean(done_arr > k)) for k in range(n)],
            "success": float(np.mean(done_arr == n)),
            "mean_steps": float(np.mean(steps)),
            "max_steps_used": int(np.max(steps)),
            "limit": env.config.max_steps,
        }
        env.close()
        print(task, json.dumps(rows[task]), flush=True)
    print(f"overall expert success: {np.mean([r['success'] for r in rows.values()]):.3f} over {len(rows)} tasks x {args.seeds} seeds")


if __name__ == "__main__":
    main()
