"""Contact forces the scripted experts apply, behind the safety layer without and with its contact-force limit.

    python benchmarks/safety_contact_forces.py --tasks mt10 --seeds 10 --out runs/safety_contact_forces.json

Each task's expert runs ``--seeds`` episodes (evaluation reset seeds 10000, 10001, ...; no cameras)
through a :class:`vlastack.safety.SafeActuator` with the ``--spec`` preset twice: once with its
``contact`` limit removed ("before") and once as it is ("after"). Recorded per task and condition:
success, mean steps, the peak net contact force on the arm (``Observation.arm_contact``, N; the
fingers are part of the arm, so pushing with them counts) and the peak finger force (``touch``,
N, largest finger), the steps on which the arm force was over the limit, and how many steps
the contact check changed. Prints a markdown table.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path

import numpy as np

from vlastack.envs import make_env, resolve_tasks
from vlastack.envs.experts import expert_for
from vlastack.safety import SAFETY_INFO_KEY, SafeActuator, load_spec

SEED_START = 10_000


def run_task(task: str, seeds: int, spec, limit_n: float) -> dict:
    env = make_env(task, cameras=(), image_size=16)
    expert = expert_for(task)
    actuator = SafeActuator(env, spec)
    ok, steps, arm_peak, finger_peak, changed, over = 0, [], 0.0, 0.0, 0, 0
    per_episode = []
    for i in range(seeds):
        obs, info = actuator.reset(seed=SEED_START + i)
        n, ep_arm = 0, 0.0
        while True:
            obs, _, terminated, truncated, info = actuator.step(expert.act(obs, info))
            n += 1
            force = float(np.linalg.norm(obs.arm_contact))
            ep_arm = max(ep_arm, force)
            over += force > limit_n
            finger_peak = max(finger_peak, float(np.max(obs.touch)))
            changed += any(x["check"] == "contact_force" for x in info[SAFETY_INFO_KEY]["interventions"])
            if terminated or truncated:
                break
        ok += bool(info["success"])
        steps.append(n)
        arm_peak = max(arm_peak, ep_arm)
        per_episode.append({"seed": SEED_START + i, "success": bool(info["success"]), "steps": n, "arm_peak_n": round(ep_arm, 1)})
    actuator.close()
    return {
        "task": task,
        "success": ok,
        "episodes": seeds,
        "mean_steps": float(np.mean(steps)),
        "arm_peak_n": arm_peak,
        "finger_peak_n": finger_peak,
        "contact_steps": changed,
        "steps_over_limit": over,
        "episodes_detail": per_episode,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", default="mt10")
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--spec", default="metaworld_sawyer")
    parser.add_argument("--out", type=Path, default=Path("runs/safety_contact_forces.json"))
    args = parser.parse_args()
    after = load_spec(args.spec)
    if after.contact is None:
        raise SystemExit(f"spec {after.name!r} has no contact limit to compare against")
    before = dataclasses.replace(after, contact=None)
    rows = []
    for task in resolve_tasks(args.tasks):
        limit = after.contact.max_force_n
        b, a = run_task(task, args.seeds, before, limit), run_task(task, args.seeds, after, limit)
        rows.append({"task": task, "before": b, "after": a})
        print(
            f"{task:28s} before {b['success']}/{b['episodes']} {b['arm_peak_n']:.0f} N | after {a['success']}/{a['episodes']} {a['arm_peak_n']:.0f} N",
            flush=True,
        )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"spec": after.name, "contact": dataclasses.asdict(after.contact), "rows": rows}, indent=1))
    print(
        f"\nlimit: {after.contact.max_force_n:.0f} N net on the arm\n\n| task | success before | success after | peak arm force before (N) "
        "| after (N) | steps over the limit before | after | peak finger force before (N) | after (N) | steps changed by the contact check |"
        "\n|---|---|---|---|---|---|---|---|---|---|"
    )
    for r in rows:
        b, a = r["before"], r["after"]
        print(
            f"| {r['task']} | {b['success']}/{b['episodes']} | {a['success']}/{a['episodes']} | {b['arm_peak_n']:.0f} | {a['arm_peak_n']:.0f} "
            f"| {b['steps_over_limit']} | {a['steps_over_limit']} "
            f"| {b['finger_peak_n']:.0f} | {a['finger_peak_n']:.0f} | {a['contact_steps']} |"
        )
    tb = sum(r["before"]["success"] for r in rows)
    ta = sum(r["after"]["success"] for r in rows)
    n = sum(r["before"]["episodes"] for r in rows)
    print(f"\nsuccess: {tb}/{n} before, {ta}/{n} after")


if __name__ == "__main__":
    main()
