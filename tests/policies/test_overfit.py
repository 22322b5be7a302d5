"""Each trainable policy family can fit a handful of samples: the loss falls by an order of magnitude.

A policy whose loss cannot fall on 4 fixed samples has a broken gradient path (a detached head, a
masked-out target, a wrong normalisation); this catches it in seconds instead of after hours of training.
"""

from __future__ import annotations

import pytest
import torch

from vlastack.policies.base import fake_samples, stack_samples
from vlastack.policies.untrained import untrained_policy

#: (preset, overrides, steps): tiny sizes; flow sees noise and times drawn afresh each step, so it gets more steps.
CASES = [
    ("l1-debug", {}, 150),
    ("debug", {"variant": "bins", "tokenizer": None}, 150),
    ("debug", {"variant": "flow", "tokenizer": None}, 300),
    ("debug", {}, 300),
]


@pytest.mark.parametrize(("preset", "overrides", "steps"), CASES, ids=[f"{p}-{o.get('variant', 'default')}" for p, o, _ in CASES])
def test_loss_falls_tenfold_on_four_samples(cfg_for, preset, overrides, steps):
    torch.manual_seed(0)
    cfg = cfg_for(preset, augment_shift=0, **overrides)
    policy = untrained_policy(cfg, samples=4, data_seed=7)
    batch = stack_samples(fake_samples(cfg, 4, seed=7))
    opt = torch.optim.AdamW(policy.parameters(), lr=3e-3, weight_decay=0.0)
    policy.train()
    first = None
    losses = []
    for _ in range(steps):
        loss = policy.compute_loss(batch).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        value = float(loss.detach())
        first = value if first is None else first
        losses.append(value)
    last = sum(losses[-10:]) / 10  # the flow loss is noisy: compare the mean of the last ten steps
    assert last < first / 10, f"{preset} {overrides}: loss {first:.4f} -> {last:.4f}"
