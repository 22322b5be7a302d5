"""The arm's net contact force (for the safety layer's force limit) points the way the world pushes the arm."""

from __future__ import annotations

import numpy as np

from vlastack.envs import make_env


def test_pressing_into_the_table_reads_as_an_upward_force_on_the_arm():
    env = make_env("hand-insert-v3", cameras=(), image_size=16)  # its controller lets the hand reach the table
    try:
        obs, _ = env.reset(seed=0)
        assert obs.arm_contact.shape == (3,) and not np.any(obs.arm_contact)
        for _ in range(80):
            obs, *_ = env.step(np.array([0.0, 0.0, -1.0, 1.0], np.float32))
        fx, fy, fz = obs.arm_contact
        assert fz > 100.0 and fz > 10 * max(abs(fx), abs(fy))
        assert make_env("reach-v3", cameras=(), image_size=16, touch=False).reset(seed=0)[0].arm_contact is None
    finally:
        env.close()
