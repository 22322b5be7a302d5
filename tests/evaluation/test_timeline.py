"""The safety timeline: consecutive steps of one check doing one thing become one span."""

from __future__ import annotations

from vlastack.evaluation.timeline import safety_timeline


def _entry(step: int, *items: tuple[str, str, str, object]) -> dict:
    return {
        "step": step,
        "held": False,
        "interventions": [{"check": c, "limit": lim, "effect": e, "message": f"{c} at {step}", "excess": x} for c, lim, e, x in items],
    }


def test_consecutive_steps_merge_and_a_gap_or_another_check_starts_a_new_span():
    speed = ("motion", "motion.max_speed_m_s", "shortened")
    log = [
        _entry(3, (*speed, 0.1)),
        _entry(4, (*speed, 0.3), ("workspace", "workspace.low[2]", "held", "nan")),
        _entry(5, (*speed, 0.2)),
        _entry(9, (*speed, 0.05)),
    ]
    spans = safety_timeline(log)
    assert [(s["start_step"], s["end_step"], s["steps"], s["check"], s["effect"]) for s in spans] == [
        (3, 5, 3, "motion", "shortened"),
        (4, 4, 1, "workspace", "held"),
        (9, 9, 1, "motion", "shortened"),
    ]
    assert spans[0]["message"] == "motion at 3" and spans[0]["max_excess"] == 0.3
    assert spans[1]["max_excess"] is None  # the log writes NaN as a string: no number to report


def test_two_limits_of_one_check_on_one_step_are_two_spans_and_the_count_is_capped():
    log = [
        _entry(s, ("motion", "motion.max_speed_m_s", "shortened", 1.0), ("motion", "motion.max_accel_m_s2", "shortened", 2.0))
        for s in (0, 1)
    ]
    assert [(s["limit"], s["steps"]) for s in safety_timeline(log)] == [("motion.max_accel_m_s2", 2), ("motion.max_speed_m_s", 2)]
    many = [_entry(2 * s, ("motion", "motion.max_speed_m_s", "shortened", 1.0)) for s in range(50)]  # every other step: 50 spans
    assert len(safety_timeline(many, max_spans=10)) == 10 and safety_timeline([]) == []
