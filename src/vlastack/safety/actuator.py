"""The only way an action reaches an environment or robot: :class:`SafeActuator`.

How bypass is made impossible by construction:

- The actuator takes the environment (or, better, a function that builds it, so no one else ever
  holds a reference) and keeps it to itself; it exposes ``reset`` and ``step`` only, and ``step``
  runs every action through its :class:`SafetyLayer` first. There is no unfiltered step method and
  no flag that turns the layer off.
- The state and touch reading the layer judges by are the ones the actuator itself received from
  the environment on the previous step, not values a caller passes in, so a caller cannot make an
  action look safe by lying about where the arm is.
- Policies, executors and the policy server never receive the environment or the actuator: an
  executor is built from a policy callable and returns actions; only the rollout loop holds the
  actuator. (Python has no private members; the guarantee is that no interface hands the
  environment out, and the rollout is the one place that steps it.)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from vlastack.safety.layer import SafetyLayer
from vlastack.safety.spec import SafetySpec
from vlastack.safety.two_arm_layer import TwoArmSafetyLayer
from vlastack.safety.two_arm_loading import make_layer
from vlastack.safety.two_arm_spec import TwoArmSpec

#: Key of the step ``info`` dict that holds the layer's decision (``SafetyDecision.to_dict()``).
SAFETY_INFO_KEY = "safety"


class SafeActuator:
    """Owns the environment; every ``step`` goes through the safety layer.

    ``env`` follows the vlastack env contract: ``reset(seed=) -> (obs, info)`` and
    ``step(action) -> (obs, reward, terminated, truncated, info)``, with ``obs.state`` and
    ``obs.touch`` (:class:`vlastack.types.Observation`).
    """

    #: Descriptive, read-only attributes passed through from the environment (so the actuator can
    #: stand in for it in ``vlastack.envs.rollout``); nothing that could step it.
    PASSTHROUGH = ("instruction", "config", "action_space", "metadata")

    def __init__(
        self,
        env: Any | Callable[[], Any],
        spec: SafetySpec | TwoArmSpec | str | SafetyLayer | TwoArmSafetyLayer,
        clock: Callable[[], float] | None = None,
    ) -> None:
        """``spec``: a layer, or a spec or preset name (a two-arm one builds a :class:`TwoArmSafetyLayer`)."""
        self.__env = env() if callable(env) and not hasattr(env, "step") else env
        self.layer = spec if isinstance(spec, (SafetyLayer, TwoArmSafetyLayer)) else make_layer(spec)
        self.clock = clock
        """Time source for ``step`` calls without ``now_s``; None: simulated time, one control period per step."""
        self._state: object = None
        self._touch: object = None
        self._contact: object = None
        self._observation: object = None

    def __getattr__(self, name: str) -> Any:
        if name in SafeActuator.PASSTHROUGH:
            return getattr(self.__env, name)
        raise AttributeError(f"{type(self).__name__} has no attribute {name!r} (the environment is not reachable through it)")

    def reset(self, *, seed: int | None = None, **kwargs: Any) -> tuple[Any, dict]:
        """Reset the environment and the layer (a new episode, a new log)."""
        obs, info = self.__env.reset(seed=seed, **kwargs)
        self.layer.reset()
        self._sense(obs)
        return obs, info

    def step(self, proposed: object, now_s: float | None = None) -> tuple[Any, float, bool, bool, dict]:
        """Filter ``proposed`` (an action, or None for "nothing fresh"), then step the environment with the result.

        ``now_s`` defaults to ``clock()``, or without a clock to simulated time (steps since reset
        times the control period). The decision is in ``info[SAFETY_INFO_KEY]``.
        """
        if now_s is None:
            now_s = self.clock() if self.clock is not None else self.layer.steps * self.layer.spec.control_period_s
        decision = self.layer.filter(proposed, self._state, self._touch, now_s, self._contact)
        obs, reward, terminated, truncated, info = self.__env.step(decision.action)
        self._sense(obs)
        info = dict(info)
        info[SAFETY_INFO_KEY] = decision.to_dict()
        return obs, reward, terminated, truncated, info

    def review_chunk(self, proposal: object, alternatives: object = None):
        """Have the layer's chunk guard review ``proposal`` [H, D] (and, if it is flagged, ``alternatives``
        [K, H, D], best first) from the observation this actuator last received: the frame the chunk will
        start from, not one a caller chooses. Returns the layer's ``ChunkReview``."""
        return self.layer.review_chunk(self._observation, proposal, alternatives)

    @property
    def observation(self) -> object:
        """The observation the environment last returned (what the next action will act on)."""
        return self._observation

    @property
    def log(self) -> list[dict]:
        """This episode's decisions that changed something (JSON-ready)."""
        return self.layer.log

    def summary(self) -> dict:
        return self.layer.summary()

    def close(self) -> None:
        close = getattr(self.__env, "close", None)
        if close is not None:
            close()

    def _sense(self, obs: Any) -> None:
        self._observation = obs
        self._state = getattr(obs, "state", None)
        self._contact = getattr(obs, "arm_contact", None)
        touch = getattr(obs, "touch", None)
        try:
            self._touch = None if touch is None else np.array(touch, dtype=np.float64)
        except (TypeError, ValueError):
            self._touch = touch  # unreadable: the grip check treats it as no valid reading
