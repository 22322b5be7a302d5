"""Visual perturbations (envs/perturb.py): they change the picture, never the physics; ``none`` changes nothing."""

from __future__ import annotations

import numpy as np
import pytest

from tests.conftest import changed_pixels, look_run
from vlastack.envs import make_env
from vlastack.envs.perturb import PERTURBATIONS, VisualPerturbation
from vlastack.errors import ConfigError

pytestmark = pytest.mark.slow
TASK = "pick-place-v3"  # a task object to recolour and a goal to keep clear of
SEED = 200_003
ACTIONS = np.array([[1.0, 0.5, -0.5, -1.0], [0.3, 1.0, -1.0, 1.0], [-1.0, -0.2, 0.4, 1.0]], dtype=np.float32)


def _run(perturb: tuple[str, ...], seed: int = SEED, size: int = 32) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Images (corner2 and the wrist camera) and privileged states of a reset and a fixed action sequence."""
    env = make_env(TASK, cameras=("corner2", "gripperPOV"), image_size=size, touch=False, perturb=perturb)
    return look_run(env, ("corner2", "gripperPOV"), ACTIONS, seed)


@pytest.fixture(scope="module")
def unperturbed():
    return _run(())


def test_none_is_the_unperturbed_env_bit_for_bit(unperturbed):
    images, states = _run(("none",))
    for a, b in zip(images + states, unperturbed[0] + unperturbed[1], strict=True):
        assert np.array_equal(a, b)


@pytest.mark.parametrize("name", sorted(set(PERTURBATIONS) - {"none"}))
def test_each_perturbation_changes_the_picture_not_the_physics(name, unperturbed):
    images, states = _run((name,))
    for s, s0 in zip(states, unperturbed[1], strict=True):
        assert np.array_equal(s, s0), f"{name} changed the simulated state"
    changed = changed_pixels(images, unperturbed[0])
    assert min(changed) >= 3, f"{name} left a frame unchanged: changed pixels per frame {changed}"


def test_perturbations_are_drawn_from_the_seed_and_reset_each_episode():
    env = make_env(TASK, cameras=("corner2",), image_size=32, touch=False, perturb=("lighting", "table_colour"))
    try:
        first = env.reset(seed=1)[0].images["corner2"]
        other = env.reset(seed=2)[0].images["corner2"]
        again = env.reset(seed=1)[0].images["corner2"]  # not compounded on seed 2's look
    finally:
        env.close()
    assert np.array_equal(first, again) and not np.array_equal(first, other)
    assert np.array_equal(first, _run(("lighting", "table_colour"), seed=1)[0][0][:32])  # another env, the same look


def test_unknown_or_bad_perturbations_are_refused_with_the_valid_names():
    with pytest.raises(
        ConfigError, match=r"unknown perturbation 'lightning'.*Did you mean 'lighting'.*Valid perturbations: .*table_colour"
    ):
        make_env("reach-v3", cameras=("corner2",), image_size=32, perturb=("lightning",))
    with pytest.raises(ConfigError, match="distinct"):
        make_env("reach-v3", cameras=("corner2",), image_size=32, perturb=("lighting", "lighting"))
    with pytest.raises(ConfigError, match=r"table_rgb must lie in \[0, 1\]"):
        VisualPerturbation(table_rgb=(0.5, 2.0))
    with pytest.raises(ConfigError, match="camera_shift_m must be >= 0"):
        VisualPerturbation(camera_shift_m=-0.01)


def test_the_randomise_mix_switches_levels_per_episode_and_each_looks_as_when_alone():
    from vlastack.envs.perturb import MIXES

    members = MIXES["randomise"][0]
    env = make_env(TASK, cameras=("corner2", "gripperPOV"), image_size=32, touch=False, perturb=("randomise",))
    try:
        drawn = {}
        for seed in range(40):
            env.reset(seed=seed)
            drawn[seed] = env._look.episode_levels
        env.reset(seed=3)
        again = env._look.episode_levels
    finally:
        env.close()
    assert again == drawn[3]  # drawn from the seed
    for level in members:  # every level is on in some episodes and off in others
        assert 5 <= sum(level in d for d in drawn.values()) <= 35, (level, drawn)
    assert all(set(d) <= set(members) for d in drawn.values())
    seed, (level,) = next((s, d) for s, d in drawn.items() if len(d) == 1)
    images, states = _run(("randomise",), seed=seed)
    alone, alone_states = _run((level,), seed=seed)
    for a, b in zip(images + states, alone + alone_states, strict=True):
        assert np.array_equal(a, b), f"the mix's {level} on seed {seed} looks other than {level} alone"


def test_collect_refuses_unknown_looks_and_resuming_with_another_look(tmp_path):
    from vlastack.envs.collect import CollectConfig, _check_same_look

    CollectConfig(tasks=("rs-lift-panda",), episodes=1, out=tmp_path / "d", perturb=("randomise",), safety=None)  # robosuite too
    with pytest.raises(ConfigError, match="unknown perturbation 'randomize'"):
        CollectConfig(tasks=("reach-v3",), episodes=1, out=tmp_path / "d", perturb=("randomize",))
    config = CollectConfig(tasks=("reach-v3",), episodes=1, out=tmp_path / "d", perturb=("randomise",))
    fresh = {"failed": {}}
    _check_same_look(config, fresh)
    assert fresh["perturb"] == ["randomise"]
    with pytest.raises(ConfigError, match=r"perturb: .* was collected with perturbations \[\]; resuming it with \['randomise'\]"):
        _check_same_look(config, {"failed": {}, "safety": "metaworld_sawyer"})  # a dataset collected unperturbed
    _check_same_look(config, {"failed": {}, "safety": "metaworld_sawyer", "perturb": ["randomise"]})  # the same look resumes
