"""The wheeled robot's task with the cube beyond its arm's reach (rs-reachfar-pandaomron), and the base-arm layer
that solves it with the Lift expert on top (execution/base_arm_layer.py; the comparison with the expert alone
over many seeds is benchmarks/base_arm_split.py)."""

from __future__ import annotations

import numpy as np
import pytest

from tests.conftest import need_robosuite
from vlastack.envs.robosuite_tasks import TASKS, RobosuiteTask
from vlastack.errors import ConfigError


def test_only_a_wheeled_robot_can_start_elsewhere_or_have_its_expert_drive_the_base():
    far = TASKS["rs-reachfar-pandaomron"]
    assert far.mobile and far.expert and far.expert_drives_base and not TASKS["rs-lift-pandaomron"].expert_drives_base
    with pytest.raises(ConfigError, match="base_start_m is for wheeled robots"):
        RobosuiteTask(name="rs-x-panda", env="Lift", robots=("Panda",), instructions=("lift",), base_start_m=(-0.4, 0.0))
    with pytest.raises(ConfigError, match="expert_drives_base is for wheeled robots"):
        RobosuiteTask(name="rs-x-panda", env="Lift", robots=("Panda",), instructions=("lift",), expert_drives_base=True)


@pytest.mark.slow
def test_the_base_starts_out_of_reach_and_the_layer_drives_it_in():
    need_robosuite()
    from vlastack.envs import make_env
    from vlastack.envs.robosuite_experts import LiftExpert
    from vlastack.execution.base_arm_layer import BaseArmLayer

    env = make_env("rs-reachfar-pandaomron", cameras=(), image_size=16)
    try:
        st, priv = env.names["state"], env.names["privileged"]
        m, ee, obj = st.index("mount_x"), st.index("ee_x"), priv.index("obj_x")
        obs, info = env.reset(seed=0)
        start = obs.state[m : m + 2].copy()
        np.testing.assert_allclose(start, (-0.56 - 0.40, 0.35), atol=1e-3)  # robosuite's placement moved by base_start_m
        cube = info["privileged"][obj : obj + 3]
        assert np.hypot(*(cube[:2] - start)) > 0.95  # past the arm's stall limit (0.85 m ahead, pandaomron_reach.py)
        layer = BaseArmLayer(LiftExpert("rs-reachfar-pandaomron").act, env.names)
        lo, hi = np.asarray(layer.limits.reach_lo_m), np.asarray(layer.limits.reach_hi_m)
        for _ in range(120):
            obs, _, terminated, _, info = env.step(layer(obs, info))
            rel = obs.state[ee : ee + 3] - obs.state[m : m + 3]  # base frame = world frame: the base does not turn
            assert np.all(rel < hi + 0.01) and np.all(rel > lo - 0.01), rel
            if terminated:
                break
        assert info["success"], "the expert over the layer did not lift the cube in 120 steps"
        assert obs.state[m] - start[0] > 0.2 and layer.reach_limited_steps > 0  # the base drove towards the table
    finally:
        env.close()
