"""Where robosuite's wheeled PandaOmron can reach, and how fast its base drives: the numbers behind the defaults of
execution/base_arm_split.py (SplitLimits) and execution/base_arm_layer.py (WheeledMotionModel).

    MUJOCO_GL=egl nice -n 19 python benchmarks/pandaomron_reach.py --out runs/base_arm/reach.json

Task ``rs-lift-pandaomron`` (base at robosuite's placement), reset seed 0, no safety layer.

- Reach: the hand is driven towards far targets relative to the arm's mount (base frame = world frame, the base
  faces +x), by the Lift expert's proportional rule (1.5 units of command per 5 cm of error, clipped to 1,
  orientation held) for 80 steps, base still. Printed: where the hand ends (m, relative to the mount) and how far
  it moved over the last 10 steps (mm: large means the arm is flailing, not resting at a limit).
- Base: the base is driven at a constant command for 25 steps (backwards and sideways, away from the table);
  printed: the mount's motion per step over the last 10 (mm) and how far the hand fell behind relative to the
  mount (mm).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

#: Hand targets relative to the mount (m, base frame): far ahead at the cube's height (0.07 m below the mount),
#: at the hover height and above, far to each side, and pulled in towards the body.
REACH_TARGETS = ((1.2, 0.0, -0.07), (1.2, 0.0, 0.01), (1.2, 0.0, 0.12), (0.6, 0.9, -0.07), (0.6, -0.9, 0.01), (0.0, 0.0, 0.01))
#: Base commands (action index, value): backwards along the base's x at several magnitudes, then sideways.
BASE_COMMANDS = ((7, -0.3), (7, -0.5), (7, -0.75), (7, -1.0), (8, 0.5), (8, -1.0))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", type=Path, default=None, help="Write the measurements as JSON here too.")
    args = ap.parse_args()
    from vlastack.envs import make_env
    from vlastack.envs.robosuite_experts import quat_to_mat, rotvec

    env = make_env("rs-lift-pandaomron", cameras=(), image_size=16)
    st = env.names["state"]
    ee, mount = st.index("ee_x"), st.index("mount_x")
    n_act = len(env.names["action"])

    def rel(s: np.ndarray) -> np.ndarray:
        return s[ee : ee + 3].astype(np.float64) - s[mount : mount + 3]

    out: dict[str, list] = {"reach": [], "base": []}
    for target in REACH_TARGETS:
        obs, _ = env.reset(seed=0)
        start_rot, path = quat_to_mat(obs.state[3:7].astype(np.float64)), []
        for _ in range(80):
            s = obs.state.astype(np.float64)
            a = np.zeros(n_act, np.float32)
            a[:3] = np.clip((np.asarray(target) - rel(s)) * 1.5 / 0.05, -1, 1)
            a[3:6] = np.clip(rotvec(start_rot @ quat_to_mat(s[3:7]).T) / 0.5, -1, 1)
            obs, *_ = env.step(a)
            path.append(rel(obs.state))
        row = {
            "target_m": target,
            "end_m": np.round(path[-1], 3).tolist(),
            "last10_mm": round(1000 * float(np.linalg.norm(path[-1] - path[-11])), 1),
        }
        out["reach"].append(row)
        print("reach", json.dumps(row), flush=True)
    for index, value in BASE_COMMANDS:
        obs, _ = env.reset(seed=0)
        rel0, mounts = rel(obs.state), []
        for _ in range(25):
            a = np.zeros(n_act, np.float32)
            a[index] = value
            obs, *_ = env.step(a)
            mounts.append(obs.state[mount : mount + 2].astype(np.float64))
        per_step = (mounts[-1] - mounts[-11]) / 10
        row = {
            "command": env.names["action"][index],
            "value": value,
            "mm_per_step": round(1000 * float(np.linalg.norm(per_step)), 2),
            "hand_lag_mm": round(1000 * float(np.linalg.norm(rel(obs.state) - rel0)), 1),
        }
        out["base"].append(row)
        print("base", json.dumps(row), flush=True)
    env.close()
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
