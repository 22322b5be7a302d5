"""How fast the wheeled PandaOmron's turn and torso commands move its mount and hand: the numbers behind the
``base_yaw`` and ``torso`` bounds of the ``robosuite_pandaomron`` safety spec (safety/presets_robosuite_mobile.py).

    MUJOCO_GL=egl nice -n 19 python benchmarks/pandaomron_base_probe.py

From seed 0's reset of ``rs-lift-pandaomron`` (robosuite 1.5.2, 20 Hz), one action entry is held at a constant
command for 80 steps, everything else 0 (arm and base still). Per command: the largest and the last-20-step mean
hand motion per step (m), the largest turn per step (rad) and the mount's (= the torso's) total vertical travel (m).
(Forward and sideways base speed: ``benchmarks/pandaomron_reach.py``; from Lift's start the base meets the table.)
"""

from __future__ import annotations

import numpy as np

PROBES = {"base_yaw": (0.1, 0.25, 0.5, 1.0), "torso": (0.05, -0.05, 0.1, -0.1, -0.2, -1.0)}


def main() -> None:
    from vlastack.envs import make_env

    env = make_env("rs-lift-pandaomron", cameras=(), image_size=16)
    names = env.names
    mount, yaw = names["state"].index("mount_x"), names["state"].index("mount_yaw")
    for entry, commands in PROBES.items():
        index = names["action"].index(entry)
        for u in commands:
            obs, _ = env.reset(seed=0)
            states = [obs.state.astype(np.float64)]
            for _ in range(80):
                action = np.zeros(len(names["action"]), np.float32)
                action[index] = u
                obs, *_ = env.step(action)
                states.append(obs.state.astype(np.float64))
            s = np.array(states)
            hand = np.linalg.norm(np.diff(s[:, 0:3], axis=0), axis=1)
            print(
                f"{entry} {u:+.2f}: hand m/step max {hand.max():.5f}, last 20 mean {hand[-20:].mean():.5f}; "
                f"turn rad/step max {np.abs(np.diff(np.unwrap(s[:, yaw]))).max():.5f}; mount z travel {s[-1, mount + 2] - s[0, mount + 2]:+.4f} m",
                flush=True,
            )
    env.close()


if __name__ == "__main__":
    main()
