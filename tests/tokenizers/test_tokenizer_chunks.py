"""Cutting episodes into chunks: every step, last action repeated (or the window dropped)."""

from __future__ import annotations

import numpy as np
import pytest

from vlastack.errors import ConfigError
from vlastack.tokenizers.chunks import make_chunks, subsample


def ramp(steps: int, dim: int = 2) -> np.ndarray:
    return np.arange(steps * dim, dtype=np.float32).reshape(steps, dim)


def test_repeat_starts_at_every_step_and_repeats_the_last_action() -> None:
    chunks = make_chunks([ramp(5), ramp(3)], horizon=4)
    assert chunks.shape == (8, 4, 2) and chunks.dtype == np.float32
    np.testing.assert_array_equal(chunks[0], ramp(5)[:4])
    np.testing.assert_array_equal(chunks[3], ramp(5)[[3, 4, 4, 4]])  # past the end: the last action again
    np.testing.assert_array_equal(chunks[5], ramp(3)[[0, 1, 2, 2]])  # the second episode starts fresh


def test_drop_keeps_only_whole_windows() -> None:
    chunks = make_chunks([ramp(5), ramp(3)], horizon=4, pad="drop")
    assert chunks.shape == (2, 4, 2)  # 5 - 4 + 1 windows from the first episode, none from the short one
    np.testing.assert_array_equal(chunks[1], ramp(5)[1:5])


def test_stride_and_empty_episodes() -> None:
    chunks = make_chunks([ramp(0), ramp(7)], horizon=2, stride=3)
    np.testing.assert_array_equal(chunks[:, 0], ramp(7)[[0, 3, 6]])


def test_subsample_is_even_and_deterministic() -> None:
    chunks = np.arange(100)[:, None, None].astype(np.float32)
    picked = subsample(chunks, 10)
    assert len(picked) == 10 and picked[0, 0, 0] == 0 and picked[-1, 0, 0] == 99
    np.testing.assert_array_equal(picked, subsample(chunks, 10))
    assert subsample(chunks, 0) is chunks


@pytest.mark.parametrize(
    ("episodes", "kwargs", "message"),
    [
        ([ramp(5)], {"horizon": 0}, "horizon must be a positive integer"),
        ([ramp(5)], {"horizon": 2, "stride": 0}, "stride must be"),
        ([ramp(5)], {"horizon": 2, "pad": "zeros"}, "pad must be one of repeat, drop"),
        ([np.zeros(5)], {"horizon": 2}, r"rank 1 .*expected \[steps, action_dim\]"),
        ([ramp(5, 2), ramp(5, 3)], {"horizon": 2}, "action_dim 3 but earlier episodes have 2"),
        ([np.array([[0.0], [np.nan]])], {"horizon": 2}, "NaN or infinite actions .*step 1"),
        ([ramp(3)], {"horizon": 4, "pad": "drop"}, "no chunks of 4 steps"),
    ],
)
def test_bad_input_names_the_problem(episodes, kwargs, message) -> None:
    with pytest.raises(ConfigError, match=message):
        make_chunks(episodes, **kwargs)
