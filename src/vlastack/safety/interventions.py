"""What the safety layer changed and why: one :class:`Intervention` per change, in words and in fields.

Every field is plain data so that a decision, and a whole episode's log, is JSON as it stands
(non-finite numbers become the strings ``"nan"``, ``"inf"``, ``"-inf"``).
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import asdict, dataclass, field

import numpy as np

# What a check did to the action (Intervention.effect).
HELD = "held"  # the motion was replaced by the hold (zero translation, gripper unchanged)
SHORTENED = "shortened"  # the motion was shortened (never lengthened, never reversed)
CLIPPED = "clipped"  # an entry slightly out of range was clipped into it
REPEATED = "repeated"  # no fresh action: the last allowed one was sent again (within the watchdog deadline)
BACKED_OFF = "backed_off"  # the gripper closing command was reduced or frozen
EXCEEDED = "exceeded"  # a limit could not be met (only a hold under limits that cannot stop in one period)


def jsonable(x: object) -> object:
    """Numbers, arrays and nested lists as JSON-safe values (non-finite floats as strings)."""
    if x is None or isinstance(x, (str, bool)):
        return x
    if isinstance(x, np.ndarray):
        items = x.tolist()
        return [jsonable(v) for v in items] if isinstance(items, list) else jsonable(items)
    if isinstance(x, (list, tuple)):
        return [jsonable(v) for v in x]
    if isinstance(x, dict):
        return {str(k): jsonable(v) for k, v in x.items()}
    if isinstance(x, (int, np.integer)):
        return int(x)
    try:
        value = float(x)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return repr(x)
    return value if math.isfinite(value) else str(value)


@dataclass(frozen=True)
class Intervention:
    """One change the layer made: which check, which limit, the value against the bound, in words."""

    check: str
    """Name of the check that made the change (``workspace``, ``keep_out``, ``motion``, ...)."""
    limit: str
    """The limit involved, as a spec path where there is one (``motion.max_speed_m_s``, ``workspace.high[2]``)."""
    effect: str
    """What was done: one of held, shortened, clipped, repeated, backed_off, exceeded."""
    message: str
    """The reason in words, with the numbers and units."""
    value: float = float("nan")
    """The offending quantity as proposed (same unit as ``bound``); NaN when not a number."""
    bound: float = float("nan")
    """The limit it was measured against."""
    unit: str = ""
    """Unit of ``value`` and ``bound`` (``m``, ``m/s``, ``N``, ``s``, ``action units``)."""

    @property
    def excess(self) -> float:
        """By how much ``value`` was beyond ``bound`` (absolute, in ``unit``); NaN when unknown."""
        return abs(self.value - self.bound)

    def to_dict(self) -> dict:
        out = {k: jsonable(v) for k, v in asdict(self).items()}
        out["excess"] = jsonable(self.excess)
        return out


@dataclass
class SafetyDecision:
    """What the layer let through for one step, and why it differs from what was proposed."""

    action: np.ndarray
    """float32 [D], the action sent to the actuator; always finite and inside every limit."""
    interventions: list[Intervention] = field(default_factory=list)
    """Every change made, in the order the checks ran; empty when the proposal passed untouched."""
    held: bool = False
    """True when the motion was replaced by the hold."""
    step: int = 0
    """Index of this step in the episode (counted from the last ``reset``)."""
    time_s: float = 0.0
    """The ``now_s`` given to ``filter``."""
    proposed: object = None
    """The proposal as received (None when there was no fresh action)."""

    @property
    def reasons(self) -> list[str]:
        return [i.message for i in self.interventions]

    def to_dict(self) -> dict:
        return {
            "step": self.step,
            "time_s": jsonable(self.time_s),
            "held": self.held,
            "proposed": jsonable(self.proposed),
            "action": jsonable(self.action),
            "interventions": [i.to_dict() for i in self.interventions],
        }


def summarize(decisions_log: list[dict], steps: int) -> dict:
    """Per-episode totals for the evaluation report, from the logged decisions (those with changes)."""
    by_check: Counter[str] = Counter()
    by_limit: Counter[str] = Counter()
    worst: dict[str, float] = {}
    for entry in decisions_log:
        for item in entry["interventions"]:
            by_check[item["check"]] += 1
            by_limit[item["limit"]] += 1
            excess = item.get("excess")
            if isinstance(excess, float):
                worst[item["limit"]] = max(worst.get(item["limit"], 0.0), excess)
    return {
        "steps": steps,
        "steps_changed": len(decisions_log),
        "steps_held": sum(1 for e in decisions_log if e["held"]),
        "interventions": sum(by_check.values()),
        "by_check": dict(by_check),
        "by_limit": dict(by_limit),
        "max_excess": worst,
    }
