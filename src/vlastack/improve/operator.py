"""Operators: who may take the controls from the policy during an episode, and when they give them back.

An operator sees every step's observation and the action the policy proposes, and answers with
the action to send (its own while it is in control, the policy's otherwise) and whether it is in
control. Two kinds share that interface:

- :class:`ScriptedOperator` stands in for a person in simulation: the task's scripted expert,
  which takes over when the policy's proposal disagrees with its own action for ``patience``
  steps in a row and hands back after ``takeover_steps`` steps (HG-DAgger's gated expert, with
  the gate written down instead of a person's judgement).
  Its ``label`` after each step is the expert's own action at that observation, whoever acted:
  the label of every frame in a DAgger episode.
- :class:`StreamOperator` is driven from outside: a teleoperation stream (keyboard, spacemouse,
  another process over the policy server) calls :meth:`StreamOperator.command` with an action to
  take over and :meth:`StreamOperator.release` to hand back, from any thread.

Actions are Meta-World's: [dx, dy, dz, gripper] in [-1, 1] (a translation step of the hand's
target, scaled by the environment, and the gripper effort).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from vlastack.errors import ConfigError
from vlastack.types import Action, Observation


class Operator(Protocol):
    def reset(self) -> None:
        """Forget the previous episode."""

    def step(self, observation: Observation, info: dict[str, Any], proposed: Action | None) -> tuple[Action | None, bool]:
        """(the action to send, True when it is the operator's own). ``proposed`` is None when the
        policy has nothing fresh; the operator may then pass None on (the safety layer decides)."""


@dataclass(frozen=True)
class GateConfig:
    """When the scripted operator takes the controls, and for how long."""

    threshold: float = 0.6
    """Disagreement (Euclidean distance between the policy's and the expert's [dx, dy, dz], action
    units; a gripper command of the opposite sign, by more than 1.0, counts as disagreement too)
    above which a step counts as going wrong."""
    patience: int = 4
    """Consecutive disagreeing steps before the operator takes over (a person reacts late, and
    brief disagreements that the policy corrects itself are not worth a takeover)."""
    takeover_steps: int = 20
    """Steps the operator keeps the controls once it has taken them. Best at least the policy's action
    horizon (not checked here: the gate does not know the policy), so a takeover holds whole action
    chunks of operator labels."""

    def __post_init__(self) -> None:
        if self.threshold <= 0:
            raise ConfigError(f"GateConfig.threshold must be > 0, got {self.threshold}")
        if self.patience < 1 or self.takeover_steps < 1:
            raise ConfigError(f"GateConfig.patience and takeover_steps must be >= 1, got {self.patience}, {self.takeover_steps}")


def disagreement(proposed: np.ndarray, expert: np.ndarray) -> float:
    """How far the policy's proposal is from the expert's action (see :attr:`GateConfig.threshold`)."""
    xyz = float(np.linalg.norm(np.asarray(proposed[:3], np.float64) - np.asarray(expert[:3], np.float64)))
    grip_flip = len(proposed) > 3 and np.sign(proposed[3]) != np.sign(expert[3]) and abs(float(proposed[3] - expert[3])) > 1.0
    return float("inf") if grip_flip else xyz


class ScriptedOperator:
    """The task's scripted expert as the operator, gated by :class:`GateConfig`."""

    def __init__(self, task: str, gate: GateConfig = GateConfig()) -> None:
        from vlastack.envs.experts import expert_for

        self.expert, self.gate = expert_for(task), gate
        self.reset()

    def reset(self) -> None:
        self._bad, self._left = 0, 0  # disagreeing steps in a row; steps left in the current takeover
        self.takeovers = 0
        self.label: np.ndarray | None = None

    def step(self, observation: Observation, info: dict[str, Any], proposed: Action | None) -> tuple[Action | None, bool]:
        expert = self.expert.act(observation, info)
        self.label = np.asarray(expert, np.float32)  # what the expert would send here, whoever acts (DAgger's label)
        if self._left == 0:
            far = proposed is not None and disagreement(np.asarray(proposed), expert) > self.gate.threshold
            self._bad = self._bad + 1 if far else 0
            if self._bad < self.gate.patience:
                return proposed, False
            self._bad, self._left = 0, self.gate.takeover_steps
            self.takeovers += 1
        self._left -= 1
        return expert, True


class StreamOperator:
    """An operator driven by an outside stream; thread-safe (the stream runs in its own thread).

    ``command(action)`` takes over (or updates the held command); ``release()`` hands back. Until
    the first command the policy acts. The last command stays in force until the next one or the
    release, as a teleoperation device's does.
    """

    def __init__(self, action_dim: int = 4) -> None:
        self._lock = threading.Lock()
        self._command: np.ndarray | None = None
        self.action_dim = action_dim

    def command(self, action: Any) -> None:
        a = np.asarray(action, dtype=np.float32)
        if a.shape != (self.action_dim,) or not np.all(np.isfinite(a)):
            raise ConfigError(f"operator command: expected {self.action_dim} finite numbers, got {a.tolist()!r}")
        with self._lock:
            self._command = np.clip(a, -1.0, 1.0)

    def release(self) -> None:
        with self._lock:
            self._command = None

    def reset(self) -> None:
        self.release()

    def step(self, observation: Observation, info: dict[str, Any], proposed: Action | None) -> tuple[Action | None, bool]:
        with self._lock:
            command = None if self._command is None else self._command.copy()
        return (proposed, False) if command is None else (command, True)
