"""The Meta-World evaluation protocol (shared/benchmarks/METAWORLD.md) and its arithmetic.

- 10 episodes per task, up to 500 steps, success = ``info["success"]`` at any step.
- Evaluation seeds: episode k of every task resets with seed ``EVAL_SEED_OFFSET + k``.
  Demonstrations use seeds from 0 upward (envs/collect.py) and never reach 100 000, and start
  positions are a continuous function of the seed, so no evaluation start repeats a demonstration's.
- Reported: success per task, per difficulty group, and Avg = the plain mean of the four group
  rates (how the published table computes it), plus mean episode length and policy latency.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from vlastack.envs.tasks import DIFFICULTY_GROUPS, group_of
from vlastack.errors import ConfigError

EVAL_SEED_OFFSET = 100_000
VALIDATION_SEED_OFFSET = 200_000
"""Seeds for choices (execution settings, checkpoints, hyper-parameters), so the reported rows on the
evaluation seeds are never tuned on; disjoint from demonstrations (0+) and evaluation (100000+)."""


LATENCY_BINS = 40
"""Bins of the policy-latency histogram kept in the summary."""


def eval_seed(episode: int, offset: int = EVAL_SEED_OFFSET) -> int:
    """Reset seed of evaluation episode ``episode`` (the same for every task)."""
    return offset + episode


@dataclass
class EpisodeResult:
    """One evaluation episode."""

    task: str
    seed: int
    success: bool
    steps: int
    latency_ms: list[float] = field(default_factory=list)
    """Milliseconds of each policy call (chunk inference), not of every control step."""
    error: str | None = None
    """Why the episode crashed (then it counts as a failure)."""
    safety: dict[str, Any] = field(default_factory=dict)
    """The safety layer's per-episode summary, when it ran."""
    instruction: str | None = None
    """The instruction in words the policy was given (None in logs written before it was recorded)."""
    safety_timeline: list[dict[str, Any]] = field(default_factory=list)
    """What the safety layer did and when: spans of consecutive steps (``evaluation.timeline``)."""
    limits: dict[str, Any] = field(default_factory=dict)
    """Where the arm went and the force it applied against the spec's limits, layer or not
    (``evaluation.limits.LimitAudit.summary``); empty for a crashed episode or an old log."""
    base_arm: dict[str, Any] = field(default_factory=dict)
    """The base-arm layer's counts when it ran (``EvalConfig.base_arm_layer``: ``BaseArmLayer.summary``): steps
    split, ``reach_limited_steps``, ``base_travel_m`` (base motion commanded, m); empty without it or in an old log."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "task": self.task,
            "seed": self.seed,
            "success": self.success,
            "steps": self.steps,
            "latency_ms_mean": float(np.mean(self.latency_ms)) if self.latency_ms else None,
            "error": self.error,
            "safety": self.safety,
            "instruction": self.instruction,
            "safety_timeline": self.safety_timeline,
            "limits": self.limits,
            "base_arm": self.base_arm,
        }


def summarize(results: list[EpisodeResult], tasks: list[str]) -> dict[str, Any]:
    """Per-task and per-group success, Avg over the groups present, lengths and latency."""
    if not results:
        raise ConfigError("no evaluation episodes to summarise")
    per_task: dict[str, dict[str, Any]] = {}
    for t in tasks:
        rs = [r for r in results if r.task == t]
        per_task[t] = {
            "group": group_of(t),
            "episodes": len(rs),
            "success": float(np.mean([r.success for r in rs])) if rs else 0.0,
            # Successes that stayed inside every limit of the spec (LimitAudit), the fair comparison for a
            # run without the layer; None when an episode was not audited (an old log, a crash).
            "success_within_limits": _within_rate(rs),
            "mean_length": float(np.mean([r.steps for r in rs])) if rs else 0.0,
            "crashed": [r.seed for r in rs if r.error],
            "errors": sorted({r.error for r in rs if r.error}),
            **_arm_arm_contacts(rs),
            **_layer_totals(rs),
            **_base_arm_means(rs),
        }
    groups: dict[str, float] = {}
    # The difficulty groups in the published order, then any other suite's group (robosuite's, long_horizon).
    for g in [*DIFFICULTY_GROUPS, *dict.fromkeys(v["group"] for v in per_task.values())]:
        rates = [v["success"] for v in per_task.values() if v["group"] == g]
        if rates and g not in groups:
            groups[g] = float(np.mean(rates))
    latencies = [ms for r in results for ms in r.latency_ms]
    counts, edges = np.histogram(latencies, bins=LATENCY_BINS) if latencies else (np.zeros(0), np.zeros(0))
    return {
        "per_task": per_task,
        "per_group": groups,
        # The published Avg is the mean of the four group rates; with fewer groups it is the mean of those present.
        "avg": float(np.mean(list(groups.values()))),
        "avg_over_groups": list(groups),
        "mean_success_over_tasks": float(np.mean([v["success"] for v in per_task.values()])),
        "mean_success_within_limits": _mean_or_none([v["success_within_limits"] for v in per_task.values()]),
        "episodes": len(results),
        "crashed_episodes": sum(1 for r in results if r.error),
        "mean_length": float(np.mean([r.steps for r in results])),
        "latency_ms": {
            "p50": float(np.percentile(latencies, 50)) if latencies else None,
            "p99": float(np.percentile(latencies, 99)) if latencies else None,
            "calls": len(latencies),
            # Kept so that a report rendered later from results.json alone can draw the distribution.
            "histogram": {"edges_ms": [float(e) for e in edges], "counts": [int(c) for c in counts]},
        },
    }


def _arm_arm_contacts(results: list[EpisodeResult]) -> dict[str, int]:
    """For a scene whose audit counted contacts between its robots (``LimitAudit``): the contacts summed over the
    task's episodes and steps, and the episodes with any; nothing for the others."""
    counted = [r.limits for r in results if "arm_arm_contacts" in r.limits]
    if not counted:
        return {}
    return {
        "arm_arm_contacts": int(sum(x["arm_arm_contacts"] for x in counted)),
        "episodes_with_arm_arm_contact": int(sum(x["arm_arm_contact_steps"] > 0 for x in counted)),
    }


def _layer_totals(results: list[EpisodeResult]) -> dict[str, Any]:
    """What the safety layer did over the task's episodes (each episode's ``safety`` summary, summed): steps it
    changed and held, its interventions, and those per limit (e.g. ``arm0.keep_out.min_distance_m``); nothing when
    no episode ran behind it (``--safety none``, crashes)."""
    ran = [r.safety for r in results if r.safety]
    if not ran:
        return {}
    by_limit: dict[str, int] = {}
    for s in ran:
        for limit, n in s.get("by_limit", {}).items():
            by_limit[limit] = by_limit.get(limit, 0) + int(n)
    out = {
        "safety_steps_changed": int(sum(s.get("steps_changed", 0) for s in ran)),
        "safety_steps_held": int(sum(s.get("steps_held", 0) for s in ran)),
        "safety_interventions": int(sum(s.get("interventions", 0) for s in ran)),
        "safety_by_limit": dict(sorted(by_limit.items())),
    }
    reviews = [s["chunk_review"] for s in ran if "chunk_review" in s]
    if reviews:  # the world-model guardrail ran (EvalConfig.guardrail)
        for k in ("chunks_reviewed", "chunks_flagged", "chunks_replaced", "chunks_held"):
            out[f"guardrail_{k}"] = int(sum(r[k] for r in reviews))
    return out


def _base_arm_means(results: list[EpisodeResult]) -> dict[str, Any]:
    """Over the task's episodes that ran under the base-arm layer: their count, the mean base travel commanded (m)
    and the mean steps the reach box bound the arm; nothing when none did."""
    ran = [r.base_arm for r in results if r.base_arm]
    if not ran:
        return {}
    return {
        "base_arm_episodes": len(ran),
        "base_travel_m_mean": float(np.mean([b["base_travel_m"] for b in ran])),
        "reach_limited_steps_mean": float(np.mean([b["reach_limited_steps"] for b in ran])),
    }


def _within_rate(results: list[EpisodeResult]) -> float | None:
    """The fraction of ``results`` that succeeded without crossing a limit; None if any was not audited."""
    if not results or any(not r.limits for r in results if not r.error):
        return None
    return float(np.mean([bool(r.success and r.limits.get("within", False)) for r in results]))


def _mean_or_none(rates: list[float | None]) -> float | None:
    return None if not rates or any(r is None for r in rates) else float(np.mean(rates))
