"""Plugging an executor into a control loop that expects ``act(observation, info) -> action``.

``vlastack.envs.rollout.rollout(env, act, seed)`` steps whatever it is given as ``env``; pass it a
:class:`vlastack.safety.SafeActuator` and the ``act`` made here, and the chain is
policy -> executor -> safety layer -> simulator, with simulated or real time::

    clock = FakeClock()                                   # or time.monotonic for real time
    executor = make_executor("async", policy, clock=clock, simulated_latency_s=0.05)
    actuator = SafeActuator(make_env(task), "metaworld_sawyer", clock=clock)
    rollout(actuator, executor_act(executor, clock, advance_s=1 / 80), seed)

``act`` returns None when the executor has nothing fresh; the control loop must hand that None to
the actuator unchanged (the safety layer's watchdog decides what to send).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from vlastack.execution.base import Clock, Executor
from vlastack.types import Action, Observation


def executor_act(
    executor: Executor, clock: Clock, advance_s: float | None = None
) -> Callable[[Observation, dict[str, Any]], Action | None]:
    """``act(observation, info)`` that asks ``executor`` for this step's action.

    With a fake clock, ``advance_s`` (the control period) moves simulated time on by one step
    after each call, so that simulated inference latency and the watchdog see the right times.
    Call ``executor.reset()`` before each episode (the actuator resets its layer in ``reset``).
    """
    advance = getattr(clock, "advance", None) if advance_s is not None else None

    def act(observation: Observation, info: dict[str, Any]) -> Action | None:
        action = executor.step(observation, clock())
        if advance is not None:
            advance(advance_s)
        return action

    return act
