"""A tiny real evaluation report, shared by the report tests: an untrained debug policy, two tasks,
one short episode each, both recorded (a few seconds, no training)."""

from __future__ import annotations

import json

import pytest

REPORT_TASKS = ("reach-v3", "drawer-open-v3")


@pytest.fixture(scope="session")
def tiny_report(tmp_path_factory):
    """The report folder of ``run_eval`` on the tiny evaluation; its results.json is loaded as ``.results``."""
    from vlastack.cli.eval import run_eval
    from vlastack.policies import PRESETS
    from vlastack.policies.untrained import untrained_policy

    tmp = tmp_path_factory.mktemp("tiny_report")
    checkpoint = tmp / "debug_policy"
    untrained_policy(PRESETS.get("debug").policy).save_pretrained(checkpoint)
    report = tmp / "report"
    run_eval(
        checkpoint=checkpoint,
        tasks=",".join(REPORT_TASKS),
        episodes=1,
        max_steps=12,
        report=report,
        videos=len(REPORT_TASKS),
        no_progress=True,
    )
    yield report
    from vlastack.evaluation import runner

    # The in-process evaluation keeps its environments cached; close them now rather than at interpreter
    # exit, when MuJoCo's EGL teardown can no longer run cleanly.
    runner.close_envs()  # the simulator's scenes closed now, not at interpreter exit


@pytest.fixture(scope="session")
def tiny_results(tiny_report):
    return json.loads((tiny_report / "results.json").read_text())
