"""Per-step, per-dimension uniform binning (RT-2 / OpenVLA style): the exact, long baseline.

Encoding. Each action dimension ``d`` has ``n_bins`` equal bins between its fitted 1st and 99th
percentile ``[q01_d, q99_d]`` (256 bins by default, as in OpenVLA). A value becomes the index of its
bin, ``floor((x - q01) / width)``; values below ``q01`` or above ``q99`` are clipped into the first or
last bin (about 2% of training values by construction: their error exceeds half a bin). The tokens are
the bin indices in time-major order: step 0's dimensions, then step 1's, ..., ``horizon * action_dim``
tokens, every id in ``[0, n_bins)``; all dimensions share the same ``n_bins`` ids.

Decoding returns each bin's centre, so a value inside ``[q01, q99]`` comes back within half a bin width,
``(q99 - q01) / (2 * n_bins)``.

Repair rule (decoding never raises; ``repaired=True`` and ``reason`` lists what happened):

* entries that are not integers are dropped;
* ids outside ``[0, n_bins)`` are clipped to the nearest valid bin;
* more than ``horizon * action_dim`` tokens: the extra tokens are ignored;
* fewer: the missing values are filled step by step in time-major order, each with the same dimension's
  value at the previous step (so a truncated chunk holds its last decoded action); a dimension missing
  already at step 0 gets the middle of its range, ``(q01 + q99) / 2`` (normalised zero).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from vlastack.errors import ConfigError
from vlastack.tokenizers.base import ActionTokenizer, DecodeResult, as_token_ids
from vlastack.tokenizers.registry import TOKENIZERS

#: Bins per dimension by default (OpenVLA).
DEFAULT_BINS = 256


@TOKENIZERS.register("bins")
class BinningTokenizer(ActionTokenizer):
    """``horizon * action_dim`` tokens per chunk, each the bin of one value; ``vocab_size == n_bins``."""

    kind = "bins"

    def __init__(self, n_bins: int = DEFAULT_BINS) -> None:
        super().__init__()
        if isinstance(n_bins, bool) or not isinstance(n_bins, (int, np.integer)) or n_bins < 2:
            raise ConfigError(f"n_bins must be an integer of at least 2, got {n_bins!r}; the default is {DEFAULT_BINS}")
        self.n_bins = int(n_bins)

    @property
    def vocab_size(self) -> int:
        return self.n_bins

    @property
    def bin_width(self) -> np.ndarray:
        """Bin width per dimension, float64 [action_dim], environment units."""
        return (self.stats.high - self.stats.low) / self.n_bins

    def params(self) -> dict[str, Any]:
        return {"n_bins": self.n_bins}

    def _fit(self, chunks: np.ndarray) -> None:
        """Nothing beyond the percentiles, which the base class has set."""

    def _unit(self, chunks: np.ndarray) -> np.ndarray:
        """Position of each value inside [q01, q99] as a fraction in [0, 1] (unclipped)."""
        return (chunks - self.stats.low) / (self.stats.high - self.stats.low)

    def _encode(self, chunks: np.ndarray) -> list[list[int]]:
        bins = np.floor(self._unit(chunks) * self.n_bins)
        bins = np.clip(bins, 0, self.n_bins - 1).astype(np.int64)
        return bins.reshape(len(chunks), -1).tolist()

    def clip_fraction(self, chunks: np.ndarray) -> float:
        unit = self._unit(np.asarray(chunks, dtype=np.float64))
        return float(np.mean((unit < 0.0) | (unit > 1.0)))

    def decode(self, tokens: Sequence[int]) -> DecodeResult:
        horizon, dim = self.horizon, self.action_dim
        n = horizon * dim
        ids_arr, bad = as_token_ids(tokens)
        reasons = []
        if bad:
            reasons.append(f"dropped {bad} entries that are not integers")
        if len(ids_arr) > n:
            reasons.append(f"ignored {len(ids_arr) - n} tokens past the expected {n}")
            ids_arr = ids_arr[:n]
        out_of_range = int(np.count_nonzero((ids_arr < 0) | (ids_arr >= self.n_bins)))
        if out_of_range:
            reasons.append(f"clipped {out_of_range} ids outside [0, {self.n_bins})")
            ids_arr = np.clip(ids_arr, 0, self.n_bins - 1)
        count = len(ids_arr)
        values = np.full(n, np.nan)
        dims = np.arange(count) % dim  # time-major: position i holds dimension i % dim
        values[:count] = self.stats.low[dims] + (ids_arr + 0.5) * self.bin_width[dims]
        chunk = values.reshape(horizon, dim)
        if count < n:
            reasons.append(
                f"got {count} of {n} tokens; filled the missing values with the previous step's "
                "(the middle of the range where there is none)"
            )
            middle = (self.stats.low + self.stats.high) / 2.0
            for t in range(horizon):
                missing = np.isnan(chunk[t])
                if missing.any():
                    chunk[t, missing] = (chunk[t - 1] if t > 0 else middle)[missing]
        return DecodeResult(chunk.astype(np.float32), bool(reasons), "; ".join(reasons))
