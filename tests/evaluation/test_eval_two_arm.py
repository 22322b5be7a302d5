"""``vlastack eval`` on the two-arm robosuite tasks (``rs_two_arm``): behind each task's two-arm spec by default,
or with ``--safety none``; each episode's limits name the spec that judged it and count arm-arm contacts.

The policy is untrained (the tiny l1-debug policy with the two-arm action, state and touch sizes and the cameras the
robosuite env renders): this checks the plumbing, not success. One episode per task, a few steps, 32 px.
"""

from __future__ import annotations

import dataclasses
import json

import pytest
from typer.testing import CliRunner

from tests.conftest import need_robosuite
from vlastack.envs.collect import default_safety_spec
from vlastack.envs.robosuite_tasks import GROUPS

pytestmark = pytest.mark.slow

TASKS = GROUPS["rs_two_arm"]
MAX_STEPS = 6


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    """An untrained policy that acts on the two-arm tasks: 14 action entries, 16 state, 12 touch, robosuite's cameras."""
    need_robosuite()
    from vlastack.envs.robosuite_env import DEFAULT_CAMERAS, feature_names
    from vlastack.policies import PRESETS
    from vlastack.policies.untrained import untrained_policy

    names = feature_names(TASKS[0])
    assert all(feature_names(t) | {"privileged": None} == names | {"privileged": None} for t in TASKS)  # one layout for both
    config = dataclasses.replace(
        PRESETS.get("l1-debug").policy,
        cameras=DEFAULT_CAMERAS,
        action_dim=len(names["action"]),
        state_dim=len(names["state"]),
        touch_dim=len(names["touch"]),
    )
    path = tmp_path_factory.mktemp("two_arm") / "policy"
    untrained_policy(config).save_pretrained(path)
    yield path
    from vlastack.evaluation import runner

    runner.close_envs()  # the simulator's scenes closed now, not at interpreter exit


def _eval(checkpoint, report, *extra):
    from vlastack.cli import app

    args = ["eval", "--checkpoint", str(checkpoint), "--tasks", "rs_two_arm", "--episodes", "1", "--max-steps", str(MAX_STEPS)]
    args += ["--videos", "0", "--no-progress", "--json", "--report", str(report), *extra]
    r = CliRunner().invoke(app, args)
    assert r.exit_code == 0, r.output
    return json.loads((report / "results.json").read_text())


def test_two_arm_eval_runs_behind_each_tasks_two_arm_spec_by_default(checkpoint, tmp_path):
    results = _eval(checkpoint, tmp_path / "layer")
    summary, episodes = results["summary"], results["episodes"]
    assert summary["config"]["safety"] == "embodiment"  # two tasks, two specs
    assert summary["crashed_episodes"] == 0 and [e["task"] for e in episodes] == list(TASKS)
    for e in episodes:
        assert e["error"] is None and e["steps"] == MAX_STEPS
        spec = default_safety_spec(e["task"])
        assert spec == f"robosuite_{e['task'].removeprefix('rs-').replace('-', '_')}"
        # The two-arm layer ran: its summary counted every step (an untrained policy's actions get changed).
        assert e["safety"]["steps"] == MAX_STEPS
        limits = e["limits"]
        assert limits["spec"] == spec and limits["min_hand_distance_mm"] > 0
        assert isinstance(limits["arm_arm_contacts"], int) and 0 <= limits["arm_arm_contact_steps"] <= MAX_STEPS
        assert all(k.startswith(("arm0.", "arm1.", "keep_out.")) for k in limits["steps_over"])
        per_task = summary["per_task"][e["task"]]
        assert per_task["group"] == "rs_two_arm" and per_task["arm_arm_contacts"] == limits["arm_arm_contacts"]
        assert per_task["safety_interventions"] == e["safety"]["interventions"]  # the summary carries the layer's work
        assert per_task["safety_steps_changed"] == e["safety"]["steps_changed"]
    assert list(summary["per_group"]) == ["rs_two_arm"]


def test_two_arm_eval_without_the_layer_is_still_judged_by_the_two_arm_spec(checkpoint, tmp_path):
    results = _eval(checkpoint, tmp_path / "none", "--safety", "none")
    assert results["summary"]["config"]["safety"] == "none" and results["summary"]["crashed_episodes"] == 0
    for e in results["episodes"]:
        assert e["safety"] == {}  # no layer
        assert "safety_interventions" not in results["summary"]["per_task"][e["task"]]
        assert e["limits"]["spec"] == default_safety_spec(e["task"]) and "arm_arm_contacts" in e["limits"]
