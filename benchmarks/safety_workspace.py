"""Where the scripted experts move the hand, and whether they still succeed behind the safety layer.

    python benchmarks/safety_workspace.py --tasks mt50 --seeds 5 --out runs/safety_workspace.json
    python benchmarks/safety_workspace.py --tasks mt50 --seeds 5 --spec metaworld_sawyer --out runs/ws_preset.json

Each task's expert runs ``--seeds`` episodes (reset seeds 0, 1, ...; no cameras, so it is cheap)
through a :class:`vlastack.safety.SafeActuator` (``--spec none``: straight to the simulator). With ``--spec wide`` (the default) the layer uses
the ``metaworld_sawyer`` spec with its workspace opened up to 1 m beyond Meta-World's own hand
limits, so that it never binds and the positions recorded are the ones the experts *want*; this is
how the preset's workspace was chosen. With ``--spec metaworld_sawyer`` it shows what the preset
costs the experts. Recorded per task: min and max of the measured end effector (tcp, ``state[:3]``)
and of the mocap target the controller tracks, success, steps, and the layer's interventions by
limit. Prints the overall box and a markdown table; writes everything as JSON.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from collections import Counter
from pathlib import Path

import numpy as np

from vlastack.envs import make_env, resolve_tasks
from vlastack.envs.experts import expert_for
from vlastack.safety import METAWORLD_SAWYER, SafeActuator, load_spec
from vlastack.safety.spec import Box

WIDE = dataclasses.replace(METAWORLD_SAWYER, name="wide", workspace=Box((-1.5, -0.6, -0.95), (1.5, 2.0, 1.5), name="never binds"))


class _Bare:
    """The environment without the layer (``--spec none``), with the actuator's ``reset/step/log``."""

    def __init__(self, env) -> None:
        self.env, self.log = env, []

    def reset(self, seed: int):
        return self.env.reset(seed=seed)

    def step(self, action):
        return self.env.step(action)


def run_task(task: str, seeds: int, spec) -> dict:
    env = make_env(task, cameras=(), image_size=16)
    raw = env._env  # the Meta-World env: read-only access to the mocap target, for measuring only
    expert = expert_for(task)
    actuator = _Bare(env) if spec is None else SafeActuator(env, spec)
    tcp, mocap, ok, steps, limits = [], [], 0, [], Counter()
    for seed in range(seeds):
        obs, info = actuator.reset(seed=seed)
        n = 0
        while True:
            tcp.append(np.asarray(obs.state[:3], dtype=np.float64))
            mocap.append(raw.data.mocap_pos[0].copy())
            obs, _, terminated, truncated, info = actuator.step(expert.act(obs, info))
            n += 1
            if terminated or truncated:
                break
        tcp.append(np.asarray(obs.state[:3], dtype=np.float64))
        mocap.append(raw.data.mocap_pos[0].copy())
        ok += bool(info["success"])
        steps.append(n)
        for entry in actuator.log:
            for item in entry["interventions"]:
                limits[item["limit"]] += 1
    tcp_a, mocap_a = np.array(tcp), np.array(mocap)
    return {
        "task": task,
        "episodes": seeds,
        "success": ok,
        "mean_steps": float(np.mean(steps)),
        "tcp_min": tcp_a.min(0).round(4).tolist(),
        "tcp_max": tcp_a.max(0).round(4).tolist(),
        "mocap_min": mocap_a.min(0).round(4).tolist(),
        "mocap_max": mocap_a.max(0).round(4).tolist(),
        "hand_low": np.asarray(raw.hand_low).tolist(),
        "hand_high": np.asarray(raw.hand_high).tolist(),
        "interventions": dict(limits),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", default="mt50")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--spec", default="wide", help="'wide' (never binds), 'none' (no layer) or a spec preset name / JSON path")
    parser.add_argument("--out", type=Path, default=Path("runs/safety_workspace.json"))
    args = parser.parse_args()
    spec = {"wide": WIDE, "none": None}[args.spec] if args.spec in ("wide", "none") else load_spec(args.spec)
    rows = []
    for task in resolve_tasks(args.tasks):
        rows.append(run_task(task, args.seeds, spec))
        r = rows[-1]
        print(f"{task:28s} {r['success']}/{r['episodes']} tcp {r['tcp_min']} .. {r['tcp_max']}", flush=True)
    tcp_lo = np.min([r["tcp_min"] for r in rows], axis=0)
    tcp_hi = np.max([r["tcp_max"] for r in rows], axis=0)
    mo_lo = np.min([r["mocap_min"] for r in rows], axis=0)
    mo_hi = np.max([r["mocap_max"] for r in rows], axis=0)
    name = "none" if spec is None else spec.name
    summary = {
        "spec": name,
        "workspace": None if spec is None else dataclasses.asdict(spec.workspace),
        "tasks": len(rows),
        "seeds": args.seeds,
        "tcp_min": tcp_lo.tolist(),
        "tcp_max": tcp_hi.tolist(),
        "mocap_min": mo_lo.tolist(),
        "mocap_max": mo_hi.tolist(),
        "success": sum(r["success"] for r in rows),
        "episodes": sum(r["episodes"] for r in rows),
        "rows": rows,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(summary, indent=1))
    print(f"\nspec {name}: {summary['success']}/{summary['episodes']} expert episodes succeed")
    print(f"measured hand (tcp) box: {tcp_lo.round(4).tolist()} .. {tcp_hi.round(4).tolist()} m")
    print(f"mocap target box:        {mo_lo.round(4).tolist()} .. {mo_hi.round(4).tolist()} m")
    print("\n| task | success | mean steps | tcp min (m) | tcp max (m) | interventions by limit |\n|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['task']} | {r['success']}/{r['episodes']} | {r['mean_steps']:.0f} | {r['tcp_min']} | {r['tcp_max']} "
            f"| {r['interventions'] or ''} |"
        )


if __name__ == "__main__":
    main()
