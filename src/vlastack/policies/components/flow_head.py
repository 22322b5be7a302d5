"""Flow-matching action expert (pi0-style): a small transformer over the action chunk that reads
the backbone's keys/values and predicts a velocity field.

Time convention, stated once for the whole package (openpi's):

    t = 1 is pure noise, t = 0 is data.
    x_t = t * noise + (1 - t) * actions                      (the straight path)
    u   = d x_t / d t = noise - actions                      (the velocity the expert learns)
    sampling: start at x_1 = noise, take ``num_steps`` Euler steps with dt = -1 / num_steps,
              x_{t+dt} = x_t + dt * v(x_t, t), and return x_0.

Training times are drawn from Beta(alpha, beta) with alpha > beta (default 1.5, 1.0), which puts
more mass near t = 1, the noisy end, where the velocity is hardest to predict; they are mapped to
[time_min, 1] so the clean sample is never an input.

Shapes: actions / noise / velocity [B, H, Da] (Da = padded action size), t [B]; the backbone's
context is one (k, v) pair per expert block, each [B, heads, P, head_dim].
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from vlastack.policies.components.transformer import KV, Packable, Transformer, fold_norm, packed_blocks


def sample_time(batch_size: int, alpha: float, beta: float, time_min: float, device: torch.device) -> torch.Tensor:
    """t [B] in [time_min, 1], Beta(alpha, beta)-distributed before the affine map; uses torch's global RNG."""
    a = torch.tensor(float(alpha), device=device)
    b = torch.tensor(float(beta), device=device)
    return time_min + (1.0 - time_min) * torch.distributions.Beta(a, b).sample((batch_size,))


def time_embedding(t: torch.Tensor, dim: int, min_period: float = 4e-3, max_period: float = 4.0) -> torch.Tensor:
    """Sinusoidal embedding of t [B] -> [B, dim] with periods spread log-uniformly (as in pi0)."""
    half = dim // 2
    frac = torch.linspace(0.0, 1.0, half, device=t.device, dtype=torch.float32)
    period = min_period * (max_period / min_period) ** frac
    angle = t.float()[:, None] * (2 * math.pi / period)[None]
    return torch.cat([angle.sin(), angle.cos()], dim=-1)


@dataclass(frozen=True)
class Guide:
    """Known actions to inpaint a chunk towards (real-time chunking), in the expert's normalised space."""

    target: torch.Tensor
    """[B, H, Da] the actions the chunk should agree with (anything where ``weight`` is 0)."""
    weight: torch.Tensor
    """[H, Da] or [B, H, Da] in [0, 1]: 1 = must equal ``target`` (already committed), 0 = free."""


def guided_velocity(x: torch.Tensor, v: torch.Tensor, t: float, guide: Guide) -> torch.Tensor:
    """The velocity corrected so that the predicted clean chunk agrees with ``guide`` where it is weighted.

    With t = 1 noise and t = 0 data (x_t = t * noise + (1 - t) * x_0, v = noise - x_0), the clean chunk
    predicted at (x, t) is ``x - t * v``. It is moved towards the target by the weight, and the velocity
    recomputed from it, so the next Euler step heads for the corrected chunk; at the last step the
    weighted entries land on the target exactly. This is guided inpainting with the Jacobian of the
    prediction taken as the identity (no backward pass through the expert), cheap enough for CPU.
    """
    x0 = x - t * v
    x0 = x0 + guide.weight * (guide.target - x0)
    return (x - x0) / t


class FlowExpert(Packable):
    """v(x_t, t | backbone keys/values): [B, H, Da] -> [B, H, Da].

    Time enters additively: every action token gets ``time_mlp(sinusoid(t))``. Because it does not
    depend on x_t, sampling computes it once for all Euler steps before the loop. As a
    :class:`Packable`, a packed expert runs its Euler loop as plain tensor calls (CPU inference).
    """

    def __init__(
        self, action_dim: int, horizon: int, width: int, depth: int, heads: int, head_dim: int, mlp_ratio: int = 4, dropout: float = 0.0
    ) -> None:
        super().__init__()
        self.action_dim, self.horizon, self.width = action_dim, horizon, width
        self.action_in = nn.Linear(action_dim, width)
        self.time_mlp = nn.Sequential(nn.Linear(width, width), nn.SiLU(), nn.Linear(width, width))
        self.pos = nn.Parameter(torch.randn(1, horizon, width) * 0.02)
        self.transformer = Transformer(width, depth, heads, head_dim, mlp_ratio, dropout)
        self.action_out = nn.Linear(width, action_dim)

    def time_features(self, t: torch.Tensor) -> torch.Tensor:
        """t [B] -> [B, H, width]: the additive time conditioning plus the step positions."""
        return self.time_mlp(time_embedding(t, self.width).to(self.pos.dtype))[:, None] + self.pos

    def velocity(self, x_t: torch.Tensor, time_feat: torch.Tensor, context: list[KV]) -> torch.Tensor:
        """Velocity [B, H, Da] given precomputed :meth:`time_features`."""
        h, _ = self.transformer(self.action_in(x_t) + time_feat, None, context)
        return self.action_out(h)

    def forward(self, x_t: torch.Tensor, t: torch.Tensor, context: list[KV]) -> torch.Tensor:
        """Velocity [B, H, Da]; every query attends to [backbone prefix ; all H action tokens]."""
        return self.velocity(x_t, self.time_features(t), context)

    def loss(
        self,
        actions: torch.Tensor,
        context: list[KV],
        weight: torch.Tensor,
        time_beta: tuple[float, float],
        time_min: float,
        noise: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Per-sample mean squared velocity error [B].

        actions [B, H, Da] normalised and padded; weight [B, H, Da] is 1 on real steps and
        dimensions and 0 on padded ones (``action_is_pad`` steps, padded action dims).
        """
        b = actions.shape[0]
        if noise is None:
            noise = torch.randn_like(actions)
        t = sample_time(b, time_beta[0], time_beta[1], time_min, actions.device)
        tb = t[:, None, None]
        x_t = tb * noise + (1.0 - tb) * actions
        u = noise - actions
        v = self(x_t, t, context)
        err = F.mse_loss(v.float(), u.float(), reduction="none") * weight
        return err.sum(dim=(1, 2)) / weight.sum(dim=(1, 2)).clamp_min(1.0)

    def sample(self, context: list[KV], noise: torch.Tensor, num_steps: int, guide: Guide | None = None) -> torch.Tensor:
        """Integrate from x_1 = noise [B, H, Da] to x_0 with ``num_steps`` Euler steps; the context is reused by every step.

        ``guide``: inpaint the chunk towards known actions (real-time chunking, see :func:`guided_velocity`)."""
        b, dt = noise.shape[0], -1.0 / num_steps
        pack = self.active_pack()
        if pack is not None:
            return self._sample_packed(context, noise, num_steps, pack, guide)
        times = 1.0 + dt * torch.arange(num_steps, device=noise.device, dtype=torch.float32)  # 1, 1-dt, ..., dt
        time_feat = self.time_features(times.repeat_interleave(b)).view(num_steps, b, self.horizon, -1)  # once for all steps
        x = noise
        for k in range(num_steps):
            v = self.velocity(x, time_feat[k], context)
            if guide is not None:
                v = guided_velocity(x, v, 1.0 + dt * k, guide)
            x = x + dt * v
        return x

    def _build_pack(self) -> dict:
        """The transformer's blocks, the input layer transposed, the final norm folded into ``action_out``,
        and (filled on first use) the step conditioning per number of Euler steps."""
        return {
            "blocks": self.transformer._build_pack()[:-1],
            "in_w": self.action_in.weight.t().contiguous(),
            "out": fold_norm(self.transformer.norm, self.action_out),
            "cond": {},
        }

    def _step_conditioning(self, pack: dict, num_steps: int) -> torch.Tensor:
        """[num_steps, H, width]: time features + positions + the input layer's bias at t = 1, 1-dt, ..., dt
        (the same for every chunk, so kept in the pack)."""
        if num_steps not in pack["cond"]:
            times = 1.0 - torch.arange(num_steps, device=self.pos.device, dtype=torch.float32) / num_steps
            pack["cond"][num_steps] = (self.time_features(times) + self.action_in.bias).detach()
        return pack["cond"][num_steps]

    def _sample_packed(
        self, context: list[KV], noise: torch.Tensor, num_steps: int, pack: dict, guide: Guide | None = None
    ) -> torch.Tensor:
        """The same Euler loop as plain tensor calls over packed weights (CPU inference; about 2x faster than modules)."""
        b, n, da = noise.shape
        dt = -1.0 / num_steps
        blocks, in_w, (out_w, out_b) = pack["blocks"], pack["in_w"], pack["out"]
        cond = self._step_conditioning(pack, num_steps)  # [steps, H, width]
        if b > 1:
            cond = cond.repeat(1, b, 1)
        buffers = []
        for k_ctx, v_ctx in context:  # [context ; action tokens] keys/values; the context is written once
            p = k_ctx.shape[2]
            kv = torch.empty(2, b, k_ctx.shape[1], p + n, k_ctx.shape[3], dtype=k_ctx.dtype, device=k_ctx.device)
            kv[0, :, :, :p] = k_ctx
            kv[1, :, :, :p] = v_ctx
            buffers.append((kv, kv[:, :, :, p:], kv[0], kv[1]))
        x = noise.reshape(b * n, da)
        heads, hd, width = self.transformer.heads, self.transformer.head_dim, self.width
        for k in range(num_steps):
            h, _ = packed_blocks(torch.addmm(cond[k], x, in_w), b, n, None, None, blocks, heads, hd, buffers)
            if guide is None:
                x = torch.addmm(x, F.layer_norm(h, (width,), None, None, 1e-5), out_w, alpha=dt).add_(out_b, alpha=dt)  # x + dt * v
            else:
                v = torch.addmm(out_b, F.layer_norm(h, (width,), None, None, 1e-5), out_w).view(b, n, da)
                x = (x.view(b, n, da) + dt * guided_velocity(x.view(b, n, da), v, 1.0 + dt * k, guide)).reshape(b * n, da)
        return x.view(b, n, da)
