"""The two-arm experts with and without the two-arm safety layer: success, how close the hands came, what
the keep-out changed, and contacts between the two robots (issue 17, item 4).

    MUJOCO_GL=egl nice -n 19 python benchmarks/two_arm_safety.py --seeds 20 --out runs/two_arm_safety.json

For each task of ``rs_two_arm`` (TwoArmLift, TwoArmHandover) and each of ``--seeds`` reset seeds (0, 1, ...),
the scripted expert (no cameras) runs once straight to the simulator (``none``) and once through a
:class:`vlastack.safety.SafeActuator` with the task's two-arm spec (``layer``, or ``--spec``). Per episode:
success and steps; the smallest distance between the two end-effector points (``state[0:3]`` and
``state[8:11]``, world frame, m: what the keep-out judges); the keep-out's interventions (``mutual_keep_out``
reasons) and the steps the layer changed; and arm-arm contacts: MuJoCo contacts whose two geoms belong to
different robots (``RobosuiteEnv.arm_arm_contacts``, counted by :mod:`vlastack.envs.robot_contacts`, as
``vlastack eval`` counts them), as contacts summed over steps and as steps with any.
"""

from __future__ import annotations

import argparse
import json
import time
from collections import Counter
from pathlib import Path

import numpy as np


def run_episode(env: object, stepped: object, expert: object, seed: int) -> dict:
    obs, info = stepped.reset(seed=seed)
    info = {**info, "step": 0}
    dmin, contacts, contact_steps, keep_out, changed = np.inf, 0, 0, 0, 0
    limits: Counter = Counter()
    for _ in range(env.config.max_steps):
        s = np.asarray(obs.state, dtype=np.float64)
        dmin = min(dmin, float(np.linalg.norm(s[0:3] - s[8:11])))
        obs, _, terminated, truncated, info = stepped.step(expert.act(obs, info))
        c = env.arm_arm_contacts()  # the simulator the actuator wraps (envs/robot_contacts.py)
        contacts += c
        contact_steps += c > 0
        found = info.get("safety", {}).get("interventions", [])
        changed += bool(found)
        keep_out += sum(i["check"] == "mutual_keep_out" for i in found)
        limits.update(i["limit"] for i in found)
        if terminated or truncated:
            break
    s = np.asarray(obs.state, dtype=np.float64)
    dmin = min(dmin, float(np.linalg.norm(s[0:3] - s[8:11])))
    return {
        "seed": seed,
        "success": bool(info["success"]),
        "steps": int(info["step"]),
        "min_ee_distance_m": round(dmin, 4),
        "keep_out_interventions": keep_out,
        "steps_changed": changed,
        "arm_arm_contacts": contacts,
        "arm_arm_contact_steps": contact_steps,
        "interventions": dict(limits),
    }


def run_task(task: str, seeds: int, spec: str | None) -> dict:
    from vlastack.envs import make_env
    from vlastack.envs.collect import default_safety_spec
    from vlastack.envs.experts import expert_for
    from vlastack.safety import SafeActuator

    env = make_env(task, cameras=(), image_size=16)
    name = spec or default_safety_spec(task)
    out = {"spec": name}
    for mode in ("none", "layer"):
        stepped = env if mode == "none" else SafeActuator(env, name)
        eps = [run_episode(env, stepped, expert_for(task), seed) for seed in range(seeds)]
        out[mode] = {
            "success": float(np.mean([e["success"] for e in eps])),
            "steps_mean": float(np.mean([e["steps"] for e in eps])),
            "min_ee_distance_m": min(e["min_ee_distance_m"] for e in eps),
            "keep_out_interventions": sum(e["keep_out_interventions"] for e in eps),
            "steps_changed": sum(e["steps_changed"] for e in eps),
            "arm_arm_contacts": sum(e["arm_arm_contacts"] for e in eps),
            "episodes_with_arm_arm_contact": sum(e["arm_arm_contact_steps"] > 0 for e in eps),
            "episodes": eps,
        }
    env.close()
    return out


def main() -> None:
    from vlastack.envs import resolve_tasks

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", default="rs_two_arm")
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--spec", default=None, help="a two-arm preset name; default: each task's own (robosuite_<task>)")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    results = {}
    for task in resolve_tasks(args.tasks):
        t0 = time.perf_counter()
        r = results[task] = run_task(task, args.seeds, args.spec)
        for mode in ("none", "layer"):
            m = r[mode]
            print(
                f"{task} [{mode if mode == 'none' else r['spec']}]: success {m['success']:.0%} of {len(m['episodes'])}, "
                f"{m['steps_mean']:.1f} steps, min hand distance {m['min_ee_distance_m']} m, keep-out interventions "
                f"{m['keep_out_interventions']}, steps changed {m['steps_changed']}, arm-arm contacts {m['arm_arm_contacts']} "
                f"in {m['episodes_with_arm_arm_contact']} episodes",
                flush=True,
            )
        print(f"  [{time.perf_counter() - t0:.0f} s]", flush=True)
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        meta = {"date": time.strftime("%Y-%m-%d"), "machine": "2-core CPU VM"}
        args.out.write_text(json.dumps({"meta": meta, "args": vars(args) | {"out": str(args.out)}, "results": results}, indent=1))


if __name__ == "__main__":
    main()
