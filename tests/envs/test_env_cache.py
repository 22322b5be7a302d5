"""The bounded cache of a simulator worker's environments (envs/env_cache.py)."""

import pytest

from vlastack.envs.env_cache import EnvCache
from vlastack.errors import ConfigError


class _Env:
    def __init__(self, name, closed):
        self.name, self.closed = name, closed

    def close(self):
        self.closed.append(self.name)


def test_it_keeps_the_last_two_tasks_and_closes_the_one_that_falls_out():
    closed, made = [], []
    cache = EnvCache(max_envs=2)

    def get(name):
        return cache.get(name, lambda: made.append(name) or _Env(name, closed))

    a = get("reach")
    assert get("reach") is a and made == ["reach"]  # kept between episodes of one task
    get("push")
    get("reach")  # used again: now the most recent, so push is the one to go next
    get("door")
    assert closed == ["push"] and [k for k, _ in cache.items()] == ["reach", "door"]
    for task in ("t3", "t4", "t5", "t6"):  # a worker walking through many tasks never holds more than two
        get(task)
        assert len(cache) <= 2
    assert closed == ["push", "reach", "door", "t3", "t4"]
    cache.clear()
    assert len(cache) == 0 and closed[-2:] == ["t5", "t6"]


def test_a_custom_close_releases_a_tuple_and_a_failing_close_warns_but_does_not_stop_the_next_episode():
    closed = []
    cache = EnvCache(max_envs=1, close=lambda kept: kept[0].close())
    cache.get("a", lambda: (_Env("a", closed), "expert"))
    cache.get("b", lambda: (_Env("b", closed), "expert"))
    assert closed == ["a"]

    class _Broken:
        def close(self):
            raise RuntimeError("EGL context lost")

    broken = EnvCache(max_envs=1)
    broken.get("x", _Broken)
    with pytest.warns(UserWarning, match="EGL context lost"):
        env = broken.get("y", lambda: _Env("y", closed))
    assert env.name == "y" and "y" in broken


def test_a_make_that_raises_keeps_nothing():
    cache = EnvCache()

    def fail():
        raise ValueError("unknown task")

    with pytest.raises(ValueError, match="unknown task"):
        cache.get("bad", fail)
    assert "bad" not in cache and len(cache) == 0


@pytest.mark.parametrize("bad", [0, -1, 1.5, True])
def test_max_envs_must_be_a_positive_integer(bad):
    with pytest.raises(ConfigError, match="max_envs must be an integer >= 1"):
        EnvCache(max_envs=bad)
