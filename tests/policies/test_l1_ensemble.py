"""An l1 ensemble (``L1Config.members``): members are initialised apart and all trained, the chunk is the mean of
theirs, the frozen trunk runs once for all of them, and a checkpoint round-trips.
Trunk weights here are random (a stand-in for the ImageNet file, so the tests do not need the package)."""

from __future__ import annotations

import pytest
import torch

from vlastack.errors import ConfigError
from vlastack.policies import load_policy
from vlastack.policies.base import fake_samples, stack_samples
from vlastack.policies.untrained import untrained_policy


def _effnet(cfg_for, **overrides):
    return cfg_for("l1-debug", vision="effnet_lite0", vision_stride=8, vision_width=8, **overrides)


def _member_state(policy, i: int) -> dict[str, torch.Tensor]:
    """Member ``i``'s trainable weights under the names a single policy gives them (``task.``, ``encoder.``, ``head.``)."""
    member = policy._members()[i]
    return {f"{part}.{k}": v for part in ("task", "encoder", "head") for k, v in getattr(member, part).state_dict().items()}


def test_the_ensemble_acts_with_the_mean_of_its_members_chunks(cfg_for, fake_imagenet):
    # Two single policies A and B; an ensemble holding A's and B's weights must act with the mean of A's and B's
    # normalised chunks, i.e. (the normaliser being affine) the mean of their actions before clipping.
    single = _effnet(cfg_for)
    a = untrained_policy(single, samples=8, init_seed=1).eval()
    b = untrained_policy(single, samples=8, init_seed=2).eval()
    ens = untrained_policy(_effnet(cfg_for, members=2), samples=8, init_seed=3).eval()
    with torch.no_grad():
        b.text.load_state_dict(a.text.state_dict())  # members share the text encoder (here the learned word hash)
        ens.load_state_dict({**ens.state_dict(), **_member_state(a, 0), **{f"text.{k}": v for k, v in a.text.state_dict().items()}})
        for k, v in _member_state(b, 0).items():
            part, name = k.split(".", 1)
            if name.startswith("trunk."):  # the same frozen ImageNet trunk in A, B and the ensemble: one copy
                continue
            getattr(ens.ensemble[0], part).state_dict()[name].copy_(v)
    batch = stack_samples(fake_samples(single, 3, seed=4, with_action=False))
    pa, pb, pe = (p._predict(batch, augment=False, cached=False)[0] for p in (a, b, ens))
    assert pa.shape[0] == pb.shape[0] == 1 and pe.shape[0] == 2
    assert not torch.allclose(pa, pb)  # the two members differ, so the mean is not either of them
    torch.testing.assert_close(pe, torch.cat([pa, pb]))
    mean = ens.normalizer.unnormalize("action", (pa[0] + pb[0]) / 2).clamp(single.action_low, single.action_high)
    torch.testing.assert_close(torch.from_numpy(ens.sample_actions(batch).actions), mean)


def test_members_start_apart_all_learn_and_the_trunk_runs_once_per_chunk(cfg_for, fake_imagenet):
    cfg = _effnet(cfg_for, members=3)
    policy = untrained_policy(cfg, samples=8)
    heads = [m.head[0].weight for m in policy._members()]
    assert len(heads) == 3 and not torch.equal(heads[0], heads[1]) and not torch.equal(heads[1], heads[2])
    assert all(m.encoder.trunk is None for m in policy.ensemble)  # one trunk, the first member's
    before = [(m.head[0].weight.detach().clone(), m.encoder.adapter.weight.detach().clone()) for m in policy._members()]
    opt = torch.optim.SGD([p for p in policy.parameters() if p.requires_grad], lr=0.1)
    policy.train()
    policy.compute_loss(stack_samples(fake_samples(cfg, 8, seed=2))).mean().backward()
    opt.step()
    for m, (head, adapter) in zip(policy._members(), before):  # the loss reaches every member
        assert not torch.equal(m.head[0].weight, head) and not torch.equal(m.encoder.adapter.weight, adapter)
    calls = []
    policy.encoder.trunk.register_forward_hook(lambda *args: calls.append(1))
    policy.eval().sample_actions(stack_samples(fake_samples(cfg, 2, seed=3, with_action=False)))
    assert calls == [1]


def test_an_ensemble_checkpoint_round_trips(tmp_path, cfg_for):
    cfg = cfg_for("l1-debug", members=2)  # the conv trunk: every member has its own
    policy = untrained_policy(cfg, samples=8).eval()
    batch = stack_samples(fake_samples(cfg, 2, seed=5, with_action=False))
    policy.save_pretrained(tmp_path / "p")
    loaded = load_policy(tmp_path / "p")
    assert loaded.config.members == 2 and len(loaded.ensemble) == 1
    assert (loaded.sample_actions(batch).actions == policy.sample_actions(batch).actions).all()


@pytest.mark.parametrize(
    ("overrides", "needle"),
    [({"members": 0}, "members"), ({"members": 2, "future_weight": 0.5}, "members"), ({"members": 2, "aux_state_weight": 1.0}, "members")],
)
def test_bad_ensemble_settings_name_the_field(cfg_for, overrides, needle):
    with pytest.raises(ConfigError, match=needle):
        cfg_for("l1-debug", **overrides)
