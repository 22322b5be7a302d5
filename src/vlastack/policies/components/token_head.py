"""Autoregressive action-token head on the backbone (OpenVLA / pi0-FAST style).

Id layout of the head's vocabulary (room for text beside actions, for reasoning later)::

    [0, text_vocab)                       text tokens (none yet: text_vocab_size = 0)
    text_vocab + 0, 1, 2                  BOS, EOS, PAD
    text_vocab + 3 + a                    action token a of the action tokenizer, a in [0, tokenizer.vocab_size)

Training sequence after the prefix (image, text, state tokens): inputs ``[BOS, a_1 .. a_n]``,
targets ``[a_1 .. a_n, EOS]``; the suffix is causal, the prefix bidirectional (prefix-LM mask).
The action tokenizer works in environment units (it has its own percentile normalisation), so
tokens are computed from the batch's raw actions and decoded straight back to environment units.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

SPECIALS = ("bos", "eos", "pad")


class TokenVocab:
    """Where each kind of id lives in the head's vocabulary."""

    def __init__(self, text_vocab_size: int, action_vocab_size: int) -> None:
        self.text_vocab_size = text_vocab_size
        self.action_vocab_size = action_vocab_size
        self.bos, self.eos, self.pad = (text_vocab_size + i for i in range(len(SPECIALS)))
        self.action_offset = text_vocab_size + len(SPECIALS)
        self.size = self.action_offset + action_vocab_size

    def allowed_after_bos(self, device: torch.device) -> torch.Tensor:
        """bool [size]: ids a decoder may emit for an action chunk (action ids and EOS)."""
        allowed = torch.zeros(self.size, dtype=torch.bool, device=device)
        allowed[self.action_offset :] = True
        allowed[self.eos] = True
        return allowed


class TokenHead(nn.Module):
    """Token embeddings, positions within the action sequence, and the (weight-tied) output layer."""

    def __init__(self, vocab: TokenVocab, d_model: int, max_tokens: int) -> None:
        super().__init__()
        self.vocab, self.max_tokens = vocab, max_tokens
        self.embed = nn.Embedding(vocab.size, d_model)
        self.pos = nn.Embedding(max_tokens + 1, d_model)

    def embed_tokens(self, ids: torch.Tensor, start: int = 0) -> torch.Tensor:
        """ids [B, L] at sequence positions start..start+L-1 -> [B, L, d_model]."""
        pos = torch.arange(start, start + ids.shape[1], device=ids.device)
        return self.embed(ids) + self.pos(pos)[None]

    def logits(self, hidden: torch.Tensor) -> torch.Tensor:
        return hidden @ self.embed.weight.t()

    def targets(
        self,
        token_lists: Sequence[Sequence[int]],
        step_of_token: Sequence[Sequence[int]] | None,
        step_is_pad: np.ndarray | None,
        device: torch.device,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, int]:
        """(inputs [B, L+1], targets [B, L+1], weights [B, L+1] float, number truncated).

        ``step_of_token[b][i]`` is the action step token i encodes (known for binning, None for
        FAST); with ``step_is_pad`` [B, H] it removes tokens of padded steps (and the EOS after
        them, which attends to them) from the loss. FAST mixes all steps in every token (DCT), so
        FAST chunks are learned whole, padded tail included (the tail repeats the last action).
        """
        v = self.vocab
        truncated = sum(len(t) > self.max_tokens for t in token_lists)
        lists = [list(t)[: self.max_tokens] for t in token_lists]
        length = max(len(t) for t in lists) + 1
        b = len(lists)
        inputs = np.full((b, length), v.pad, dtype=np.int64)
        targets = np.full((b, length), v.pad, dtype=np.int64)
        weights = np.zeros((b, length), dtype=np.float32)
        for i, toks in enumerate(lists):
            n = len(toks)
            ids = np.asarray(toks, dtype=np.int64) + v.action_offset
            inputs[i, 0] = v.bos
            inputs[i, 1 : n + 1] = ids
            targets[i, :n] = ids
            targets[i, n] = v.eos
            weights[i, : n + 1] = 1.0
            if step_of_token is not None and step_is_pad is not None:
                steps = np.asarray(step_of_token[i][:n], dtype=np.int64)
                weights[i, :n] *= ~step_is_pad[i][steps]
                if step_is_pad[i].any():  # EOS reads the padded tokens' inputs: learn it from full chunks only
                    weights[i, n] = 0.0
        to = lambda a: torch.from_numpy(a).to(device)  # noqa: E731
        return to(inputs), to(targets), to(weights), truncated

    def loss(self, hidden: torch.Tensor, targets: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
        """Per-sample mean cross-entropy [B] over weighted positions; hidden [B, L, d]."""
        logits = self.logits(hidden).float()
        ce = F.cross_entropy(logits.flatten(0, 1), targets.flatten(), reduction="none").view_as(weights)
        return (ce * weights).sum(1) / weights.sum(1).clamp_min(1.0)

    def to_action_ids(self, ids: torch.Tensor) -> list[list[int]]:
        """Generated ids [B, L] -> per-sample action-token lists, cut at the first EOS."""
        out = []
        for row in ids.tolist():
            if self.vocab.eos in row:
                row = row[: row.index(self.vocab.eos)]
            out.append([t - self.vocab.action_offset for t in row if t >= self.vocab.action_offset])
        return out


def make_action_tokenizer(kind: str, chunks: np.ndarray):
    """Fit a tokenizer of ``kind`` ("bins" or "fast") on chunks [N, H, D] in environment units."""
    from vlastack.tokenizers import make_tokenizer

    return make_tokenizer(kind).fit(np.asarray(chunks, dtype=np.float64))


def step_of_tokens(kind: str, lengths: Sequence[int], action_dim: int) -> list[list[int]] | None:
    """For binning (time-major, one token per value) token i encodes step i // action_dim; None for FAST."""
    if kind != "bins":
        return None
    return [[i // action_dim for i in range(n)] for n in lengths]
