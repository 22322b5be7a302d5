"""What a check works on: the :class:`Command` being decided, the read-only :class:`Context`, the
:class:`Check` protocol, and the hold.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

from vlastack.safety import interventions as iv
from vlastack.safety.interventions import Intervention
from vlastack.safety.spec import SafetySpec
from vlastack.safety.verify import MotionMemory


@dataclass
class Command:
    """The action being decided. Before :class:`ActionValidity` it may be anything a caller sent."""

    action: object
    """float64 [D] action units once validated; before that, the raw proposal."""
    held: bool = False
    """True once replaced by the hold."""


@dataclass
class Context:
    """What a check may read (never change): the spec, the sensed state, the clock, the memory."""

    spec: SafetySpec
    position: np.ndarray | None
    """End-effector position (m, float64 [3]); None if the state could not be read."""
    touch: object
    """The touch reading as given (newtons per finger), or None."""
    now_s: float
    memory: MotionMemory
    last_action: np.ndarray | None
    """The last allowed action (float64 [D]); None before the first."""
    last_fresh_s: float | None
    """When the last fresh (non-None) proposal arrived; None if none yet this episode."""
    latest_s: float | None = None
    """The latest time (s) the clock showed at an earlier step of this episode; None on the first step."""
    contact: object = None
    """The arm's contact-force reading as given (N, world frame, [3]: the net force on the arm), or None."""

    def hold(self) -> np.ndarray:
        """The hold: zero on every entry (no translation), gripper command unchanged from the last allowed.

        Keeping the gripper where it was is the choice that neither drops a held object (opening)
        nor squeezes harder or pinches (closing); the grip-force check may still loosen it.
        """
        out = np.zeros(self.spec.action.dim)
        g = self.spec.gripper
        if g is not None:
            out[g.action_index] = self.memory.last_grip if self.memory.last_grip is not None else g.initial_command
        return out


class Check(Protocol):
    """One link of the chain: may change ``command.action`` in place, returns what it changed and why."""

    name: str

    def apply(self, command: Command, ctx: Context) -> list[Intervention]: ...


def hold_with_reason(command: Command, ctx: Context, check: str, limit: str, message: str, **numbers: float) -> list[Intervention]:
    """Replace the command by the hold and say why (``numbers``: value, bound, unit of the Intervention)."""
    command.action, command.held = ctx.hold(), True
    return [Intervention(check, limit, iv.HELD, message + "; holding", **numbers)]
