"""Shared fixtures: tiny synthetic episodes, made here rather than downloaded."""

from __future__ import annotations

import os
import signal

import numpy as np
import pytest

os.environ.setdefault("MUJOCO_GL", "egl")

from vlastack import keys  # noqa: E402
from vlastack.types import Episode  # noqa: E402


def synthetic_episode(n: int, seed: int, task: str = "reach the goal position", size: int = 16, depth: bool = False) -> Episode:
    """An episode of ``n`` steps with random images, state, touch and actions."""
    rng = np.random.default_rng(seed)
    frames = {
        keys.image_key("corner2"): rng.integers(0, 256, (n, size, size, 3), dtype=np.uint8),
        keys.STATE: rng.normal(size=(n, 4)).astype(np.float32),
        keys.TOUCH: rng.uniform(0, 5, (n, 2)).astype(np.float32),
        keys.ACTION: rng.uniform(-1, 1, (n, 4)).astype(np.float32),
        keys.REWARD: rng.normal(size=n).astype(np.float32),
        keys.SUCCESS: np.arange(n) == n - 1,
    }
    if depth:
        frames[keys.depth_key("corner2")] = rng.uniform(0.1, 3.0, (n, size, size)).astype(np.float32)
    return Episode(task=task, frames=frames, fps=80, success=True, seed=seed, env_task="reach-v3")


@pytest.fixture
def make_episode():
    return synthetic_episode


@pytest.fixture(scope="module")
def browser():
    """Headless Chromium for the browser tests (the report, the console), one per test module."""
    from playwright.sync_api import sync_playwright

    from vlastack.evaluation.browser import launch_chromium

    with sync_playwright() as p:
        chromium = launch_chromium(p)
        yield chromium
        chromium.close()


def default_sigint() -> None:
    """``preexec_fn`` for a child a test stops with Ctrl-C: a shell without job control starts background
    jobs (`nohup pytest ... &`) with SIGINT ignored, children inherit that and Python keeps it ignored, so
    without this the child would never see Ctrl-C."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def need_robosuite() -> None:
    """Skip when robosuite was left out on purpose (VLASTACK_ROBOSUITE=0); fail when it is missing otherwise."""
    import importlib.util

    if importlib.util.find_spec("robosuite") is not None:
        return
    if os.environ.get("VLASTACK_ROBOSUITE") == "0":
        pytest.skip("the robosuite extra was left out (VLASTACK_ROBOSUITE=0)")
    pytest.fail("robosuite is not installed: run `bash scripts/setup.sh`, or set VLASTACK_ROBOSUITE=0 to leave it out")


def need_fetch() -> None:
    """Skip when the Fetch extra (gymnasium-robotics) was left out on purpose (VLASTACK_FETCH=0); fail when it is
    missing otherwise."""
    import importlib.util

    if importlib.util.find_spec("gymnasium_robotics") is not None:
        return
    if os.environ.get("VLASTACK_FETCH") == "0":
        pytest.skip("the fetch extra was left out (VLASTACK_FETCH=0)")
    pytest.fail("gymnasium-robotics is not installed: run `bash scripts/setup.sh`, or set VLASTACK_FETCH=0 to leave it out")


def look_run(env, cameras: tuple[str, ...], actions, seed: int) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """A reset of ``env`` on ``seed`` and a fixed action sequence: per step the ``cameras``' images stacked on top of
    each other, and the privileged state. Closes ``env``. For checking that a visual perturbation changes the picture
    and never the simulated state."""
    try:
        obs, info = env.reset(seed=seed)
        images, states = [np.concatenate([obs.images[c] for c in cameras])], [info["privileged"]]
        for a in actions:
            obs, _, _, _, info = env.step(np.asarray(a, dtype=np.float32))
            images.append(np.concatenate([obs.images[c] for c in cameras]))
            states.append(info["privileged"])
        return images, states
    finally:
        env.close()


def changed_pixels(images: list[np.ndarray], reference: list[np.ndarray]) -> list[int]:
    """Per frame, how many pixels differ from the reference's by more than 8 levels in some channel."""
    return [int((np.abs(i.astype(int) - r.astype(int)) > 8).any(-1).sum()) for i, r in zip(images, reference, strict=True)]
