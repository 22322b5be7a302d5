"""The Meta-World adapter: observations, seeding, experts, names."""

from __future__ import annotations

import numpy as np
import pytest

from vlastack.envs import make_env, resolve_tasks
from vlastack.envs.experts import expert_for
from vlastack.envs.instructions import INSTRUCTIONS, heldout_instructions, train_instructions
from vlastack.envs.rollout import rollout
from vlastack.envs.tasks import all_tasks, groups
from vlastack.errors import ConfigError

pytestmark = pytest.mark.slow


def test_groups_match_the_protocol():
    g = groups()
    assert [len(g[k]) for k in ("easy", "medium", "hard", "very_hard", "mt10", "mt50")] == [28, 11, 6, 5, 10, 50]
    assert len(set(g["mt50"])) == 50
    assert resolve_tasks("mt10,reach-v3,hard")[:10] == list(g["mt10"])
    assert len(resolve_tasks("mt10,reach-v3,hard")) == 14  # reach, push, pick-place already in mt10


def test_every_task_has_instructions_and_held_out_paraphrases():
    assert set(INSTRUCTIONS) == set(all_tasks())
    for t in all_tasks():
        assert len(train_instructions(t)) >= 3 and len(heldout_instructions(t)) >= 1
        assert len(set(INSTRUCTIONS[t])) == len(INSTRUCTIONS[t])


def test_unknown_names_suggest_the_nearest():
    with pytest.raises(ConfigError, match="Did you mean 'reach-v3'"):
        resolve_tasks("reach-v2")
    with pytest.raises(ConfigError, match="Did you mean 'mt10'"):
        resolve_tasks("mt1O")
    with pytest.raises(ConfigError, match="unknown camera 'corner5'.*Valid cameras: .*gripperPOV"):
        make_env("reach-v3", cameras=("corner5",), image_size=32)


def test_observation_is_multimodal_and_privileged_state_stays_apart():
    env = make_env("reach-v3", cameras=("corner2", "gripperPOV"), image_size=32, depth=True)
    obs, info = env.reset(seed=3)
    assert set(obs.images) == {"corner2", "gripperPOV"}
    assert obs.images["corner2"].shape == (32, 32, 3) and obs.images["corner2"].dtype == np.uint8
    assert obs.depth["corner2"].shape == (32, 32) and 0.05 < float(obs.depth["corner2"].min()) < 5.0
    assert obs.state.shape == (4,) and obs.touch.shape == (2,) and np.all(obs.touch >= 0)
    assert obs.instruction == "reach the goal position"
    assert info["privileged"].shape == (39,)
    np.testing.assert_allclose(obs.state, info["privileged"][:4])
    assert not any(v.shape == (39,) for v in vars(obs).values() if isinstance(v, np.ndarray))
    # corner2 is upright: the table (brown) fills the lower half, the grey background the top rows.
    img = make_env("reach-v3", cameras=("corner2",), image_size=64).reset(seed=3)[0].images["corner2"]
    top, bottom = img[:8].astype(int), img[40:].astype(int)
    assert abs(top[..., 0] - top[..., 2]).mean() < abs(bottom[..., 0] - bottom[..., 2]).mean()
    env.close()


def test_starts_are_a_function_of_the_seed():
    env = make_env("pick-place-v3", cameras=("corner2",), image_size=16)
    a = env.reset(seed=1)[1]["privileged"]
    b = env.reset(seed=2)[1]["privileged"]
    c = env.reset(seed=1)[1]["privileged"]
    np.testing.assert_array_equal(a, c)
    assert not np.allclose(a[-3:], b[-3:])  # goal position moved
    env.close()


def test_first_frame_shows_where_the_goal_is():
    # Meta-World moves the goal site after its last forward pass; before the adapter ran forward
    # kinematics at reset, the first image drew the goal dot somewhere else than the goal (in every
    # episode). The first image must be what the simulator's current state looks like.
    import mujoco

    env = make_env("reach-v3", cameras=("corner2",), image_size=64)
    for seed in (5, 6):
        obs, info = env.reset(seed=seed)
        sim = env._env  # the wrapped Meta-World env
        np.testing.assert_allclose(sim.data.site("goal").xpos, info["privileged"][36:39], atol=1e-6)
        mujoco.mj_forward(sim.model, sim.data)
        np.testing.assert_array_equal(obs.images["corner2"], env._renderer.render(sim.data)[0]["corner2"])
    env.close()


def test_expert_solves_reach_deterministically():
    env = make_env("reach-v3", cameras=("corner2",), image_size=16)
    r1 = rollout(env, expert_for("reach-v3").act, seed=0)
    r2 = rollout(env, expert_for("reach-v3").act, seed=0)
    assert r1.success and r1.steps < 200
    np.testing.assert_array_equal(r1.episode.frames["action"], r2.episode.frames["action"])
    assert r1.episode.frames["next.success"][-1] and not r1.episode.frames["next.success"][0]
    env.close()


def test_unseen_wordings_are_new_and_only_for_metaworld_tasks():
    from vlastack.envs.instructions import INSTRUCTIONS, UNSEEN, UNSEEN_VARIANT, instruction
    from vlastack.envs.long_horizon import SUITE
    from vlastack.envs.tasks import resolve_tasks
    from vlastack.errors import ConfigError

    assert sorted(UNSEEN) == sorted(resolve_tasks("mt50"))
    for task, text in UNSEEN.items():
        assert instruction(task, UNSEEN_VARIANT) == text and text not in INSTRUCTIONS[task]
    assert len(set(UNSEEN.values())) == len(UNSEEN)  # no two tasks share the unseen wording
    with pytest.raises(ConfigError, match="unseen wording"):
        instruction(next(iter(SUITE)), UNSEEN_VARIANT)


def test_dev_wordings_are_new_and_apart_from_the_unseen_ones():
    """The dev wording (for choices) must be neither a trained phrasing nor the unseen test wording."""
    from vlastack.envs.instructions import DEV, DEV_VARIANT, INSTRUCTIONS, UNSEEN, instruction
    from vlastack.envs.tasks import resolve_tasks
    from vlastack.errors import ConfigError

    assert sorted(DEV) == sorted(resolve_tasks("mt50"))
    for task, text in DEV.items():
        assert instruction(task, DEV_VARIANT) == text and text not in INSTRUCTIONS[task] and text != UNSEEN[task]
    assert len(set(DEV.values())) == len(DEV)
    with pytest.raises(ConfigError, match="dev wording"):
        instruction("no-such-task", DEV_VARIANT)
