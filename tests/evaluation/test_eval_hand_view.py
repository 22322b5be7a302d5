"""``vlastack eval`` of a policy that reads corner2_hand: the environment renders the derived camera for it."""

from __future__ import annotations

import dataclasses
import json

import pytest
from typer.testing import CliRunner

pytestmark = pytest.mark.slow

CAMERAS = ("corner2", "corner2_hand")


def test_eval_builds_the_env_with_the_policys_derived_camera(tmp_path):
    from vlastack.cli import app
    from vlastack.evaluation import runner
    from vlastack.policies import PRESETS
    from vlastack.policies.untrained import untrained_policy

    checkpoint = tmp_path / "policy"
    untrained_policy(dataclasses.replace(PRESETS.get("debug").policy, cameras=CAMERAS)).save_pretrained(checkpoint)
    report = tmp_path / "report"
    args = ["eval", "--checkpoint", str(checkpoint), "--tasks", "reach-v3", "--episodes", "1", "--max-steps", "2"]
    args += ["--videos", "0", "--no-progress", "--json", "--report", str(report)]
    try:
        r = CliRunner().invoke(app, args)
        assert r.exit_code == 0, r.output
        envs = [env for key, env in runner._ENVS.items() if key.startswith("reach-v3/")]
        assert [env.config.cameras for env in envs] == [CAMERAS]
    finally:
        runner.close_envs()  # the simulator's scenes closed now, not at interpreter exit
    summary = json.loads((report / "results.json").read_text())["summary"]
    assert summary["episodes"] == 1 and summary["crashed_episodes"] == 0
