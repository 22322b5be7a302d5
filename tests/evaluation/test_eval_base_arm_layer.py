"""``vlastack eval --base-arm-layer``: every action the executor sends to the wheeled robot passes through the base-arm
layer (execution/base_arm_layer.py), which drives the base when the policy reaches past the arm; without it the
policy's own base command goes out unchanged. Refused for robots without a wheeled base.

The policy is untrained (l1-debug with the wheeled robot's sizes: state 12, action 11, robosuite's cameras at 32 px)
and made constant by its action statistics (scale 0, offset the action below): full speed ahead with the hand, and a
base command under the wheels' deadband, so that whatever moves the base is the layer's doing.
"""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
from typer.testing import CliRunner

from tests.conftest import need_robosuite
from vlastack.errors import ConfigError
from vlastack.evaluation.runner import EvalConfig

TASK = "rs-reachfar-pandaomron"
MAX_STEPS = 30  # the hand starts ~0.48 m ahead of its mount, the reach box ends at 0.70: ~17 steps at full speed
#: The constant policy's action: hand forward at full speed, gripper open, base 0.1 forward and sideways (the wheels'
#: deadband is 0.25: it moves nothing), no yaw, no torso.
ACTION = {"dx": 1.0, "grip": -1.0, "base_forward": 0.1, "base_side": 0.1}


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    need_robosuite()
    import torch

    from vlastack import keys
    from vlastack.envs.robosuite_env import DEFAULT_CAMERAS, feature_names
    from vlastack.policies import PRESETS
    from vlastack.policies.untrained import untrained_policy

    names = feature_names(TASK)
    config = dataclasses.replace(
        PRESETS.get("l1-debug").policy,
        cameras=DEFAULT_CAMERAS,
        action_dim=len(names["action"]),
        state_dim=len(names["state"]),
        touch_dim=len(names["touch"]),
    )
    policy = untrained_policy(config)
    policy.data_info = {"image_size": [32, 32]}
    constant = torch.tensor([ACTION.get(n, 0.0) for n in names["action"]])
    policy.normalizer.offset(keys.ACTION).copy_(constant)
    policy.normalizer.scale(keys.ACTION).zero_()  # every output is the offset
    path = tmp_path_factory.mktemp("base_arm") / "policy"
    policy.save_pretrained(path)
    yield path
    from vlastack.evaluation import runner

    runner.close_envs()  # the simulator's scenes closed now, not at interpreter exit


def _eval(checkpoint, report, monkeypatch, *extra, safety="none"):
    """Results of one short episode, and (state, action) of every step as the policy and layer proposed it (what the
    safety layer, with ``safety`` other than none, then judges)."""
    import vlastack.envs.rollout as rollout_module
    from vlastack.cli import app

    real, sent = rollout_module.rollout, []

    def spy(env, act, seed, record=True):
        def recording(observation, info):
            action = act(observation, info)
            sent.append((np.array(observation.state), np.array(action)))
            return action

        return real(env, recording, seed=seed, record=record)

    monkeypatch.setattr(rollout_module, "rollout", spy)  # the runner imports it at each episode
    args = ["eval", "--checkpoint", str(checkpoint), "--tasks", TASK, "--episodes", "1", "--max-steps", str(MAX_STEPS)]
    r = CliRunner().invoke(app, [*args, "--safety", safety, "--videos", "0", "--no-progress", "--json", "--report", str(report), *extra])
    assert r.exit_code == 0, r.output
    return json.loads((report / "results.json").read_text()), sent


@pytest.mark.slow
def test_the_layer_drives_the_base_and_without_it_the_policys_base_command_goes_out(checkpoint, tmp_path, monkeypatch):
    from vlastack.envs.robosuite_env import feature_names

    names = feature_names(TASK)
    mount = names["state"].index("mount_x")
    fwd, side = names["action"].index("base_forward"), names["action"].index("base_side")
    policy_action = np.array([ACTION.get(n, 0.0) for n in names["action"]], np.float32)

    results, sent = _eval(checkpoint, tmp_path / "layer", monkeypatch, "--base-arm-layer")
    summary, (episode,) = results["summary"], results["episodes"]
    assert summary["config"]["base_arm_layer"] is True and episode["error"] is None and len(sent) == MAX_STEPS
    assert episode["base_arm"]["steps"] == MAX_STEPS and episode["base_arm"]["reach_limited_steps"] > 0
    assert episode["base_arm"]["base_travel_m"] > 0.05 and summary["per_task"][TASK]["base_travel_m_mean"] > 0.05
    actions = np.stack([a for _, a in sent])
    assert actions[:, fwd].max() > 0.25 and np.all(actions[:, side] == 0.0)  # past the deadband; the policy's 0.1 replaced
    assert sent[-1][0][mount] - sent[0][0][mount] > 0.05  # the base drove towards the table (11 cm)

    results, sent = _eval(checkpoint, tmp_path / "alone", monkeypatch)
    (episode,) = results["episodes"]
    assert results["summary"]["config"]["base_arm_layer"] is False and episode["base_arm"] == {} and len(sent) == MAX_STEPS
    np.testing.assert_allclose(np.stack([a for _, a in sent]), np.tile(policy_action, (MAX_STEPS, 1)), atol=1e-6)
    assert abs(sent[-1][0][mount] - sent[0][0][mount]) < 0.01  # under the deadband the base barely creeps (3 mm)


@pytest.mark.slow
def test_behind_the_wheeled_robots_spec_the_layers_base_commands_pass_unclipped(checkpoint, tmp_path, monkeypatch):
    # The runner: policy -> base-arm layer -> safety layer (robosuite_pandaomron, the default) -> simulator. The layer
    # commands the base at most 0.5 (its 12.5 mm a step), the spec's bound: no base entry is clipped, nothing held.
    from vlastack.envs.robosuite_env import feature_names

    names = feature_names(TASK)
    fwd = names["action"].index("base_forward")
    results, sent = _eval(checkpoint, tmp_path / "spec", monkeypatch, "--base-arm-layer", safety="embodiment")
    summary, (episode,) = results["summary"], results["episodes"]
    assert summary["config"]["base_arm_layer"] is True and episode["error"] is None and len(sent) == MAX_STEPS
    safety = episode["safety"]
    assert safety["steps"] == MAX_STEPS and safety["steps_held"] == 0
    assert not [limit for limit in safety["by_limit"] if limit.startswith("action.")], safety["by_limit"]
    actions = np.stack([a for _, a in sent])
    assert actions[:, fwd].max() == pytest.approx(0.5) and episode["base_arm"]["base_travel_m"] > 0.05


def test_the_layer_is_refused_for_a_robot_without_a_wheeled_base(tmp_path):
    from vlastack.cli.eval import run_eval

    for task in ("rs-lift-panda", "reach-v3"):
        with pytest.raises(ConfigError, match=rf"base_arm_layer: .*\['{task}'\] have no wheeled base"):
            EvalConfig(checkpoint=tmp_path, tasks=(task,), base_arm_layer=True)
    with pytest.raises(ConfigError, match="base_arm_layer: "):  # the command's flag reaches the check
        run_eval(checkpoint=tmp_path, tasks="rs-lift-pandaomron,rs-lift-panda", base_arm_layer=True, safety="none")
    EvalConfig(checkpoint=tmp_path, tasks=(TASK,), base_arm_layer=True, safety_spec="none")  # a wheeled one is taken
