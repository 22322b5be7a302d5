"""``vlastack eval`` of one policy on Lift with several robosuite arms, one of them not among the arms it was trained
on (the cross-embodiment experiment's evaluation stage, benchmarks/cross_embodiment.sh): every arm runs behind its own
safety spec, and a checkpoint that names other embodiments is evaluated, not refused.

The policy is untrained (l1-debug with robosuite's single-arm sizes: action 7, state 8, robosuite's cameras at 32 px):
this checks the plumbing, not success. One episode per arm, a few steps.
"""

from __future__ import annotations

import dataclasses
import json

import pytest
from typer.testing import CliRunner

from tests.conftest import need_robosuite

pytestmark = pytest.mark.slow

TASKS = ("rs-lift-panda", "rs-lift-jaco")
MAX_STEPS = 5


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    """An untrained policy that records having been trained on the Panda alone."""
    need_robosuite()
    from vlastack.envs.robosuite_env import DEFAULT_CAMERAS, feature_names
    from vlastack.policies import PRESETS
    from vlastack.policies.untrained import untrained_policy

    names = feature_names(TASKS[0])
    assert all(feature_names(t) == names for t in TASKS)  # one layout on every arm: one policy can drive them all
    config = dataclasses.replace(
        PRESETS.get("l1-debug").policy, cameras=DEFAULT_CAMERAS, action_dim=len(names["action"]), state_dim=len(names["state"])
    )
    policy = untrained_policy(config)
    policy.data_info = {"image_size": [32, 32], "embodiments": ["robosuite_panda"]}
    path = tmp_path_factory.mktemp("several_arms") / "policy"
    policy.save_pretrained(path)
    yield path
    from vlastack.evaluation import runner

    runner.close_envs()  # the simulator's scenes closed now, not at interpreter exit


def test_one_policy_is_evaluated_on_several_arms_each_behind_its_own_spec(checkpoint, tmp_path):
    from vlastack.cli import app

    report = tmp_path / "report"
    args = ["eval", "--checkpoint", str(checkpoint), "--tasks", ",".join(TASKS), "--episodes", "1", "--max-steps", str(MAX_STEPS)]
    r = CliRunner().invoke(app, [*args, "--videos", "0", "--no-progress", "--json", "--report", str(report)])
    assert r.exit_code == 0, r.output
    results = json.loads((report / "results.json").read_text())
    summary, episodes = results["summary"], results["episodes"]
    assert summary["config"]["safety"] == "embodiment" and summary["crashed_episodes"] == 0
    assert [e["task"] for e in episodes] == list(TASKS)
    for e in episodes:
        arm = e["task"].removeprefix("rs-lift-")
        assert e["error"] is None and e["steps"] == MAX_STEPS
        assert e["limits"]["spec"] == f"robosuite_{arm}"  # the Jaco runs behind the Jaco's limits, not the Panda's
        assert summary["per_task"][e["task"]]["group"] == "rs_lift"
