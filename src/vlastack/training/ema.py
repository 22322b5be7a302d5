"""Exponential moving average of a model's weights (the weights a trained policy acts with)."""

from __future__ import annotations

import torch
from torch import nn


class EMA:
    """Shadow copies of every floating-point tensor in ``model.state_dict()`` (parameters and buffers).

    ``decay`` ramps up as ``min(decay, (1 + n) / (10 + n))`` after n updates, so early averages do
    not drag the random initialisation along. Non-trainable floats (normalisation statistics) and
    integer buffers are copied, not averaged.
    """

    def __init__(self, model: nn.Module, decay: float) -> None:
        self.decay = decay
        self.updates = 0
        self.trainable = {name for name, p in model.named_parameters() if p.requires_grad}
        self.shadow = {k: v.detach().clone() for k, v in model.state_dict().items()}

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        self.updates += 1
        d = min(self.decay, (1 + self.updates) / (10 + self.updates))
        for k, v in model.state_dict().items():
            s = self.shadow[k]
            if k in self.trainable and v.is_floating_point():
                s.lerp_(v.detach(), 1.0 - d)
            else:
                s.copy_(v)

    def state_dict(self) -> dict[str, torch.Tensor]:
        """The averaged weights, in the model's own state-dict layout."""
        return self.shadow

    def load(self, shadow: dict[str, torch.Tensor], updates: int) -> None:
        for k, v in shadow.items():
            self.shadow[k].copy_(v)
        self.updates = updates
