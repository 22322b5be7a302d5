"""The transforms against the simulators: a shared "forward" or "left" of so many millimetres per step moves
the hand that way, that far (within the measured scaling's spread). Meta-World (turned base) and one
robosuite arm (Panda); a wrong frame or scale fails here even where the unit tests' numbers agree."""

from __future__ import annotations

import numpy as np
import pytest

from tests.conftest import need_robosuite
from vlastack import embodiments as E

STEPS = 20
#: Commanded metres per step: half of what one native unit gives, inside every arm's linear range.
SPEED_M = 0.005
#: Commanded radians per step for the turn (about half of one native unit's).
ROT_RAD = 0.04


def _moved(env, emb: E.Embodiment, axis: int, sign: float) -> tuple[np.ndarray, np.ndarray]:
    """World displacement of the hand over the run, and its mean per step over the second half."""
    obs, _ = env.reset(seed=0)
    shared = np.zeros(E.SHARED_DIM)
    shared[axis] = sign * SPEED_M
    action = emb.to_native(shared)
    positions = [np.asarray(obs.state[:3], dtype=np.float64)]
    for _ in range(STEPS):
        obs, *_ = env.step(action)
        positions.append(np.asarray(obs.state[:3], dtype=np.float64))
    p = np.array(positions)
    return p[-1] - p[0], (p[-1] - p[STEPS // 2]) / (STEPS - STEPS // 2)


def _check(env, emb: E.Embodiment, world_of: dict[str, np.ndarray]) -> None:
    for name, axis, sign in (("forward", 0, 1.0), ("left", 1, 1.0), ("up", 2, 1.0), ("back", 0, -1.0)):
        total, per_step = _moved(env, emb, axis, sign)
        direction = world_of[name]
        along = float(total @ direction)
        assert along > 0.9 * np.linalg.norm(total), f"{emb.id}: shared {name} moved the hand along {total.round(4)} (world)"
        assert float(per_step @ direction) == pytest.approx(SPEED_M, rel=0.2), f"{emb.id}: {name} per step {per_step.round(5)}"


def test_metaworld_forward_is_away_from_the_base_along_world_y():
    from vlastack.envs import make_env

    env = make_env("reach-v3", cameras=(), image_size=32, touch=False)
    try:
        world = {"forward": np.array([0, 1, 0]), "left": np.array([-1, 0, 0]), "up": np.array([0, 0, 1]), "back": np.array([0, -1, 0])}
        _check(env, E.get("metaworld_sawyer"), world)
    finally:
        env.close()


def test_robosuite_panda_forward_is_world_x():
    need_robosuite()
    from vlastack.envs import make_env

    env = make_env("rs-lift-panda", cameras=(), image_size=32, touch=False)
    try:
        world = {"forward": np.array([1, 0, 0]), "left": np.array([0, 1, 0]), "up": np.array([0, 0, 1]), "back": np.array([-1, 0, 0])}
        panda = E.get("robosuite_panda")
        _check(env, panda, world)
        # A turn about the vertical (shared drz, rad per step) turns the hand that way, about that much.
        from vlastack.envs.robosuite_experts import quat_to_mat, rotvec

        obs, _ = env.reset(seed=0)
        shared = np.zeros(E.SHARED_DIM)
        shared[5] = ROT_RAD
        turns = []
        for _ in range(STEPS):
            before = quat_to_mat(np.asarray(obs.state[3:7], dtype=np.float64))
            obs, *_ = env.step(panda.to_native(shared))
            turns.append(rotvec(quat_to_mat(np.asarray(obs.state[3:7], dtype=np.float64)) @ before.T))  # world frame
        steady = np.mean(turns[STEPS // 2 :], axis=0)
        assert steady[2] == pytest.approx(ROT_RAD, rel=0.3) and np.all(np.abs(steady[:2]) < 0.3 * ROT_RAD), steady
    finally:
        env.close()
