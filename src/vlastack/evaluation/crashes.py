"""Crashed episodes made loud, so that a broken checkpoint never reads as a weak policy.

A crashed episode (the policy raised, the checkpoint did not load, a simulator worker died)
counts as a failure in the success table; without a loud signal a run where every episode
crashed looks like a policy with 0 % success.
"""

from __future__ import annotations

from collections import Counter

from vlastack.evaluation.protocol import EpisodeResult

CRASH_EXIT_CODE = 3
"""Exit status of ``vlastack eval --strict`` when any episode crashed (2 is a usage or input error)."""


def crash_summary(results: list[EpisodeResult]) -> str | None:
    """A multi-line message naming how many episodes crashed, where, and the first error; None if none did."""
    crashed = [r for r in results if r.error is not None]
    if not crashed:
        return None
    first = crashed[0]  # results are in the protocol's order (task position, then seed)
    per_task = Counter(r.task for r in crashed)
    where = ", ".join(f"{task} {n}" for task, n in per_task.items())
    distinct = len({r.error for r in crashed})
    return "\n".join(
        [
            "!" * 78,
            f"EVALUATION CRASHED: {len(crashed)} of {len(results)} episodes crashed ({where}).",
            "Crashed episodes count as failures, so the success rates do not measure the policy.",
            f"First error ({first.task}, seed {first.seed}): {first.error}",
            *([f"({distinct} distinct errors; every one is in results.json / episodes.jsonl under 'error')"] if distinct > 1 else []),
            "!" * 78,
        ]
    )
