"""Scripted experts: the hand-written policies that ship with ``metaworld`` (``metaworld.policies``).

They read the privileged 39-d state (``info["privileged"]``), never the camera, and are
deterministic: the same reset seed gives the same demonstration.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from vlastack.envs.tasks import all_tasks
from vlastack.registry import unknown_name_error
from vlastack.types import Action, Observation

#: Tasks whose policy class name is not the CamelCase of the task name.
_CLASS_EXCEPTIONS = {"peg-insert-side-v3": "SawyerPegInsertionSideV3Policy"}


def _class_name(task: str) -> str:
    if task in _CLASS_EXCEPTIONS:
        return _CLASS_EXCEPTIONS[task]
    return "Sawyer" + "".join(part.capitalize() for part in task.split("-")) + "Policy"


class ScriptedExpert:
    """Wraps one ``metaworld.policies`` policy: ``act(observation, info) -> action``."""

    def __init__(self, task: str) -> None:
        import metaworld.policies as policies

        if task not in all_tasks():
            raise unknown_name_error("task", task, all_tasks())
        self.task = task
        self._policy = getattr(policies, _class_name(task))()

    def act(self, observation: Observation, info: dict[str, Any]) -> Action:
        action = self._policy.get_action(np.asarray(info["privileged"], dtype=np.float64))
        return np.clip(np.asarray(action, dtype=np.float32), -1.0, 1.0)


def expert_for(task: str, arm_only: bool = False) -> ScriptedExpert:
    """The scripted expert of ``task``; a long-horizon task (``lh-...``) gets a chained one, a robosuite
    task (``rs-...``) one from envs/robosuite_experts.py, a Fetch task (``fetch-...``) one from envs/fetch_experts.py.
    ``arm_only``: a wheeled robot's expert that commands only the arm, for running over the base-arm layer."""
    from vlastack.envs.fetch_tasks import is_fetch_task
    from vlastack.envs.long_horizon import SUITE
    from vlastack.envs.robosuite_tasks import is_robosuite_task

    if is_fetch_task(task):
        from vlastack.envs.fetch_experts import fetch_expert_for

        return fetch_expert_for(task)  # type: ignore[return-value]  # same act(observation, info) interface

    if is_robosuite_task(task):
        from vlastack.envs.robosuite_experts import robosuite_expert_for

        return robosuite_expert_for(task, arm_only=arm_only)  # type: ignore[return-value]  # same act(observation, info) interface
    if task in SUITE:
        from vlastack.envs.long_horizon_env import ChainedExpert

        return ChainedExpert(task)  # type: ignore[return-value]  # same act(observation, info) interface
    return ScriptedExpert(task)
