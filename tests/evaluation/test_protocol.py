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


def test_per_task_summary_sums_what_the_safety_layer_did_and_says_nothing_without_it():
    # The --json summary of a run behind the layer carries its interventions per task (a two-arm run: per arm's
    # keep-out); before, only each episode's record in results.json held them.
    def layer(changed, held, interventions, by_limit):
        return {"steps": 30, "steps_changed": changed, "steps_held": held, "interventions": interventions, "by_limit": by_limit}

    task = "rs-twoarmlift-panda"
    results = [
        EpisodeResult(
            task, eval_seed(0), False, 30, safety=layer(29, 0, 53, {"arm0.keep_out.min_distance_m": 29, "arm1.keep_out.min_distance_m": 24})
        ),
        EpisodeResult(
            task, eval_seed(1), True, 20, safety=layer(2, 1, 3, {"arm0.keep_out.min_distance_m": 1, "arm1.workspace.z_max_m": 2})
        ),
        EpisodeResult(task, eval_seed(2), False, 0, error="boom"),  # crashed: no layer summary
    ]
    per_task = summarize(results, [task])["per_task"][task]
    assert per_task["safety_steps_changed"] == 31 and per_task["safety_steps_held"] == 1 and per_task["safety_interventions"] == 56
    assert per_task["safety_by_limit"] == {
        "arm0.keep_out.min_distance_m": 30,
        "arm1.keep_out.min_distance_m": 24,
        "arm1.workspace.z_max_m": 2,
    }
    bare = summarize([EpisodeResult(task, eval_seed(0), True, 20)], [task])["per_task"][task]  # --safety none
    assert not any(k.startswith("safety_") for k in bare)
