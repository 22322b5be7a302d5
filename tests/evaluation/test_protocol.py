"""The protocol's arithmetic: Avg is the plain mean of the group rates, seeds never meet demos'."""

from __future__ import annotations

import pytest

from vlastack.evaluation.protocol import EVAL_SEED_OFFSET, EpisodeResult, eval_seed, summarize


def test_avg_is_mean_of_group_rates_not_of_tasks():
    # easy: reach 100 %, drawer-open 0 %  -> 50 %; hard: push 100 %  -> Avg 75 %, task mean 66.7 %
    results = [
        EpisodeResult("reach-v3", eval_seed(0), True, 40, [1.0]),
        EpisodeResult("drawer-open-v3", eval_seed(0), False, 500, [3.0]),
        EpisodeResult("push-v3", eval_seed(0), True, 100, [2.0]),
    ]
    s = summarize(results, ["reach-v3", "drawer-open-v3", "push-v3"])
    assert s["per_group"] == {"easy": 0.5, "hard": 1.0}
    assert s["avg"] == pytest.approx(0.75)
    assert s["mean_success_over_tasks"] == pytest.approx(2 / 3)
    assert s["latency_ms"]["p50"] == pytest.approx(2.0) and s["mean_length"] == pytest.approx(640 / 3)


def test_crashed_episode_counts_as_failure_and_is_listed():
    results = [EpisodeResult("reach-v3", eval_seed(0), True, 40), EpisodeResult("reach-v3", eval_seed(1), False, 0, error="boom")]
    s = summarize(results, ["reach-v3"])
    assert s["per_task"]["reach-v3"]["success"] == 0.5
    assert s["per_task"]["reach-v3"]["crashed"] == [eval_seed(1)] and s["crashed_episodes"] == 1


def test_eval_seeds_are_far_from_demonstration_seeds():
    assert eval_seed(0) == EVAL_SEED_OFFSET >= 100_000
