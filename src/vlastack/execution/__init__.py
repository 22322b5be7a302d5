"""ActionChunk -> one action per control step.

- ``sync`` (:class:`SynchronousExecutor`): execute the first k actions of each chunk, then ask again.
- ``ensemble`` (:class:`TemporalEnsembleExecutor`): ACT's temporal ensembling of overlapping chunks.
- ``async`` (:class:`AsyncExecutor`): background inference, latency compensation, a blended seam.

All share :class:`Executor`'s interface (``reset``, ``step(observation, now_s) -> action | None``,
``events``, ``summary``, ``close``) and are built by name with :func:`make_executor`. They never
see the environment: their actions go to a :class:`vlastack.safety.SafeActuator`.
"""

from __future__ import annotations

from typing import Any

from vlastack.execution.adapters import executor_act
from vlastack.execution.asynchronous import AsyncExecutor
from vlastack.execution.base import EXECUTORS, ChunkError, Clock, Executor, PolicyFn, chunk_actions
from vlastack.execution.clock import DelayedPolicy, FakeClock
from vlastack.execution.ensemble import TemporalEnsembleExecutor
from vlastack.execution.runners import InferenceResult, SimulatedLatencyRunner, ThreadRunner
from vlastack.execution.synchronous import SynchronousExecutor


def make_executor(name: str, policy: PolicyFn, **options: Any) -> Executor:
    """The executor registered as ``name`` (sync, ensemble, async) around ``policy``.

    ``options`` go to its constructor (``k``, ``m``, ``query_every``, ``blend_steps``, ``clock``, ...).
    An unknown name raises a ConfigError listing the valid ones.
    """
    return EXECUTORS.get(name)(policy, **options)


__all__ = [
    "AsyncExecutor",
    "EXECUTORS",
    "ChunkError",
    "Clock",
    "Executor",
    "PolicyFn",
    "chunk_actions",
    "DelayedPolicy",
    "FakeClock",
    "TemporalEnsembleExecutor",
    "InferenceResult",
    "SimulatedLatencyRunner",
    "ThreadRunner",
    "SynchronousExecutor",
    "make_executor",
    "executor_act",
]
