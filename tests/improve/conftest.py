"""Shared fixtures of the ``vlastack improve`` end-to-end tests."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner


def tiny_start(root, tasks: str, episodes: int, preset: str, steps: int):
    """``episodes`` expert demonstrations per task of ``tasks`` at 32 px in ``root/demos`` and ``preset`` trained on them
    for ``steps`` steps in ``root/run``; returns that run's last checkpoint."""
    import vlastack.cli  # noqa: F401  (registers every command)
    from vlastack.cli.app import app

    demos = ["collect", "--tasks", tasks, "--episodes", str(episodes), "--out", str(root / "demos"), "--image-size", "32"]
    train = ["train", "--preset", preset, "--dataset", str(root / "demos"), "--out", str(root / "run"), "--steps", str(steps)]
    for cmd in (demos + ["--cameras", "corner2"], train + ["--cpu", "--no-progress"]):
        done = CliRunner().invoke(app, cmd)
        assert done.exit_code == 0, (cmd, done.output, done.exception)
    return root / "run" / "checkpoints" / f"step_{steps:08d}"


def close_worker_envs() -> None:
    """Close the environments in-process runs keep (evaluation, collection, post-training workers) now rather than at
    interpreter exit, when MuJoCo's EGL teardown can no longer run cleanly."""
    from vlastack.envs import collect
    from vlastack.evaluation import runner
    from vlastack.improve import interventions

    runner.close_envs()
    for cache in (interventions._ENVS, interventions._CACHE, collect._ENVS):
        cache.clear()


@pytest.fixture(scope="module")
def start(tmp_path_factory):
    """Two reach-v3 expert demonstrations at 32 px and an l1-debug policy trained on them for 4 steps."""
    root = tmp_path_factory.mktemp("improve")
    yield root, tiny_start(root, "reach-v3", 2, "l1-debug", 4)
    close_worker_envs()
