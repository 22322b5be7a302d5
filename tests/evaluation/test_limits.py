"""LimitAudit judges an episode by the measured hand and forces, whether or not the layer ran."""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np

from vlastack.evaluation.limits import LimitAudit
from vlastack.evaluation.protocol import EpisodeResult, summarize
from vlastack.safety.loading import load_spec
from vlastack.safety.spec import Box

SPEC = load_spec("metaworld_sawyer")


class Scripted:
    """An environment whose observations are given in advance (state = hand position, then zeros)."""

    instruction = "scripted"

    def __init__(self, readings):
        self.readings = readings

    def reset(self, seed=None):
        self.i = 0
        return self._obs(0), {}

    def step(self, action):
        self.i += 1
        return self._obs(self.i), 0.0, False, False, {"success": False}

    def _obs(self, i):
        p, contact, touch = self.readings[min(i, len(self.readings) - 1)]
        return SimpleNamespace(state=np.array([*p, 0.0]), arm_contact=np.array(contact), touch=np.array(touch))


def run(readings, spec=SPEC):
    audit = LimitAudit(Scripted(readings), spec)
    audit.reset(seed=0)
    for _ in range(len(readings) - 1):
        audit.step(np.zeros(4))
    return audit.summary()


def test_inside_every_limit_is_within():
    s = run([((0.0, 0.6, 0.2), (0, 0, 0), (0, 0))] * 3 + [((0.0, 0.6, 0.2), (500, 0, 0), (800, 100))])
    assert s["within"] and s["steps_over"] == {}
    assert s["peak_arm_contact_n"] == 500 and s["peak_finger_n"] == 800 and s["max_beyond_workspace_mm"] == 0


def test_force_and_position_crossings_are_counted():
    hi = SPEC.workspace.high
    readings = [
        ((0.0, 0.6, 0.2), (0, 0, 0), (0, 0)),
        ((0.0, 0.6, 0.2), (0, 600, 800), (0, 0)),  # 1,000 N on the arm, over 900
        ((0.0, 0.6, 0.2), (0, 0, 0), (1600, 0)),  # a finger at 1,600 N, over 1,500
        ((hi[0] + 0.001, 0.6, 0.2), (0, 0, 0), (0, 0)),  # 1 mm past the wall: inside the 2 mm tolerance
        ((hi[0] + 0.005, 0.6, 0.2), (0, 0, 0), (0, 0)),  # 5 mm past it
    ]
    s = run(readings)
    assert not s["within"]
    assert s["steps_over"] == {"contact.max_force_n": 1, "gripper.max_force_n": 1, "workspace": 1}
    assert abs(s["peak_arm_contact_n"] - 1000) < 1e-9 and abs(s["max_beyond_workspace_mm"] - 5.0) < 1e-6


def test_keep_out_depth_is_the_way_out():
    import dataclasses

    spec = dataclasses.replace(SPEC, keep_out=(Box(low=(0.1, 0.5, 0.1), high=(0.3, 0.7, 0.3), name="zone"),))
    s = run([((0.0, 0.6, 0.2), (0, 0, 0), (0, 0)), ((0.105, 0.6, 0.2), (0, 0, 0), (0, 0))], spec)
    assert abs(s["max_inside_keep_out_mm"] - 5.0) < 1e-6 and s["steps_over"] == {"keep_out": 1}


def test_reset_clears_and_attributes_pass_through():
    audit = LimitAudit(Scripted([((0.0, 0.6, 0.2), (0, 0, 0), (0, 0)), ((0.0, 0.6, 0.2), (2000, 0, 0), (0, 0))]), SPEC)
    audit.reset(seed=0)
    audit.step(np.zeros(4))
    assert not audit.summary()["within"]
    audit.reset(seed=1)
    assert audit.summary()["within"] and audit.instruction == "scripted"


def test_summary_counts_only_successes_inside_the_limits():
    ok, over = {"within": True}, {"within": False}
    results = [
        EpisodeResult("door-open-v3", 0, True, 10, limits=ok),
        EpisodeResult("door-open-v3", 1, True, 10, limits=over),  # succeeded by pushing too hard
        EpisodeResult("door-open-v3", 2, False, 10, limits=ok),
        EpisodeResult("door-open-v3", 3, False, 0, error="boom"),  # a crash is a failure, audited or not
    ]
    s = summarize(results, ["door-open-v3"])
    assert s["per_task"]["door-open-v3"]["success"] == 0.5
    assert s["per_task"]["door-open-v3"]["success_within_limits"] == 0.25
    assert s["mean_success_within_limits"] == 0.25
    json.dumps(s)
    old = summarize([EpisodeResult("door-open-v3", 0, True, 10)], ["door-open-v3"])  # a log from before the audit
    assert old["per_task"]["door-open-v3"]["success_within_limits"] is None and old["mean_success_within_limits"] is None


# ---- two arms ---------------------------------------------------------------------------------------
TWO_ARM = "robosuite_twoarmlift_panda"


class TwoArmScripted(Scripted):
    """A two-arm environment whose hands (state 8 entries per arm), wrist readings (6 per arm) and arm-arm contact
    counts are given in advance."""

    def __init__(self, readings, contacts=None):
        super().__init__(readings)
        self.contacts = contacts

    def arm_arm_contacts(self):
        return None if self.contacts is None else self.contacts[min(self.i, len(self.contacts) - 1)]

    def _obs(self, i):
        (p0, f0), (p1, f1) = self.readings[min(i, len(self.readings) - 1)]
        state = np.array([*p0, 0, 0, 0, 1, 1, *p1, 0, 0, 0, 1, 1], float)
        return SimpleNamespace(state=state, touch=np.array([0, 0, f0, 0, 0, 0, 0, 0, f1, 0, 0, 0], float))


def run_two_arm(readings, contacts=None):
    from vlastack.safety.two_arm_loading import load_any_spec

    audit = LimitAudit(TwoArmScripted(readings, contacts), load_any_spec(TWO_ARM))
    audit.reset(seed=0)
    for _ in range(len(readings) - 1):
        audit.step(np.zeros(14))
    return audit.summary()


def test_two_arms_are_judged_each_by_its_own_spec_and_by_the_distance_between_the_hands():
    from vlastack.safety.presets_robosuite_two_arm import TWO_ARM_SPECS

    spec = TWO_ARM_SPECS["rs-twoarmlift-panda"]
    wall, grip, apart = spec.arms[1].spec.workspace.high[0], spec.arms[0].spec.gripper.max_force_n, spec.keep_out.min_distance_m
    ok = ((0.0, -0.1, 1.0), 8.0), ((0.0, 0.1, 1.0), 8.0)  # 0.2 m apart, inside the table box, light wrists
    s = run_two_arm([ok, ok])
    assert s["within"] and s["steps_over"] == {} and s["spec"] == TWO_ARM and abs(s["min_hand_distance_mm"] - 200.0) < 1e-6
    assert "arm_arm_contacts" not in s  # the environment counts none
    readings = [
        ok,
        (((0.0, -0.1, 1.0), grip + 10.0), ((wall + 0.005, 0.1, 1.0), 8.0)),  # arm 0's wrist over its limit, arm 1 past the wall
        (((0.0, -0.05, 1.0), 8.0), ((0.0, 0.05, 1.0), 8.0)),  # hands 0.10 m apart, inside the 0.15 m keep-out
        (((0.0, -0.074, 1.0), 8.0), ((0.0, 0.075, 1.0), 8.0)),  # 1 mm short of it: inside the 2 mm tolerance
    ]
    s = run_two_arm(readings)
    assert not s["within"]
    assert s["steps_over"] == {"arm0.gripper.max_force_n": 1, "arm1.workspace": 1, "keep_out.min_distance_m": 1}
    assert abs(s["max_beyond_workspace_mm"] - 5.0) < 1e-6 and abs(s["peak_finger_n"] - (grip + 10.0)) < 1e-9
    assert abs(s["min_hand_distance_mm"] - 1000.0 * 0.1) < 1e-6 and apart == 0.15


def test_arm_arm_contacts_are_summed_and_the_steps_with_any_counted_but_not_judged():
    ok = ((0.0, -0.1, 1.0), 8.0), ((0.0, 0.1, 1.0), 8.0)
    s = run_two_arm([ok] * 5, contacts=[0, 0, 3, 0, 2])  # read after each of the 4 steps: 0, 3, 0, 2
    assert s["arm_arm_contacts"] == 5 and s["arm_arm_contact_steps"] == 2 and s["within"]


def test_without_a_spec_nothing_is_judged():
    audit = LimitAudit(Scripted([((0.0, 0.6, 0.2), (0, 0, 0), (0, 0))] * 2), None)
    audit.reset(seed=0)
    audit.step(np.zeros(4))
    assert audit.summary() == {}


def test_arm_arm_contacts_count_only_geoms_of_two_different_robots():
    from vlastack.envs.robot_contacts import ROBOT_BODY, arm_arm_contacts

    robots = np.array([-1, 0, 0, 1, 1])  # geom 0 the table, 1-2 robot 0, 3-4 robot 1
    contact = SimpleNamespace(geom1=np.array([1, 0, 1, 4, 2, 3]), geom2=np.array([3, 1, 2, 2, 4, 0]))
    assert arm_arm_contacts(SimpleNamespace(ncon=6, contact=contact), robots) == 3  # (1,3), (4,2), (2,4)
    assert arm_arm_contacts(SimpleNamespace(ncon=2, contact=contact), robots) == 1  # only the active ones
    assert arm_arm_contacts(SimpleNamespace(ncon=0, contact=contact), robots) == 0
    assert [
        ROBOT_BODY.match(n) and ROBOT_BODY.match(n).group(1) for n in ("robot1_link3", "gripper0_right_hand", "table", "mount0_base")
    ] == [
        "1",
        "0",
        None,
        None,
    ]
