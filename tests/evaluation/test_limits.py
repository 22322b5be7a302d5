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
