"""Flow Policy Optimization (McAllister et al. 2025, "Flow Matching Policy Gradients"): rl-sim's
``explore.update=fpo`` (improve/explore.py says why a flow policy can have it and the ``l1`` regressor cannot).

What it computes, per training sample i of a batch (a window: the observation at frame t, the next H executed
actions as the chunk a_i, and the advantage A_i of the episode it comes from, :data:`vlastack.keys.ADVANTAGE`):

- K = ``draws`` seeds are drawn from torch's global RNG; under each seed (``torch.random.fork_rng`` +
  ``manual_seed``) the policy's :meth:`loss_terms` runs once for the policy being trained (with gradient) and once
  for the old policy (the round's starting checkpoint, frozen, ``torch.no_grad``), both in train mode, so both see
  the same flow noise eps, flow time tau, augmentation shift and dropout masks. L_new,k(i), L_old,k(i): the
  per-sample conditional flow-matching loss (the ``flow`` term: mean squared velocity error over the chunk's real
  steps and dimensions, in normalised action units).
- ratio r_i = exp(mean_k(L_old,k(i) - L_new,k(i))), the exponent clamped to [-20, 20]. The flow-matching loss is,
  up to a constant and a weighting, the negative evidence lower bound of the chunk's log-likelihood, so this
  stands in for pi_new(a_i) / pi_old(a_i): a lower loss under the new policy makes the chunk likelier.
- explored samples (finite A_i): PPO's clipped surrogate, loss_i = -min(r_i A_i, clip(r_i, 1 - eps, 1 + eps) A_i),
  eps = ``clip``. At r = 1 its gradient is A_i times the gradient of L_new(i): a positive advantage lowers the
  flow loss of what was executed (imitation), a negative one raises it (pushed away); once a ratio has left
  [1 - eps, 1 + eps] in the direction its advantage pushes, the sample gives no gradient (the trust region).
- demonstration samples (A_i NaN): the policy's own training loss (:meth:`weighted_loss` of the same terms,
  averaged over the K draws), the behaviour-cloning anchor.

The batch loss is the mean of these over all samples (the training loop takes it). ``last_terms`` records, for
the metrics rows: ``fpo_ratio_mean`` (mean r over the batch's explored samples), ``fpo_clip_frac`` (the fraction of
them with |r - 1| > eps, PPO's clip fraction: whether the trust region was active), ``fpo_explored`` (how many
explored samples the batch had; the two others are NaN when none), and ``loss_flow`` / ``loss_tokens`` (the new
policy's terms, batch means of the last draw).

Cost: 2 K forward passes (K with a backward) per step where imitation has one.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator, Mapping
from typing import Any

import torch

from vlastack import keys

#: The largest |mean_k(L_old - L_new)| exponentiated into a ratio.
MAX_LOG_RATIO = 20.0


class WithAdvantage(torch.utils.data.Dataset):
    """``base``'s samples (a ``WindowDataset``) with :data:`vlastack.keys.ADVANTAGE` added, a float32 scalar: the
    advantage of the sample's episode (``advantages``: dataset episode index -> advantage), or NaN for every sample
    (``advantages`` None: demonstrations)."""

    def __init__(self, base: Any, advantages: Mapping[int, float] | None = None) -> None:
        self.base = base
        self.advantages = None if advantages is None else {int(e): float(a) for e, a in advantages.items()}

    def __len__(self) -> int:
        return len(self.base)

    def __getitem__(self, i: int) -> dict:
        sample = dict(self.base[i])
        a = math.nan if self.advantages is None else self.advantages[int(sample[keys.EPISODE_INDEX])]
        sample[keys.ADVANTAGE] = torch.tensor(a, dtype=torch.float32)
        return sample


class FPOLoss:
    """The per-sample FPO objective [B] (module docstring) against ``old``, a frozen copy of the policy the
    explored episodes came from, as a training-loop ``loss_fn(model, batch)``. ``old`` is put in train mode
    (the same dropout and augmentation draws as the trained policy), its gradients off, and moved to the trained
    policy's device on first use."""

    def __init__(self, old: Any, clip: float = 0.2, draws: int = 4) -> None:
        self.old = old.train().requires_grad_(False)
        self.clip, self.draws = float(clip), int(draws)

    def __call__(self, model: torch.nn.Module, batch: Any) -> torch.Tensor:
        policy = getattr(model, "module", model)  # unwrap a DDP wrapper (one-process runs only: see train's loss_fn)
        device = policy.device
        if self.old.device != device:
            self.old.to(device)
        advantage = batch.features[keys.ADVANTAGE].to(device).float()
        explored = ~torch.isnan(advantage)
        a = torch.where(explored, advantage, torch.zeros_like(advantage))
        seeds = torch.randint(0, 2**62, (self.draws,)).tolist()  # from the global RNG: resumable with it
        new_flow, old_flow, demo = [], [], []
        for seed in seeds:
            with _seeded(seed, device):
                terms = policy.loss_terms(batch)
            with _seeded(seed, device), torch.no_grad():
                old_terms = self.old.loss_terms(batch)
            new_flow.append(terms["flow"])
            old_flow.append(old_terms["flow"])
            demo.append(policy.weighted_loss(terms))  # also logs the draw's terms (the last draw's stay)
        log_ratio = (torch.stack(old_flow) - torch.stack(new_flow)).mean(0).float()
        ratio = torch.exp(log_ratio.clamp(-MAX_LOG_RATIO, MAX_LOG_RATIO))
        surrogate = torch.minimum(ratio * a, ratio.clamp(1.0 - self.clip, 1.0 + self.clip) * a)
        loss = torch.where(explored, -surrogate, torch.stack(demo).mean(0).float())
        n = int(explored.sum())
        r = ratio.detach()[explored]
        policy.last_terms.update(
            fpo_ratio_mean=float(r.mean()) if n else math.nan,
            fpo_clip_frac=float(((r - 1.0).abs() > self.clip).float().mean()) if n else math.nan,
            fpo_explored=float(n),
        )
        return loss


@contextlib.contextmanager
def _seeded(seed: int, device: torch.device) -> Iterator[None]:
    """Torch's RNG (CPU, and ``device``'s if it is a GPU) started from ``seed`` inside, restored after."""
    devices = [device] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        yield
