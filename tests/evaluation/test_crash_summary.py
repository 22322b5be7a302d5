"""The crash summary ``vlastack eval`` prints on stderr: counts, where, and the first error."""

from __future__ import annotations

from vlastack.evaluation.crashes import crash_summary
from vlastack.evaluation.protocol import EpisodeResult, eval_seed


def test_no_crash_gives_no_summary():
    assert crash_summary([EpisodeResult("reach-v3", eval_seed(0), False, 500)]) is None


def test_summary_counts_crashes_per_task_and_names_the_first_error():
    results = [
        EpisodeResult("reach-v3", eval_seed(0), True, 40),
        EpisodeResult("reach-v3", eval_seed(1), False, 0, error="simulator worker crashed"),
        EpisodeResult("push-v3", eval_seed(0), False, 0, error="RuntimeError: bad weights"),
        EpisodeResult("push-v3", eval_seed(1), False, 0, error="RuntimeError: bad weights"),
    ]
    text = crash_summary(results)
    assert "3 of 4 episodes crashed (reach-v3 1, push-v3 2)" in text
    assert f"First error (reach-v3, seed {eval_seed(1)}): simulator worker crashed" in text
    assert "(2 distinct errors;" in text
