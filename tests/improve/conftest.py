"""Shared fixtures of the ``vlastack improve`` end-to-end tests."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner


@pytest.fixture(scope="module")
def start(tmp_path_factory):
    """Two reach-v3 expert demonstrations at 32 px and an l1-debug policy trained on them for 4 steps."""
    import vlastack.cli  # noqa: F401  (registers every command)
    from vlastack.cli.app import app

    root = tmp_path_factory.mktemp("improve")
    for cmd in (
        ["collect", "--tasks", "reach-v3", "--episodes", "2", "--out", str(root / "demos"), "--image-size", "32", "--cameras", "corner2"],
        [
            "train",
            "--preset",
            "l1-debug",
            "--dataset",
            str(root / "demos"),
            "--out",
            str(root / "run"),
            "--steps",
            "4",
            "--cpu",
            "--no-progress",
        ],
    ):
        done = CliRunner().invoke(app, cmd)
        assert done.exit_code == 0, done.output
    yield root, root / "run" / "checkpoints" / "step_00000004"
    # In-process runs keep their environments cached; close them now rather than at interpreter exit,
    # when MuJoCo's EGL teardown can no longer run cleanly.
    from vlastack.envs import collect
    from vlastack.evaluation import runner
    from vlastack.improve import interventions

    runner.close_envs()
    for cache in (interventions._ENVS, interventions._CACHE, collect._ENVS):
        cache.clear()
