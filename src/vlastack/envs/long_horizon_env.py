"""The long-horizon suite as environments and a chained scripted expert (see long_horizon.py).

:class:`LongHorizonEnv` is a :class:`MetaWorldEnv` on the task's scene whose success is the suite's:
every stage done in order, judged from the part's joint (and the hand, for pulling back). ``info`` also
carries ``stage`` (the stage being worked on; ``len(stages)`` once all are done), ``stages_done`` and
``failed`` (the button was pressed more often than asked: the episode ends there, unsuccessful). The reward is the scene's
own Meta-World reward, which knows only the scene's single task: do not train on it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from vlastack.envs.long_horizon import RETREAT, RETREAT_TO, SUITE, LongHorizonTask, Progress, lifting, site_shift
from vlastack.envs.metaworld import MetaWorldConfig, MetaWorldEnv
from vlastack.errors import ConfigError
from vlastack.registry import unknown_name_error
from vlastack.types import Action, Observation

#: ``info`` key: index of the stage being worked on (``len(stages)`` once all are done).
STAGE = "stage"
#: ``info`` key: how many stages are done.
STAGES_DONE = "stages_done"
#: ``info`` key: whether the episode has failed for good (a counted press too many).
FAILED = "failed"


class LongHorizonEnv(MetaWorldEnv):
    """One long-horizon task; ``reset(seed=s)`` gives its scene's start for that seed."""

    def __init__(self, config: MetaWorldConfig) -> None:
        if config.task not in SUITE:
            raise unknown_name_error("long-horizon task", config.task, SUITE)
        super().__init__(config)
        self.task: LongHorizonTask = SUITE[config.task]
        self._progress = Progress(self.task)

    def joint(self) -> float:
        """The part's joint value now, metres."""
        name = self.task.part.joint
        data = self._env.data
        return float(data.qpos[9]) if name is None else float(data.joint(name).qpos.item())

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple[Observation, dict[str, Any]]:
        obs, info = super().reset(seed=seed, options=options)
        self._progress = Progress(self.task)
        info.update({"success": False, STAGE: 0, STAGES_DONE: 0, FAILED: False})
        return obs, info

    def step(self, action: np.ndarray) -> tuple[Observation, float, bool, bool, dict[str, Any]]:
        obs, reward, _, truncated, info = super().step(action)
        progress = self._progress
        progress.update(self.joint(), float(info["privileged"][1]))  # the hand y, as recorded
        success = progress.stage == len(self.task.stages) and not progress.failed
        info.update({"success": success, STAGE: progress.stage, STAGES_DONE: progress.stage, FAILED: progress.failed})
        return obs, reward, (success and self.config.terminate_on_success) or progress.failed, truncated, info


class ChainedExpert:
    """Meta-World's scripted policy of each stage in turn: ``act(observation, info) -> action``.

    The stage comes from ``info['stage']`` (set by :class:`LongHorizonEnv`); the policy reads the
    privileged state, with the tracked handle point moved to the site that policy was written for.
    Where the part asks for it (``Part.lift_m``), a stage after the first starts by raising the hand
    straight up, with the stage policy's gripper command, and holding it there until a button has sprung
    back (``Part.repeat``)."""

    def __init__(self, task: str) -> None:
        import metaworld.policies as policies

        from vlastack.envs.experts import _class_name

        if task not in SUITE:
            raise unknown_name_error("long-horizon task", task, SUITE)
        self.task = SUITE[task]
        experts = [self.task.part.stages[s].expert for s in self.task.stages]
        self._policies = [Retreat() if e == RETREAT else getattr(policies, _class_name(e))() for e in experts]
        self._lifted: set[int] = set()  # stages whose lift is over, this episode
        self._last_stage = 0

    def act(self, observation: Observation, info: dict[str, Any]) -> Action:
        if STAGE not in info:
            raise ConfigError(f"info has no {STAGE!r} entry: the chained expert for {self.task.name} needs a LongHorizonEnv")
        stage = int(info[STAGE])
        if stage < self._last_stage:  # a new episode began
            self._lifted.clear()
        self._last_stage = stage
        k = min(stage, len(self._policies) - 1)
        raw = np.asarray(info["privileged"], dtype=np.float64)
        state = raw.copy()
        state[4] += site_shift(self.task, k)
        action = np.clip(np.asarray(self._policies[k].get_action(state), dtype=np.float32), -1.0, 1.0)
        if lifting(self.task, stage, stage in self._lifted, raw):
            # high enough: only waiting for the button to spring back; else straight up at full speed (1 cm per step)
            action[:3] = (0.0, 0.0, 0.0 if self.task.part.lifted_clear(raw) else 1.0)
        else:
            self._lifted.add(stage)
        return action


class Retreat:
    """The pull-back stage's expert: straight towards :data:`RETREAT_TO`, fingers as the button policy holds them."""

    def get_action(self, state: np.ndarray) -> np.ndarray:
        # 25 action units per metre of error, the gain of the button policy (clipped to [-1, 1] by the caller).
        delta = (np.asarray(RETREAT_TO) - np.asarray(state[:3], dtype=np.float64)) * 25.0
        return np.array([*delta, 1.0], dtype=np.float32)
