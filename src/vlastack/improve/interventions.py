"""Assisted episodes: the policy acts, an operator takes over when it goes wrong, both are recorded.

The chain is policy -> executor -> operator -> safety layer -> simulator: the operator's action,
like the policy's, always passes through the safety layer. Each recorded frame holds what any
episode holds (observation, the action applied after the layer, reward, success, what the layer
did) plus

- :data:`INTERVENTION` bool [1]: the operator, not the policy, chose this frame's action;
- :data:`POLICY_ACTION` float32 [D]: what the policy proposed at this frame (zeros on the rare
  step where it had nothing fresh), so a dataset shows what the operator corrected;
- :data:`EXPERT_ACTION` float32 [D], only where the operator labels every frame (the scripted
  expert's ``label``): what the expert would have sent at this frame, before the safety layer,
  whoever acted. DAgger trains on these labels at every frame the policy visited.

The policy is asked every step, the operator's steps included (its proposals are recorded). When
the operator hands back, the executor is reset and the policy plans a fresh chunk on that same step,
from where the operator left the arm, instead of acting on what it queued before the operator moved it.

Seeds: assisted episodes use reset seeds from :data:`ASSIST_SEED_OFFSET` up, disjoint from
demonstrations (0+), evaluation (100000+) and validation (200000+).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from vlastack import keys
from vlastack.envs.env_cache import EnvCache
from vlastack.improve.operator import GateConfig, Operator, ScriptedOperator
from vlastack.types import Episode

INTERVENTION = "intervention"
POLICY_ACTION = "policy.action"
EXPERT_ACTION = "expert.action"
ASSIST_SEED_OFFSET = 400_000


@dataclass
class AssistedResult:
    """One assisted episode."""

    task: str
    seed: int
    episode: Episode
    success: bool
    """Solved at some step, with the operator's help or without."""
    takeovers: int
    """How many times the operator took the controls."""
    intervention_frames: int
    """Frames whose action was the operator's."""
    safety_interventions: int
    """Steps whose action the safety layer changed."""


def run_assisted(
    env: Any, policy: Callable[[Any], Any], operator: Operator, seed: int, safety: str | None, execute_steps: int | None
) -> AssistedResult:
    """One episode of ``policy`` (observation -> chunk) with ``operator`` ready to take over."""
    from vlastack.envs.metaworld import FPS
    from vlastack.envs.rollout import SAFETY_INTERVENTIONS, rollout
    from vlastack.execution import FakeClock, make_executor
    from vlastack.safety import SafeActuator

    clock = FakeClock()
    executor = make_executor("sync", policy, clock=clock, **({"k": execute_steps} if execute_steps else {}))
    executor.reset()
    operator.reset()
    flags: list[bool] = []
    proposals: list[np.ndarray] = []
    labels: list[np.ndarray] = []
    action_dim = int(env.action_space.shape[0])

    def act(observation, info):
        now = clock()
        proposed = executor.step(observation, now)
        action, own = operator.step(observation, info, proposed)
        if flags and flags[-1] and not own:
            # Handed back: the policy's queued actions were planned from where the arm was before the
            # operator moved it, so the step that hands back plans a fresh chunk from here and acts on it.
            executor.reset()
            action = proposed = executor.step(observation, now)
        clock.advance(1.0 / FPS)
        flags.append(own)
        label = getattr(operator, "label", None)
        if label is not None:
            labels.append(np.asarray(label, np.float32))
        proposals.append(np.zeros(action_dim, np.float32) if proposed is None else np.asarray(proposed, np.float32))
        return action

    stepped = env if safety is None else SafeActuator(env, safety, clock=clock)
    result = rollout(stepped, act, seed=seed, record=True)
    episode = result.episode
    episode.frames[INTERVENTION] = np.asarray(flags, dtype=bool)[:, None]
    episode.frames[POLICY_ACTION] = np.stack(proposals)
    if labels and len(labels) == len(flags):
        episode.frames[EXPERT_ACTION] = np.stack(labels)
    changed = int(np.count_nonzero(episode.frames[SAFETY_INTERVENTIONS])) if SAFETY_INTERVENTIONS in episode.frames else 0
    return AssistedResult(env.config.task, seed, episode, result.success, count_takeovers(flags), int(sum(flags)), changed)


def count_takeovers(flags: Any) -> int:
    """How many times the operator took the controls: the runs of True in the per-frame flags."""
    f = np.asarray(flags, dtype=bool).reshape(-1)
    return int(f[:1].sum() + np.count_nonzero(f[1:] & ~f[:-1]))


def assisted_feature_names(expert_labels: bool = False) -> dict[str, list[str]]:
    """Names of the vector features of an assisted episode, for ``DatasetWriter(feature_names=...)``:
    a recorded episode's, plus the policy's proposal, the operator flag and, with ``expert_labels``
    (a scripted operator, which labels every frame), the expert's action."""
    from vlastack.envs.collect import episode_feature_names

    names = episode_feature_names()
    names = {**names, POLICY_ACTION: names[keys.ACTION], INTERVENTION: ["operator"]}
    return {**names, EXPERT_ACTION: names[keys.ACTION]} if expert_labels else names


# ---- worker side: one policy and one environment per task, kept between episodes --------------
_CACHE: dict[str, Any] = {}  # this worker's policy
_ENVS = EnvCache()  # the last two tasks' environments (envs/env_cache.py: each holds ~160 MB)


def _assisted_job(
    checkpoint: str, task: str, seed: int, gate: GateConfig, safety: str | None, execute_steps: int | None, max_steps: int
) -> AssistedResult:
    policy, env = policy_and_env(checkpoint, task, seed, max_steps)
    return run_assisted(env, policy, ScriptedOperator(task, gate), seed, safety, execute_steps or policy.execute_steps)


def policy_and_env(checkpoint: str, task: str, seed: int, max_steps: int) -> tuple[Any, Any]:
    """This worker's policy (reset for ``seed``) and ``task``'s environment (with the instruction the
    demonstrations use for that seed), loaded once and kept between episodes."""
    from vlastack.envs.instructions import TRAIN_PARAPHRASES, instruction
    from vlastack.envs.metaworld import make_env
    from vlastack.evaluation.runner import _LocalPolicy

    key = f"policy/{checkpoint}"
    if key not in _CACHE:
        _CACHE.clear()  # a new checkpoint (next round): drop the old policy and its environments
        _ENVS.clear()
        _CACHE[key] = _LocalPolicy(Path(checkpoint))
    policy = _CACHE[key]
    env = _ENVS.get(
        f"{task}/{max_steps}",
        lambda: make_env(task, cameras=policy.cameras, image_size=policy.image_size, depth=policy.depth, touch=True, max_steps=max_steps),
    )
    env.instruction = instruction(task, seed % TRAIN_PARAPHRASES)  # the phrasings the demonstrations use
    policy.reset(seed)
    return policy, env


def collect_assisted(
    checkpoint: Path,
    jobs: list[tuple[str, int]],
    gate: GateConfig,
    safety: str | None,
    execute_steps: int | None,
    workers: int,
    done: Callable[[AssistedResult], None],
    max_steps: int = 500,
) -> None:
    """Run ``jobs`` ((task, seed) pairs) and call ``done`` with each result in the main process, as
    each finishes (so the caller writes every episode as soon as it exists)."""
    run_episode_jobs(_assisted_job, checkpoint, jobs, (gate, safety, execute_steps, max_steps), workers, done)


def run_episode_jobs(
    job: Callable[..., Any], checkpoint: Path, jobs: list[tuple[str, int]], args: tuple, workers: int, done: Callable[[Any], None]
) -> None:
    """``job(checkpoint, task, seed, *args)`` for each (task, seed) of ``jobs``, in this process
    (``workers`` 1) or in a pool of simulator processes, with ``done`` called on each result here."""
    if workers == 1:
        for task, seed in jobs:
            done(job(str(checkpoint), task, seed, *args))
        return
    from vlastack.workers import run_jobs

    queue = iter([(str(checkpoint), task, seed, *args) for task, seed in jobs])
    run_jobs(
        workers,
        lambda: next(queue, None),
        job,
        done,
        "every finished episode is saved, and running the same command again continues",
    )
