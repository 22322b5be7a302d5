"""Where the robosuite Lift experts move the hand and what they command, and whether they still succeed
behind the safety layer: the numbers behind the ``robosuite_<arm>`` safety specs (safety/presets_robosuite.py).

    MUJOCO_GL=egl nice -n 19 python benchmarks/robosuite_safety.py --tasks rs_lift --seeds 5 --spec none --out runs/rs_safety_none.json
    MUJOCO_GL=egl nice -n 19 python benchmarks/robosuite_safety.py --tasks rs_lift --seeds 5 --spec arm --out runs/rs_safety_arm.json
    MUJOCO_GL=egl nice -n 19 python benchmarks/robosuite_safety.py --tasks rs_mobile,rs_mobile_far --seeds 10 --spec none
    MUJOCO_GL=egl nice -n 19 python benchmarks/robosuite_safety.py --tasks rs_mobile,rs_mobile_far --seeds 10 --spec embodiment

Each task's expert runs ``--seeds`` episodes (reset seeds 0, 1, ...; no cameras) straight to the simulator
(``--spec none``) or through a :class:`vlastack.safety.SafeActuator` with ``--spec arm`` (each arm's own
preset, ``robosuite_<arm>``), ``--spec embodiment`` (each task's robot's own, ``default_safety_spec``) or a named
spec. The wheeled PandaOmron's tasks (``rs_mobile``, ``rs_mobile_far``: the latter's expert is the Lift expert
under the base-arm layer, which writes the base commands before the safety layer sees them) also record the arm
mount's path (``state`` mount_x, mount_y, mount_z, m) and the largest base and torso commands (action units). Recorded per task: min and max of the measured hand
(``state[:3]``, world frame, m) and of the controller's goal (robosuite's OSC_POSE sets it at the hand
plus 5 cm per action unit, ``POS_UNIT_M``), the largest commanded speed (goal offset per control period,
m/s) and change of it (m/s^2), the largest wrist force-torque entry (``max |touch|``, N or N m: what the
layer's grip check reads), success and steps, and the layer's interventions by limit.
"""

from __future__ import annotations

import argparse
import json
import time
from collections import Counter
from pathlib import Path

import numpy as np


def run_task(task: str, seeds: int, spec: str) -> dict:
    from vlastack.envs import make_env
    from vlastack.envs.experts import expert_for
    from vlastack.envs.robosuite_env import FPS, POS_UNIT_M
    from vlastack.safety import SafeActuator

    env = make_env(task, cameras=(), image_size=16)
    from vlastack.envs.collect import default_safety_spec

    name = f"robosuite_{task.removeprefix('rs-lift-')}" if spec == "arm" else default_safety_spec(task) if spec == "embodiment" else spec
    mobile = "mount_x" in env.names["state"]
    mount_i = env.names["state"].index("mount_x") if mobile else None
    stepped = env if spec == "none" else SafeActuator(env, name)
    expert = expert_for(task)
    hand, goal, ok, steps, touch_peak, speeds, accels = [], [], [], [], 0.0, [], []
    mounts, extra_peak = [], np.zeros(4)
    limits: Counter = Counter()
    changed = 0
    for seed in range(seeds):
        obs, info = stepped.reset(seed=seed)
        info = {**info, "step": 0}
        v_prev = np.zeros(3)
        for _ in range(env.config.max_steps):
            proposed = expert.act(obs, info)
            p = np.asarray(obs.state[:3], dtype=np.float64)
            obs, _, terminated, truncated, info = stepped.step(proposed)
            sent = np.asarray(info["safety"]["action"], dtype=np.float64) if "safety" in info else np.asarray(proposed, dtype=np.float64)
            if "safety" in info and info["safety"]["interventions"]:
                changed += 1
                limits.update(i["limit"] for i in info["safety"]["interventions"])
            a = np.clip(sent[:3], -1.0, 1.0)
            if mobile:
                mounts.append(np.asarray(obs.state[mount_i : mount_i + 3], dtype=np.float64))
                extra_peak = np.maximum(extra_peak, np.abs(sent[7:11]))
            hand.append(p)
            goal.append(p + POS_UNIT_M * a)
            v = POS_UNIT_M * a * FPS
            speeds.append(float(np.linalg.norm(v)))
            accels.append(float(np.linalg.norm(v - v_prev)) * FPS)
            v_prev = v
            if obs.touch is not None:
                touch_peak = max(touch_peak, float(np.max(np.abs(obs.touch))))
            if terminated or truncated:
                break
        ok.append(bool(info["success"]))
        steps.append(int(info["step"]))
    env.close()
    h, g = np.array(hand), np.array(goal)
    wheeled = {}
    if mobile:
        m = np.array(mounts)
        wheeled = {
            "mount_min": m.min(0).round(4).tolist(),
            "mount_max": m.max(0).round(4).tolist(),
            "base_forward_side_yaw_torso_max_abs": extra_peak.round(4).tolist(),
        }
    return {
        "spec": name,
        "success": float(np.mean(ok)),
        "episodes": len(ok),
        "steps_mean": float(np.mean(steps)),
        "hand_min": h.min(0).round(4).tolist(),
        "hand_max": h.max(0).round(4).tolist(),
        "goal_min": g.min(0).round(4).tolist(),
        "goal_max": g.max(0).round(4).tolist(),
        "speed_max_m_s": round(max(speeds), 3),
        "accel_max_m_s2": round(max(accels), 2),
        "touch_max": round(touch_peak, 2),
        "steps_changed": changed,
        "interventions": dict(limits),
        "steps_all": steps,
        "success_all": ok,
        **wheeled,
    }


def main() -> None:
    from vlastack.envs import resolve_tasks

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", default="rs_lift")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument(
        "--spec",
        default="arm",
        help="'none' (no layer), 'arm' (each arm's robosuite_<arm> preset), 'embodiment' (each task's robot's own spec) "
        "or a preset name / JSON path",
    )
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    results = {}
    for task in resolve_tasks(args.tasks):
        t0 = time.perf_counter()
        r = run_task(task, args.seeds, args.spec)
        results[task] = r
        print(
            f"{task}: success {r['success']:.0%} of {r['episodes']}, {r['steps_mean']:.1f} steps, hand {r['hand_min']}..{r['hand_max']}, "
            f"goal {r['goal_min']}..{r['goal_max']}, speed {r['speed_max_m_s']} m/s, accel {r['accel_max_m_s2']} m/s^2, "
            f"touch {r['touch_max']}, changed {r['steps_changed']} {r['interventions']}"
            + (
                f", mount {r['mount_min']}..{r['mount_max']}, |base, torso| {r['base_forward_side_yaw_torso_max_abs']}"
                if "mount_min" in r
                else ""
            )
            + f" [{time.perf_counter() - t0:.0f} s]",
            flush=True,
        )
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        meta = {"date": time.strftime("%Y-%m-%d"), "machine": "2-core CPU VM"}
        args.out.write_text(json.dumps({"meta": meta, "args": vars(args) | {"out": str(args.out)}, "results": results}, indent=1))


if __name__ == "__main__":
    main()
