"""What the server serves: a :class:`PolicyRunner` (declared inputs and outputs, and ``infer``).

The server owns the network, validation, ordering, timing and safety; a runner only turns one
validated observation into one action chunk. :class:`FakeRunner` needs no checkpoint (tests and
load benchmarks); :class:`vlastack.serving.checkpoint.CheckpointRunner` wraps a vlastack checkpoint.

Runners are called from a thread pool, several at once for different connections, but never twice
at once for the same connection. Per-connection state (observation history, noise generator) lives
in the ``state`` dict the server passes with every call: one dict per connection, empty at first
and emptied again when the client sends ``reset: true``.
"""

from __future__ import annotations

import time
from typing import Any, Protocol, runtime_checkable

import numpy as np

from vlastack import keys
from vlastack.serving.protocol import ACTIONS, ArraySpec, ObservationSpec

#: Key of the optional :class:`~vlastack.types.Explanation` in what ``PolicyRunner.infer`` returns.
EXPLANATION = "explanation"


@runtime_checkable
class PolicyRunner(Protocol):
    """A policy behind the server."""

    spec: ObservationSpec
    """What every observation must hold (the server validates against it before ``infer``)."""
    action_spec: ArraySpec
    """The ``actions`` array of every reply: float32 [H, D], with its units in the description."""

    def metadata(self) -> dict[str, Any]:
        """JSON-ready description of the policy (name, checkpoint, horizon ...), sent to clients on connect."""
        ...

    def infer(self, obs: dict[str, Any], state: dict[str, Any]) -> dict[str, Any]:
        """``{"actions": float32 [H, D], "info": {...}}`` for one validated observation, and optionally
        ``"explanation"``: an :class:`~vlastack.types.Explanation` (or None) the server sends as reply keys.

        ``state`` is this connection's own dict (empty at the start and after a reset).
        """
        ...


def meta_world_spec(
    image_size: tuple[int, int] = (32, 32), cameras: tuple[str, ...] = ("corner2",), state_dim: int = 4, touch_dim: int | None = None
) -> ObservationSpec:
    """An observation spec in vlastack's feature names (images uint8 HWC, state, optional touch, prompt)."""
    h, w = image_size
    arrays = [ArraySpec(keys.image_key(c), (h, w, 3), "uint8", f"RGB from camera {c!r}, upright, row 0 at the top") for c in cameras]
    arrays.append(
        ArraySpec(
            keys.STATE,
            (state_dim,),
            "float32",
            "proprioception, environment units (Meta-World: end-effector xyz in m, gripper opening in [0, 1])",
        )
    )
    if touch_dim is not None:
        arrays.append(ArraySpec(keys.TOUCH, (touch_dim,), "float32", "contact force per gripper finger, newtons"))
    return ObservationSpec(tuple(arrays), prompt=True)


class FakeRunner:
    """A stand-in policy with a fixed inference time; actions are a simple function of the state.

    ``actions[h, d] = clip(0.1 * state[d % S] + 0.01 * h, -1, 1)``; ``info`` reports how many
    requests this connection has made since its last reset (to test per-connection state and order).
    ``delay_s`` is slept in the worker thread (like a GPU call, it releases the GIL); observations
    whose prompt is in ``slow_prompts`` sleep ``slow_delay_s`` instead (a slow client, for tests).
    """

    def __init__(
        self,
        delay_s: float = 0.0,
        horizon: int = 4,
        action_dim: int = 4,
        spec: ObservationSpec | None = None,
        slow_prompts: tuple[str, ...] = (),
        slow_delay_s: float = 1.0,
        fail_prompts: tuple[str, ...] = (),
    ) -> None:
        self.delay_s = delay_s
        self.slow_prompts = slow_prompts
        self.slow_delay_s = slow_delay_s
        self.fail_prompts = fail_prompts
        self.spec = spec or meta_world_spec()
        self.action_spec = ArraySpec(ACTIONS, (horizon, action_dim), "float32", "fake actions in [-1, 1]")

    def metadata(self) -> dict[str, Any]:
        h, d = self.action_spec.shape
        return {"name": "fake", "horizon": h, "action_dim": d, "delay_s": self.delay_s}

    def infer(self, obs: dict[str, Any], state: dict[str, Any]) -> dict[str, Any]:
        prompt = obs.get("prompt", "")
        if prompt in self.fail_prompts:
            raise RuntimeError(f"fake failure for prompt {prompt!r}")
        delay = self.slow_delay_s if prompt in self.slow_prompts else self.delay_s
        if delay > 0:
            time.sleep(delay)
        state["requests"] = state.get("requests", 0) + 1
        h, d = self.action_spec.shape
        s = np.asarray(obs.get(keys.STATE, np.zeros(1, np.float32)), dtype=np.float32).reshape(-1)
        base = 0.1 * s[np.arange(d) % max(len(s), 1)] if len(s) else np.zeros(d, np.float32)
        actions = np.clip(base[None, :] + 0.01 * np.arange(h, dtype=np.float32)[:, None], -1.0, 1.0)
        return {ACTIONS: actions.astype(np.float32), "info": {"session_requests": state["requests"]}}
