"""FAST: round-trip error bounded by the scale, low frequencies first, the repair rule, clear errors."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vlastack.errors import ConfigError
from vlastack.tokenizers import FastTokenizer
from vlastack.tokenizers.dct import dct_matrix


@settings(max_examples=25, deadline=None)
@given(
    horizon=st.integers(2, 50),
    dim=st.integers(1, 7),
    scale=st.sampled_from([2.0, 5.0, 10.0, 20.0]),
    seed=st.integers(0, 2**32 - 1),
)
def test_round_trip_error_bounded_by_scale(smooth_chunks, horizon: int, dim: int, scale: float, seed: int) -> None:
    chunks = smooth_chunks(seed, 24, horizon, dim)
    tok = FastTokenizer(scale=scale).fit(chunks)
    assert tok.clip_fraction(chunks) == 0.0  # fitted chunks never leave the fitted coefficient range
    tokens = tok.encode_batch(chunks)
    assert all(0 <= t < tok.vocab_size for seq in tokens for t in seq)
    decoded = np.stack([tok.decode(t).actions for t in tokens])
    # Error in normalised units (q01 -> -1, q99 -> +1). Each coefficient is rounded by at most 0.5 / scale and
    # the DCT is orthonormal, so per chunk and dimension: RMS over time <= 0.5 / scale, max <= 0.5 * sqrt(H) / scale.
    err = (decoded - chunks) / tok.stats.half_range
    slack = 1e-5  # decoded actions are float32
    assert np.sqrt(np.mean(err**2, axis=1)).max() <= 0.5 / scale + slack
    assert np.abs(err).max() <= 0.5 * np.sqrt(horizon) / scale + slack


def test_smooth_chunks_compress_below_naive_length(smooth_chunks) -> None:
    chunks = smooth_chunks(0, 200, 50, 4)
    tok = FastTokenizer(scale=10).fit(chunks)
    lengths = [len(t) for t in tok.encode_batch(chunks)]
    assert np.mean(lengths) < 0.25 * 50 * 4  # binning needs 200 tokens per chunk
    assert tok.trained_vocab_size > 300  # BPE found merges beyond the base alphabet


def test_coefficients_are_flattened_low_frequencies_first() -> None:
    horizon, dim = 8, 3
    tok = FastTokenizer(scale=10).fit(np.zeros((1, horizon, dim)), q01=[-1.0] * dim, q99=[1.0] * dim)
    chunk = np.zeros((horizon, dim))
    chunk[:, 2] = 0.5 * dct_matrix(horizon)[1]  # frequency 1 of dimension 2 only, amplitude 0.5
    chunk[:, 0] = 0.2 * dct_matrix(horizon)[0]  # frequency 0 of dimension 0 only, amplitude 0.2
    coeffs = tok.coefficients(chunk[None])[0]
    expected = np.zeros(horizon * dim, dtype=np.int64)
    expected[0 * dim + 0] = 2  # all dimensions' frequency 0 first ...
    expected[1 * dim + 2] = 5  # ... then all dimensions' frequency 1
    np.testing.assert_array_equal(coeffs, expected)


def test_out_of_range_coefficients_are_clipped_at_encode(smooth_chunks) -> None:
    chunks = smooth_chunks(1, 50, 16, 2)
    tok = FastTokenizer(scale=10).fit(chunks)
    wild = chunks[0] + 100.0 * tok.stats.half_range  # far outside anything seen
    assert tok.clip_fraction(wild[None]) > 0.0
    tokens = tok.encode(wild)  # still encodes, to valid ids
    result = tok.decode(tokens)
    assert not result.repaired and np.all(np.isfinite(result.actions))
    assert np.all(tok.coefficients(result.actions[None].astype(np.float64))[0] <= tok.coeff_max + 1)


# ----- repair rule ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def fitted() -> tuple[FastTokenizer, np.ndarray]:
    rng = np.random.default_rng(7)
    t = np.linspace(0, 1, 10)[None, :, None]
    chunks = np.sin(2 * np.pi * (t * rng.uniform(0.2, 1.0, (64, 1, 3)) + rng.uniform(0, 1, (64, 1, 3))))
    return FastTokenizer(scale=10, vocab_size=256).fit(chunks), chunks


def test_truncated_tokens_zero_the_missing_high_frequencies(fitted) -> None:
    tok, chunks = fitted
    tokens = tok.encode(chunks[0])
    assert len(tokens) >= 2
    result = tok.decode(tokens[:-1])
    assert result.repaired and "set the missing high frequencies to zero" in result.reason
    assert result.actions.shape == (10, 3)
    # The kept coefficients are decoded exactly: re-encoding the repaired chunk gives them back.
    kept = np.frombuffer("".join(tok._id_to_piece[i] for i in tokens[:-1]).encode("utf-32-le"), dtype="<u4").size
    full = tok.coefficients(chunks[0][None])[0]
    again = tok.coefficients(result.actions[None].astype(np.float64))[0]
    np.testing.assert_array_equal(again[:kept], full[:kept])
    np.testing.assert_array_equal(again[kept:], 0)


def test_unknown_ids_are_dropped_and_extra_coefficients_ignored(fitted) -> None:
    tok, chunks = fitted
    tokens = tok.encode(chunks[1])
    exact = tok.decode(tokens)
    assert not exact.repaired and exact.reason == ""
    noisy = tok.decode([-1, *tokens, tok.vocab_size + 3, *tokens])
    assert noisy.repaired and "dropped 2 ids not in the vocabulary" in noisy.reason and "ignored 30 coefficients" in noisy.reason
    np.testing.assert_array_equal(noisy.actions, exact.actions)


def test_empty_sequence_decodes_to_the_middle_of_the_range(fitted) -> None:
    tok, _ = fitted
    result = tok.decode([])
    assert result.repaired
    np.testing.assert_allclose(result.actions, np.broadcast_to((tok.stats.low + tok.stats.high) / 2, (10, 3)), atol=1e-6)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(st.integers(), st.integers(0, 300), st.floats(), st.none(), st.text(max_size=2)), max_size=60))
def test_decode_never_raises(fitted, tokens: list) -> None:
    tok, _ = fitted
    result = tok.decode(tokens)
    assert result.actions.shape == (10, 3) and result.actions.dtype == np.float32
    assert np.all(np.isfinite(result.actions)) and bool(result.reason) == result.repaired
    if any(type(t) is not int or not 0 <= t < tok.trained_vocab_size for t in tokens):
        assert result.repaired


# ----- bad input ------------------------------------------------------------------------------


def test_vocabulary_too_small_for_the_coefficient_range(smooth_chunks) -> None:
    chunks = smooth_chunks(2, 20, 16, 2)
    with pytest.raises(ConfigError, match=r"vocab_size=64 is too small .*scale=100 .*Raise vocab_size to at least \d+ .*lower scale"):
        FastTokenizer(scale=100, vocab_size=64).fit(chunks)
    tok = FastTokenizer(scale=100, vocab_size=64)
    with pytest.raises(ConfigError):
        tok.fit(chunks)
    assert not tok.is_fitted  # a failed fit leaves nothing half-done behind


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"scale": 0}, "scale must be a positive finite number"),
        ({"scale": float("nan")}, "scale must be a positive finite number"),
        ({"vocab_size": 1}, "vocab_size must be an integer of at least 2"),
        ({"vocab_size": 10.5}, "vocab_size must be an integer"),
        ({"min_frequency": 0}, "min_frequency must be an integer of at least 1"),
    ],
)
def test_bad_parameters(kwargs: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        FastTokenizer(**kwargs)


def test_encode_rejects_wrong_shapes_and_nan(fitted) -> None:
    tok, chunks = fitted
    with pytest.raises(ConfigError, match=r"shape \(10, 2\) but this tokenizer was fitted for horizon=10, action_dim=3"):
        tok.encode(chunks[0][:, :2])
    with pytest.raises(ConfigError, match=r"rank 2 .*expected rank 3"):
        tok.encode_batch(chunks[0])
    bad = chunks[:2].copy()
    bad[1, 4, 0] = np.inf
    with pytest.raises(ConfigError, match=r"NaN or infinite values \(first at index \(1, 4, 0\)\)"):
        tok.encode_batch(bad)
