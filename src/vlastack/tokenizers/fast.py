"""FAST: frequency-space action sequence tokenization (Pertsch et al., 2025, arXiv 2501.09747).

Encoding one chunk [horizon H, action_dim D], environment units:

1. normalise each dimension so its fitted 1st/99th percentile maps to -1/+1 (no clipping);
2. orthonormal DCT-II along time, per dimension (:mod:`vlastack.tokenizers.dct`);
3. multiply by ``scale`` (default 10) and round to integers;
4. flatten low frequencies first: every dimension's frequency 0, then frequency 1, ... (H * D integers);
5. shift by the smallest coefficient seen at fit time, map each integer ``c`` to the character
   ``chr(CHAR_OFFSET + c - coeff_min)`` and run byte-pair encoding, trained on the fitted chunks with
   the ``tokenizers`` library (vocabulary 1024 by default; its base alphabet is every integer between the
   fitted minimum and maximum, so the ids are in ``[0, vocab_size)``).

Decoding inverts every step. Rounding is the only loss: each coefficient moves by at most
``0.5 / scale`` normalised units, so, the DCT being orthonormal, a dimension's root-mean-square error
over the chunk is at most ``0.5 / scale`` and its largest error at most ``0.5 * sqrt(H) / scale``
(times ``(q99 - q01) / 2`` in environment units).

Coefficients outside the range seen at fit time (an action far outside the training data) are clipped
into it when encoding: the tokens stay valid, the decoded chunk is then further from the input.
:meth:`FastTokenizer.clip_fraction` says how often that happens on a data set.

Repair rule (decoding never raises; ``repaired=True`` and ``reason`` lists what happened):

* entries that are not integers, and ids that are not in the trained vocabulary, are dropped;
* the remaining tokens expand to a list of integer coefficients, low frequencies first. Fewer than
  ``H * D``: the missing (highest) frequencies are set to zero, which keeps the coarse shape of the chunk;
  more: the extra coefficients are ignored. An empty sequence therefore decodes to the middle of every
  dimension's range (normalised zero) at every step.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from tokenizers import Tokenizer
from tokenizers.models import BPE
from tokenizers.trainers import BpeTrainer

from vlastack.errors import CheckpointError, ConfigError
from vlastack.tokenizers.base import ActionTokenizer, DecodeResult, as_token_ids
from vlastack.tokenizers.dct import dct, idct
from vlastack.tokenizers.registry import TOKENIZERS

#: Defaults from the FAST paper.
DEFAULT_SCALE = 10.0
DEFAULT_VOCAB_SIZE = 1024
#: Coefficient ``coeff_min`` becomes this code point. 0x100 skips ASCII and Latin-1 (control and space
#: characters); the base alphabet must end below the UTF-16 surrogates at 0xD800.
CHAR_OFFSET = 0x100
MAX_ALPHABET = 0xD800 - CHAR_OFFSET
#: The trained BPE model, in the ``tokenizers`` library's own JSON format, beside ``tokenizer.json``.
BPE_FILE = "bpe_tokenizer.json"

# Keys of the saved JSON.
COEFF_MIN = "coeff_min"
COEFF_MAX = "coeff_max"
CHAR_OFFSET_KEY = "char_offset"
BPE_FILE_KEY = "bpe_file"


@TOKENIZERS.register("fast")
class FastTokenizer(ActionTokenizer):
    """DCT + BPE: few tokens for smooth chunks; ``vocab_size`` ids, low frequencies first."""

    kind = "fast"

    def __init__(self, scale: float = DEFAULT_SCALE, vocab_size: int = DEFAULT_VOCAB_SIZE, min_frequency: int = 2) -> None:
        super().__init__()
        if isinstance(scale, bool) or not isinstance(scale, (int, float, np.number)) or not np.isfinite(scale) or scale <= 0:
            raise ConfigError(f"scale must be a positive finite number, got {scale!r}; the FAST default is {DEFAULT_SCALE:g}")
        if isinstance(vocab_size, bool) or not isinstance(vocab_size, (int, np.integer)) or vocab_size < 2:
            raise ConfigError(f"vocab_size must be an integer of at least 2, got {vocab_size!r}; the FAST default is {DEFAULT_VOCAB_SIZE}")
        if isinstance(min_frequency, bool) or not isinstance(min_frequency, (int, np.integer)) or min_frequency < 1:
            raise ConfigError(f"min_frequency must be an integer of at least 1, got {min_frequency!r}; the default is 2")
        self.scale = float(scale)
        self._vocab_size = int(vocab_size)
        self.min_frequency = int(min_frequency)
        self._bpe: Tokenizer | None = None
        self.coeff_min = 0
        self.coeff_max = 0
        self._id_to_piece: list[str | None] = []

    @property
    def vocab_size(self) -> int:
        """The configured size; the trained vocabulary may be smaller (ids above it are never emitted)."""
        return self._vocab_size

    @property
    def trained_vocab_size(self) -> int:
        """Ids the BPE model actually holds: the base alphabet plus the merges it found."""
        return len(self._id_to_piece)

    def params(self) -> dict[str, Any]:
        return {"scale": self.scale, "vocab_size": self._vocab_size, "min_frequency": self.min_frequency}

    # ----- chunk <-> integer coefficients ----------------------------------------------------
    def coefficients(self, chunks: np.ndarray) -> np.ndarray:
        """Rounded scaled DCT coefficients, int64 [N, H * D], low frequencies first, before any clipping."""
        normalized = self.stats.normalize(chunks)
        freq = dct(normalized, axis=1)  # [N, H (frequency), D]
        return np.rint(freq * self.scale).astype(np.int64).reshape(len(chunks), -1)

    def _to_strings(self, coeffs: np.ndarray) -> list[str]:
        codes = (coeffs - self.coeff_min + CHAR_OFFSET).astype("<u4")
        return [row.tobytes().decode("utf-32-le") for row in codes]

    # ----- fit, encode, decode ---------------------------------------------------------------
    def _fit(self, chunks: np.ndarray) -> None:
        coeffs = self.coefficients(chunks)
        lo, hi = int(coeffs.min()), int(coeffs.max())
        alphabet = hi - lo + 1
        if alphabet > self._vocab_size or alphabet > MAX_ALPHABET:
            suggestion = max(2 * alphabet, DEFAULT_VOCAB_SIZE)
            raise ConfigError(
                f"vocab_size={self._vocab_size} is too small for the range of integers: at scale={self.scale:g} the "
                f"fitted DCT coefficients span {alphabet} integers ({lo} to {hi}), and each needs its own base token. "
                f"Raise vocab_size to at least {alphabet} (for example {suggestion}, to leave room for merges) "
                "or lower scale (coarser rounding, a smaller range)"
                + ("" if alphabet <= MAX_ALPHABET else f"; the range must also stay below {MAX_ALPHABET} integers")
            )
        self.coeff_min, self.coeff_max = lo, hi
        alphabet_chars = [chr(CHAR_OFFSET + i) for i in range(alphabet)]
        trainer = BpeTrainer(
            vocab_size=self._vocab_size,
            min_frequency=self.min_frequency,
            show_progress=False,
            special_tokens=[],
            initial_alphabet=alphabet_chars,
        )
        # No normaliser, no pre-tokeniser: each chunk is one "word" of H * D characters.
        bpe = Tokenizer(BPE())
        strings = self._to_strings(coeffs)
        bpe.train_from_iterator(strings, trainer=trainer, length=len(strings))
        self._set_bpe(bpe)

    def _set_bpe(self, bpe: Tokenizer) -> None:
        vocab = bpe.get_vocab()
        pieces: list[str | None] = [None] * (max(vocab.values()) + 1 if vocab else 0)
        for piece, index in vocab.items():
            pieces[index] = piece
        self._bpe, self._id_to_piece = bpe, pieces

    def _encode(self, chunks: np.ndarray) -> list[list[int]]:
        coeffs = np.clip(self.coefficients(chunks), self.coeff_min, self.coeff_max)
        strings = self._to_strings(coeffs)
        assert self._bpe is not None
        if len(strings) == 1:
            return [self._bpe.encode(strings[0]).ids]
        return [enc.ids for enc in self._bpe.encode_batch(strings)]

    def clip_fraction(self, chunks: np.ndarray) -> float:
        coeffs = self.coefficients(np.asarray(chunks, dtype=np.float64))
        return float(np.mean((coeffs < self.coeff_min) | (coeffs > self.coeff_max)))

    def decode(self, tokens: Sequence[int]) -> DecodeResult:
        horizon, dim = self.horizon, self.action_dim
        n = horizon * dim
        ids, bad = as_token_ids(tokens)
        reasons = []
        if bad:
            reasons.append(f"dropped {bad} entries that are not integers")
        table = self._id_to_piece
        known = [p for i in ids.tolist() if 0 <= i < len(table) and (p := table[i]) is not None]
        if len(known) < len(ids):
            reasons.append(f"dropped {len(ids) - len(known)} ids not in the vocabulary")
        codes = np.frombuffer("".join(known).encode("utf-32-le"), dtype="<u4").astype(np.int64)
        coeffs = np.zeros(n, dtype=np.float64)  # a missing coefficient is a zero (high) frequency
        if len(codes) > n:
            reasons.append(f"ignored {len(codes) - n} coefficients past the expected {n}")
        elif len(codes) < n:
            reasons.append(f"got {len(codes)} of {n} coefficients; set the missing high frequencies to zero")
        used = codes[:n]
        coeffs[: len(used)] = used - CHAR_OFFSET + self.coeff_min
        normalized = idct(coeffs.reshape(horizon, dim) / self.scale, axis=0)
        actions = self.stats.unnormalize(normalized).astype(np.float32)
        return DecodeResult(actions, bool(reasons), "; ".join(reasons))

    # ----- save and load ---------------------------------------------------------------------
    def _state(self) -> dict[str, Any]:
        return {COEFF_MIN: self.coeff_min, COEFF_MAX: self.coeff_max, CHAR_OFFSET_KEY: CHAR_OFFSET, BPE_FILE_KEY: BPE_FILE}

    def _write_extra(self, directory: Path) -> None:
        assert self._bpe is not None
        (directory / BPE_FILE).write_text(self._bpe.to_str(pretty=True) + "\n", encoding="utf-8")

    def _load_state(self, meta: dict[str, Any], directory: Path) -> None:
        path = directory / str(meta.get(BPE_FILE_KEY, BPE_FILE))
        try:
            self.coeff_min, self.coeff_max = int(meta[COEFF_MIN]), int(meta[COEFF_MAX])
            offset = int(meta[CHAR_OFFSET_KEY])
        except (KeyError, TypeError, ValueError) as err:
            raise CheckpointError(f"{directory}/tokenizer.json lacks FAST field {err}; save the tokenizer again") from err
        if offset != CHAR_OFFSET:
            raise CheckpointError(f"{directory}: char_offset {offset} differs from this vlastack's {CHAR_OFFSET}")
        try:
            bpe = Tokenizer.from_str(path.read_text(encoding="utf-8"))
        except Exception as err:  # OSError, or the tokenizers library's own Exception type
            raise CheckpointError(f"cannot read the BPE model {path} ({err}); save the tokenizer again") from err
        self._set_bpe(bpe)
        if self.trained_vocab_size > self._vocab_size:
            raise CheckpointError(f"{path} holds {self.trained_vocab_size} ids, more than vocab_size={self._vocab_size}")
