"""The numpy DCT matches its textbook definition (and scipy where installed) and inverts exactly."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from vlastack.tokenizers.dct import dct, dct_matrix, idct


def direct_dct(x: np.ndarray) -> np.ndarray:
    """The orthonormal DCT-II written out as a double loop."""
    n = len(x)
    out = np.zeros(n)
    for k in range(n):
        s = np.sqrt(1.0 / n) if k == 0 else np.sqrt(2.0 / n)
        out[k] = s * sum(x[t] * np.cos(np.pi * (t + 0.5) * k / n) for t in range(n))
    return out


@pytest.mark.parametrize("n", [1, 2, 5, 8, 16])
def test_matches_definition(n: int) -> None:
    x = np.random.default_rng(n).normal(size=n)
    np.testing.assert_allclose(dct(x), direct_dct(x), atol=1e-12)


@pytest.mark.parametrize("n", [1, 3, 8, 50])
def test_basis_is_orthonormal(n: int) -> None:
    c = dct_matrix(n)
    np.testing.assert_allclose(c @ c.T, np.eye(n), atol=1e-12)
    assert not c.flags.writeable  # the cached matrix cannot be corrupted by a caller


def test_axis_handling_matches_scipy() -> None:
    fft = pytest.importorskip("scipy.fft")
    x = np.random.default_rng(0).normal(size=(3, 16, 4))
    for axis in (0, 1, 2, -1, -2):
        np.testing.assert_allclose(dct(x, axis=axis), fft.dct(x, axis=axis, norm="ortho"), atol=1e-12)
        np.testing.assert_allclose(idct(x, axis=axis), fft.idct(x, axis=axis, norm="ortho"), atol=1e-12)


@settings(max_examples=50, deadline=None)
@given(
    arrays(np.float64, st.tuples(st.integers(1, 4), st.integers(1, 60), st.integers(1, 5)), elements=st.floats(-1e3, 1e3)),
    st.integers(0, 2),
)
def test_inverse_and_energy(x: np.ndarray, axis: int) -> None:
    coeffs = dct(x, axis=axis)
    np.testing.assert_allclose(idct(coeffs, axis=axis), x, atol=1e-9)
    np.testing.assert_allclose(np.sum(coeffs**2), np.sum(x**2), rtol=1e-9, atol=1e-9)  # orthonormal: energy kept


def test_rejects_empty_length() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        dct_matrix(0)
