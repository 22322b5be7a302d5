"""Action tokenizers: per-step binning (exact, long) and FAST (DCT + BPE, short).

Both turn an action chunk [horizon, action_dim] into ints in [0, vocab_size) and back, are fitted from
chunks (see :func:`~vlastack.tokenizers.chunks.make_chunks`), saved as plain JSON, and found by kind::

    from vlastack.tokenizers import make_tokenizer, load_tokenizer, make_chunks
    tok = make_tokenizer("fast", scale=10, vocab_size=1024).fit(make_chunks(episode_actions, horizon=16))
    tok.save("ckpt/action_tokenizer"); tok = load_tokenizer("ckpt/action_tokenizer")
"""

from vlastack.tokenizers.base import ActionTokenizer, DecodeResult, PercentileStats
from vlastack.tokenizers.binning import BinningTokenizer
from vlastack.tokenizers.chunks import make_chunks, subsample
from vlastack.tokenizers.fast import FastTokenizer
from vlastack.tokenizers.registry import TOKENIZERS, load_tokenizer, make_tokenizer

__all__ = [
    "TOKENIZERS",
    "ActionTokenizer",
    "BinningTokenizer",
    "DecodeResult",
    "FastTokenizer",
    "PercentileStats",
    "load_tokenizer",
    "make_chunks",
    "make_tokenizer",
    "subsample",
]
