"""The long-horizon suite: names, limits, per-stage success, and a chained expert that finishes."""

from __future__ import annotations

import numpy as np
import pytest

from vlastack.envs.long_horizon import SUITE, stage_done, stages_over_time
from vlastack.envs.tasks import groups, resolve_tasks, step_limit
from vlastack.errors import ConfigError


def test_suite_shape_and_task_names():
    assert len(SUITE) >= 6 and set(groups()["long_horizon"]) == set(SUITE)
    for task in SUITE.values():
        assert 2 <= len(task.stages) <= 4 and len(set(task.instructions)) >= 4
        assert step_limit(task.name) == task.max_steps > 500 or len(task.stages) == 2
    assert resolve_tasks("long_horizon,reach-v3")[-1] == "reach-v3"
    assert "lh-drawer-open-close" in resolve_tasks("lh-drawer-open-close")


def test_stages_are_done_in_order_one_per_frame():
    task = SUITE["lh-drawer-open-close"]  # open: slide <= -0.15 m; close: slide >= -0.03 m
    assert stage_done(task, 0, -0.16) and not stage_done(task, 0, -0.10)
    # frame 0 is the reset and never checked; a closed drawer does not finish "close" before "open"
    assert stages_over_time(task, [-0.2, 0.0, -0.16, -0.16, -0.02]) == [0, 0, 1, 1, 2]


def test_config_limits_name_the_task():
    from vlastack.envs.metaworld import MetaWorldConfig

    with pytest.raises(ConfigError, match=r"max_steps must be in \[1, 750\].*lh-drawer-open-close-open"):
        MetaWorldConfig(task="lh-drawer-open-close-open", max_steps=751)
    with pytest.raises(ConfigError, match=r"\[1, 500\]"):
        MetaWorldConfig(task="reach-v3", max_steps=501)


@pytest.mark.slow
@pytest.mark.parametrize("task", ["lh-window-close-open", "lh-button-press-press-clear"])
def test_chained_expert_finishes_every_stage_behind_the_safety_layer(task):
    """Stages finish in order, the episode ends at the last; the stages recovered from the recorded
    states alone (what annotation uses) match what the environment reported, frame by frame."""
    from vlastack.envs.experts import expert_for
    from vlastack.envs.metaworld import make_env
    from vlastack.reasoning.labels import stages_of
    from vlastack.safety import SafeActuator

    env = make_env(task, cameras=(), touch=False)
    assert env.config.max_steps == SUITE[task].max_steps and env.instruction == SUITE[task].instructions[0]
    stepped, expert = SafeActuator(env, "metaworld_sawyer"), expert_for(task)
    obs, info = stepped.reset(seed=3)
    states, online = [info["privileged"]], [info["stage"]]
    while True:
        obs, _, terminated, truncated, info = stepped.step(expert.act(obs, info))
        if terminated or truncated:
            break
        states.append(info["privileged"])
        online.append(info["stage"])
    env.close()
    n = len(SUITE[task].stages)
    assert terminated and info["success"] and info["stages_done"] == n and not info["failed"]
    assert online[0] == 0 and 0 < online.index(1) <= online.index(n - 1) < len(online) - 1  # stage by stage
    assert stages_of(task, np.array(states)) == online


def test_button_presses_count_once_each_and_only_after_the_button_springs_back():
    task = SUITE["lh-button-press-press-clear"]  # press: joint <= -0.045 m, re-armed at >= -0.035 m; clear: hand y <= 0.6 m
    joints = [0.0, -0.05, -0.06, -0.04, -0.05, -0.01, -0.05, -0.01, 0.0, 0.0]
    hand_y = [0.4, 0.85, 0.85, 0.85, 0.85, 0.85, 0.85, 0.85, 0.7, 0.55]
    # the press at frame 4 does not count (the button never came back past -0.035 after the first); frame 6's does
    assert stages_over_time(task, joints, hand_y) == [0, 1, 1, 1, 1, 1, 2, 2, 2, 3]
    # pulling back before the presses are done does nothing
    assert stages_over_time(task, [0.0, 0.0, -0.05], [0.4, 0.5, 0.5]) == [0, 0, 1]
    with pytest.raises(ValueError, match="hand_y"):  # a pull-back stage cannot be judged without the hand
        stages_over_time(task, joints)


def test_one_press_too_many_fails_the_episode():
    from vlastack.envs.long_horizon import Progress

    progress = Progress(SUITE["lh-button-press-clear"])
    for joint in (-0.05, -0.01, -0.05):  # press, spring back, press again: once was asked
        progress.update(joint, 0.85)
    assert progress.failed and progress.stage == 1 and progress.counted == 2
    progress.update(0.0, 0.5)  # pulling back afterwards does not rescue it
    assert progress.failed and progress.stage == 1


@pytest.mark.slow
def test_the_environment_ends_an_episode_pressed_once_too_often():
    """The twice-expert in the once-task: its second press ends the episode, unsuccessful."""
    from vlastack.envs.experts import expert_for
    from vlastack.envs.metaworld import make_env

    env = make_env("lh-button-press-clear", cameras=(), touch=False)
    expert = expert_for("lh-button-press-press-clear")
    obs, info = env.reset(seed=1)
    for _ in range(env.config.max_steps):
        obs, _, terminated, truncated, info = env.step(expert.act(obs, info))
        if terminated or truncated:
            break
    env.close()
    assert terminated and info["failed"] and not info["success"] and info["stages_done"] == 1
