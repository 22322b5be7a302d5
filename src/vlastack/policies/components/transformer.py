"""Pre-norm transformer blocks whose attention can read extra keys/values.

One mechanism serves three uses:

* the backbone's prefix pass returns every block's keys/values (``kvs``);
* autoregressive decoding passes those back as ``context_kvs`` (a KV cache) and gets the
  extended cache back;
* the action expert passes the backbone's keys/values as ``context_kvs`` so that its queries
  attend to [backbone prefix ; expert tokens] in every block (pi0's shared attention), while the
  backbone never sees the expert.

Keys/values are [B, heads, N, head_dim]; a block's ``context_kvs`` entry is prepended along N.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

KV = tuple[torch.Tensor, torch.Tensor]


class Attention(nn.Module):
    """Multi-head attention; ``dim`` is the block width, ``heads * head_dim`` the attention width."""

    def __init__(self, dim: int, heads: int, head_dim: int, dropout: float = 0.0) -> None:
        super().__init__()
        self.heads, self.head_dim, self.dropout = heads, head_dim, dropout
        self.qkv = nn.Linear(dim, 3 * heads * head_dim)
        self.out = nn.Linear(heads * head_dim, dim)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None, context_kv: KV | None = None) -> tuple[torch.Tensor, KV]:
        b, n, _ = x.shape
        q, k, v = self.qkv(x).view(b, n, 3, self.heads, self.head_dim).permute(2, 0, 3, 1, 4).unbind(0)
        if context_kv is not None:
            k = torch.cat([context_kv[0], k], dim=2)
            v = torch.cat([context_kv[1], v], dim=2)
        p = self.dropout if self.training else 0.0
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=p)
        return self.out(y.transpose(1, 2).reshape(b, n, -1)), (k, v)


class Block(nn.Module):
    """x + attn(norm(x)); x + mlp(norm(x))."""

    def __init__(self, dim: int, heads: int, head_dim: int, mlp_ratio: int = 4, dropout: float = 0.0) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = Attention(dim, heads, head_dim, dropout)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(
            nn.Linear(dim, mlp_ratio * dim),
            nn.SiLU(),
            nn.Linear(mlp_ratio * dim, dim),
            *([nn.Dropout(dropout)] if dropout > 0 else []),
        )

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None, context_kv: KV | None = None) -> tuple[torch.Tensor, KV]:
        h, kv = self.attn(self.norm1(x), mask, context_kv)
        x = x + h
        return x + self.mlp(self.norm2(x)), kv


class Packable(nn.Module):
    """Opt-in CPU inference fast path: :meth:`pack_weights` snapshots inference weights (transposed,
    contiguous, norms folded in) that ``forward`` then runs as plain tensor calls.

    On a small CPU the Python overhead of module calls and the slow ``x @ W^T`` layout cost more
    than the matrix products of this model; the packed path is about 3x faster. It is never chosen
    silently: only a packed module uses it, and only with autograd off in eval mode (the snapshots
    carry no gradient). ``train()``, ``load_state_dict`` and ``.to()`` drop the snapshots; any other
    in-place change of the weights needs another ``pack_weights()``. ``Policy.pack_for_inference()``
    packs every such module of a policy; tests check that both paths agree for every preset.
    """

    _pack: Any = None

    def _build_pack(self) -> Any:
        raise NotImplementedError

    def pack_weights(self) -> None:
        with torch.no_grad():
            self._pack = self._build_pack()

    def unpack_weights(self) -> None:
        self._pack = None

    def active_pack(self) -> Any:
        """The snapshot when the fast path applies now (packed, autograd off, eval mode), else None."""
        if self._pack is None or torch.is_grad_enabled() or self.training:
            return None
        return self._pack

    def train(self, mode: bool = True):
        if mode:
            self.unpack_weights()
        return super().train(mode)

    def _apply(self, fn, *args, **kwargs):  # .to(), .float(), ...: the snapshots are stale
        self.unpack_weights()
        return super()._apply(fn, *args, **kwargs)

    def _load_from_state_dict(self, *args, **kwargs):
        self.unpack_weights()
        return super()._load_from_state_dict(*args, **kwargs)


class Transformer(Packable):
    """A stack of blocks with a final LayerNorm (a :class:`Packable`: opt-in packed CPU inference)."""

    def __init__(self, dim: int, depth: int, heads: int, head_dim: int, mlp_ratio: int = 4, dropout: float = 0.0) -> None:
        super().__init__()
        self.blocks = nn.ModuleList(Block(dim, heads, head_dim, mlp_ratio, dropout) for _ in range(depth))
        self.norm = nn.LayerNorm(dim)
        self.heads, self.head_dim = heads, head_dim

    def forward(
        self,
        x: torch.Tensor,
        mask: torch.Tensor | None = None,
        context_kvs: list[KV] | None = None,
    ) -> tuple[torch.Tensor, list[KV]]:
        """x [B, N, dim] -> (normed output [B, N, dim], per-block keys/values incl. the context)."""
        packed = self.active_pack()
        if packed is not None:
            return self._forward_packed(x, mask, context_kvs, packed)
        kvs = []
        for i, block in enumerate(self.blocks):
            x, kv = block(x, mask, None if context_kvs is None else context_kvs[i])
            kvs.append(kv)
        return self.norm(x), kvs

    def _build_pack(self) -> list[tuple[torch.Tensor, ...]]:
        """Inference weights: per block (W_qkv', b_qkv', W_out^T, b_out, W_fc1', b_fc1', W_fc2^T, b_fc2), then the
        final norm's (weight, bias). Weights are transposed and contiguous, and each pre-norm's scale and
        shift are folded into the linear layer after it (W' = diag(gamma) W^T, b' = beta W^T + b)."""
        packed: list[tuple[torch.Tensor, ...]] = []
        for blk in self.blocks:
            packed.append(
                (
                    *fold_norm(blk.norm1, blk.attn.qkv),
                    blk.attn.out.weight.t().contiguous(),
                    blk.attn.out.bias.clone(),
                    *fold_norm(blk.norm2, blk.mlp[0]),
                    blk.mlp[2].weight.t().contiguous(),
                    blk.mlp[2].bias.clone(),
                )
            )
        packed.append((self.norm.weight.detach().clone(), self.norm.bias.detach().clone()))
        return packed

    def _forward_packed(
        self, x: torch.Tensor, mask: torch.Tensor | None, context_kvs: list[KV] | None, packed
    ) -> tuple[torch.Tensor, list[KV]]:
        b, n, d = x.shape
        h, kvs = packed_blocks(x.reshape(b * n, d), b, n, mask, context_kvs, packed[:-1], self.heads, self.head_dim)
        return F.layer_norm(h, (d,), *packed[-1], 1e-5).view(b, n, d), kvs


def fold_norm(norm: nn.LayerNorm, linear: nn.Linear) -> tuple[torch.Tensor, torch.Tensor]:
    """(W', b') with linear(norm(x)) == layer_norm(x, no affine) @ W' + b'."""
    wt = linear.weight.detach().t()
    return (norm.weight.detach()[:, None] * wt).contiguous(), norm.bias.detach() @ wt + linear.bias.detach()


def packed_blocks(
    h: torch.Tensor,
    b: int,
    n: int,
    mask: torch.Tensor | None,
    context_kvs: list[KV] | None,
    blocks,
    heads: int,
    head_dim: int,
    kv_buffers: list[tuple[torch.Tensor, ...]] | None = None,
) -> tuple[torch.Tensor, list[KV]]:
    """The blocks of :class:`Transformer` as plain tensor calls: h [B*N, dim] -> (h [B*N, dim], keys/values).

    ``kv_buffers`` (per block: ``kv`` [2, B, heads, P+N, head_dim] holding the context's keys and values
    in its first P rows, a view of its last N rows, and views of its keys and values) replace the
    concatenation with one small copy; the expert's Euler loop uses them.
    """
    d = h.shape[1]
    kvs = []
    for i, (qkv_w, qkv_b, out_w, out_b, fc1_w, fc1_b, fc2_w, fc2_b) in enumerate(blocks):
        qkv = torch.addmm(qkv_b, F.layer_norm(h, (d,), None, None, 1e-5), qkv_w).view(b, n, 3, heads, head_dim).permute(2, 0, 3, 1, 4)
        if kv_buffers is not None:
            _, tail, k, v = kv_buffers[i]
            tail.copy_(qkv[1:])
            q = qkv[0]
        else:
            q, k, v = qkv.unbind(0)
            if context_kvs is not None:
                k = torch.cat([context_kvs[i][0], k], dim=2)
                v = torch.cat([context_kvs[i][1], v], dim=2)
        a = F.scaled_dot_product_attention(q, k, v, attn_mask=mask).transpose(1, 2).reshape(b * n, heads * head_dim)
        h = torch.addmm(out_b, a, out_w).add_(h)
        y = F.silu(torch.addmm(fc1_b, F.layer_norm(h, (d,), None, None, 1e-5), fc1_w))
        h = torch.addmm(fc2_b, y, fc2_w).add_(h)
        kvs.append((k, v))
    return h, kvs


def prefix_lm_mask(n_prefix: int, n_suffix: int, device: torch.device | None = None) -> torch.Tensor:
    """bool [N, N], True = may attend: the prefix sees itself in full, the suffix is causal and sees the prefix."""
    n = n_prefix + n_suffix
    mask = torch.ones(n, n, dtype=torch.bool, device=device).tril()
    mask[:n_prefix, :n_prefix] = True
    return mask


def init_weights(module: nn.Module, std: float = 0.02) -> None:
    """GPT-style init: normal(0, std) linear and embedding weights, zero biases."""
    for m in module.modules():
        if isinstance(m, (nn.Linear, nn.Embedding)):
            nn.init.normal_(m.weight, std=std)
            if isinstance(m, nn.Linear) and m.bias is not None:
                nn.init.zeros_(m.bias)
