"""The long-horizon suite as environments and a chained scripted expert (see long_horizon.py).

:class:`LongHorizonEnv` is a :class:`MetaWorldEnv` on the task's scene whose success is the suite's:
every stage done in order, judged from the part's joint. ``info`` also carries ``stage`` (the stage
being worked on; ``len(stages)`` once all are done) and ``stages_done``. The reward is the scene's
own Meta-World reward, which knows only the scene's single task: do not train on it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from vlastack.envs.long_horizon import SUITE, LongHorizonTask, lifting, site_shift, stage_done
from vlastack.envs.metaworld import MetaWorldConfig, MetaWorldEnv
from vlastack.errors import ConfigError
from vlastack.registry import unknown_name_error
from vlastack.types import Action, Observation

#: ``info`` key: index of the stage being worked on (``len(stages)`` once all are done).
STAGE = "stage"
#: ``info`` key: how many stages are done.
STAGES_DONE = "stages_done"


class LongHorizonEnv(MetaWorldEnv):
    """One long-horizon task; ``reset(seed=s)`` gives its scene's start for that seed."""

    def __init__(self, config: MetaWorldConfig) -> None:
        if config.task not in SUITE:
            raise unknown_name_error("long-horizon task", config.task, SUITE)
        super().__init__(config)
        self.task: LongHorizonTask = SUITE[config.task]
        self._stage = 0

    def joint(self) -> float:
        """The part's joint value now, metres."""
        name = self.task.part.joint
        data = self._env.data
        return float(data.qpos[9]) if name is None else float(data.joint(name).qpos.item())

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple[Observation, dict[str, Any]]:
        obs, info = super().reset(seed=seed, options=options)
        self._stage = 0
        info.update({"success": False, STAGE: 0, STAGES_DONE: 0})
        return obs, info

    def step(self, action: np.ndarray) -> tuple[Observation, float, bool, bool, dict[str, Any]]:
        obs, reward, _, truncated, info = super().step(action)
        n = len(self.task.stages)
        if self._stage < n and stage_done(self.task, self._stage, self.joint()):
            self._stage += 1
        success = self._stage == n
        info.update({"success": success, STAGE: self._stage, STAGES_DONE: self._stage})
        return obs, reward, success and self.config.terminate_on_success, truncated, info


class ChainedExpert:
    """Meta-World's scripted policy of each stage in turn: ``act(observation, info) -> action``.

    The stage comes from ``info['stage']`` (set by :class:`LongHorizonEnv`); the policy reads the
    privileged state, with the tracked handle point moved to the site that policy was written for.
    Where the part asks for it (``Part.lift_m``), a stage after the first starts by raising the hand
    straight up, with the stage policy's gripper command."""

    def __init__(self, task: str) -> None:
        import metaworld.policies as policies

        from vlastack.envs.experts import _class_name

        if task not in SUITE:
            raise unknown_name_error("long-horizon task", task, SUITE)
        self.task = SUITE[task]
        self._policies = [getattr(policies, _class_name(self.task.part.stages[s][2]))() for s in self.task.stages]
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
            action[:3] = (0.0, 0.0, 1.0)  # straight up at full speed (1 cm per step before the safety layer)
        else:
            self._lifted.add(stage)
        return action
