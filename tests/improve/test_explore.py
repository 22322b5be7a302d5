"""rl-sim's pieces without the simulator: the exploration noise, the score, the weights, and one
explored episode with a fake environment and policy."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from vlastack import keys
from vlastack.errors import ConfigError
from vlastack.improve.explore import (
    EXPLORE_ACTION,
    ExploreConfig,
    adaptive_std,
    balanced_copies,
    episode_copies,
    episode_score,
    episode_weights,
    explore_action,
    held_return,
    ou_noise,
    run_explored,
)
from vlastack.improve.interventions import POLICY_ACTION
from vlastack.types import ActionChunk, Observation


def _autocorrelation(x: np.ndarray, lag: int) -> float:
    x = x - x.mean(axis=0)
    return float((x[lag:] * x[:-lag]).sum() / (x * x).sum())


def test_noise_is_seeded_has_the_asked_size_and_decorrelates_over_its_correlation_time():
    x = ou_noise(20_000, 4, std=0.3, correlation_steps=20.0, seed=7)
    assert x.shape == (20_000, 4) and x.dtype == np.float32
    assert np.array_equal(x, ou_noise(20_000, 4, std=0.3, correlation_steps=20.0, seed=7))
    assert not np.allclose(x[:100], ou_noise(100, 4, std=0.3, correlation_steps=20.0, seed=8))
    assert np.allclose(x.std(axis=0), 0.3, rtol=0.15)
    first = np.concatenate([ou_noise(1, 4, 0.3, 20.0, seed=s)[0] for s in range(1000)])
    assert first.std() == pytest.approx(0.3, rel=0.1)  # stationary from the first step, not ramping up from 0
    assert np.allclose(ou_noise(50, 4, 0.3, 20.0, seed=7), x[:50])  # a shorter episode: the same noise, cut
    assert _autocorrelation(x, 1) == pytest.approx(np.exp(-1 / 20), abs=0.02)
    assert _autocorrelation(x, 20) == pytest.approx(np.exp(-1), abs=0.1)
    assert _autocorrelation(x, 200) == pytest.approx(0.0, abs=0.1)
    white = ou_noise(20_000, 4, std=0.3, correlation_steps=0.01, seed=7)
    assert abs(_autocorrelation(white, 1)) < 0.05  # a short correlation time: independent steps
    assert not np.any(ou_noise(30, 4, std=0.0, correlation_steps=20.0, seed=7))


def test_the_noisy_action_stays_in_range_unless_the_policy_was_already_outside():
    proposed = np.array([0.9, -0.9, 0.0, 1.3], np.float32)
    sent = explore_action(proposed, np.array([0.5, -0.5, 0.2, 0.5], np.float32))
    assert np.allclose(sent, [1.0, -1.0, 0.2, 1.3])
    assert np.allclose(explore_action(proposed, np.array([-0.5, 0.5, -0.1, -0.5])), [0.4, -0.4, -0.1, 0.8])


def test_score_credits_success_speed_and_dense_reward_and_penalises_safety_steps():
    cfg = ExploreConfig(success_bonus=1.0, safety_penalty=0.01)
    assert held_return(np.array([1.0, 2.0, 10.0]), max_steps=5) == pytest.approx(33.0)  # 10 held for 2 more steps
    assert held_return(np.array([1.0, 2.0]), max_steps=2) == pytest.approx(3.0)
    quick = episode_score(True, np.array([5.0, 10.0]), 0, 10, cfg)
    slow = episode_score(True, np.array([5.0] * 8 + [10.0]), 0, 10, cfg)
    failed = episode_score(False, np.array([9.0] * 10), 0, 10, cfg)
    assert quick == pytest.approx(1.0 + (5 + 90) / 100) and quick > slow > failed
    assert failed == pytest.approx(0.9)
    assert episode_score(True, np.array([5.0, 10.0]), 7, 10, cfg) == pytest.approx(quick - 0.07)


def test_weights_follow_the_advantage_and_copies_the_weights():
    cfg = ExploreConfig(temperature=0.5, max_weight=10.0)
    w = episode_weights([0.0, 0.5, 1.0], cfg)
    assert w.mean() == pytest.approx(1.0)
    assert w[2] / w[1] == pytest.approx(np.exp(1.0)) and w[1] / w[0] == pytest.approx(np.exp(1.0))
    assert np.allclose(episode_weights([0.3, 0.3], cfg), 1.0)
    assert episode_weights([0.0, 0.0, 5.0], ExploreConfig(max_weight=2.0)).max() == pytest.approx(2.0)  # the cap
    sharp = episode_weights([0.0, 0.5, 1.0], ExploreConfig(temperature=0.05, max_weight=10.0))
    assert sharp[2] > w[2] and sharp[0] < w[0]
    assert episode_copies([0.3, 0.3, 0.3], [False] * 3, 4, cfg) == [4, 4, 4]
    assert episode_copies([0.0, 1.0], [False, True], 4, ExploreConfig(temperature=0.01)) == [0, 8]
    assert episode_copies([1.2, 1.1, 0.9], [True, True, False], 2, ExploreConfig(temperature=10.0, success_only=True)) == [2, 2, 0]


def test_config_errors_name_the_field():
    bad = (("noise_std", -0.1), ("noise_steps", 0.0), ("temperature", 0.0), ("max_weight", 0.5), ("safety_penalty", -1), ("label", "x"))
    bad += (("noise_until", "contact"), ("min_noise_scale", 1.5), ("contact_n", -1.0), ("adaptive_noise", "yes"))
    for field, value in bad:
        with pytest.raises(ConfigError, match=f"ExploreConfig.{field} must be"):
            ExploreConfig(**{field: value})


class _Env:
    """Ten steps of nothing: the observation carries the step index in its state."""

    def __init__(self) -> None:
        self.config = SimpleNamespace(task="fake-v3")
        self.action_space = SimpleNamespace(shape=(4,))
        self.instruction = "do nothing"
        self.sent: list[np.ndarray] = []

    def _obs(self):
        obs = Observation(images={}, state=np.array([len(self.sent), 0, 0, 0], np.float32), instruction=self.instruction)
        return obs, {"privileged": np.zeros(39), "success": False}

    def reset(self, seed=None):
        self.sent = []
        return self._obs()

    def step(self, action):
        self.sent.append(np.asarray(action, np.float32))
        obs, info = self._obs()
        return obs, float(len(self.sent)), False, len(self.sent) >= 10, info


class _Policy:
    """Each chunk's actions are all (step it was planned at) / 100."""

    def __call__(self, observation):
        return ActionChunk(np.full((1, 8, 4), float(observation.state[0]) / 100, np.float32))


def test_an_explored_episode_sends_the_policys_action_plus_the_noise_of_each_step_and_records_both():
    env = _Env()
    noise = ou_noise(10, 4, std=0.2, correlation_steps=5.0, seed=3)
    result = run_explored(env, _Policy(), noise, seed=3, safety=None, execute_steps=4)
    planned = np.repeat([0.0, 0.04, 0.08], 4)[:10]
    frames = result.episode.frames
    assert np.allclose(frames[POLICY_ACTION][:, 0], planned)
    assert np.allclose(np.stack(env.sent), planned[:, None] + noise, atol=1e-6)  # nothing near the range's ends
    assert np.allclose(frames[EXPLORE_ACTION], np.stack(env.sent)) and np.allclose(frames[keys.ACTION], np.stack(env.sent))
    assert result.steps == 10 and result.safety_interventions == 0 and not result.success and result.cpu_s >= 0


class _TouchEnv(_Env):
    """The fake environment whose right finger reads 2 N from step ``contact`` on."""

    def __init__(self, contact: int) -> None:
        super().__init__()
        self.contact = contact

    def _obs(self):
        obs, info = super()._obs()
        obs.touch = np.array([2.0 if len(self.sent) >= self.contact else 0.5, 0.0], np.float32)
        return obs, info


def test_first_contact_stops_the_noise_at_the_first_touch_above_the_threshold_and_always_keeps_it():
    noise = ou_noise(10, 4, std=0.2, correlation_steps=5.0, seed=3)
    planned = np.repeat([0.0, 0.04, 0.08], 4)[:10, None]
    env = _TouchEnv(contact=6)
    result = run_explored(env, _Policy(), noise, seed=3, safety=None, execute_steps=4, contact_n=1.0)
    sent = np.stack(env.sent)
    assert np.allclose(sent[:6], planned[:6] + noise[:6], atol=1e-6)
    assert np.array_equal(sent[6:], result.episode.frames[POLICY_ACTION][6:])  # from the contact on: the policy's own actions
    assert np.allclose(sent[6:], planned[6:]) and result.noisy_steps == 6 and np.array_equal(result.episode.frames[EXPLORE_ACTION], sent)
    env = _TouchEnv(contact=3)  # 2 N is not above a 2.5 N threshold: noise to the end
    assert run_explored(env, _Policy(), noise, seed=3, safety=None, execute_steps=4, contact_n=2.5).noisy_steps == 10
    # The default (noise_until=always): every step has its noise, whatever the fingers touch.
    env = _TouchEnv(contact=0)
    result = run_explored(env, _Policy(), noise, seed=3, safety=None, execute_steps=4)
    assert np.allclose(np.stack(env.sent), planned + noise, atol=1e-6) and result.noisy_steps == 10
    with pytest.raises(ConfigError, match="needs touch readings"):
        run_explored(_Env(), _Policy(), noise, seed=3, safety=None, execute_steps=4, contact_n=1.0)


def test_adaptive_std_scales_by_failure_and_a_solved_task_explores_at_the_floor():
    assert adaptive_std(0.2, 0.0, 0.1) == pytest.approx(0.2)
    assert adaptive_std(0.2, 0.4, 0.1) == pytest.approx(0.12)
    assert adaptive_std(0.2, 0.95, 0.1) == pytest.approx(0.02) and adaptive_std(0.2, 1.0, 0.1) == pytest.approx(0.02)
    assert adaptive_std(0.2, 1.0, 0.0) == 0.0


def test_balancing_gives_a_rarely_solved_task_the_most_copies_and_a_solved_one_none():
    config = ExploreConfig(balance_tasks=True, balance_max_copies=8)
    w = np.ones(10)
    # 10 episodes at new_data_weight 2: a task solved 10 % of the time shares 18 copies, capped per episode
    assert balanced_copies([0] * 9 + [6], w, 0.1, 2, config) == [0] * 9 + [8]
    # half solved: 10 copies over its 5 kept episodes, in proportion to their weights
    weights = np.array([1, 1, 1, 1, 1, 3, 1, 1, 1, 3], float)
    assert balanced_copies([2, 2, 2, 2, 2, 0, 0, 0, 0, 0], weights, 0.5, 2, config) == [2] * 5 + [0] * 5
    assert balanced_copies([0, 2, 0, 2, 0, 0, 0, 0, 0, 6], weights, 0.5, 2, config) == [0, 2, 0, 2, 0, 0, 0, 0, 0, 6]
    # nearly solved: every kept episode keeps at least one copy; always solved: none
    assert balanced_copies([2] * 9 + [0], w, 0.9, 2, config) == [1] * 9 + [0]
    assert balanced_copies([2] * 10, w, 1.0, 2, config) == [0] * 10
    assert balanced_copies([0] * 10, w, 0.0, 2, config) == [0] * 10
    with pytest.raises(ConfigError, match="balance_max_copies"):
        ExploreConfig(balance_max_copies=0)


def test_a_balanced_round_rebalances_the_kept_episodes_by_the_validation_success(tmp_path, monkeypatch):
    import json

    from vlastack.improve.explore_rounds import score_round, task_noise
    from vlastack.improve.rounds import ImproveConfig

    (tmp_path / "ckpt").mkdir(), (tmp_path / "demos").mkdir(), (tmp_path / "out").mkdir()
    tasks = ("reach-v3", "door-open-v3")
    (tmp_path / "out" / "start_validation.json").write_text(json.dumps({"per_task": {"reach-v3": 0.2, "door-open-v3": 1.0}}))
    explore = ExploreConfig(noise_std=0.2, success_only=True, balance_tasks=True)
    config = ImproveConfig(checkpoint=tmp_path / "ckpt", demos=tmp_path / "demos", tasks=tasks, out=tmp_path / "out", explore=explore)
    noise = task_noise(config, 1)
    assert noise == {"reach-v3": {"noise_std": 0.2, "noise_success": 0.2}, "door-open-v3": {"noise_std": 0.2, "noise_success": 1.0}}

    class _Reader:  # two episodes per task: reach solved once, door-open twice
        num_episodes = 4

        def __init__(self, root):
            self.meta = [
                ("reach-v3", 600_010, True),
                ("reach-v3", 600_011, False),
                ("door-open-v3", 600_010, True),
                ("door-open-v3", 600_011, True),
            ]

        def episode_meta(self, e):
            task, seed, ok = self.meta[e]
            return {"vlastack/env_task": task, "vlastack/seed": seed, "vlastack/success": ok}

        def read_columns(self, e):
            return {keys.REWARD: np.full(20, 5.0, np.float32)}

    import vlastack.episodes.reader as reader_module

    monkeypatch.setattr(reader_module, "DatasetReader", _Reader)
    success = {t: v["noise_success"] for t, v in noise.items()}
    scored = score_round(config, [600_010, 600_011], tmp_path / "none.jsonl", success)
    copies = {(x["task"], x["seed"]): x["copies"] for x in scored}
    # reach: 4 * 2 * 0.8 = 6.4 copies for its one success; door-open, always solved in validation: none
    assert copies == {("reach-v3", 600_010): 6, ("reach-v3", 600_011): 0, ("door-open-v3", 600_010): 0, ("door-open-v3", 600_011): 0}
    with pytest.raises(ConfigError, match="balance_tasks: no validation success"):
        score_round(config, [600_010, 600_011], tmp_path / "none.jsonl", None)


def test_each_round_scales_the_noise_by_the_validation_of_the_policy_that_explores(tmp_path):
    import json

    from vlastack.improve.explore_rounds import task_noise
    from vlastack.improve.rounds import ImproveConfig

    (tmp_path / "ckpt").mkdir(), (tmp_path / "demos").mkdir(), (tmp_path / "out" / "round_1").mkdir(parents=True)
    tasks = ("reach-v3", "push-v3", "door-open-v3")
    (tmp_path / "out" / "start_validation.json").write_text(json.dumps({"per_task": dict(zip(tasks, [0.9, 0.4, 1.0], strict=True))}))
    (tmp_path / "out" / "round_1" / "validation.json").write_text(json.dumps({"per_task": dict(zip(tasks, [0.0, 0.5, 1.0], strict=True))}))
    explore = ExploreConfig(noise_std=0.2, adaptive_noise=True)
    config = ImproveConfig(checkpoint=tmp_path / "ckpt", demos=tmp_path / "demos", tasks=tasks, out=tmp_path / "out", explore=explore)
    first, second = task_noise(config, 1), task_noise(config, 2)
    assert [first[t]["noise_std"] for t in tasks] == pytest.approx([0.02, 0.12, 0.02])
    assert [first[t]["noise_success"] for t in tasks] == [0.9, 0.4, 1.0]
    assert [second[t]["noise_std"] for t in tasks] == pytest.approx([0.2, 0.1, 0.02])
    from dataclasses import replace

    fixed = task_noise(replace(config, explore=ExploreConfig(noise_std=0.2)), 1)  # the default: no file read, one std
    assert fixed == {t: {"noise_std": 0.2} for t in tasks}


def test_a_run_started_before_rl_sim_existed_resumes_while_explore_keeps_its_defaults(tmp_path):
    import json

    from vlastack.improve.rounds import ImproveConfig, _check_same_run

    (tmp_path / "ckpt").mkdir(), (tmp_path / "demos").mkdir()
    config = ImproveConfig(checkpoint=tmp_path / "ckpt", demos=tmp_path / "demos", tasks=("reach-v3",), out=tmp_path / "out")
    config.out.mkdir()
    _check_same_run(config)
    saved = json.loads((config.out / "improve_config.json").read_text())
    assert saved["explore"]["noise_std"] == ExploreConfig().noise_std
    explore = saved.pop("explore")  # as an older vlastack wrote it
    (config.out / "improve_config.json").write_text(json.dumps(saved))
    _check_same_run(config)  # no complaint
    from dataclasses import replace

    with pytest.raises(ConfigError, match=r"other settings \(explore\)"):
        _check_same_run(replace(config, explore=ExploreConfig(noise_std=0.25)))
    new = ("adaptive_noise", "min_noise_scale", "noise_until", "contact_n", "balance_tasks", "balance_max_copies")
    saved["explore"] = {k: v for k, v in explore.items() if k not in new}  # as vlastack wrote it before them
    (config.out / "improve_config.json").write_text(json.dumps(saved))
    _check_same_run(config)
    with pytest.raises(ConfigError, match=r"other settings \(explore\)"):
        _check_same_run(replace(config, explore=ExploreConfig(noise_until="first_contact")))
    with pytest.raises(ConfigError, match="episodes must be <= 10000 for rl-sim"):
        replace(config, method="rl-sim", episodes=10_001)
    with pytest.raises(ConfigError, match="rounds must be <= 29 for rl-sim"):
        replace(config, method="rl-sim", rounds=30)
