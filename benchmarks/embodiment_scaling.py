"""How far the end effector moves per control step for a constant native action: the numbers behind
each embodiment's scaling (src/vlastack/embodiments/), measured rather than read off a controller.

    MUJOCO_GL=egl nice -n 19 python benchmarks/embodiment_scaling.py --out runs/embodiments/scaling.json

Per environment and per native translation axis (x, y, z of the env's world-aligned action) and sign,
at magnitudes 0.25, 0.5 and 1.0: reset (seed 0), move the opposite way for ``--pre`` steps and stand
still (zero action) for ``--pre`` steps, so the measured move starts at rest and ends near the start
pose, well inside the reach; then apply the constant action for ``--steps`` steps. Reported:

- ``m_per_step``: the hand's mean displacement per step along the commanded world axis over the second
  half of those steps (the steady state; signed, so a wrongly rotated frame shows up as a sign or a
  near-zero), divided by the magnitude, i.e. metres per step per action unit;
- ``first_step_m``: the displacement on the first step (the lag: controllers do not move at once);
- ``leak``: the largest displacement on the other two axes relative to the commanded one (frame check);
- ``rad_per_step`` (rotation-commanding envs): the same for the hand's rotation about each world axis
  (``--rot``).

The hand is the state's end-effector position (Meta-World: its hand; robosuite: the eef site; Fetch: the grip site), world
frame. Gripper and rotation commands are 0 throughout (robosuite keeps the orientation).
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import numpy as np

#: Environments measured: embodiment id -> (task, action size, translation indices, rotation indices or None).
ENVS = {
    "metaworld_sawyer": ("reach-v3", 4, (0, 1, 2), None),
    **{
        f"robosuite_{arm}": (f"rs-lift-{arm}", 7, (0, 1, 2), (3, 4, 5))
        for arm in ("panda", "sawyer", "ur5e", "kinova3", "iiwa", "jaco", "xarm7")
    },
    "robosuite_pandaomron": ("rs-lift-pandaomron", 11, (0, 1, 2), (3, 4, 5)),  # base and torso commands stay 0
    "fetch": ("fetch-reach", 4, (0, 1, 2), None),  # gymnasium-robotics' Fetch; the hand's orientation is fixed
}
MAGNITUDES = (0.25, 0.5, 1.0)


def _rotation(q_xyzw: np.ndarray) -> np.ndarray:
    from vlastack.envs.robosuite_experts import quat_to_mat

    return quat_to_mat(np.asarray(q_xyzw, dtype=np.float64))


def measure(embodiment: str, steps: int, pre: int, rot: bool) -> dict:
    from vlastack.envs import make_env

    task, dim, trans, rot_dims = ENVS[embodiment]
    t0 = time.perf_counter()
    env = make_env(task, cameras=(), image_size=32, touch=False)
    build_s = time.perf_counter() - t0
    out: dict = {"task": task, "build_s": round(build_s, 2), "axes": {}}

    def run(index: int, value: float, read) -> np.ndarray:
        """Readings after each of the ``steps`` measured steps (the first row: before them)."""
        obs, _ = env.reset(seed=0)
        a = np.zeros(dim, dtype=np.float32)
        for v in (-value, 0.0):
            a[index] = v
            for _ in range(pre):
                obs, *_ = env.step(a)
        a[index] = value
        rows = [read(obs)]
        for _ in range(steps):
            obs, *_ = env.step(a)
            rows.append(read(obs))
        return np.array(rows)

    half = steps // 2
    for axis, index in zip("xyz", trans):
        res = {}
        for mag in MAGNITUDES:
            per_sign = []
            for sign in (1.0, -1.0):
                p = run(index, sign * mag, lambda o: np.asarray(o.state[:3], dtype=np.float64))
                d = np.diff(p, axis=0)
                along = d[:, "xyz".index(axis)]
                steady = float(along[half:].mean())
                others = np.delete(d[half:].mean(axis=0), "xyz".index(axis))
                per_sign.append(
                    {
                        "sign": sign,
                        "m_per_step": steady / (sign * mag),
                        "first_step_m": float(along[0]),
                        "leak": float(np.max(np.abs(others)) / max(abs(steady), 1e-9)),
                        "start": p[0].round(4).tolist(),
                        "end": p[-1].round(4).tolist(),
                    }
                )
            res[str(mag)] = per_sign
        out["axes"][axis] = res
    if rot and rot_dims is not None:
        out["rotation"] = {}
        for axis, index in zip("xyz", rot_dims):
            res = {}
            for mag in (0.5, 1.0):
                per_sign = []
                for sign in (1.0, -1.0):
                    mats = run(index, sign * mag, lambda o: _rotation(o.state[3:7]))
                    from vlastack.envs.robosuite_experts import rotvec

                    d = np.array([rotvec(b @ a.T) for a, b in zip(mats[:-1], mats[1:])])  # world frame, rad
                    steady = float(d[half:, "xyz".index(axis)].mean())
                    per_sign.append({"sign": sign, "rad_per_step": steady / (sign * mag), "first_step_rad": float(d[0, "xyz".index(axis)])})
                res[str(mag)] = per_sign
            out["rotation"][axis] = res
    env.close()
    return out


def _mean(runs: list[dict], key: str) -> float:
    """Mean of ``key`` over both signs of one magnitude."""
    return float(np.mean([run[key] for run in runs]))


def _fmt(values: dict[str, float], digits: int = 2) -> str:
    return ", ".join(f"{k} {v:.{digits}f}" for k, v in values.items())


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--embodiments", default=",".join(ENVS), help="Comma-separated ids (default: all).")
    p.add_argument("--steps", type=int, default=20, help="Measured steps per run; the second half is the steady state.")
    p.add_argument("--pre", type=int, default=10, help="Steps of the opposite motion, then of standing still, before each run.")
    p.add_argument("--rot", action="store_true", help="Also measure rotation (robosuite).")
    p.add_argument("--out", type=Path, default=None, help="Write the results here as JSON.")
    args = p.parse_args()
    results = {}
    for e in args.embodiments.split(","):
        t0 = time.perf_counter()
        r = measure(e, args.steps, args.pre, args.rot)
        results[e] = r
        per_unit = {a: _mean(r["axes"][a]["1.0"], "m_per_step") * 1000 for a in "xyz"}
        linear = {a: _mean(r["axes"][a]["0.25"], "m_per_step") / _mean(r["axes"][a]["1.0"], "m_per_step") for a in "xyz"}
        overall = {a: float(np.mean([_mean(runs, "m_per_step") for runs in r["axes"][a].values()])) * 1000 for a in "xyz"}
        line = (
            f"{e}: mm/step per unit: mean over magnitudes {_fmt(overall, 1)}; at 1.0 {_fmt(per_unit)}; at 0.25 / at 1.0 {_fmt(linear, 3)}"
        )
        if "rotation" in r:
            rot = {a: float(np.mean([_mean(runs, "rad_per_step") for runs in r["rotation"][a].values()])) for a in "xyz"}
            line += f"; rad/step per unit, mean over 0.5 and 1.0: {_fmt(rot, 3)}"
        print(f"{line} [{time.perf_counter() - t0:.0f} s]", flush=True)
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        meta = {"date": time.strftime("%Y-%m-%d"), "machine": f"2-core CPU VM ({platform.processor() or platform.machine()})"}
        args.out.write_text(json.dumps({"meta": meta, "args": vars(args) | {"out": str(args.out)}, "results": results}, indent=1))


if __name__ == "__main__":
    main()
