"""The Fetch adapter (issue 17): names, observations, a frame that is not blank, seeded resets, the experts, collection,
evaluation.

gymnasium-robotics is an optional extra that scripts/setup.sh installs by default, so CI runs these tests. Only where
it was left out on purpose (VLASTACK_FETCH=0) do the simulator tests skip; a missing install without that fails.
Small images and few seeds keep this file to seconds.
"""

from __future__ import annotations

import dataclasses
import json
from importlib import resources

import numpy as np
import pytest

from tests.conftest import changed_pixels, look_run, need_fetch
from vlastack.envs.collect import CollectConfig
from vlastack.envs.fetch_tasks import GROUPS, TASKS
from vlastack.envs.tasks import group_of, resolve_tasks, step_limit
from vlastack.errors import ConfigError


def test_names_resolve_without_the_simulator(tmp_path):
    from vlastack import embodiments as E
    from vlastack.envs.collect import default_safety_spec, robot_type
    from vlastack.envs.instructions import instruction, train_instructions
    from vlastack.safety import load_spec, spec_from_dict

    assert resolve_tasks("fetch") == ["fetch-reach", "fetch-push", "fetch-pickplace"] == list(GROUPS["fetch"])
    assert step_limit("fetch-push") == TASKS["fetch-push"].max_steps == 100 and group_of("fetch-pickplace") == "fetch"
    assert len(set(train_instructions("fetch-push"))) == 3 and instruction("fetch-push", 3) not in train_instructions("fetch-push")
    with pytest.raises(ConfigError, match="Did you mean 'fetch-push'"):
        resolve_tasks("fetch-psh")
    emb = E.embodiment_for_task("fetch-reach")
    assert emb.id == "fetch" and emb.yaw_rad == 0.0 and default_safety_spec("fetch-push") == "fetch"
    spec = load_spec("fetch")
    text = resources.files("vlastack.safety").joinpath("specs/fetch.json").read_text()
    assert spec_from_dict(json.loads(text)) == spec and spec.stop_within_limits
    assert spec.action.dim == emb.native_dim and spec.gripper.action_index == emb.gripper_dim == 3
    assert spec.control_period_s == emb.control_period_s
    with pytest.raises(ConfigError, match="cannot share a dataset"):
        CollectConfig(tasks=("fetch-reach", "reach-v3"), episodes=1, out=tmp_path, safety=None)
    config = CollectConfig(tasks=tuple(GROUPS["fetch"]), episodes=1, out=tmp_path, cameras=("external_camera_0",))
    assert config.safety_label == "fetch" and robot_type(config.tasks) == "fetch"


def _looks_real(img: np.ndarray) -> bool:
    """A rendered scene, not a blank frame: contrast, many colours, not mostly one colour."""
    flat = img.reshape(-1, 3)
    colours, counts = np.unique(flat // 16, axis=0, return_counts=True)
    return bool(img.std() > 20 and len(colours) >= 8 and counts.max() < 0.9 * len(flat))


def _red_pixels(img: np.ndarray) -> int:
    """Pixels of the red goal marker: strong red, little green and blue."""
    i = img.astype(int)
    return int(((i[..., 0] > 150) & (i[..., 1] < 80) & (i[..., 2] < 80)).sum())


@pytest.fixture(scope="module")
def env():
    need_fetch()
    from vlastack.envs import make_env

    e = make_env("fetch-pickplace", image_size=64, depth=True)
    yield e
    e.close()


@pytest.mark.slow
def test_observation_has_the_documented_shapes_and_seeded_resets_repeat(env):
    from vlastack.envs.fetch_env import PRIVILEGED_NAMES, STATE_NAMES, TOUCH_NAMES

    obs, info = env.reset(seed=3)
    assert set(obs.images) == {"external_camera_0"} and obs.images["external_camera_0"].shape == (64, 64, 3)
    assert obs.depth["external_camera_0"].shape == (64, 64) and 0.1 < float(obs.depth["external_camera_0"].min()) < 5.0  # metres
    assert obs.state.shape == (len(STATE_NAMES),) and obs.touch.shape == (len(TOUCH_NAMES),) == (6,) and obs.arm_contact.shape == (3,)
    assert info["privileged"].shape == (len(PRIVILEGED_NAMES),) and info["step"] == 0
    assert 1.0 < obs.state[0] < 1.6 and 0.4 < obs.state[2] < 0.7  # the grip site over the table (m, world frame)
    again, info2 = env.reset(seed=3)
    np.testing.assert_array_equal(info["privileged"], info2["privileged"])
    np.testing.assert_array_equal(obs.images["external_camera_0"], again.images["external_camera_0"])
    assert not np.allclose(env.reset(seed=4)[1]["privileged"][4:], info["privileged"][4:])  # another block start and goal
    # The gripper: +1 closes (opening -> 0), -1 opens (-> 1), Meta-World's sign.
    for _ in range(5):
        obs, *_ = env.step(np.array([0.0, 0.0, 0.0, -1.0]))
    assert obs.state[3] > 0.9
    for _ in range(5):
        obs, *_ = env.step(np.array([0.0, 0.0, 0.0, 1.0]))
    assert obs.state[3] < 0.1
    obs, *_ = env.step(np.array([1.0, 0.0, 0.0, 0.0]))
    assert obs.state[0] - again.state[0] > 0.01  # +x moves the hand along world +x
    with pytest.raises(ConfigError, match="action must have 4 entries"):
        env.step(np.zeros(7))


@pytest.mark.slow
def test_frames_are_not_blank_in_a_second_environment_of_the_process(env):
    """gymnasium-robotics' own renderer drew black frames once an environment was reopened in a process; vlastack
    renders itself. Two more environments, one closed before the next opens, must both draw the scene."""
    from vlastack.envs import make_env

    assert not _looks_real(np.zeros((64, 64, 3), np.uint8)) and not _looks_real(np.full((64, 64, 3), 200, np.uint8))
    first = env.reset(seed=0)[0].images["external_camera_0"]
    for task in ("fetch-reach", "fetch-push"):
        e = make_env(task, image_size=64)
        try:
            img = e.reset(seed=0)[0].images["external_camera_0"]
        finally:
            e.close()
        assert _looks_real(img), f"{task}: a blank frame (std {img.std():.1f})"
        assert _red_pixels(img) >= 3, f"{task}: the goal marker is not drawn"
    assert _looks_real(first) and _red_pixels(first) >= 3


@pytest.mark.slow
@pytest.mark.parametrize("task", list(TASKS))
def test_each_expert_succeeds(task):
    need_fetch()
    from vlastack.envs import make_env
    from vlastack.envs.experts import expert_for
    from vlastack.envs.rollout import rollout

    e = make_env(task, cameras=())
    try:
        for seed in (0, 1):
            r = rollout(e, expert_for(task).act, seed=seed, record=False)
            assert r.success and r.steps <= TASKS[task].max_steps, (task, seed, r.steps)
    finally:
        e.close()


@pytest.mark.slow
def test_collecting_one_episode_writes_a_dataset(tmp_path):
    need_fetch()
    from vlastack import keys
    from vlastack.envs import collect as collect_module
    from vlastack.envs.collect import collect
    from vlastack.envs.fetch_env import ACTION_NAMES, PRIVILEGED_NAMES
    from vlastack.episodes.reader import DatasetReader

    out = tmp_path / "ds"
    config = CollectConfig(tasks=("fetch-push",), episodes=1, out=out, image_size=32, cameras=("external_camera_0",))  # behind 'fetch'
    try:
        summary = collect(config, progress=False)
    finally:  # the worker runs in this process and keeps its environment: close it while EGL is alive
        collect_module._ENVS.clear()
    assert summary.kept == {"fetch-push": 1}
    reader = DatasetReader(out)
    assert reader.fps == 25 and reader.info["robot_type"] == "fetch"
    assert reader.info["features"][keys.ACTION]["names"] == ACTION_NAMES
    assert reader.info["features"][keys.ENV_STATE]["names"] == PRIVILEGED_NAMES
    frames = reader.read_columns(0)
    assert frames[keys.ACTION].shape[1] == 4 and bool(frames[keys.SUCCESS][-1]) and "safety.interventions" in frames


@pytest.mark.slow
def test_eval_runs_a_checkpoint_on_fetch(tmp_path):
    """An untrained policy of Fetch's sizes through ``vlastack eval``: the plumbing (env creation, the 'fetch' spec)."""
    need_fetch()
    from typer.testing import CliRunner

    from vlastack.cli import app
    from vlastack.envs.fetch_env import DEFAULT_CAMERAS, feature_names
    from vlastack.evaluation import runner
    from vlastack.policies import PRESETS
    from vlastack.policies.untrained import untrained_policy

    names = feature_names("fetch-reach")
    config = dataclasses.replace(
        PRESETS.get("l1-debug").policy, cameras=DEFAULT_CAMERAS, action_dim=len(names["action"]), state_dim=len(names["state"])
    )
    policy = untrained_policy(config)
    policy.data_info = {"image_size": [32, 32], "embodiments": ["fetch"]}
    policy.save_pretrained(tmp_path / "policy")
    report = tmp_path / "report"
    args = ["eval", "--checkpoint", str(tmp_path / "policy"), "--tasks", "fetch-reach", "--episodes", "1", "--max-steps", "4"]
    try:
        r = CliRunner().invoke(app, [*args, "--videos", "0", "--no-progress", "--json", "--report", str(report)])
    finally:
        runner.close_envs()  # the simulator's scenes closed now, not at interpreter exit
    assert r.exit_code == 0, r.output
    results = json.loads((report / "results.json").read_text())
    (episode,) = results["episodes"]
    assert episode["error"] is None and episode["limits"]["spec"] == "fetch" and 1 <= episode["steps"] <= 4


def test_visual_perturbations_change_the_picture_not_the_physics():
    need_fetch()
    from vlastack.envs.fetch_env import make_env
    from vlastack.envs.perturb import PERTURBATIONS

    def run(level: str) -> tuple[list[np.ndarray], list[np.ndarray]]:
        env = make_env("fetch-pickplace", image_size=32, touch=False, perturb=(level,))
        return look_run(env, ("external_camera_0",), ([1.0, 0.0, -1.0, -1.0], [0.0, 1.0, 0.0, 1.0]), 200_003)

    clean = run("none")
    for level in sorted(set(PERTURBATIONS) - {"none"}):
        images, states = run(level)
        assert all(np.array_equal(s, s0) for s, s0 in zip(states, clean[1], strict=True)), f"{level} changed the simulated state"
        changed = changed_pixels(images, clean[0])
        assert min(changed) >= 3, f"{level} left a frame unchanged: changed pixels per frame {changed}"
