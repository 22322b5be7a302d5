"""The chunk predictor and its autoregressive rollout, in normalised embedding space.

Shapes: z [B, F] (normalised: zero mean, unit variance per feature over the training frames);
an action chunk [B, K, D] with a validity mask [B, K] (True for the m <= K steps it covers).
The predictor returns z + delta, so predicting "no change" is its easiest answer (the copy-last
baseline) and it learns what the actions change.
"""

from __future__ import annotations

import torch
from torch import nn

from vlastack.world_model.config import DynamicsConfig


def mlp(inp: int, hidden: int, layers: int, out: int) -> nn.Sequential:
    """Linear -> (LayerNorm, GELU) x layers -> Linear."""
    mods: list[nn.Module] = []
    width = inp
    for _ in range(layers):
        mods += [nn.Linear(width, hidden), nn.LayerNorm(hidden), nn.GELU()]
        width = hidden
    mods.append(nn.Linear(width, out))
    return nn.Sequential(*mods)


class Normalizer(nn.Module):
    """Per-feature offset and scale of the embeddings (saved with the model's weights)."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.register_buffer("mean", torch.zeros(dim))
        self.register_buffer("std", torch.ones(dim))

    def fit(self, z: torch.Tensor) -> None:
        self.mean.copy_(z.mean(0))
        self.std.copy_(z.std(0).clamp_min(1e-6))  # constant features stay constant, not infinite

    def normalize(self, z: torch.Tensor) -> torch.Tensor:
        return (z - self.mean) / self.std

    def denormalize(self, z: torch.Tensor) -> torch.Tensor:
        return z * self.std + self.mean


class ChunkPredictor(nn.Module):
    """z(t+m) = z(t) + f(z(t), a(t..t+m-1) zero-padded to K, mask), for 1 <= m <= K."""

    def __init__(self, config: DynamicsConfig, embed_dim: int, action_dim: int) -> None:
        super().__init__()
        self.config, self.embed_dim, self.action_dim = config, embed_dim, action_dim
        self.norm = Normalizer(embed_dim)
        k = config.chunk
        self.net = mlp(embed_dim + k * action_dim + k, config.hidden, config.layers, embed_dim)
        nn.init.zeros_(self.net[-1].weight)  # start as copy-last
        nn.init.zeros_(self.net[-1].bias)

    def forward(self, z: torch.Tensor, actions: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """One chunk: z [B, F] normalised, actions [B, K, D], mask [B, K] bool -> z [B, F] normalised."""
        a = actions * mask.unsqueeze(-1)
        return z + self.net(torch.cat([z, a.flatten(1), mask.float()], dim=1))

    def rollout(self, z: torch.Tensor, actions: torch.Tensor, steps: int) -> torch.Tensor:
        """Predicted normalised z after ``steps`` steps: full chunks of K, then one partial chunk.

        ``actions`` [B, >=steps, D]: the actions from t on. Each chunk starts from the previous prediction."""
        k = self.config.chunk
        if actions.shape[1] < steps:
            raise ValueError(f"rollout of {steps} steps needs {steps} actions, got {actions.shape[1]}")
        done = 0
        while done < steps:
            m = min(k, steps - done)
            chunk = torch.zeros(len(z), k, self.action_dim, dtype=z.dtype, device=z.device)
            chunk[:, :m] = actions[:, done : done + m]
            mask = torch.zeros(len(z), k, dtype=torch.bool, device=z.device)
            mask[:, :m] = True
            z = self(z, chunk, mask)
            done += m
        return z
