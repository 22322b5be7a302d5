"""Arm alone against arm over a driven base: the Lift expert on a task whose cube starts beyond the arm's reach.

    MUJOCO_GL=egl nice -n 19 python benchmarks/base_arm_split.py --seeds 10 --out runs/base_arm/split.json

Task ``rs-reachfar-pandaomron`` (envs/robosuite_tasks.py): robosuite's Lift with the wheeled PandaOmron, its base
starting 0.40 m back and 0.35 m to the left, so the cube is ~0.96 m ahead of the arm's mount and 0.35 m to its
right. Two controllers on the same reset seeds 0..N-1, the task's 250-step limit, no safety layer (the wheeled
robot had no safety spec when this was measured; it has robosuite_pandaomron since, BENCHMARKS.md):

- ``arm_only``: the scripted Lift expert (envs/robosuite_experts.py) as it is: it commands the arm and holds the
  base still;
- ``split``: the same expert under :class:`vlastack.execution.base_arm_layer.BaseArmLayer`, which splits each
  step's hand motion between base and arm (execution/base_arm_split.py).

Per controller: success rate; the hand-to-cube distance at the episode's end (m, end-effector site to the cube's
centre); how often the arm was at its reach limit, counted two ways from the state: steps with the hand more
than 1 cm outside the layer's comfortable reach box (base frame, SplitLimits) and the episodes with any such
step, and for ``split`` the steps where the box bound the arm (the layer's own count); base travel (m).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

#: How far outside the comfortable reach box (m, any axis) the hand must be to count as at its limit.
OUTSIDE_TOL_M = 0.01


def run_episode(env, act, seed: int, limits) -> dict:
    """One episode; the hand's place relative to the mount is read from the state (envs/robosuite_env.py)."""
    names = env.names
    ee, mount, yaw = names["state"].index("ee_x"), names["state"].index("mount_x"), names["state"].index("mount_yaw")
    obj = names["privileged"].index("obj_x")
    lo, hi = np.asarray(limits.reach_lo_m), np.asarray(limits.reach_hi_m)
    obs, info = env.reset(seed=seed)
    start_mount = obs.state[mount : mount + 2].astype(np.float64)
    outside, steps, reach_m = 0, 0, 0.0
    done = False
    while not done:
        obs, _, terminated, truncated, info = env.step(act(obs, info))
        done, steps = terminated or truncated, steps + 1
        s = obs.state.astype(np.float64)
        c, si = np.cos(s[yaw]), np.sin(s[yaw])
        rel = s[ee : ee + 3] - s[mount : mount + 3]
        rel = np.array([c * rel[0] + si * rel[1], -si * rel[0] + c * rel[1], rel[2]])  # world -> base frame
        outside += int(np.any(rel > hi + OUTSIDE_TOL_M) or np.any(rel < lo - OUTSIDE_TOL_M))
        reach_m = max(reach_m, float(np.hypot(rel[0], rel[1])))
    priv = np.asarray(info["privileged"], dtype=np.float64)
    return {
        "seed": seed,
        "success": bool(info["success"]),
        "steps": steps,
        "final_hand_cube_m": float(np.linalg.norm(priv[ee : ee + 3] - priv[obj : obj + 3])),
        "steps_outside_reach_box": outside,
        "max_horizontal_reach_m": reach_m,
        "base_moved_m": float(np.linalg.norm(obs.state[mount : mount + 2] - start_mount)),
    }


def summarise(episodes: list[dict], reach_limited: list[int] | None) -> dict:
    ok = np.array([e["success"] for e in episodes])
    dist = np.array([e["final_hand_cube_m"] for e in episodes])
    outside = np.array([e["steps_outside_reach_box"] for e in episodes])
    steps = np.array([e["steps"] for e in episodes])
    out = {
        "success": float(ok.mean()),
        "episodes": len(episodes),
        "mean_steps_success": float(steps[ok].mean()) if ok.any() else None,
        "final_hand_cube_m_mean": float(dist.mean()),
        "final_hand_cube_m_max": float(dist.max()),
        "episodes_outside_reach_box": int((outside > 0).sum()),
        "fraction_steps_outside_reach_box": float(outside.sum() / steps.sum()),
        "max_horizontal_reach_m_mean": float(np.mean([e["max_horizontal_reach_m"] for e in episodes])),
        "base_moved_m_mean": float(np.mean([e["base_moved_m"] for e in episodes])),
    }
    if reach_limited is not None:
        out["fraction_steps_reach_limited_by_layer"] = float(np.sum(reach_limited) / steps.sum())
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--task", default="rs-reachfar-pandaomron", help="A wheeled robosuite Lift task.")
    ap.add_argument("--seeds", type=int, default=10, help="Reset seeds 0..N-1, the same for both controllers.")
    ap.add_argument("--out", type=Path, default=None, help="Write the table and the episodes as JSON here too.")
    args = ap.parse_args()
    from vlastack.envs import make_env
    from vlastack.envs.robosuite_experts import LiftExpert
    from vlastack.execution.base_arm_layer import BaseArmLayer

    env = make_env(args.task, cameras=(), image_size=16)  # no camera: the controllers read state only
    expert = LiftExpert(args.task)
    layer = BaseArmLayer(expert.act, env.names)
    results, t0 = {}, time.time()
    for label, act in (("arm_only", expert.act), ("split", layer)):
        episodes, limited = [], []
        for seed in range(args.seeds):
            episodes.append(run_episode(env, act, seed, layer.limits))
            limited.append(layer.reach_limited_steps if act is layer else 0)
        results[label] = {"summary": summarise(episodes, limited if act is layer else None), "episodes": episodes}
        print(label, json.dumps(results[label]["summary"]), flush=True)
    env.close()
    print(f"wall {time.time() - t0:.1f} s")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps({"task": args.task, "seeds": args.seeds, **results}, indent=1))


if __name__ == "__main__":
    main()
