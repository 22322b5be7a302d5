"""The action-tokenizer interface, the percentile normaliser, and the checks on action arrays.

An action tokenizer turns one action chunk, a float array [horizon, action_dim] in environment units,
into a list of plain ints in ``[0, vocab_size)``, and back. A policy that also predicts text tokens
maps these ids into its own id space with an offset; the tokenizer knows nothing about text.

Life cycle::

    tok = FastTokenizer(scale=10, vocab_size=1024).fit(chunks)   # chunks: [N, horizon, action_dim]
    ids = tok.encode(chunk)                                      # list[int]
    result = tok.decode(ids)                                     # DecodeResult(actions [H, D] float32, repaired, reason)
    tok.save(directory); tok2 = load_tokenizer(directory)        # plain JSON, no pickle

Encoding validates its input and raises :class:`~vlastack.errors.ConfigError` (a ValueError naming
the problem and the fix) for a wrong rank, a wrong shape, or NaN/infinite actions: encoding happens
on recorded data. Decoding happens in the control loop and never raises for any token sequence: a
sequence it cannot read exactly is repaired to a chunk of the right shape, ``repaired=True`` and
``reason`` says what was done (each tokenizer's module docstring states its repair rule).

Fitting is deterministic: the same chunks give the same saved JSON, byte for byte, and the same tokens.
"""

from __future__ import annotations

import inspect
import json
import os
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Self

import numpy as np

from vlastack.errors import CheckpointError, ConfigError

#: Version of the saved layout; bumped when a field changes meaning.
FORMAT_VERSION = 1
#: The file in a tokenizer directory that holds its kind, shapes, statistics and parameters.
META_FILE = "tokenizer.json"
#: Percentiles that are mapped to the ends of the normalised range [-1, 1].
LOW_PERCENTILE = 1.0
HIGH_PERCENTILE = 99.0
#: A dimension whose percentiles are closer than this (a constant gripper command) is widened to value +- 1.
MIN_RANGE = 1e-8

# Keys of the saved JSON.
KIND = "kind"
VERSION = "format_version"
HORIZON = "horizon"
ACTION_DIM = "action_dim"
STATS = "stats"
LOW = "q01"
HIGH = "q99"


@dataclass(frozen=True)
class DecodeResult:
    """What :meth:`ActionTokenizer.decode` returns; it never raises."""

    #: The decoded chunk, float32 [horizon, action_dim], environment units.
    actions: np.ndarray
    #: True when the tokens could not be decoded exactly and the repair rule was applied.
    repaired: bool
    #: Empty when ``repaired`` is False; otherwise what was wrong and what was done, in words.
    reason: str = ""


@dataclass(frozen=True)
class PercentileStats:
    """Per-dimension 1st and 99th percentiles; maps ``low -> -1`` and ``high -> +1`` (values outside go past)."""

    #: 1st percentile of each action dimension, float64 [action_dim], environment units.
    low: np.ndarray
    #: 99th percentile of each action dimension, float64 [action_dim], environment units.
    high: np.ndarray

    def __post_init__(self) -> None:
        low = np.asarray(self.low, dtype=np.float64).reshape(-1)
        high = np.asarray(self.high, dtype=np.float64).reshape(-1)
        if low.shape != high.shape:
            raise ConfigError(f"q01 has {low.size} values but q99 has {high.size}; give one value per action dimension to both")
        if not (np.all(np.isfinite(low)) and np.all(np.isfinite(high))):
            raise ConfigError("q01/q99 contain NaN or infinite values; compute them from finite actions")
        if np.any(high < low):
            bad = np.flatnonzero(high < low).tolist()
            raise ConfigError(f"q99 < q01 in action dimensions {bad}; pass the 1st percentile as q01 and the 99th as q99")
        # A constant dimension gets the range value +- 1 so that normalising never divides by zero.
        flat = (high - low) < MIN_RANGE
        low, high = np.where(flat, low - 1.0, low), np.where(flat, high + 1.0, high)
        object.__setattr__(self, "low", low)
        object.__setattr__(self, "high", high)

    @classmethod
    def from_chunks(cls, chunks: np.ndarray) -> PercentileStats:
        """Percentiles over every action in ``chunks`` [N, horizon, action_dim] (float64, linear interpolation)."""
        flat = np.asarray(chunks, dtype=np.float64).reshape(-1, chunks.shape[-1])
        low, high = np.percentile(flat, [LOW_PERCENTILE, HIGH_PERCENTILE], axis=0)
        return cls(low, high)

    @property
    def half_range(self) -> np.ndarray:
        """Environment units per normalised unit, float64 [action_dim]."""
        return (self.high - self.low) / 2.0

    def normalize(self, actions: np.ndarray) -> np.ndarray:
        """Environment units -> normalised units (``q01 -> -1``, ``q99 -> +1``), float64, no clipping."""
        return (np.asarray(actions, dtype=np.float64) - self.low) / self.half_range - 1.0

    def unnormalize(self, normalized: np.ndarray) -> np.ndarray:
        """Normalised units -> environment units, float64; the exact inverse of :meth:`normalize`."""
        return (np.asarray(normalized, dtype=np.float64) + 1.0) * self.half_range + self.low

    def to_dict(self) -> dict[str, list[float]]:
        return {LOW: self.low.tolist(), HIGH: self.high.tolist()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PercentileStats:
        return cls(np.asarray(data[LOW], dtype=np.float64), np.asarray(data[HIGH], dtype=np.float64))


def check_actions(actions: Any, *, rank: int, horizon: int | None, action_dim: int | None, what: str) -> np.ndarray:
    """``actions`` as float64 after checking its rank, trailing shape and finiteness; a ConfigError otherwise.

    ``rank`` 2 is one chunk [horizon, action_dim]; rank 3 a batch [N, horizon, action_dim].
    """
    layout = "[horizon, action_dim]" if rank == 2 else "[N, horizon, action_dim]"
    try:
        arr = np.asarray(actions, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise ConfigError(f"{what} is not a numeric array ({err}); pass a float array {layout}") from err
    if arr.ndim != rank:
        fix = "cut episodes into chunks with vlastack.tokenizers.chunks.make_chunks"
        if rank == 2 and arr.ndim == 3:
            fix = "use encode_batch for a batch of chunks"
        elif rank == 3 and arr.ndim == 2:
            fix = "use encode for a single chunk, or add a batch axis"
        raise ConfigError(f"{what} has rank {arr.ndim} (shape {arr.shape}); expected rank {rank}, {layout}: {fix}")
    if 0 in arr.shape:
        raise ConfigError(f"{what} is empty (shape {arr.shape}); expected {layout} with every size at least 1")
    expected = (horizon, action_dim)
    got = arr.shape[-2:]
    if horizon is not None and got != expected:
        raise ConfigError(
            f"{what} has shape {arr.shape} but this tokenizer was fitted for horizon={horizon}, "
            f"action_dim={action_dim}; cut chunks of {horizon} steps of {action_dim}-d actions, "
            "or fit a tokenizer for this shape"
        )
    if not np.all(np.isfinite(arr)):
        bad = np.argwhere(~np.isfinite(arr))
        first = tuple(int(i) for i in bad[0])
        raise ConfigError(
            f"{what} contains {len(bad)} NaN or infinite values (first at index {first}); drop or repair those frames before tokenizing"
        )
    return arr


def as_token_ids(tokens: Any) -> tuple[np.ndarray, int]:
    """``tokens`` as int64 ids [n] and the count of entries that were not integers (dropped); never raises.

    Accepts lists, tuples, numpy and torch arrays (also on a GPU). Anything that cannot be iterated
    counts as one bad entry; integers beyond the int64 range become the nearest int64 (out of every
    vocabulary).
    """
    limit = np.iinfo(np.int64).max
    if hasattr(tokens, "detach") and hasattr(tokens, "cpu"):  # a torch tensor, wherever it lives
        tokens = tokens.detach().cpu().numpy()
    try:
        arr = np.asarray(tokens)
        if arr.ndim == 1 and arr.dtype.kind == "i":
            return arr.astype(np.int64, copy=False), 0
        if arr.ndim == 1 and arr.dtype.kind == "u":
            return np.minimum(arr, limit).astype(np.int64), 0
        seq = list(tokens) if arr.dtype == object else arr.reshape(-1).tolist()
    except Exception:  # noqa: BLE001 - any object at all may arrive from a model
        try:
            seq = list(tokens)
        except Exception:  # noqa: BLE001
            return np.zeros(0, dtype=np.int64), 1
    out: list[int] = []
    bad = 0
    for t in seq:
        if isinstance(t, np.generic):
            t = t.item()
        if isinstance(t, float) and np.isfinite(t) and t.is_integer():
            t = int(t)
        if isinstance(t, int) and not isinstance(t, bool):
            out.append(max(-limit, min(limit, t)))
        else:
            bad += 1
    return np.asarray(out, dtype=np.int64), bad


class ActionTokenizer(ABC):
    """Chunk [horizon, action_dim] <-> list of ints in [0, vocab_size). Construct with parameters, then fit."""

    #: The registered name, saved as the ``kind`` field.
    kind: ClassVar[str]

    def __init__(self) -> None:
        self._stats: PercentileStats | None = None
        self._horizon: int | None = None
        self._action_dim: int | None = None

    # ----- shapes and statistics -------------------------------------------------------------
    @property
    @abstractmethod
    def vocab_size(self) -> int:
        """Number of token ids: every id this tokenizer emits is in ``[0, vocab_size)``."""

    @property
    def is_fitted(self) -> bool:
        return self._stats is not None

    def _require_fitted(self) -> None:
        if self._stats is None:
            raise ConfigError(f"the {self.kind} tokenizer is not fitted; call fit(chunks) first or load one with load_tokenizer(dir)")

    @property
    def horizon(self) -> int:
        """Steps per chunk."""
        self._require_fitted()
        return int(self._horizon)  # type: ignore[arg-type]

    @property
    def action_dim(self) -> int:
        """Action dimensions per step."""
        self._require_fitted()
        return int(self._action_dim)  # type: ignore[arg-type]

    @property
    def stats(self) -> PercentileStats:
        """The fitted 1st/99th percentiles."""
        self._require_fitted()
        return self._stats  # type: ignore[return-value]

    # ----- fit, encode, decode ---------------------------------------------------------------
    def fit(self, chunks: np.ndarray, *, q01: Sequence[float] | None = None, q99: Sequence[float] | None = None) -> Self:
        """Fit to ``chunks`` [N, horizon, action_dim] (environment units); percentiles from them unless given."""
        arr = check_actions(chunks, rank=3, horizon=None, action_dim=None, what="chunks to fit")
        if (q01 is None) != (q99 is None):
            raise ConfigError("give both q01 and q99, or neither (then they are computed from the chunks)")
        stats = PercentileStats.from_chunks(arr) if q01 is None else PercentileStats(np.asarray(q01), np.asarray(q99))
        if stats.low.size != arr.shape[-1]:
            raise ConfigError(
                f"q01/q99 have {stats.low.size} values but the chunks have action_dim={arr.shape[-1]}; give one per dimension"
            )
        before = dict(self.__dict__)
        self._stats, self._horizon, self._action_dim = stats, int(arr.shape[1]), int(arr.shape[2])
        try:
            self._fit(arr)
        except BaseException:
            self.__dict__.clear()
            self.__dict__.update(before)  # a failed fit leaves the tokenizer as it was
            raise
        return self

    def encode(self, chunk: np.ndarray) -> list[int]:
        """Token ids of one chunk [horizon, action_dim]; a ConfigError for a wrong shape or NaN/infinite values."""
        self._require_fitted()
        arr = check_actions(chunk, rank=2, horizon=self._horizon, action_dim=self._action_dim, what="action chunk")
        return self._encode(arr[None])[0]

    def encode_batch(self, chunks: np.ndarray) -> list[list[int]]:
        """Token ids of each chunk in ``chunks`` [N, horizon, action_dim]."""
        self._require_fitted()
        arr = check_actions(chunks, rank=3, horizon=self._horizon, action_dim=self._action_dim, what="action chunks")
        return self._encode(arr)

    def decode_batch(self, token_lists: Sequence[Sequence[int]]) -> list[DecodeResult]:
        return [self.decode(t) for t in token_lists]

    @abstractmethod
    def decode(self, tokens: Sequence[int]) -> DecodeResult:
        """Chunk [horizon, action_dim] float32 for ``tokens``; never raises (see the module's repair rule)."""

    @abstractmethod
    def clip_fraction(self, chunks: np.ndarray) -> float:
        """Fraction of the encoded values (bins or DCT coefficients) of ``chunks`` that encoding clips."""

    @abstractmethod
    def _fit(self, chunks: np.ndarray) -> None:
        """Fit the kind-specific state; shapes and statistics are already set."""

    @abstractmethod
    def _encode(self, chunks: np.ndarray) -> list[list[int]]:
        """Token ids of validated float64 chunks [N, horizon, action_dim]."""

    # ----- save and load ---------------------------------------------------------------------
    @abstractmethod
    def params(self) -> dict[str, Any]:
        """Constructor arguments, JSON-serialisable: ``type(self)(**params())`` is an unfitted copy."""

    def _state(self) -> dict[str, Any]:
        """Fitted kind-specific fields for the JSON file (beyond shapes and statistics)."""
        return {}

    def _write_extra(self, directory: Path) -> None:
        """Write kind-specific files beside the JSON file."""

    def _load_state(self, meta: dict[str, Any], directory: Path) -> None:
        """Restore the kind-specific state written by :meth:`_state` and :meth:`_write_extra`."""

    def to_dict(self) -> dict[str, Any]:
        """Everything in ``tokenizer.json``."""
        self._require_fitted()
        return {
            KIND: self.kind,
            VERSION: FORMAT_VERSION,
            HORIZON: self.horizon,
            ACTION_DIM: self.action_dim,
            STATS: self.stats.to_dict(),
            **self.params(),
            **self._state(),
        }

    def save(self, directory: str | os.PathLike[str]) -> Path:
        """Write ``tokenizer.json`` (and kind-specific files) into ``directory``; returns the directory."""
        text = json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n"
        path = Path(directory)
        path.mkdir(parents=True, exist_ok=True)
        self._write_extra(path)
        tmp = path / (META_FILE + ".tmp")
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(path / META_FILE)
        return path

    @classmethod
    def from_saved(cls, meta: dict[str, Any], directory: Path) -> Self:
        """Rebuild from the parsed ``tokenizer.json`` of ``directory`` (called by ``load_tokenizer``)."""
        try:
            args = {name: meta[name] for name in inspect.signature(cls).parameters}
            tok = cls(**args)
            tok._stats = PercentileStats.from_dict(meta[STATS])
            tok._horizon, tok._action_dim = int(meta[HORIZON]), int(meta[ACTION_DIM])
        except (KeyError, TypeError) as err:
            raise CheckpointError(f"{directory / META_FILE} lacks field {err} or has a wrong type; save the tokenizer again") from err
        if tok._stats.low.size != tok._action_dim:
            raise CheckpointError(f"{directory / META_FILE}: q01 has {tok._stats.low.size} values for action_dim={tok._action_dim}")
        tok._load_state(meta, directory)
        return tok

    def __repr__(self) -> str:
        shape = f"horizon={self._horizon}, action_dim={self._action_dim}" if self.is_fitted else "unfitted"
        args = ", ".join(f"{k}={v!r}" for k, v in self.params().items())
        return f"{type(self).__name__}({args}; {shape})"
