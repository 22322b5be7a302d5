"""Server-side chunk safety: the arm's contact force, when the observation carries it, reaches the layer."""

from __future__ import annotations

import numpy as np
import pytest

from vlastack import keys
from vlastack.safety import METAWORLD_SAWYER
from vlastack.serving.session import ChunkSafety

STATE = np.array([0.0, 0.6, 0.2, 1.0], np.float32)
#: Pressing down (action -z) while the table pushes the arm up with more than the spec's limit (N).
OVER = np.array([0.0, 0.0, METAWORLD_SAWYER.contact.max_force_n + 300.0], np.float32)


def down_chunk(steps: int = 4) -> np.ndarray:
    return np.tile(np.array([0.2, 0.0, -0.5, 1.0], np.float32), (steps, 1))


def test_an_arm_contact_over_the_limit_stops_every_step_of_the_chunk_going_into_it():
    safety = ChunkSafety("metaworld_sawyer")
    out, report = safety.filter_chunk(down_chunk(), {keys.STATE: STATE, keys.ARM_CONTACT: OVER})
    assert np.all(out[:, 2] > 0.0)  # not pressing down any more: backing off, up
    assert np.allclose(out[:, 0], 0.2)  # sliding along the contact is left alone
    assert report["steps_changed"] == 4 and report["steps_held"] == 0
    assert {item["limit"] for item in report["listed"]} == {"contact.max_force_n"}


def test_without_a_contact_reading_or_below_the_limit_the_chunk_passes():
    for obs in ({keys.STATE: STATE}, {keys.STATE: STATE, keys.ARM_CONTACT: OVER * 0.5}):
        safety = ChunkSafety("metaworld_sawyer")
        out, report = safety.filter_chunk(down_chunk(), obs)
        assert np.array_equal(out, down_chunk()) and report["steps_changed"] == 0


def test_the_arm_contact_reaches_the_servers_layer_over_a_real_connection():
    """The protocol announces the optional key, our client sends it from the Observation, the layer acts."""
    from vlastack.serving.client import RemotePolicy
    from vlastack.serving.protocol import ObservationError
    from vlastack.serving.runners import FakeRunner
    from vlastack.types import Observation

    from .conftest import running

    with running(FakeRunner(horizon=4), safety="metaworld_sawyer") as server:
        policy = RemotePolicy(server.url)
        assert policy.client.metadata["optional"][keys.ARM_CONTACT]["shape"] == [3]
        obs = Observation(images={"corner2": np.zeros((32, 32, 3), np.uint8)}, state=STATE, instruction="reach", arm_contact=OVER)
        assert np.array_equal(policy.message(obs)[keys.ARM_CONTACT], OVER)
        pressed = policy(obs).info["safety"]
        free = policy(Observation(images=obs.images, state=STATE, instruction="reach")).info["safety"]
        assert "contact.max_force_n" in {item["limit"] for item in pressed["listed"]}
        assert "contact.max_force_n" not in {item["limit"] for item in free.get("listed", [])}
        policy.close()
    spec = FakeRunner().spec
    good = {keys.image_key("corner2"): np.zeros((32, 32, 3), np.uint8), keys.STATE: STATE, "prompt": "reach"}
    with pytest.raises(ObservationError, match=r"'observation.arm_contact' must be float32 \[3\]"):
        spec.validate({**good, keys.ARM_CONTACT: np.zeros(2, np.float32)})
    assert keys.ARM_CONTACT not in spec.validate(good)  # optional: absent is fine


def test_a_two_arm_spec_judges_the_joint_chunk_and_keeps_the_predicted_hands_apart():
    from vlastack.safety.presets_robosuite_two_arm import TWO_ARM_SPECS

    spec = TWO_ARM_SPECS["rs-twoarmlift-panda"]
    scale, apart = spec.arms[0].spec.action.translation_scale_m, spec.keep_out.min_distance_m
    hand = [0.0, 0.0, 0.0, 1.0, 1.0]  # quaternion x, y, z, w, gripper open
    state = np.array([0.0, -0.09, 1.0, *hand, 0.0, 0.09, 1.0, *hand], np.float32)  # hands 0.18 m apart along y
    towards = np.zeros((8, 14), np.float32)
    towards[:, 1], towards[:, 8] = 1.0, -1.0  # arm 0 to +y, arm 1 to -y, full speed, for 8 steps (0.8 m each unchecked)
    safety = ChunkSafety(spec.name)
    out, report = safety.filter_chunk(towards, {keys.STATE: state, keys.TOUCH: np.zeros(12, np.float32)})
    assert report["spec"] == spec.name and report["steps_changed"] > 0
    assert {"arm0.keep_out.min_distance_m", "arm1.keep_out.min_distance_m"} <= {item["limit"] for item in report["listed"]}
    # The server moves each hand by its own slice: the distance it predicts never drops below the keep-out.
    gap = 0.18 - np.cumsum(out[:, 1] - out[:, 8]) * scale
    assert np.all(gap >= apart - 1e-9) and out[0, 1] > 0 and out[0, 8] < 0  # they did approach at first
    assert np.all(np.diff(gap) <= 1e-12)  # and never moved apart: the keep-out slows, it does not push back
    safety.check_fits(14, 16)
    with pytest.raises(ValueError, match="is for 14-d actions, the policy makes 7-d ones"):
        safety.check_fits(7, 16)
    with pytest.raises(ValueError, match=r"reads state entries \[0, 1, 2, 8, 9, 10\], the state has 8"):
        safety.check_fits(14, 8)
