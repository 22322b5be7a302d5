"""Orthonormal discrete cosine transforms (DCT-II and its inverse, DCT-III), in numpy.

FAST needs the type-II DCT with orthonormal scaling (scipy's ``dct(x, norm="ortho")``) along the
time axis of short action chunks (a horizon of 8 to a few hundred steps). For such lengths a cached
basis matrix and one matrix product are exact, simple and fast, so scipy is not a dependency.

Definitions, for a signal ``x[n]`` of length ``N`` and frequency index ``k``::

    X[k] = s(k) * sum_n x[n] * cos(pi * (n + 1/2) * k / N),   s(0) = sqrt(1/N), s(k>0) = sqrt(2/N)
    x[n] = sum_k s(k) * X[k] * cos(pi * (n + 1/2) * k / N)      (DCT-III: the exact inverse)

The basis matrix ``C[k, n]`` is orthogonal (``C @ C.T == I``), so the transform keeps the energy of a
signal: a rounding error of at most ``e`` on every coefficient becomes an error whose root mean square
over the ``N`` samples is at most ``e``, and whose largest sample is at most ``e * sqrt(N)``.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np


@lru_cache(maxsize=64)
def dct_matrix(n: int) -> np.ndarray:
    """The orthonormal DCT-II basis ``C[k, n]``, float64 [n, n], read-only; row ``k`` is frequency ``k``."""
    if n < 1:
        raise ValueError(f"DCT length must be at least 1, got {n}")
    k = np.arange(n, dtype=np.float64)[:, None]
    t = np.arange(n, dtype=np.float64)[None, :]
    basis = np.cos(np.pi * (t + 0.5) * k / n)
    basis[0] *= np.sqrt(1.0 / n)
    basis[1:] *= np.sqrt(2.0 / n)
    basis.setflags(write=False)
    return basis


def _along(matrix_of_n, x: np.ndarray, axis: int) -> np.ndarray:
    """``M @ x`` along ``axis`` of ``x``, where ``M = matrix_of_n(x.shape[axis])``."""
    x = np.asarray(x, dtype=np.float64)
    axis = axis % x.ndim
    m = matrix_of_n(x.shape[axis])
    if axis == x.ndim - 2:  # the common case, [..., time, dim]: one broadcast matrix product
        return m @ x
    moved = np.moveaxis(x, axis, -1)
    return np.moveaxis(moved @ m.T, -1, axis)


def _dct_matrix_t(n: int) -> np.ndarray:
    return dct_matrix(n).T


def dct(x: np.ndarray, axis: int = 0) -> np.ndarray:
    """Orthonormal DCT-II of ``x`` along ``axis`` (float64); equals scipy's ``dct(x, type=2, norm="ortho")``."""
    return _along(dct_matrix, x, axis)


def idct(coefficients: np.ndarray, axis: int = 0) -> np.ndarray:
    """Orthonormal DCT-III of ``coefficients`` along ``axis``: the exact inverse of :func:`dct`."""
    return _along(_dct_matrix_t, coefficients, axis)
