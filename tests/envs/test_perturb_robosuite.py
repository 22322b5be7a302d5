"""Visual perturbations on a robosuite scene (envs/perturb.py through envs/robosuite_env.py): the picture
changes, the physics does not, ``none`` changes nothing, and the look is drawn from the reset seed."""

from __future__ import annotations

import numpy as np
import pytest

from tests.conftest import changed_pixels, look_run, need_robosuite
from vlastack.envs.perturb import PERTURBATIONS

pytestmark = pytest.mark.slow
TASK = "rs-lift-panda"
SEED = 200_003
CAMERAS = ("agentview", "robot0_eye_in_hand")
ACTIONS = np.array([[1.0, 0.5, -0.5, 0.0, 0.0, 0.0, -1.0], [0.3, -1.0, -1.0, 0.0, 0.0, 0.0, 1.0]], dtype=np.float32)


def _env(perturb: tuple[str, ...]):
    need_robosuite()
    from vlastack.envs.robosuite_env import make_env

    return make_env(TASK, cameras=CAMERAS, image_size=32, touch=False, perturb=perturb)


def _run(perturb: tuple[str, ...], seed: int = SEED) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Both cameras' images and the privileged states of a reset and a fixed action sequence."""
    return look_run(_env(perturb), CAMERAS, ACTIONS, seed)


@pytest.fixture(scope="module")
def unperturbed():
    return _run(())


def test_none_is_the_unperturbed_scene_bit_for_bit(unperturbed):
    images, states = _run(("none",))
    for a, b in zip(images + states, unperturbed[0] + unperturbed[1], strict=True):
        assert np.array_equal(a, b)


@pytest.mark.parametrize("name", sorted(set(PERTURBATIONS) - {"none"}))
def test_each_perturbation_changes_the_front_view_not_the_physics(name, unperturbed):
    images, states = _run((name,))
    for s, s0 in zip(states, unperturbed[1], strict=True):
        assert np.array_equal(s, s0), f"{name} changed the simulated state"
    front = slice(0, 32)  # agentview, the camera that is jittered and sees the table
    changed = changed_pixels([i[front] for i in images], [i[front] for i in unperturbed[0]])
    assert min(changed) >= 3, f"{name} left a frame of agentview unchanged: changed pixels per frame {changed}"


def test_the_look_is_drawn_from_the_seed_and_distractors_stand_on_the_table():
    env = _env(("table_colour", "distractors"))
    try:
        first = env.reset(seed=1)[0].images["agentview"]
        other = env.reset(seed=2)[0].images["agentview"]
        again = env.reset(seed=1)[0].images["agentview"]  # not compounded on seed 2's look
        top = float(env._env.table_offset[2])
        placed = env._look._distractors
    finally:
        env.close()
    assert np.array_equal(first, again) and not np.array_equal(first, other)
    assert len(placed) == PERTURBATIONS["distractors"].distractors
    for _, size, pos, _ in placed:  # resting on the table top, not sunk into it or floating
        assert pos[2] == pytest.approx(top + size[2])
