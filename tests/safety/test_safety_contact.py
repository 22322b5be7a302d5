"""Contact-force limiting: above the limit no motion goes into the contact, and the arm backs off."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from vlastack.safety import METAWORLD_SAWYER, SafetyLayer
from vlastack.safety.loading import spec_from_dict, spec_to_dict
from vlastack.safety.spec import SpecError
from vlastack.safety.verify import MotionMemory, violations

HOME = np.array([0.0, 0.6, 0.2, 1.0], dtype=np.float32)
LIMIT = METAWORLD_SAWYER.contact.max_force_n
V_PER_UNIT = METAWORLD_SAWYER.action.translation_scale_m / METAWORLD_SAWYER.control_period_s  # m/s per action unit


def test_pushing_into_a_contact_over_the_limit_is_stopped_and_reversed_with_a_reason():
    layer = SafetyLayer(METAWORLD_SAWYER)
    up = np.array([0.0, 0.0, LIMIT + 200.0])  # the table pushes the arm up: pressing down goes into it
    d = layer.filter(np.array([0.3, 0.0, -0.5, 1.0], np.float32), HOME, None, 0.0, contact=up)
    backoff = METAWORLD_SAWYER.contact.backoff_m_s_per_n * 200.0
    assert d.action[0] == pytest.approx(0.3)  # sliding along the contact is left alone
    assert d.action[2] * V_PER_UNIT == pytest.approx(backoff, rel=1e-5)  # not down any more: up, by the excess
    (item,) = d.interventions
    assert item.limit == "contact.max_force_n" and item.value == pytest.approx(LIMIT + 200.0) and item.unit == "N"
    assert "into the contact" in item.message


def test_below_the_limit_or_without_a_reading_nothing_changes():
    layer = SafetyLayer(METAWORLD_SAWYER)
    proposal = np.array([0.0, 0.0, -0.5, 1.0], np.float32)
    for reading in (np.array([0.0, 0.0, LIMIT - 1.0]), None, np.array([np.nan, 0, 0]), np.zeros(2)):
        assert np.array_equal(layer.filter(proposal, HOME, None, 0.0, contact=reading).action, proposal)
        layer.reset()


def test_whatever_is_proposed_nothing_leaves_the_layer_going_into_a_contact_over_the_limit():
    rng = np.random.default_rng(0)
    for _ in range(200):
        layer = SafetyLayer(METAWORLD_SAWYER)
        force = rng.normal(size=3)
        force *= (LIMIT + rng.uniform(1.0, 3000.0)) / np.linalg.norm(force)
        proposal = np.r_[rng.uniform(-1.5, 1.5, 3), rng.uniform(-1, 1)].astype(np.float32)
        d = layer.filter(proposal, HOME, None, 0.0, contact=force)
        assert not d.held  # a finite proposal is shortened and backed off, never held
        v = d.action[:3].astype(np.float64) * V_PER_UNIT
        assert v @ force >= -1e-9 * np.linalg.norm(force)
        assert violations(METAWORLD_SAWYER, d.action, HOME, None, MotionMemory.at_rest(METAWORLD_SAWYER), force) == []


def test_the_final_check_catches_motion_into_an_overloaded_contact():
    broken = violations(
        METAWORLD_SAWYER, np.array([0, 0, -0.2, 0], np.float32), HOME, None, MotionMemory.at_rest(METAWORLD_SAWYER), [0, 0, LIMIT * 2]
    )
    assert [v.limit for v in broken] == ["contact.max_force_n"]


def test_contact_limits_are_validated_naming_the_field():
    data = spec_to_dict(METAWORLD_SAWYER)
    data["contact"]["max_force_n"] = -5
    with pytest.raises(SpecError, match="must be positive") as info:
        spec_from_dict(data)
    assert info.value.field == "contact.max_force_n"
    assert spec_from_dict(spec_to_dict(dataclasses.replace(METAWORLD_SAWYER, contact=None))).contact is None


def test_a_saturated_proposal_into_an_overloaded_contact_is_backed_off_inside_the_range_not_held():
    """Measured in the fuzzed streams (drawer-close): a saturated diagonal push with 924 N on the arm. Removing
    the part into the contact left an entry past -1, so the final check held the whole step, every step."""
    layer = SafetyLayer(METAWORLD_SAWYER)
    n = np.array([-0.96, -0.004, 0.28]) / np.linalg.norm([-0.96, -0.004, 0.28])  # a little along the saturated -y
    d = layer.filter(np.array([0.849, -1.162, -1.3, 0.5], np.float32), HOME, None, 0.0, contact=924.0 * n)
    assert not d.held and np.all(np.abs(d.action) <= 1.0)
    v = d.action[:3].astype(np.float64) * V_PER_UNIT
    assert v @ n > 0.0 and v[1] < 0.0  # backing off out of the contact, still moving along it
    assert [i.limit for i in d.interventions if i.effect == "held"] == []


def test_a_wall_that_removes_the_backing_off_part_does_not_tip_the_rest_into_the_contact():
    """Measured in the fuzzed streams (door-open, drawer-close): the contact check leaves a motion partly away
    from the contact; the workspace then removes that part at a wall, and what is left goes into the contact,
    which the final check held. Here the contact pushes the arm +x and down, the hand is at the +x stopping
    margin: the +x part goes, and the upward part (into the contact) must go too, the sideways part stays."""
    layer = SafetyLayer(METAWORLD_SAWYER)
    wall = METAWORLD_SAWYER.workspace.high[0] - METAWORLD_SAWYER.tracking.margin_m
    n = np.array([0.8, 0.0, -0.6])
    d = layer.filter(np.array([0.5, 0.3, 0.5, 0.0], np.float32), np.array([wall, 0.6, 0.2, 1.0]), None, 0.0, contact=1000.0 * n)
    assert not d.held and abs(d.action[0]) < 1e-4 and d.action[1] > 0.0
    assert d.action[:3].astype(np.float64) @ n >= 0.0
    assert any(i.limit == "contact.max_force_n" and "after the workspace" in i.message for i in d.interventions)
