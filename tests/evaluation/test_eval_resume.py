"""An interrupted evaluation resumes from its episode log instead of starting over."""

from __future__ import annotations

import dataclasses
import os

import pytest

from vlastack.errors import ConfigError
from vlastack.evaluation import runner
from vlastack.evaluation.episode_log import LOG_NAME
from vlastack.evaluation.protocol import EpisodeResult, eval_seed


class FakeEpisodes:
    """Stands for run_episode: episode k succeeds when k is even; optionally 'killed' at call N."""

    def __init__(self, kill_at: int | None = None) -> None:
        self.calls: list[tuple[str, int]] = []
        self.kill_at = kill_at

    def __call__(self, config, task, episode, record):
        if self.kill_at is not None and len(self.calls) + 1 == self.kill_at:
            raise KeyboardInterrupt
        self.calls.append((task, episode))
        return EpisodeResult(task, eval_seed(episode), episode % 2 == 0, 10 + episode, [1.0, 2.0]), None


@pytest.fixture
def config(tmp_path, monkeypatch):
    ckpt = tmp_path / "ckpt"
    ckpt.mkdir()
    (ckpt / "model.safetensors").write_bytes(b"weights")
    monkeypatch.setattr(runner, "_check_checkpoint", lambda path: None)
    return runner.EvalConfig(checkpoint=ckpt, tasks=("reach-v3", "push-v3"), episodes=3, video_tasks=1)


def test_a_killed_evaluation_resumes_where_it_stopped(tmp_path, config, monkeypatch):
    first = FakeEpisodes(kill_at=5)
    monkeypatch.setattr(runner, "run_episode", first)
    with pytest.raises(KeyboardInterrupt):
        runner.evaluate(config, progress=False, log_dir=tmp_path / "report")
    assert len(first.calls) == 4
    with open(tmp_path / "report" / LOG_NAME, "a") as f:
        f.write('{"task": "push-v3", "se')  # the kill can cut the last line short
    again = FakeEpisodes()
    monkeypatch.setattr(runner, "run_episode", again)
    results, _ = runner.evaluate(config, progress=False, log_dir=tmp_path / "report", resume=True)
    # reach-v3 episode 0 is recorded for the report's video, so it runs again; the other three are kept.
    assert again.calls == [("reach-v3", 0), ("push-v3", 1), ("push-v3", 2)]
    assert [(r.task, r.seed - eval_seed(0), r.success) for r in results] == [
        ("reach-v3", 0, True),
        ("reach-v3", 1, False),
        ("reach-v3", 2, True),
        ("push-v3", 0, True),
        ("push-v3", 1, False),
        ("push-v3", 2, True),
    ]
    assert results[1].latency_ms == [1.0, 2.0]  # kept episodes keep their latencies for the summary
    # The log now holds the whole run: a second resume runs only the recorded episode.
    last = FakeEpisodes()
    monkeypatch.setattr(runner, "run_episode", last)
    runner.evaluate(config, progress=False, log_dir=tmp_path / "report", resume=True)
    assert last.calls == [("reach-v3", 0)]


def test_resume_refuses_other_settings_or_retrained_weights(tmp_path, config, monkeypatch):
    monkeypatch.setattr(runner, "run_episode", FakeEpisodes())
    runner.evaluate(config, progress=False, log_dir=tmp_path / "report")
    with pytest.raises(ConfigError, match="max_steps: logged 500, now 100"):
        runner.evaluate(dataclasses.replace(config, max_steps=100), progress=False, log_dir=tmp_path / "report", resume=True)
    weights = config.checkpoint / "model.safetensors"
    os.utime(weights, ns=(weights.stat().st_atime_ns, weights.stat().st_mtime_ns + 10**9))
    with pytest.raises(ConfigError, match="weights"):
        runner.evaluate(config, progress=False, log_dir=tmp_path / "report", resume=True)
    fresh = FakeEpisodes()
    monkeypatch.setattr(runner, "run_episode", fresh)
    runner.evaluate(config, progress=False, log_dir=tmp_path / "report")  # without --resume: start afresh
    assert len(fresh.calls) == 6


def test_resume_needs_a_log_directory(config):
    with pytest.raises(ConfigError, match="--report"):
        runner.evaluate(config, progress=False, resume=True)
