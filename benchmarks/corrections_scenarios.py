"""Scripted correction scenarios: how fast and how exactly each correction takes effect.

    MUJOCO_GL=egl python benchmarks/corrections_scenarios.py --seeds 10

Each scenario runs a Meta-World scripted expert (or a hold-still policy) through
``vlastack.reasoning.corrections.CorrectionFilter`` and the safety layer, says the correction at
step 10 (for "let go": once the puck is carried 2 cm up), and compares with the same seed without
it. Printed per scenario: the mean and worst over seeds.
"""

from __future__ import annotations

import argparse
import json

import numpy as np


def run(task, policy, steps, said=None, seed=0):
    from vlastack.envs.metaworld import make_env
    from vlastack.reasoning.corrections import CorrectionFilter, parse_correction
    from vlastack.safety import SafeActuator

    env = make_env(task, cameras=(), touch=False)
    stepped, filt = SafeActuator(env, "metaworld_sawyer"), CorrectionFilter()
    obs, info = stepped.reset(seed=seed)
    states = [info["privileged"]]
    for t in range(steps):
        if said and t in said:
            filt.apply(parse_correction(said[t]))
        obs, _, _, _, info = stepped.step(filt(policy(obs, info)))
        states.append(info["privileged"])
    env.close()
    return np.array(states)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, default=10)
    args = ap.parse_args()
    from vlastack.envs.experts import expert_for

    reach, pick = expert_for("reach-v3").act, expert_for("pick-place-v3").act

    def hold(obs, info):
        return np.array([0.0, 0.0, 0.0, -1.0], dtype=np.float32)

    out: dict[str, list[float]] = {
        k: [] for k in ("stop_steps_to_halt", "slower_speed_ratio", "nudge_error_mm", "letgo_steps_to_open", "letgo_drop_mm")
    }
    for seed in range(args.seeds):
        free = run("reach-v3", reach, 40, seed=seed)
        stop = run("reach-v3", reach, 40, {10: "stop"}, seed)
        speed = np.linalg.norm(np.diff(stop[:, :3], axis=0), axis=1)
        out["stop_steps_to_halt"].append(int(np.argmax(speed[10:] < 1e-3)))  # first step after which it moves < 1 mm
        slow = run("reach-v3", reach, 40, {10: "slower"}, seed)
        path = lambda s: np.linalg.norm(np.diff(s[10:30, :3], axis=0), axis=1).sum()  # noqa: E731
        out["slower_speed_ratio"].append(float(path(slow) / path(free)))
        nudge = run("reach-v3", hold, 30, {10: "move left a bit"}, seed)
        out["nudge_error_mm"].append(float(np.linalg.norm(nudge[-1, :3] - nudge[10, :3] - [-0.02, 0, 0]) * 1000))
        carried = run("pick-place-v3", pick, 90, seed=seed)
        lift = int(np.argmax(carried[:, 6] > carried[5, 6] + 0.02))
        if lift == 0:
            continue
        drop = run("pick-place-v3", pick, lift + 20, {lift: "let go"}, seed)
        out["letgo_steps_to_open"].append(int(np.argmax(drop[lift:, 3] > drop[lift, 3] + 0.1)))
        out["letgo_drop_mm"].append(float((drop[lift, 6] - drop[-1, 6]) * 1000))
    for k, v in out.items():
        print(
            json.dumps(
                {
                    "metric": k,
                    "seeds": len(v),
                    "mean": round(float(np.mean(v)), 3),
                    "worst": round(float(max(v) if k != "letgo_drop_mm" else min(v)), 3),
                }
            )
        )


if __name__ == "__main__":
    main()
