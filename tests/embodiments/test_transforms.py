"""The shared action space and each robot's transform (no simulator): round trips, frames, scaling, padding."""

from __future__ import annotations

import math

import numpy as np
import pytest

from vlastack import embodiments as E
from vlastack.embodiments.embodiment import SHARED_GRIP, SHARED_ROTATION, SHARED_TRANSLATION
from vlastack.errors import ConfigError

ALL = [E.get(i) for i in E.ids()]


@pytest.mark.parametrize("emb", ALL, ids=lambda e: e.id)
def test_shared_to_native_to_shared_keeps_every_used_entry_and_zeroes_padding(emb):
    rng = np.random.default_rng(0)
    shared = rng.uniform(-0.01, 0.01, (5, E.SHARED_DIM))  # a chunk of 5 actions
    back = emb.to_shared(emb.to_native(shared))
    np.testing.assert_allclose(back[:, emb.mask], shared[:, emb.mask], rtol=1e-5, atol=1e-8)
    assert np.all(back[:, ~emb.mask] == 0.0)


@pytest.mark.parametrize("emb", ALL, ids=lambda e: e.id)
def test_native_to_shared_to_native_is_the_identity(emb):
    native = np.random.default_rng(1).uniform(-1, 1, (3, emb.native_dim)).astype(np.float32)
    np.testing.assert_allclose(emb.to_native(emb.to_shared(native)), native, rtol=1e-5, atol=1e-6)
    assert emb.to_native(emb.to_shared(native[0])).shape == (emb.native_dim,)  # one action, not a batch


def test_native_names_match_the_environments():
    from vlastack.envs.metaworld import ACTION_NAMES
    from vlastack.envs.robosuite_env import feature_names

    assert E.get("metaworld_sawyer").native_action_names == tuple(ACTION_NAMES)
    for task in ("rs-lift-panda", "rs-lift-xarm7", "rs-lift-pandaomron"):
        assert E.embodiment_for_task(task).native_action_names == tuple(feature_names(task)["action"])


def test_metaworld_base_is_turned_forward_is_world_y_and_left_is_world_minus_x():
    mw = E.get("metaworld_sawyer")
    forward = np.zeros(E.SHARED_DIM)
    forward[0] = mw.translation_m_per_unit[1]  # one native unit's worth along world y
    np.testing.assert_allclose(mw.to_native(forward), [0.0, 1.0, 0.0, 0.0], atol=1e-6)
    left = np.zeros(E.SHARED_DIM)
    left[1] = mw.translation_m_per_unit[0]
    np.testing.assert_allclose(mw.to_native(left), [-1.0, 0.0, 0.0, 0.0], atol=1e-6)
    up = np.zeros(E.SHARED_DIM)
    up[2] = 0.5 * mw.translation_m_per_unit[2]
    np.testing.assert_allclose(mw.to_native(up), [0.0, 0.0, 0.5, 0.0], atol=1e-6)
    # And back: the native +x command (world +x) is the robot's right, shared -y, in metres.
    shared = mw.to_shared(np.array([1.0, 0.0, 0.0, 0.0]))
    np.testing.assert_allclose(shared[SHARED_TRANSLATION], [0.0, -mw.translation_m_per_unit[0], 0.0], atol=1e-7)


def test_robosuite_single_arm_frames_are_the_world_frame_scaled_per_axis():
    panda = E.get("robosuite_panda")
    shared = np.zeros(E.SHARED_DIM)
    shared[SHARED_TRANSLATION] = [0.5 * panda.translation_m_per_unit[0], -0.25 * panda.translation_m_per_unit[1], 0.0]
    shared[SHARED_ROTATION] = [0.0, 0.0, panda.rotation_rad_per_unit[2]]
    shared[SHARED_GRIP] = -1.0
    np.testing.assert_allclose(panda.to_native(shared), [0.5, -0.25, 0.0, 0.0, 0.0, 1.0, -1.0], atol=1e-6)


def test_a_rotated_base_turns_rotation_vectors_like_translations():
    turned = E.Embodiment(
        id="test_turned",
        suite="robosuite",
        robot="Panda",
        native_action_names=("dx", "dy", "dz", "drx", "dry", "drz", "grip"),
        control_period_s=0.05,
        translation_dims=(0, 1, 2),
        translation_m_per_unit=(0.01, 0.01, 0.01),
        yaw_rad=-math.pi / 2,  # the native frame is the shared one turned -90 degrees: shared x -> native -y
        gripper_dim=6,
        rotation_dims=(3, 4, 5),
        rotation_rad_per_unit=(0.1, 0.1, 0.1),
    )
    shared = np.zeros(E.SHARED_DIM)
    shared[0], shared[3] = 0.01, 0.1  # forward, and a turn about the forward axis
    np.testing.assert_allclose(turned.to_native(shared), [0, -1, 0, 0, -1, 0, 0], atol=1e-6)


def test_padding_entries_are_ignored_on_the_way_to_the_robot():
    mw = E.get("metaworld_sawyer")
    assert list(mw.mask) == [True, True, True, False, False, False, True, False, False, False, False]
    a = np.zeros(E.SHARED_DIM)
    a[0], a[SHARED_GRIP] = 0.005, 1.0
    junk = a.copy()
    junk[~mw.mask] = 123.0  # a policy's output on padding must not reach the robot
    np.testing.assert_array_equal(mw.to_native(junk), mw.to_native(a))
    omron = E.get("robosuite_pandaomron")
    assert omron.mask.all() and omron.native_dim == E.SHARED_DIM
    native = np.arange(11, dtype=np.float32) / 11
    np.testing.assert_allclose(omron.to_shared(native)[7:], native[7:])  # base and torso passed through


def test_shared_limits_are_one_native_unit():
    for emb in ALL:
        lim = emb.shared_limits()
        for i in np.flatnonzero(emb.mask):
            s = np.zeros(E.SHARED_DIM)
            s[i] = lim[i]
            assert np.max(np.abs(emb.to_native(s))) == pytest.approx(1.0, abs=1e-5), (emb.id, i)
        assert np.all(lim[~emb.mask] == 0.0)


def test_tasks_map_to_their_robot_and_errors_say_what_is_wrong():
    assert E.embodiment_for_task("pick-place-v3").id == "metaworld_sawyer"
    assert E.embodiment_for_task("rs-lift-kinova3").id == "robosuite_kinova3"
    assert E.embodiment_ids_for_tasks(["reach-v3", "rs-lift-ur5e", "push-v3"]) == ["metaworld_sawyer", "robosuite_ur5e"]
    with pytest.raises(ConfigError, match="two-arm"):
        E.embodiment_for_task("rs-twoarmlift-panda")
    with pytest.raises(ConfigError, match="Did you mean 'rs-lift-panda'"):
        E.embodiment_for_task("rs-lift-pand")
    with pytest.raises(ConfigError, match="robosuite_panda"):
        E.get("robosuite_pamda")
    mw = E.get("metaworld_sawyer")
    with pytest.raises(ConfigError, match="expected 11 entries"):
        mw.to_native(np.zeros(4))
    with pytest.raises(ConfigError, match=r"metaworld_sawyer \['dx', 'dy', 'dz', 'grip'\]: expected 4 entries"):
        mw.to_shared(np.zeros(7))


def test_inconsistent_entries_are_refused():
    base = dict(
        id="bad",
        suite="metaworld",
        robot="Sawyer",
        native_action_names=("dx", "dy", "dz", "grip"),
        control_period_s=0.0125,
        translation_dims=(0, 1, 2),
        translation_m_per_unit=(0.01, 0.01, 0.01),
        yaw_rad=0.0,
        gripper_dim=3,
    )
    E.Embodiment(**base)  # the valid one
    with pytest.raises(ConfigError, match="used twice"):
        E.Embodiment(**base | {"gripper_dim": 2})
    with pytest.raises(ConfigError, match=r"indices \[4\] are outside"):
        E.Embodiment(**base | {"gripper_dim": 4})
    with pytest.raises(ConfigError, match="translation_m_per_unit: expected 3 positive"):
        E.Embodiment(**base | {"translation_m_per_unit": (0.01, 0.0, 0.01)})
    with pytest.raises(ConfigError, match="gripper_close_sign"):
        E.Embodiment(**base | {"gripper_close_sign": 0})
