"""A simulator worker's environments, kept between episodes and closed when they fall out of use.

Building an environment costs about a second (model compile, renderer context), so a worker that runs many episodes
of one task keeps it. Keeping every task's environment is what an unbounded cache did, and each Meta-World environment
with its EGL renderer holds about 160 MB (measured 2026-12-07 on the 2-core VM: 8 environments, 57 -> 1477 MB
resident), so a worker that ran the 50 MT50 tasks grew to about 8 GB. Jobs are queued task by task, so a worker needs
at most the task it is on and, at a task boundary, the one before: two environments are enough.
"""

from __future__ import annotations

import warnings
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from vlastack.errors import ConfigError


class EnvCache:
    """At most ``max_envs`` environments by key, least recently used closed first."""

    def __init__(self, max_envs: int = 2, close: Callable[[Any], None] | None = None) -> None:
        """``close(value)`` releases a kept value (default: its ``close()`` method, e.g. a value that holds an
        environment and its expert)."""
        if isinstance(max_envs, bool) or not isinstance(max_envs, int) or max_envs < 1:
            raise ConfigError(f"EnvCache max_envs must be an integer >= 1, got {max_envs!r}")
        self.max_envs = max_envs
        self._close = close or _close_method
        self._envs: OrderedDict[str, Any] = OrderedDict()

    def get(self, key: str, make: Callable[[], Any]) -> Any:
        """The environment under ``key``, built by ``make()`` if it is not kept; marks it the most recently used."""
        if key in self._envs:
            self._envs.move_to_end(key)
            return self._envs[key]
        while len(self._envs) >= self.max_envs:
            _, old = self._envs.popitem(last=False)
            self._release(old)
        env = self._envs[key] = make()
        return env

    def clear(self) -> None:
        """Close every kept environment (e.g. when the worker moves to another checkpoint)."""
        while self._envs:
            _, env = self._envs.popitem(last=False)
            self._release(env)

    def items(self) -> list[tuple[str, Any]]:
        """(key, environment) of every kept one, least recently used first."""
        return list(self._envs.items())

    def _release(self, value: Any) -> None:
        try:
            self._close(value)
        except Exception as err:  # noqa: BLE001 - a failing close must not fail the next episode
            warnings.warn(f"closing an environment that fell out of use failed: {type(err).__name__}: {err}", stacklevel=3)

    def __len__(self) -> int:
        return len(self._envs)

    def __contains__(self, key: str) -> bool:
        return key in self._envs


def _close_method(env: Any) -> None:
    close = getattr(env, "close", None)
    if close is not None:
        close()
