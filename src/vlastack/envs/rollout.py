"""Run one episode: observation -> act -> step, until success or the step limit; optionally record it.

``act`` is any callable ``(observation, info) -> action``: a scripted expert, or a policy behind an
executor. ``env`` is an environment or a :class:`vlastack.safety.SafeActuator` around one; ``act``
may return None ("nothing fresh"), which is handed to the actuator unchanged so its watchdog
decides. The recorded Episode has one row per step: the observation at that step, the action
actually applied (after the safety layer, when there is one), and the reward and success that
followed. Behind a safety layer each row also says what the layer did to that step's action
(:data:`SAFETY_INTERVENTIONS`, :data:`SAFETY_HELD`), so a dataset shows where its actions are
the layer's rather than the demonstrator's.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from vlastack import keys
from vlastack.envs.metaworld import FPS, MetaWorldEnv
from vlastack.safety.actuator import SAFETY_INFO_KEY
from vlastack.types import Action, Episode, Observation

Act = Callable[[Observation, dict[str, Any]], Action]

#: Per-frame feature, int64 [1]: how many changes the safety layer made to this frame's action
#: (clipped entries, shortened motions, a hold...); 0 means it was sent as proposed. Only recorded
#: when stepping through a :class:`vlastack.safety.SafeActuator`.
SAFETY_INTERVENTIONS = "safety.interventions"
#: Per-frame feature, bool [1]: the layer replaced this frame's action by the hold (no translation).
SAFETY_HELD = "safety.held"


@dataclass
class RolloutResult:
    """What happened in one episode."""

    success: bool
    """The task was solved at some step."""
    steps: int
    """Steps taken (the episode stops at the first success)."""
    seed: int
    episode: Episode | None = None
    """The recorded episode when ``record=True``."""
    act_ms: list[float] = field(default_factory=list)
    """Wall-clock milliseconds of each ``act`` call."""
    sim_ms: float = 0.0
    """Total milliseconds spent stepping and rendering the simulator."""


def rollout(env: MetaWorldEnv, act: Act, seed: int, record: bool = True) -> RolloutResult:
    t0 = time.perf_counter()
    obs, info = env.reset(seed=seed)
    sim_ms = (time.perf_counter() - t0) * 1000
    rows: dict[str, list[np.ndarray]] = {}
    act_ms: list[float] = []
    success = False
    steps = 0
    while True:
        t = time.perf_counter()
        action = act(obs, info)
        act_ms.append((time.perf_counter() - t) * 1000)
        if record:
            append_observation(rows, obs, info)
        t = time.perf_counter()
        obs, reward, terminated, truncated, info = env.step(action)
        sim_ms += (time.perf_counter() - t) * 1000
        if record:
            decision = info.get(SAFETY_INFO_KEY)
            applied = decision["action"] if decision is not None else action
            rows.setdefault(keys.ACTION, []).append(np.asarray(applied, dtype=np.float32))
            if decision is not None:
                rows.setdefault(SAFETY_INTERVENTIONS, []).append(np.array([len(decision["interventions"])], dtype=np.int64))
                rows.setdefault(SAFETY_HELD, []).append(np.array([bool(decision["held"])]))
        steps += 1
        success = success or info["success"]
        if record:
            rows.setdefault(keys.REWARD, []).append(np.float32(reward))
            rows.setdefault(keys.SUCCESS, []).append(np.bool_(info["success"]))
        if terminated or truncated:
            break
    episode = None
    if record:
        frames = {k: np.stack(v) for k, v in rows.items()}
        fps = getattr(env, "metadata", {}).get("render_fps", FPS)  # robosuite runs at 20 Hz, Meta-World at 80
        episode = Episode(task=env.instruction, frames=frames, fps=fps, success=success, seed=seed, env_task=env.config.task)
    return RolloutResult(success=success, steps=steps, seed=seed, episode=episode, act_ms=act_ms, sim_ms=sim_ms)


def append_observation(rows: dict[str, list[np.ndarray]], obs: Observation, info: dict[str, Any]) -> None:
    """Add one step's observation columns (cameras, depth, state, touch, privileged state) to ``rows``:
    the columns every recorded episode has, whoever records it."""
    for cam, img in obs.images.items():
        rows.setdefault(keys.image_key(cam), []).append(img)
    for cam, d in obs.depth.items():
        rows.setdefault(keys.depth_key(cam), []).append(d)
    rows.setdefault(keys.STATE, []).append(obs.state)
    if obs.touch is not None:
        rows.setdefault(keys.TOUCH, []).append(obs.touch)
    rows.setdefault(keys.ENV_STATE, []).append(info["privileged"])
