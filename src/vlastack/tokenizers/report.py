"""What a fitted tokenizer costs on a set of chunks: tokens per chunk, reconstruction error, speed.

``naive_tokens_per_chunk`` is ``horizon * action_dim``, the length of per-step binning (one token per
value), so ``compression_ratio`` = naive / mean tokens is the compression against binning. Errors are in
environment (action) units, over every value of every chunk, after encode -> decode. Speeds are
microseconds per chunk on this machine: ``encode_us`` and ``decode_us`` are the medians of single
``encode`` / ``decode`` calls on one chunk (what a control loop does; the median resists other processes
stealing the CPU), ``encode_batch_us`` divides one ``encode_batch`` call (threads of the BPE library).
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from vlastack.tokenizers.base import ActionTokenizer


@dataclass(frozen=True)
class TokenizerReport:
    """One tokenizer measured on one set of chunks."""

    #: Tokenizer kind ("bins", "fast") and its constructor parameters.
    kind: str
    params: dict[str, Any]
    horizon: int
    action_dim: int
    vocab_size: int
    #: Chunks measured.
    n_chunks: int
    #: horizon * action_dim: tokens per chunk of naive per-step binning.
    naive_tokens_per_chunk: int
    mean_tokens_per_chunk: float
    p95_tokens_per_chunk: float
    max_tokens_per_chunk: int
    #: naive_tokens_per_chunk / mean_tokens_per_chunk.
    compression_ratio: float
    #: Root mean square and largest absolute error after decoding, environment units, all dimensions.
    rmse: float
    max_abs_error: float
    #: The same per action dimension.
    rmse_per_dim: list[float]
    max_abs_error_per_dim: list[float]
    #: Fraction of encoded values (bins / DCT coefficients) clipped into the fitted range.
    clip_fraction: float
    #: Fraction of chunks whose own tokens needed the repair rule (0 unless something is wrong).
    repaired_fraction: float
    #: Microseconds per chunk: median single-chunk encode and decode; one batched encode divided by N.
    encode_us: float
    decode_us: float
    encode_batch_us: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def measure(tokenizer: ActionTokenizer, chunks: np.ndarray, *, timing_chunks: int = 256) -> TokenizerReport:
    """Encode and decode every chunk of ``chunks`` [N, H, D]; time single calls on the first ``timing_chunks``."""
    chunks = np.asarray(chunks, dtype=np.float64)
    start = time.perf_counter()
    tokens = tokenizer.encode_batch(chunks)
    batch_s = time.perf_counter() - start

    decoded = tokenizer.decode_batch(tokens)
    actions = np.stack([d.actions for d in decoded]).astype(np.float64)
    err = actions - chunks
    lengths = np.array([len(t) for t in tokens], dtype=np.float64)
    naive = tokenizer.horizon * tokenizer.action_dim

    timed = chunks[: max(1, min(timing_chunks, len(chunks)))]
    tokenizer.decode(tokenizer.encode(timed[0]))  # warm up caches
    encode_s, decode_s = [], []
    for chunk in timed:
        start = time.perf_counter()
        ids = tokenizer.encode(chunk)
        middle = time.perf_counter()
        tokenizer.decode(ids)
        encode_s.append(middle - start)
        decode_s.append(time.perf_counter() - middle)

    return TokenizerReport(
        kind=tokenizer.kind,
        params=tokenizer.params(),
        horizon=tokenizer.horizon,
        action_dim=tokenizer.action_dim,
        vocab_size=tokenizer.vocab_size,
        n_chunks=len(chunks),
        naive_tokens_per_chunk=naive,
        mean_tokens_per_chunk=float(lengths.mean()),
        p95_tokens_per_chunk=float(np.percentile(lengths, 95)),
        max_tokens_per_chunk=int(lengths.max()),
        compression_ratio=float(naive / lengths.mean()),
        rmse=float(np.sqrt(np.mean(err**2))),
        max_abs_error=float(np.max(np.abs(err))),
        rmse_per_dim=np.sqrt(np.mean(err**2, axis=(0, 1))).tolist(),
        max_abs_error_per_dim=np.max(np.abs(err), axis=(0, 1)).tolist(),
        clip_fraction=tokenizer.clip_fraction(chunks),
        repaired_fraction=float(np.mean([d.repaired for d in decoded])),
        encode_us=float(np.median(encode_s)) * 1e6,
        decode_us=float(np.median(decode_s)) * 1e6,
        encode_batch_us=batch_s / len(chunks) * 1e6,
    )
