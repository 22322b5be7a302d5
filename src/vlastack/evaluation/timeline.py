"""An episode's safety interventions as a timeline: when, which check, what it did, why.

The safety layer logs one entry per step it changed (``SafetyLayer.log``). A policy that keeps
proposing too fast a motion is shortened on dozens of consecutive steps, and listing each would
bury the one hold that matters; so consecutive steps on which the same check did the same thing to
the same limit become one span, with the reason of its first step and the worst excess over it.
"""

from __future__ import annotations

import math
from typing import Any

MAX_SPANS = 100
"""Spans kept per episode (in step order), so a layer that fights the policy all episode long cannot
bloat results.json; the episode's ``safety`` totals still count every intervention."""


def safety_timeline(log: list[dict[str, Any]], max_spans: int = MAX_SPANS) -> list[dict[str, Any]]:
    """Spans ``{start_step, end_step, steps, check, limit, effect, message, max_excess, unit}`` from a layer's log.

    ``log`` holds ``SafetyDecision.to_dict()`` entries (a ``step`` and its ``interventions``), in step order.
    """
    open_spans: dict[tuple[str, str, str], dict[str, Any]] = {}
    closed: list[dict[str, Any]] = []
    for entry in log:
        step = int(entry["step"])
        for item in entry["interventions"]:
            key = (str(item["check"]), str(item["limit"]), str(item["effect"]))
            span = open_spans.get(key)
            if span is not None and span["end_step"] >= step - 1:  # same step or the next one: the span goes on
                span["steps"] += step != span["end_step"]
                span["end_step"] = step
                span["max_excess"] = _worst(span["max_excess"], item.get("excess"))
                continue
            if span is not None:
                closed.append(span)
            open_spans[key] = {
                "start_step": step,
                "end_step": step,
                "steps": 1,
                "check": key[0],
                "limit": key[1],
                "effect": key[2],
                "message": str(item.get("message", "")),
                "max_excess": _worst(None, item.get("excess")),
                "unit": str(item.get("unit", "")),
            }
    closed.extend(open_spans.values())
    closed.sort(key=lambda s: (s["start_step"], s["check"], s["limit"]))
    return closed[:max_spans]


def _worst(current: float | None, excess: object) -> float | None:
    """The larger of two excesses; non-numbers (the log writes NaN as a string) are ignored."""
    if not isinstance(excess, (int, float)) or not math.isfinite(excess):
        return current
    return float(excess) if current is None else max(current, float(excess))
