"""Binning: error under half a bin inside the fitted range; the documented repair rule; clear errors."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from vlastack.errors import ConfigError
from vlastack.tokenizers import BinningTokenizer, make_tokenizer


@settings(max_examples=60, deadline=None)
@given(
    horizon=st.integers(1, 20),
    dim=st.integers(1, 6),
    n_bins=st.integers(2, 512),
    seed=st.integers(0, 2**32 - 1),
    data=st.data(),
)
def test_error_under_half_a_bin(horizon: int, dim: int, n_bins: int, seed: int, data: st.DataObject) -> None:
    rng = np.random.default_rng(seed)
    fit_chunks = rng.normal(size=(16, horizon, dim)) * rng.uniform(0.01, 100.0, size=dim) + rng.normal(size=dim)
    tok = BinningTokenizer(n_bins=n_bins).fit(fit_chunks)
    # Any chunk whose values lie inside [q01, q99]: a fraction of the way across each dimension's range.
    frac = data.draw(arrays(np.float64, (horizon, dim), elements=st.floats(0.0, 1.0)))
    chunk = tok.stats.low + frac * (tok.stats.high - tok.stats.low)
    tokens = tok.encode(chunk)
    assert len(tokens) == horizon * dim and all(0 <= t < n_bins for t in tokens)
    result = tok.decode(tokens)
    assert not result.repaired and result.actions.shape == (horizon, dim) and result.actions.dtype == np.float32
    half_bin = (tok.stats.high - tok.stats.low) / (2 * n_bins)
    float32_slack = 1e-6 * np.maximum(1.0, np.abs(chunk))
    assert np.all(np.abs(result.actions - chunk) <= half_bin * (1 + 1e-9) + float32_slack)


def test_tokens_are_time_major_bins() -> None:
    tok = BinningTokenizer(n_bins=4).fit(np.zeros((1, 2, 2)), q01=[0.0, 0.0], q99=[1.0, 10.0])
    # step 0: (0.1, 9.9) -> bins (0, 3); step 1: (0.6, 2.6) -> bins (2, 1)
    assert tok.encode(np.array([[0.1, 9.9], [0.6, 2.6]])) == [0, 3, 2, 1]
    np.testing.assert_allclose(tok.decode([0, 3, 2, 1]).actions, [[0.125, 8.75], [0.625, 3.75]])


def test_values_outside_the_range_are_clipped_to_the_end_bins() -> None:
    tok = BinningTokenizer(n_bins=4).fit(np.zeros((1, 1, 1)), q01=[0.0], q99=[1.0])
    assert tok.encode(np.array([[-5.0]])) == [0] and tok.encode(np.array([[7.0]])) == [3]
    assert tok.clip_fraction(np.array([[[-5.0], [0.5], [7.0], [0.2]]])) == 0.5


def test_percentiles_come_from_the_fitted_chunks() -> None:
    values = np.arange(101, dtype=np.float64).reshape(1, 101, 1)  # 0 .. 100
    tok = BinningTokenizer().fit(values)
    np.testing.assert_allclose([tok.stats.low[0], tok.stats.high[0]], [1.0, 99.0])


def test_constant_dimension_is_widened_not_divided_by_zero() -> None:
    chunks = np.zeros((4, 3, 2))
    chunks[..., 0] = 0.5
    chunks[..., 1] = np.linspace(-1, 1, 3)
    tok = BinningTokenizer().fit(chunks)
    np.testing.assert_allclose([tok.stats.low[0], tok.stats.high[0]], [-0.5, 1.5])
    result = tok.decode(tok.encode(chunks[0]))
    assert np.all(np.isfinite(result.actions)) and abs(result.actions[0, 0] - 0.5) <= 2.0 / 512 + 1e-6


# ----- repair rule ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tok() -> BinningTokenizer:
    return BinningTokenizer(n_bins=8).fit(np.zeros((1, 3, 2)), q01=[0.0, -1.0], q99=[8.0, 1.0])


def test_missing_steps_repeat_the_last_decoded_step(tok: BinningTokenizer) -> None:
    result = tok.decode([1, 2, 5])  # step 0 complete, step 1 has dimension 0 only, step 2 missing
    assert result.repaired and "got 3 of 6 tokens" in result.reason
    np.testing.assert_allclose(result.actions, [[1.5, -0.375], [5.5, -0.375], [5.5, -0.375]])


def test_empty_sequence_decodes_to_the_middle_of_the_range(tok: BinningTokenizer) -> None:
    result = tok.decode([])
    assert result.repaired and result.actions.shape == (3, 2)
    np.testing.assert_allclose(result.actions, [[4.0, 0.0]] * 3)


def test_out_of_range_ids_are_clipped_and_extra_tokens_ignored(tok: BinningTokenizer) -> None:
    result = tok.decode([-3, 99, 0, 0, 0, 0, 7, 7])
    assert result.repaired and "clipped 2 ids" in result.reason and "ignored 2 tokens" in result.reason
    np.testing.assert_allclose(result.actions[0], [0.5, 0.875])


def test_valid_tokens_are_not_repaired(tok: BinningTokenizer) -> None:
    result = tok.decode(np.array([0, 1, 2, 3, 4, 5], dtype=np.uint8))
    assert not result.repaired and result.reason == ""


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(st.integers(), st.integers(0, 7), st.floats(), st.none(), st.text(max_size=2)), max_size=12))
def test_decode_never_raises(tok: BinningTokenizer, tokens: list) -> None:
    result = tok.decode(tokens)
    assert result.actions.shape == (3, 2) and result.actions.dtype == np.float32
    assert np.all(np.isfinite(result.actions))
    exact = len(tokens) == 6 and all(type(t) is int and 0 <= t < 8 for t in tokens)
    assert result.repaired == (not exact) and bool(result.reason) == result.repaired


# ----- bad input ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("chunk", "message"),
    [
        (np.zeros((2, 3, 2)), r"rank 3 .*use encode_batch"),
        (np.zeros(6), r"rank 1 .*expected rank 2, \[horizon, action_dim\]"),
        (np.zeros((3, 5)), r"shape \(3, 5\) but this tokenizer was fitted for horizon=3, action_dim=2"),
        (np.zeros((4, 2)), r"fitted for horizon=3"),
        (np.array([[0.0, np.nan], [0.0, 0.0], [0.0, 0.0]]), r"1 NaN or infinite values \(first at index \(0, 1\)\)"),
        (np.array([[0.0, 0.0], [np.inf, 0.0], [0.0, 0.0]]), r"NaN or infinite .*drop or repair those frames"),
    ],
)
def test_encode_rejects_bad_chunks(tok: BinningTokenizer, chunk: np.ndarray, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        tok.encode(chunk)


def test_fit_and_construction_errors() -> None:
    with pytest.raises(ConfigError, match=r"chunks to fit has rank 2 .*use encode for a single chunk"):
        BinningTokenizer().fit(np.zeros((3, 2)))
    with pytest.raises(ConfigError, match="chunks to fit contains 1 NaN"):
        BinningTokenizer().fit(np.array([[[np.nan]]]))
    with pytest.raises(ConfigError, match="n_bins must be an integer of at least 2"):
        BinningTokenizer(n_bins=1)
    with pytest.raises(ConfigError, match="q01/q99 have 1 values but the chunks have action_dim=2"):
        BinningTokenizer().fit(np.zeros((1, 2, 2)), q01=[0.0], q99=[1.0])
    with pytest.raises(ConfigError, match="not fitted; call fit"):
        BinningTokenizer().encode(np.zeros((2, 2)))
    with pytest.raises(ConfigError, match="Did you mean 'bins'"):
        make_tokenizer("binz")
