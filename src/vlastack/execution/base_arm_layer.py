"""The base-arm split (execution/base_arm_split.py) under a policy for a wheeled robot.

:class:`BaseArmLayer` wraps a policy's ``act(observation, info) -> action`` for a robot whose action is one
arm's ``[dx, dy, dz, drx, dry, drz, grip]`` plus ``base_forward, base_side, base_yaw, torso`` (robosuite's
PandaOmron, envs/robosuite_env.py). It reads the arm's position command as the hand motion wanted this step,
splits it with :func:`~vlastack.execution.base_arm_split.split_step` and writes back an arm command and a base
command. It reads only the observation's state (hand and mount positions, the base's heading), never privileged
simulator state, so it can sit under a learned policy as well as under a scripted one.

It owns the base's translation: the policy's own ``base_forward`` and ``base_side`` are replaced (a policy that
drives its base itself does not want this layer). Rotation, gripper, ``base_yaw`` and ``torso`` pass through.

It sits before the safety layer (``vlastack eval --base-arm-layer``, and the far task's expert under collection):
its base commands are at most 0.25 + ``base_step_m`` / ``base_m_per_unit`` = 0.5 with the defaults, exactly the
bound of the wheeled robot's spec (``robosuite_pandaomron``, safety/presets_robosuite_mobile.py), so they pass
unclipped; a larger ``base_step_m`` would have its excess clipped there (``action.high[7]``, said in the log).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from vlastack.errors import ConfigError
from vlastack.execution.base_arm_split import Split, SplitLimits, split_step
from vlastack.types import Action, Observation


@dataclass(frozen=True)
class WheeledMotionModel:
    """How command units turn into motion per control step (robosuite 1.5.2's PandaOmron at 20 Hz, measured by
    ``benchmarks/pandaomron_reach.py``, 2026-12-07)."""

    arm_m_per_unit: float = 0.013
    """Hand metres per control step per unit of arm position command, steady state (12.9-13.0 mm on every axis,
    embodiments/robosuite.py)."""
    base_deadband: float = 0.25
    """Base command (units) spent overcoming the wheels' friction: the base's velocity actuator asks for 1 m/s per
    unit and its friction holds 0.25 m/s of that back, so 0.25 moves nothing and 0.5 moves 12.5 mm a step."""
    base_m_per_unit: float = 0.05
    """Base metres per control step per unit of command beyond the deadband (1 m/s per unit over 0.05 s)."""

    def __post_init__(self) -> None:
        for name in ("arm_m_per_unit", "base_m_per_unit"):
            v = getattr(self, name)
            if not (np.isfinite(v) and v > 0):
                raise ConfigError(f"{name} must be a positive number of metres per step per unit, got {v}")
        if not (np.isfinite(self.base_deadband) and 0 <= self.base_deadband < 1):
            raise ConfigError(f"base_deadband must be in [0, 1) command units, got {self.base_deadband}")

    def arm_command(self, arm_m: np.ndarray) -> np.ndarray:
        """Arm position command (units, clipped to [-1, 1]) for a hand motion ``arm_m`` (m this step)."""
        return np.clip(np.asarray(arm_m) / self.arm_m_per_unit, -1.0, 1.0)

    def base_command(self, base_m: np.ndarray) -> np.ndarray:
        """Base command (units, clipped to [-1, 1]) for a base motion ``base_m`` (m this step): past the deadband
        by the motion's share; motions under 0.01 mm get 0, so a base asked for nothing stands still."""
        b = np.asarray(base_m, dtype=np.float64)
        u = np.sign(b) * (self.base_deadband + np.abs(b) / self.base_m_per_unit)
        return np.clip(np.where(np.abs(b) < 1e-5, 0.0, u), -1.0, 1.0)


#: Entries the layer reads (state) and writes (action), by the names of envs/robosuite_env.feature_names.
STATE_ENTRIES = ("ee_x", "ee_y", "ee_z", "mount_x", "mount_y", "mount_z", "mount_yaw")
ACTION_ENTRIES = ("dx", "dy", "dz", "base_forward", "base_side")


def _indices(names: dict[str, list[str]], key: str, wanted: tuple[str, ...]) -> list[int]:
    have = list(names.get(key, ()))
    missing = [n for n in wanted if n not in have]
    if missing:
        raise ConfigError(
            f"names[{key!r}] lacks {missing}: the base-arm layer needs a one-arm wheeled robot's layout "
            f"(envs/robosuite_env.feature_names of e.g. rs-reachfar-pandaomron), got {have}"
        )
    return [have.index(n) for n in wanted]


class BaseArmLayer:
    """``act(observation, info) -> action`` that drives the base so the arm stays in its comfortable reach.

    ``names`` is the environment's ``names`` (``{"state": [...], "action": [...]}``). Per episode (reset when
    ``info["step"] == 0``) it counts ``steps``, ``reach_limited_steps`` (steps where the reach box, not the arm's
    speed, bound the arm) and ``base_travel_m`` (metres of base motion commanded); ``last`` is the latest split.
    A None from ``act`` (an executor with nothing fresh to send) passes through unchanged, for the safety layer's
    watchdog to decide, and is not counted."""

    def __init__(
        self,
        act: Callable[[Observation, dict[str, Any]], Action],
        names: dict[str, list[str]],
        limits: SplitLimits | None = None,
        motion: WheeledMotionModel | None = None,
    ) -> None:
        self.act, self.limits, self.motion = act, limits or SplitLimits(), motion or WheeledMotionModel()
        self._state = _indices(names, "state", STATE_ENTRIES)
        self._action = _indices(names, "action", ACTION_ENTRIES)
        self._action_dim = len(names["action"])
        self.last: Split | None = None
        self.steps = self.reach_limited_steps = 0
        self.base_travel_m = 0.0

    def summary(self) -> dict[str, Any]:
        """This episode's counts: ``steps`` split, ``reach_limited_steps`` and ``base_travel_m`` (m commanded)."""
        return {"steps": self.steps, "reach_limited_steps": self.reach_limited_steps, "base_travel_m": self.base_travel_m}

    def __call__(self, observation: Observation, info: dict[str, Any]) -> Action | None:
        if info.get("step", 0) == 0:
            self.steps = self.reach_limited_steps = 0
            self.base_travel_m = 0.0
        proposed = self.act(observation, info)
        if proposed is None:
            return None
        action = np.array(proposed, dtype=np.float32).reshape(-1)
        if action.shape != (self._action_dim,):
            raise ConfigError(f"the policy's action must have {self._action_dim} entries, got shape {action.shape}")
        s = np.asarray(observation.state, dtype=np.float64)[self._state]
        hand, mount, yaw = s[0:3], s[3:6], float(s[6])
        c, si = np.cos(yaw), np.sin(yaw)
        rel = hand - mount
        hand_rel = np.array([c * rel[0] + si * rel[1], -si * rel[0] + c * rel[1], rel[2]])  # world -> base frame
        arm_cmd = np.clip(action[self._action[:3]], -1.0, 1.0)
        split = split_step(arm_cmd * self.motion.arm_m_per_unit, hand_rel, yaw, self.limits)
        action[self._action[:3]] = self.motion.arm_command(split.arm_m)
        action[self._action[3:]] = self.motion.base_command(split.base_m)
        self.last = split
        self.steps += 1
        self.reach_limited_steps += int(split.reach_limited)
        self.base_travel_m += float(np.linalg.norm(split.base_m))
        return action


def check_wheeled_tasks(tasks: tuple[str, ...] | list[str], field: str) -> None:
    """A ConfigError naming ``field`` unless every task runs a one-arm wheeled robot (the layer's robot)."""
    from vlastack.envs.robosuite_tasks import TASKS as ROBOSUITE_TASKS

    wheeled = [t for t, v in ROBOSUITE_TASKS.items() if v.mobile and v.arms == 1]
    fixed = [t for t in tasks if t not in wheeled]
    if fixed:
        raise ConfigError(
            f"{field}: the base-arm layer drives a one-arm wheeled robot's base; {fixed} have no wheeled base (tasks with one: {wheeled})"
        )


class BaseArmEnv:
    """An environment whose arm command is the hand motion wanted: each step's action goes through
    :class:`BaseArmLayer` (the split between base and arm) before ``env`` sees it.

    For recording what a policy over the layer should learn: whoever steps this env (an expert in ``vlastack collect
    --base-arm-layer``) is recorded with its own command, the hand motion, not the split the robot received (that is in
    ``info["base_arm_action"]``), also behind a safety layer: there the frame's safety columns still count what the
    layer changed in the split, and the recorded action stays the request. Everything else (``instruction``, ``action_space``, ...) is ``env``'s. ``names`` is the
    robot's layout (the environment's ``names``); give it when ``env`` is a wrapper that does not pass it on (the
    safety layer's ``SafeActuator``)."""

    def __init__(
        self,
        env: Any,
        names: dict[str, list[str]] | None = None,
        limits: SplitLimits | None = None,
        motion: WheeledMotionModel | None = None,
    ) -> None:
        self.env = env
        self._wanted: Action | None = None
        self.layer = BaseArmLayer(lambda observation, info: self._wanted, names if names is not None else env.names, limits, motion)
        self._last: tuple[Observation, dict[str, Any]] | None = None

    def __getattr__(self, name: str) -> Any:  # names, instruction, action_space, close ... of the wrapped env
        return getattr(self.env, name)

    def reset(self, **kwargs: Any) -> tuple[Observation, dict[str, Any]]:
        observation, info = self.env.reset(**kwargs)
        self._last = (observation, {**info, "step": 0})  # the layer starts its per-episode counts at step 0
        return observation, info

    def step(self, action: Action) -> tuple[Observation, float, bool, bool, dict[str, Any]]:
        if self._last is None:
            raise ConfigError("BaseArmEnv: call reset() before step()")
        from vlastack.safety.actuator import SAFETY_INFO_KEY

        self._wanted = action
        sent = self.layer(*self._last)
        observation, reward, terminated, truncated, info = self.env.step(sent)
        self._last = (observation, info)
        info = {**info, "base_arm_action": sent}
        decision = info.get(SAFETY_INFO_KEY)
        if decision is not None:
            # Behind a safety layer a recording keeps the action the layer let through; here that is the split, so put
            # the request in its place (what was asked is the point of this wrapper). The split as the safety layer
            # passed it stays in "base_arm_action_allowed"; its interventions and hold stay as they were.
            info[SAFETY_INFO_KEY] = {**decision, "action": np.asarray(action, dtype=np.float32)}
            info["base_arm_action_allowed"] = decision["action"]
        return observation, reward, terminated, truncated, info
