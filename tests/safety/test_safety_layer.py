"""The layer's behaviour on chosen cases: each check's effect and its reason, fail-closed paths, the log."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from vlastack.safety import METAWORLD_SAWYER, SafetyLayer
from vlastack.safety.faults import with_keep_out
from vlastack.safety.interventions import BACKED_OFF, CLIPPED, HELD, REPEATED, SHORTENED
from vlastack.safety.spec import Box

DT = METAWORLD_SAWYER.control_period_s
STEP_M = METAWORLD_SAWYER.action.translation_scale_m  # metres per action unit per step
WS_LOW, WS_HIGH = METAWORLD_SAWYER.workspace.low, METAWORLD_SAWYER.workspace.high
HOME = np.array([0.0, 0.6, 0.2, 1.0], dtype=np.float32)
#: The preset judged by the measured position only (the rules before target tracking), for the cases about those rules.
MEASURED_ONLY = dataclasses.replace(METAWORLD_SAWYER, tracking=None)


def act(*xs: float) -> np.ndarray:
    return np.array(xs, dtype=np.float32)


def state(x: float, y: float, z: float) -> np.ndarray:
    return np.array([x, y, z, 1.0], dtype=np.float32)


def test_a_safe_action_passes_untouched():
    layer = SafetyLayer(METAWORLD_SAWYER)
    d = layer.filter(act(0.3, -0.2, 0.1, -1.0), HOME, None, 0.0)
    assert np.array_equal(d.action, act(0.3, -0.2, 0.1, -1.0))
    assert d.interventions == [] and not d.held and layer.log == []


def test_nan_is_replaced_by_the_hold_which_keeps_the_gripper():
    layer = SafetyLayer(METAWORLD_SAWYER)
    layer.filter(act(0.1, 0, 0, 0.7), HOME, None, 0.0)
    d = layer.filter(act(np.nan, 0, 0, -1), HOME, None, DT)
    assert np.array_equal(d.action, act(0, 0, 0, 0.7)) and d.held
    assert d.interventions[0].limit == "action.finite" and "holding" in d.reasons[0]


def test_saturation_is_clipped_and_explained_never_held():
    """What the flow policy really emits (issue 18): a first reach step of dy 1.035, gripper efforts of 1.2+."""
    layer = SafetyLayer(METAWORLD_SAWYER)
    d = layer.filter(act(0.0, 1.035, 0.0, 1.27), HOME, None, 0.0)
    assert not d.held and d.action[1] == 1.0 and d.action[3] == 1.0 and d.action[0] == 0.0
    assert [(i.limit, i.effect) for i in d.interventions] == [("action.high[1]", CLIPPED), ("action.high[3]", CLIPPED)]
    assert d.interventions[1].excess == pytest.approx(0.27, abs=1e-6) and "saturation" in d.reasons[1]
    d = layer.filter(act(-50.0, 0.2, 0.0, -3.0), HOME, None, DT)  # far out is still a finite, readable intent
    assert not d.held and d.action[0] < 0 and d.action[1] > 0 and d.action[3] == -1.0
    assert {i.limit for i in d.interventions if i.effect == CLIPPED} == {"action.low[0]", "action.low[3]"}


def test_only_invalid_actions_are_held():
    layer = SafetyLayer(METAWORLD_SAWYER)
    for i, bad in enumerate([act(0.1, np.inf, 0, 0), act(0.1, 0, 0), "left", [0.1, "x", 0, 0]]):
        d = layer.filter(bad, HOME, None, i * DT)
        assert d.held and np.all(d.action[:3] == 0)
        assert d.interventions[0].limit in ("action.finite", "action.shape")


def test_workspace_shortens_the_motion_to_the_wall_and_says_by_how_much():
    layer = SafetyLayer(MEASURED_ONLY)
    floor = WS_LOW[2]
    d = layer.filter(act(0, 0, -1.0, 0), state(0.0, 0.6, floor + 0.005), None, 0.0)
    z_next = floor + 0.005 + float(d.action[2]) * STEP_M
    assert z_next == pytest.approx(floor, abs=1e-5) and z_next >= floor
    (item,) = d.interventions
    assert item.check == "workspace" and item.limit == "workspace.low[2]" and item.effect == SHORTENED
    assert item.value == pytest.approx(floor - 0.005) and item.bound == floor and item.excess == pytest.approx(0.005)
    assert "0.0050 m" in item.message


def test_at_a_workspace_wall_the_arm_slides_along_it():
    """Pushing diagonally into the -x wall: x stops at the wall, y and z keep their full motion (the
    rule on the measured position; this kinematic hand goes past the controller's clip at x -0.5,
    which the tracking rules know a real target cannot)."""
    layer = SafetyLayer(MEASURED_ONLY)
    p = np.array([WS_LOW[0] + 0.003, 0.5, 0.15])
    for i in range(30):
        a = layer.filter(act(-0.6, 0.6, 0.3, 0.0), np.r_[p, 1.0], None, i * DT).action
        assert a[1] == pytest.approx(0.6) and a[2] == pytest.approx(0.3)  # the along-wall motion is untouched
        p = p + a[:3].astype(np.float64) * STEP_M
        assert p[0] >= WS_LOW[0]
    assert p[0] == pytest.approx(WS_LOW[0], abs=1e-5)
    assert p[1] == pytest.approx(0.5 + 30 * 0.6 * STEP_M, abs=1e-6)  # slid 18 cm along the wall


def test_outside_the_workspace_moving_back_in_is_allowed_further_out_is_not():
    layer = SafetyLayer(METAWORLD_SAWYER)
    below = state(0.0, 0.6, WS_LOW[2] - 0.01)
    assert layer.filter(act(0, 0, 0.5, 0), below, None, 0.0).action[2] == pytest.approx(0.5)
    d = layer.filter(act(0.4, 0, -0.5, 0), below, None, DT)
    # never further out; the target, now above the settled hand, is even moved back in
    assert d.action[2] >= 0.0 and d.action[0] == pytest.approx(0.4) and not d.held


def test_keep_out_box_across_the_path_makes_the_arm_slide_along_it():
    person = Box((-0.1, 0.65, 0.0), (0.1, 0.75, 0.5), name="person")
    layer = SafetyLayer(with_keep_out(MEASURED_ONLY, person))
    d = layer.filter(act(0.3, 1.0, 0.0, 0), state(0.0, 0.645, 0.2), None, 0.0)
    assert 0.645 + d.action[1] * 0.01 < 0.65  # stops short of the -y face
    assert d.action[0] == pytest.approx(0.3)  # and still moves sideways
    assert d.interventions[0].check == "keep_out" and "'person'" in d.reasons[0] and "-y face" in d.reasons[0]


def test_inside_a_keep_out_box_the_arm_can_only_back_out():
    person = Box((-0.1, 0.65, 0.0), (0.1, 0.75, 0.5), name="person")
    layer = SafetyLayer(with_keep_out(METAWORLD_SAWYER, person))
    inside = state(0.0, 0.66, 0.2)  # 1 cm past the -y face, its nearest
    d = layer.filter(act(0.3, -0.8, 0.4, 0.5), inside, None, 0.0)
    assert not d.held and np.array_equal(d.action, act(0.0, -0.8, 0.0, 0.5))  # straight out through -y only
    assert d.interventions[0].check == "keep_out" and "-y" in d.reasons[0] and d.interventions[0].value == pytest.approx(0.01, abs=1e-6)
    d = layer.filter(act(0.3, 0.8, 0.0, 0.5), inside, None, DT)  # deeper in: no translation at all
    assert np.all(d.action[:3] == 0)
    p = np.array([0.0, 0.66, 0.2])  # and out it goes, step by step
    for i in range(2, 12):
        a = layer.filter(act(0.5, -0.8, 0.0, 0.0), np.r_[p, 1.0], None, i * DT).action
        p = p + a[:3].astype(np.float64) * STEP_M
    assert p[1] < 0.65


def test_speed_and_acceleration_scale_the_whole_motion():
    layer = SafetyLayer(METAWORLD_SAWYER)
    d = layer.filter(act(1, 1, 1, 0), HOME, None, 0.0)
    v = d.action[:3].astype(np.float64) * 0.01 / DT
    assert np.linalg.norm(v) <= 1.2 + 1e-9
    assert np.allclose(d.action[0], d.action[1]) and np.allclose(d.action[1], d.action[2])  # direction kept
    assert {i.limit for i in d.interventions} == {"motion.max_speed_m_s", "motion.max_accel_m_s2"}


def test_jerk_limit_binds_on_a_sudden_reversal():
    spec = dataclasses.replace(METAWORLD_SAWYER, motion=dataclasses.replace(METAWORLD_SAWYER.motion, max_jerk_m_s3=8000.0))
    layer = SafetyLayer(spec)
    for i in range(3):
        layer.filter(act(0.9, 0, 0, 0), HOME, None, i * DT)
    d = layer.filter(act(-0.9, 0, 0, 0), HOME, None, 3 * DT)
    assert "motion.max_jerk_m_s3" in {i.limit for i in d.interventions}
    assert d.action[0] <= 0  # shortened towards zero, never reversed


def test_watchdog_repeats_then_holds():
    layer = SafetyLayer(METAWORLD_SAWYER)  # watchdog_s = 0.05
    layer.filter(act(0.5, 0, 0, 0.2), HOME, None, 0.0)
    effects = []
    for i in range(1, 7):
        d = layer.filter(None, HOME, None, i * DT)
        effects.append(d.interventions[0].effect)
        if d.interventions[0].effect == REPEATED:
            assert d.action[0] == pytest.approx(0.5)
        else:
            assert d.held and np.all(d.action[:3] == 0) and d.action[3] == pytest.approx(0.2)
    assert effects == [REPEATED] * 4 + [HELD] * 2


def test_no_action_at_the_start_is_a_hold():
    d = SafetyLayer(METAWORLD_SAWYER).filter(None, HOME, None, 0.0)
    assert d.held and np.array_equal(d.action, act(0, 0, 0, -1))  # initial gripper command: open


def test_grip_force_above_the_limit_backs_off_and_never_closes_further():
    layer = SafetyLayer(METAWORLD_SAWYER)
    layer.filter(act(0, 0, 0, 0.8), HOME, np.array([10.0, 10.0]), 0.0)
    d = layer.filter(act(0, 0, 0, 1.0), HOME, np.array([1600.0, 1000.0]), DT)
    assert d.action[3] == pytest.approx(0.8 - 0.001 * 100)
    assert d.interventions[0].limit == "gripper.max_force_n" and d.interventions[0].excess == pytest.approx(100.0)


def test_unreadable_state_means_no_motion():
    layer = SafetyLayer(METAWORLD_SAWYER)
    for bad in (None, np.array([np.nan, 0.6, 0.2, 1.0]), np.zeros(2), "here"):
        d = layer.filter(act(0.5, 0.5, 0, 0), bad, None, 0.0)
        assert np.all(d.action[:3] == 0) and d.held


class Exploding:
    name = "world_model"

    def apply(self, command, ctx):
        raise RuntimeError("model not loaded")


def test_a_check_that_raises_makes_the_layer_hold_and_say_why():
    layer = SafetyLayer(METAWORLD_SAWYER, extra_checks=[Exploding()])
    d = layer.filter(act(0.5, 0, 0, 0), HOME, None, 0.0)
    assert d.held and np.all(d.action[:3] == 0)
    assert "world_model" in d.reasons[0] and "model not loaded" in d.reasons[0]


def test_garbage_time_and_proposals_never_raise():
    layer = SafetyLayer(METAWORLD_SAWYER)
    for proposal, now in [(object(), 0.0), ("go", 0.1), (act(0.1, 0, 0, 0), "noon"), (act(0.1, 0, 0, 0), float("nan"))]:
        d = layer.filter(proposal, HOME, None, now)
        assert np.all(np.isfinite(d.action)) and d.held


def test_log_is_json_and_the_summary_counts_per_check():
    layer = SafetyLayer(METAWORLD_SAWYER)
    layer.filter(act(np.nan, 0, 0, 0), HOME, None, 0.0)
    layer.filter(act(0, 0, -1, 0), state(0, 0.6, WS_LOW[2] + 0.005), None, DT)  # the target starts at HOME: 1 change
    layer.filter(act(0.1, 0, 0, 0), HOME, None, 2 * DT)
    json.dumps(layer.log, allow_nan=False)
    s = layer.summary()
    assert s["steps"] == 3 and s["steps_changed"] == 2 and s["steps_held"] == 1
    assert s["by_check"] == {"validity": 1, "workspace": 1}
    assert s["max_excess"]["workspace.low[2]"] == pytest.approx(0.005, abs=1e-6)
    layer.reset()
    assert layer.log == [] and layer.steps == 0


def test_a_frozen_clock_is_a_stall_and_holds():
    layer = SafetyLayer(METAWORLD_SAWYER)
    layer.filter(act(0.5, 0, 0, 0.2), HOME, None, 1.0)
    for _ in range(3):  # fresh actions, but time stands still
        d = layer.filter(act(0.5, 0, 0, 0.2), HOME, None, 1.0)
        assert d.held and np.array_equal(d.action, act(0, 0, 0, 0.2))
        assert d.interventions[0].check == "watchdog" and d.interventions[0].limit == "clock"
        assert "did not advance" in d.reasons[0]
    d = layer.filter(act(0.5, 0, 0, 0.2), HOME, None, 1.0 + DT)  # the clock moves again: so does the arm
    assert not d.held and d.action[0] == pytest.approx(0.5)


def test_a_clock_that_goes_back_holds_until_it_passes_the_latest_time():
    layer = SafetyLayer(METAWORLD_SAWYER)
    layer.filter(act(0.5, 0, 0, 0), HOME, None, 2.0)
    d = layer.filter(act(0.5, 0, 0, 0), HOME, None, 1.0)
    assert d.held and d.interventions[0].limit == "clock" and "went back by 1 s" in d.reasons[0]
    assert d.interventions[0].value == 1.0 and d.interventions[0].bound == 2.0
    assert layer.filter(act(0.5, 0, 0, 0), HOME, None, 1.5).held  # advancing, but still before 2.0
    assert not layer.filter(act(0.5, 0, 0, 0), HOME, None, 2.0 + DT).held


def test_a_stale_action_is_not_repeated_across_a_backwards_clock():
    """Going back must not make the last fresh action look young: the hold wins, then the deadline."""
    layer = SafetyLayer(METAWORLD_SAWYER)
    layer.filter(act(0.5, 0, 0, 0), HOME, None, 10.0)
    assert layer.filter(None, HOME, None, 0.0).held
    d = layer.filter(None, HOME, None, 10.0 + 4 * METAWORLD_SAWYER.watchdog_s)
    assert d.held and d.interventions[0].limit == "watchdog_s"


def test_without_a_time_the_layer_counts_control_periods_itself():
    layer = SafetyLayer(METAWORLD_SAWYER)
    decisions = [layer.filter(act(0.2, 0, 0, 0), HOME) for _ in range(5)]
    assert [d.time_s for d in decisions] == pytest.approx([i * DT for i in range(5)])
    assert not any(d.held for d in decisions)


def test_the_controllers_target_stops_the_margin_short_of_the_wall_even_if_the_hand_lags():
    """The hand stuck where it is (the worst lag): the layer still stops the *target*, which the hand will reach."""
    spec = dataclasses.replace(METAWORLD_SAWYER, tracking=dataclasses.replace(METAWORLD_SAWYER.tracking, max_lead_m=None))
    layer = SafetyLayer(spec)
    margin = spec.tracking.margin_m
    sent = [layer.filter(act(0, 0, -1.0, 0), HOME, None, i * DT).action[2] for i in range(40)]
    target_z = 0.2 + sum(float(a) for a in sent) * STEP_M
    assert target_z == pytest.approx(WS_LOW[2] + margin, abs=1e-5) and target_z >= WS_LOW[2] + margin - 1e-9
    assert "controller's target" in layer.log[-1]["interventions"][0]["message"]


def test_keep_out_is_judged_by_where_the_target_will_be_not_where_the_hand_is():
    box = Box((-0.1, 0.65, 0.0), (0.1, 0.75, 0.5), name="fixture")
    no_lead_limit = dataclasses.replace(METAWORLD_SAWYER, tracking=dataclasses.replace(METAWORLD_SAWYER.tracking, max_lead_m=None))
    layer = SafetyLayer(with_keep_out(no_lead_limit, box))
    margin = METAWORLD_SAWYER.tracking.margin_m
    sent = [layer.filter(act(0.0, 1.0, 0.0, 0), HOME, None, i * DT).action[1] for i in range(20)]  # hand left at y = 0.6
    target_y = 0.6 + sum(float(a) for a in sent) * STEP_M
    # the hand trails the target by (target_y - 0.6): the target stops short by the margin plus about that
    assert target_y < 0.65 - margin - (target_y - 0.6) + STEP_M and target_y > 0.61


def test_uncertain_controller_clipping_keeps_the_target_as_an_interval_and_stays_clear_of_both_ends():
    """Pushed down where the controller may clip its target at z 0.066 or not at all, then up at a box:
    the layer cannot know which, so it keeps both ends away from the box."""
    tracking = dataclasses.replace(METAWORLD_SAWYER.tracking, max_lead_m=None)
    box = Box((-0.1, 0.5, 0.2), (0.1, 0.7, 0.3), name="shelf")
    layer = SafetyLayer(with_keep_out(dataclasses.replace(METAWORLD_SAWYER, tracking=tracking), box))
    hand = state(0.0, 0.6, 0.1)  # the hand is held still: only the target moves
    down = [layer.filter(act(0, 0, -1.0, 0), hand, None, i * DT).action[2] for i in range(20)]
    lowest = 0.1 + sum(float(a) for a in down) * STEP_M
    assert lowest == pytest.approx(WS_LOW[2] + tracking.margin_m, abs=1e-5)  # if the controller does not clip
    # if it does clip at z = 0.066, the target is at 0.066; the higher end must stay the margin below the box
    up = [layer.filter(act(0, 0, 1.0, 0), hand, None, (20 + i) * DT).action[2] for i in range(40)]
    highest_end = max(lowest, tracking.clip_inner.low[2]) + sum(float(a) for a in up) * STEP_M
    assert 0.12 < highest_end <= 0.2 - tracking.margin_m + 1e-9  # (and further off by the hand's lag)


def test_the_preset_lets_the_target_press_into_the_table_but_not_past_the_floor_margin():
    """Meta-World's experts press the target into the table to make contact force: the preset's floor
    is the table top, so a hand the table holds up at z 0.045 may press its target 3.9 cm down, no further."""
    layer = SafetyLayer(METAWORLD_SAWYER)
    resting = state(0.0, 0.6, 0.045)
    sent = [layer.filter(act(0, 0, -0.5, 0), resting, None, i * DT).action[2] for i in range(12)]
    assert all(a == pytest.approx(-0.5) for a in sent[:7])  # 3.5 cm down, untouched
    target_z = 0.045 + sum(float(a) for a in sent) * STEP_M
    assert target_z == pytest.approx(WS_LOW[2] + METAWORLD_SAWYER.tracking.margin_m, abs=1e-5)
    assert "controller's target" in layer.log[-1]["interventions"][0]["message"]


def test_the_target_may_not_run_further_than_max_lead_ahead_of_the_hand():
    lead = 0.05
    layer = SafetyLayer(dataclasses.replace(METAWORLD_SAWYER, tracking=dataclasses.replace(METAWORLD_SAWYER.tracking, max_lead_m=lead)))
    sent = [layer.filter(act(1.0, 0, 0, 0), HOME, None, i * DT).action[0] for i in range(12)]  # the hand stays put
    target_x = sum(float(a) for a in sent) * STEP_M
    assert target_x == pytest.approx(lead, abs=1e-5)
    assert layer.log[-1]["interventions"][-1]["limit"] == "tracking.max_lead_m"
    back = layer.filter(act(-1.0, 0, 0, 0), HOME, None, 12 * DT)  # closing the gap is always allowed
    assert back.action[0] == pytest.approx(-1.0)


def test_near_a_slow_face_the_speed_is_capped_in_proportion_to_the_distance():
    t = METAWORLD_SAWYER.tracking
    assert "z+" in t.slow_faces and "z-" not in t.slow_faces  # the table: the experts work right above it
    fast = act(1.0, 0.0, 0.0, 0)  # 0.8 m/s sideways
    far = SafetyLayer(METAWORLD_SAWYER).filter(fast, state(0.0, 0.6, 0.2), None, 0.0)
    assert far.action[0] == pytest.approx(1.0)
    gap = t.slow_within_m / 4  # a quarter of the slowing distance below the top wall
    near = SafetyLayer(METAWORLD_SAWYER).filter(fast, state(0.0, 0.6, WS_HIGH[2] - gap), None, 0.0)
    cap = t.slow_speed_m_s + (METAWORLD_SAWYER.motion.max_speed_m_s - t.slow_speed_m_s) / 4
    assert near.action[0] * STEP_M / DT == pytest.approx(cap, rel=1e-4)
    assert near.interventions[0].limit == "tracking.slow_within_m"
    low = SafetyLayer(METAWORLD_SAWYER).filter(fast, state(0.0, 0.6, WS_LOW[2] + 0.04), None, 0.0)
    assert low.action[0] == pytest.approx(1.0)  # the floor is not a slow face
    below_top = state(0.0, 0.6, WS_HIGH[2] - gap)
    down = SafetyLayer(METAWORLD_SAWYER).filter(act(0.5, 0.0, -1.0, 0), below_top, None, 0.0)
    assert down.action[:3] == pytest.approx([0.5, 0.0, -1.0]) and not down.interventions  # leaving the wall: no cap
    across = SafetyLayer(METAWORLD_SAWYER).filter(act(1.0, 0.0, -0.5, 0), below_top, None, 0.0)
    assert across.interventions[0].limit == "tracking.slow_within_m"  # mostly along the wall: still capped
    assert np.linalg.norm(across.action[:3]) * STEP_M / DT == pytest.approx(cap, rel=1e-4)


def test_a_hand_riding_beyond_its_target_near_a_wall_has_the_target_pulled_back_in():
    """Near the edge of its reach the hand can sit centimetres above its target: the layer moves the target down."""
    layer = SafetyLayer(METAWORLD_SAWYER)
    layer.filter(act(0, 0, 0, 0), state(0.0, 0.8, 0.46), None, 0.0)  # the target is taken to be here
    high = state(0.0, 0.8, WS_HIGH[2] + 0.01)  # the hand settles 3 cm above it
    layer.filter(act(0, 0, 0, 0), high, None, DT)
    d = layer.filter(act(0.2, 0, 0.5, 0), high, None, 2 * DT)
    assert d.action[2] < 0 and d.action[0] == 0  # pulled down; 3 cm off it, sideways motion waits (it carries the hand up)
    assert "sideways motion stopped" in d.interventions[-1].message
    layer = SafetyLayer(METAWORLD_SAWYER)
    layer.filter(act(0, 0, 0, 0), state(0.0, 0.8, 0.46), None, 0.0)
    close = state(0.0, 0.8, 0.475)  # 1.5 cm above its target: within RIDING_M
    layer.filter(act(0, 0, 0, 0), close, None, DT)
    d = layer.filter(act(0.2, 0, 0.5, 0), close, None, 2 * DT)
    assert d.action[2] < 0 and d.action[0] > 0  # pulled down, the sideways motion kept (slowed near the wall)


def test_the_target_may_not_round_a_corner_the_trailing_hand_would_cut():
    """The hand lags 1 cm behind its target inside the box's x range; the target, just off the +x
    face, may not slide into the box's y range: the hand following it would enter the box."""
    box = Box((0.15, 0.70, 0.10), (0.25, 0.80, 0.20), name="corner")
    layer = SafetyLayer(with_keep_out(METAWORLD_SAWYER, box))
    layer.filter(act(0, 0, 0, 0), state(0.262, 0.69, 0.15), None, 0.0)  # the target is taken to be here
    d = layer.filter(act(0.0, 1.0, 0.0, 0), state(0.245, 0.69, 0.15), None, DT)  # the hand in the box's x range
    assert 0.69 + d.action[1] * STEP_M < 0.70 - METAWORLD_SAWYER.tracking.margin_m + 1e-9


def test_a_hand_drifting_further_beyond_its_target_near_a_wall_has_the_target_pulled_back_in():
    """Measured in the fuzzed streams: at the top of the reach the hand rises off its target while the target
    moves sideways (not settled, so the settled-offset rule missed it: 11 mm past the z-high wall)."""
    layer = SafetyLayer(METAWORLD_SAWYER)
    layer.filter(act(0, 0, 0, 0), state(0.0, 0.8, 0.465), None, 0.0)  # the target is taken to be here
    layer.filter(act(0, 0, 0, 0), state(0.0, 0.8, 0.469), None, DT)
    d = layer.filter(act(0, -0.3, 0, 0), state(0.0, 0.8, 0.471), None, 2 * DT)  # rising at 0.16 m/s, 6 mm above it
    assert d.action[2] < 0 and d.action[1] < 0  # pulled down, the sideways motion kept
    assert any(i.limit == "workspace.high[2]" and "controller's target" in i.message for i in d.interventions)
    closing = SafetyLayer(METAWORLD_SAWYER)  # the same offset, but the hand is coming down to its target: a lag
    closing.filter(act(0, 0, 0, 0), state(0.0, 0.8, 0.465), None, 0.0)
    closing.filter(act(0, 0, 0, 0), state(0.0, 0.8, 0.475), None, DT)
    d = closing.filter(act(0, -0.3, 0, 0), state(0.0, 0.8, 0.471), None, 2 * DT)
    assert d.action[2] == 0.0 and d.action[1] < 0


def test_a_hand_drifting_towards_a_keep_out_face_has_its_target_pushed_away():
    """Measured in the fuzzed streams: sliding fast in y along the +x face of a box, the hand drifts 1-2 cm
    in -x off its target and into the box while the target slides along outside it."""
    box = Box((0.15, 0.70, 0.10), (0.25, 0.80, 0.20), name="fixture")
    layer = SafetyLayer(with_keep_out(METAWORLD_SAWYER, box))
    layer.filter(act(0, 0, 0, 0), state(0.265, 0.70, 0.15), None, 0.0)  # the target is taken to be here
    layer.filter(act(0, 0, 0, 0), state(0.258, 0.71, 0.15), None, DT)
    d = layer.filter(act(0, 0.75, 0, 0), state(0.256, 0.72, 0.15), None, 2 * DT)  # 6 mm off the face, drifting in
    assert d.action[0] > 0 and d.action[1] > 0  # pushed out in x, still sliding along in y
    (item,) = [i for i in d.interventions if i.check == "keep_out"]
    assert item.effect == BACKED_OFF and item.limit == "keep_out[0]" and item.value == pytest.approx(0.006, abs=1e-6)
    away = SafetyLayer(with_keep_out(METAWORLD_SAWYER, box))  # the same place, the hand moving away from the box
    away.filter(act(0, 0, 0, 0), state(0.265, 0.70, 0.15), None, 0.0)
    away.filter(act(0, 0, 0, 0), state(0.254, 0.71, 0.15), None, DT)
    d = away.filter(act(0, 0.75, 0, 0), state(0.256, 0.72, 0.15), None, 2 * DT)
    assert d.action[0] == 0.0 and d.action[1] > 0


def test_the_lead_bound_does_not_cancel_the_pull_in_from_a_wall():
    """A hand 1.5 cm above its target at the z-high wall, the target already as far ahead as the bound allows:
    the pull-in moves the target further from the hand on purpose and must survive the lead bound
    (scaled away, the hand crept 3.2 mm past the wall in the fuzzed streams). 1.5 cm: within RIDING_M,
    so sideways motion is still allowed and the lead bound has something to bound."""
    lead = 0.015
    spec = dataclasses.replace(METAWORLD_SAWYER, tracking=dataclasses.replace(METAWORLD_SAWYER.tracking, max_lead_m=lead))
    layer = SafetyLayer(spec)
    for i in range(20):  # the hand held at z 0.474 while its target goes down as far as the bound allows
        layer.filter(act(0, 0, -1.0, 0), state(0.0, 0.8, 0.474), None, i * DT)
    target_z = layer._memory.target_hi[2]
    assert 0.474 - target_z == pytest.approx(lead, abs=1e-3)
    d = layer.filter(act(0.3, 0, 0, 0), state(0.0, 0.8, 0.475), None, 20 * DT)  # rising off it, at the wall margin
    assert not d.held and d.action[2] < 0  # pulled in although that takes the target further from the hand
    assert abs(d.action[0]) < 0.3  # the sideways part, which is no correction, is still bounded
    assert any(i.limit == "tracking.max_lead_m" and "kept" in i.message for i in d.interventions)
