"""Latent actions from action-free episodes: inverse dynamics to an FSQ code, and a forward model
that must use the code to predict z(t+k).

FSQ (Mentzer et al. 2023): each of d latent dimensions is squashed by tanh to (-1, 1), scaled to
L_i levels and rounded, with a straight-through gradient. The code index is the mixed-radix number
of the d level indices. The forward model sees z(t) and the quantised code only, so whatever it
predicts beyond "no change" has to pass through those few bits.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from vlastack.world_model.config import LatentActionConfig
from vlastack.world_model.dynamics import Normalizer, mlp


class FSQ(nn.Module):
    """Finite scalar quantiser: [B, d] -> quantised [B, d] in [-1, 1] and integer codes [B].

    Odd level counts only (the config checks), so every dimension has a level at 0."""

    def __init__(self, levels: tuple[int, ...]) -> None:
        super().__init__()
        self.levels = tuple(levels)
        self.register_buffer("_half", (torch.tensor(levels, dtype=torch.float32) - 1) / 2, persistent=False)
        radix = [1]
        for v in levels[:-1]:
            radix.append(radix[-1] * v)
        self.register_buffer("_radix", torch.tensor(radix, dtype=torch.long), persistent=False)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        bounded = torch.tanh(x) * self._half  # in (-half, half): rounds to one of 2*half+1 levels
        rounded = bounded + (torch.round(bounded) - bounded).detach()  # straight-through gradient
        codes = ((torch.round(bounded) + self._half).long() * self._radix).sum(-1)
        return rounded / self._half, codes


class LatentActionModel(nn.Module):
    """IDM: (z(t), z(t+k)) -> code; forward: (z(t), code) -> z(t+k) = z(t) + g(...)."""

    def __init__(self, config: LatentActionConfig, embed_dim: int) -> None:
        super().__init__()
        self.config, self.embed_dim = config, embed_dim
        d = len(config.levels)
        self.norm = Normalizer(embed_dim)
        self.idm = mlp((2 if config.idm_context else 1) * embed_dim, config.hidden, config.layers, d)
        self.fsq = FSQ(config.levels)
        self.forward_model = mlp(embed_dim + d, config.hidden, config.layers, embed_dim)
        nn.init.zeros_(self.forward_model[-1].weight)
        nn.init.zeros_(self.forward_model[-1].bias)

    def encode(self, z0: torch.Tensor, z1: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Normalised z(t), z(t+k) [B, F] -> quantised latent [B, d], code index [B]."""
        x = torch.cat([z0, z1 - z0], dim=1) if self.config.idm_context else z1 - z0
        return self.fsq(self.idm(x))

    def predict(self, z0: torch.Tensor, latent: torch.Tensor) -> torch.Tensor:
        """Normalised z(t) [B, F] and quantised latent [B, d] -> normalised z(t+k)."""
        return z0 + self.forward_model(torch.cat([z0, latent], dim=1))

    def forward(self, z0: torch.Tensor, z1: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        latent, codes = self.encode(z0, z1)
        return self.predict(z0, latent), latent, codes


def codebook_usage(codes: torch.Tensor, size: int) -> dict[str, float]:
    """Perplexity (exp of the entropy of code frequencies; ``size`` means all used equally, 1 means
    collapse to one code), codes used, and dead codes (never chosen) among ``size``."""
    counts = torch.bincount(codes.flatten(), minlength=size).double()
    p = counts / counts.sum()
    entropy = -(p[p > 0] * p[p > 0].log()).sum().item()
    used = int((counts > 0).sum())
    return {"perplexity": math.exp(entropy), "used": used, "dead": size - used, "size": size}
