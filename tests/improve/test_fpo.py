"""rl-sim's ``explore.update=fpo`` without the simulator: the FPO objective (ratio, clipped surrogate, the
demonstrations' plain loss), the advantages, the config errors and the up-front refusal of a policy without a
flow expert."""

from __future__ import annotations

import json
import math
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from vlastack import keys
from vlastack.errors import ConfigError
from vlastack.improve.explore import ExploreConfig, fpo_advantages
from vlastack.improve.fpo import FPOLoss, WithAdvantage

NAN = math.nan


# ---- the objective on the tiny hybrid VLA -----------------------------------------------------------
def _vla_batch(advantages: list[float]):
    from vlastack.data.windows import collate
    from vlastack.policies.base import fake_samples
    from vlastack.policies.presets import PRESETS
    from vlastack.policies.untrained import untrained_policy

    cfg = PRESETS.get("debug").policy
    policy = untrained_policy(cfg)
    samples = fake_samples(cfg, len(advantages), seed=1)
    for s, a in zip(samples, advantages, strict=True):
        s[keys.ADVANTAGE] = torch.tensor(a, dtype=torch.float32)
    return policy, collate(samples)


def _grads(policy) -> dict[str, torch.Tensor]:
    out = {n: p.grad.clone() for n, p in policy.named_parameters() if p.grad is not None}
    policy.zero_grad(set_to_none=True)
    return out


def test_with_the_old_weights_the_ratio_is_1_and_the_gradient_is_the_advantage_weighted_flow_loss_plus_the_demos_loss():
    import copy

    advantages = [1.5, -0.7, NAN, 0.4, NAN, -1.2]
    policy, batch = _vla_batch(advantages)
    policy.train()
    fpo = FPOLoss(copy.deepcopy(policy), clip=0.2, draws=3)

    torch.manual_seed(11)
    loss = fpo(policy, batch)
    assert loss.shape == (6,)
    assert policy.last_terms["fpo_ratio_mean"] == 1.0 and policy.last_terms["fpo_clip_frac"] == 0.0
    assert policy.last_terms["fpo_explored"] == 4.0
    loss.mean().backward()
    got = _grads(policy)

    # The same seeds by hand: sum_k of A_i L_new,k(i) / K on explored samples, the plain loss on the demonstrations.
    torch.manual_seed(11)
    seeds = torch.randint(0, 2**62, (3,)).tolist()
    flow, plain = [], []
    for seed in seeds:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            terms = policy.loss_terms(batch)
        flow.append(terms["flow"])
        plain.append(policy.weighted_loss(terms))
    a = torch.tensor(advantages)
    explored = ~torch.isnan(a)
    reference = torch.where(explored, torch.nan_to_num(a) * torch.stack(flow).mean(0), torch.stack(plain).mean(0))
    # The loss values: -r A = -A on explored samples (r = 1), the plain loss on the demonstrations.
    assert torch.allclose(loss[explored], -a[explored])
    assert torch.allclose(loss[~explored], reference[~explored].detach())
    reference.mean().backward()
    want = _grads(policy)
    assert got.keys() == want.keys() and len(got) > 0
    for name in want:
        assert torch.allclose(got[name], want[name], atol=1e-6, rtol=1e-4), name
    assert any(g.abs().sum() > 0 for n, g in got.items() if n.startswith("expert")), "the flow expert gets a gradient"


def test_the_dataset_wrapper_adds_the_episodes_advantage_and_collate_stacks_it():
    from vlastack.data.windows import collate

    base = [{keys.EPISODE_INDEX: e, "instruction": "x", keys.ACTION: torch.zeros(2, 4)} for e in (3, 5, 3)]
    explored = WithAdvantage(base, {3: 0.5, 5: -1.0})
    demos = WithAdvantage(base)
    assert len(explored) == 3 and float(explored[1][keys.ADVANTAGE]) == -1.0
    batch = collate([explored[0], demos[1], explored[1]])
    a = batch.features[keys.ADVANTAGE]
    assert a.shape == (3,) and a.dtype == torch.float32
    assert a[0] == 0.5 and math.isnan(float(a[1])) and a[2] == -1.0
    assert keys.ADVANTAGE not in base[0]  # the base's samples are not changed


# ---- the clip, on a module whose per-sample flow losses are its parameters ---------------------------
class _Losses(torch.nn.Module):
    """loss_terms: flow = theta + noise (the noise drawn from torch's RNG, as a real policy's is); weighted_loss = 2 flow."""

    def __init__(self, theta: list[float]) -> None:
        super().__init__()
        self.theta = torch.nn.Parameter(torch.tensor(theta))
        self.last_terms: dict[str, float] = {}

    @property
    def device(self) -> torch.device:
        return self.theta.device

    def loss_terms(self, batch) -> dict[str, torch.Tensor]:
        return {"flow": self.theta + 0.1 * torch.randn(len(self.theta))}

    def weighted_loss(self, terms) -> torch.Tensor:
        return 2.0 * terms["flow"]


def test_a_ratio_past_the_clip_in_the_direction_of_its_advantage_gives_no_gradient():
    # log r = L_old - L_new (the noise is the same draw for both, so it cancels exactly)
    log_r = torch.tensor([math.log(1.5), math.log(0.5), math.log(0.5), math.log(1.5), math.log(1.1), 0.0])
    a = torch.tensor([1.0, -1.0, 1.0, -1.0, 2.0, NAN])
    new = _Losses([0.3] * 6)
    old = _Losses((0.3 + log_r).tolist())
    batch = SimpleNamespace(features={keys.ADVANTAGE: a})
    fpo = FPOLoss(old, clip=0.2, draws=2)
    assert old.training and not old.theta.requires_grad
    torch.manual_seed(0)
    loss = fpo(new, batch)
    ratio = log_r.exp()
    explored = ~torch.isnan(a)
    assert new.last_terms["fpo_ratio_mean"] == pytest.approx(float(ratio[explored].mean()), rel=1e-5)
    assert new.last_terms["fpo_clip_frac"] == pytest.approx(4 / 5)
    # values: -min(r A, clip(r) A)
    assert loss[:5].tolist() == pytest.approx([-1.2, 0.8, -0.5, 1.5, -2.2], rel=1e-5)
    loss.mean().backward()
    g = new.theta.grad * 6  # d loss_i / d theta_i
    # 0: r > 1 + eps with A > 0 and 1: r < 1 - eps with A < 0: clipped, no gradient; 2, 3: past the clip but against
    # their advantage, so the unclipped term counts (d(-r A)/d theta = r A); 4: inside; 5: a demonstration, 2 x flow.
    assert g.tolist() == pytest.approx([0.0, 0.0, 0.5, -1.5, 2.2, 2.0], rel=1e-5, abs=1e-7)


def test_no_explored_sample_in_the_batch_is_the_plain_loss_and_no_ratio():
    new = _Losses([0.1, 0.2])
    fpo = FPOLoss(_Losses([0.5, 0.5]), draws=1)
    torch.manual_seed(3)
    loss = fpo(new, SimpleNamespace(features={keys.ADVANTAGE: torch.tensor([NAN, NAN])}))
    torch.manual_seed(3)
    seed = torch.randint(0, 2**62, (1,)).item()
    torch.manual_seed(seed)
    assert torch.allclose(loss, 2 * (new.theta + 0.1 * torch.randn(2)))
    assert math.isnan(new.last_terms["fpo_ratio_mean"]) and new.last_terms["fpo_explored"] == 0.0


# ---- advantages -----------------------------------------------------------------------------------------
def test_advantages_are_normalised_per_task_and_0_when_every_episode_scored_the_same():
    a = fpo_advantages([1.0, 2.0, 6.0])
    s = np.array([1.0, 2.0, 6.0])
    assert np.allclose(a, (s - 3.0) / (s.std() + 1e-6)) and abs(a.mean()) < 1e-12 and a.std() == pytest.approx(1.0, rel=1e-5)
    assert fpo_advantages([0.7, 0.7, 0.7]).tolist() == [0.0, 0.0, 0.0]
    assert fpo_advantages([0.3]).tolist() == [0.0] and len(fpo_advantages([])) == 0


def test_score_round_groups_the_advantages_by_task_and_keeps_every_episode_once(tmp_path, monkeypatch):
    import vlastack.episodes.reader as reader_module
    from vlastack.improve.explore_rounds import score_round

    # (task, seed, success, reward per step): reach's scores differ, push's are all the same
    episodes = [("reach-v3", 1, True, 5.0), ("push-v3", 1, False, 1.0), ("reach-v3", 2, False, 1.0), ("push-v3", 2, False, 1.0)]
    episodes += [("reach-v3", 3, False, 3.0)]

    class _Reader:
        def __init__(self, root) -> None:
            self.num_episodes = len(episodes)

        def episode_meta(self, e):
            task, seed, success, _ = episodes[e]
            return {"vlastack/env_task": task, "vlastack/seed": seed, "vlastack/success": success}

        def read_columns(self, e):
            return {keys.REWARD: np.full(4, episodes[e][3], np.float32)}

    monkeypatch.setattr(reader_module, "DatasetReader", _Reader)
    config = SimpleNamespace(
        out=tmp_path, tasks=("reach-v3", "push-v3"), max_steps=4, new_data_weight=4, explore=ExploreConfig(update="fpo")
    )
    scored = score_round(config, [1, 2, 3], tmp_path / "none.jsonl")
    assert [(x["task"], x["seed"]) for x in scored] == [("reach-v3", 1), ("reach-v3", 2), ("reach-v3", 3), ("push-v3", 1), ("push-v3", 2)]
    reach = [x for x in scored if x["task"] == "reach-v3"]
    assert [x["advantage"] for x in reach] == pytest.approx(fpo_advantages([x["score"] for x in reach]).tolist())
    assert reach[0]["advantage"] > 0 > reach[1]["advantage"]
    assert [x["advantage"] for x in scored if x["task"] == "push-v3"] == [0.0, 0.0]
    assert all(x["copies"] == 1 and x["weight"] == 1.0 for x in scored)
    json.dumps(scored)  # written to gathered.json as it is


# ---- config ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "field, value, message",
    [
        ("update", "ppo", "ExploreConfig.update must be one of ('weighted', 'fpo'), got 'ppo'"),
        ("fpo_clip", 0.0, "ExploreConfig.fpo_clip must be in (0, 1)"),
        ("fpo_clip", 1.0, "ExploreConfig.fpo_clip must be in (0, 1)"),
        ("fpo_clip", -0.1, "ExploreConfig.fpo_clip must be in (0, 1)"),
        ("fpo_draws", 0, "ExploreConfig.fpo_draws must be an integer >= 1, got 0"),
        ("fpo_draws", 2.5, "ExploreConfig.fpo_draws must be an integer >= 1, got 2.5"),
    ],
)
def test_bad_fpo_settings_are_refused_naming_the_field(field, value, message):
    with pytest.raises(ConfigError) as err:
        ExploreConfig(**{field: value})
    assert message in str(err.value)


def test_the_defaults_and_a_set_override():
    from vlastack.overrides import apply_overrides

    e = ExploreConfig()
    assert (e.update, e.fpo_clip, e.fpo_draws) == ("weighted", 0.2, 4)
    e = apply_overrides({"explore": e}, ["explore.update=fpo", "explore.fpo_clip=0.1", "explore.fpo_draws=2"])["explore"]
    assert (e.update, e.fpo_clip, e.fpo_draws) == ("fpo", 0.1, 2)


@pytest.fixture(scope="module")
def l1_checkpoint(tmp_path_factory):
    from vlastack.policies.presets import PRESETS
    from vlastack.policies.untrained import untrained_policy

    root = tmp_path_factory.mktemp("fpo_refusal")
    untrained_policy(PRESETS.get("l1-debug").policy).save_pretrained(root / "l1")
    (root / "demos").mkdir()
    return root


def _cli(root, checkpoint, *extra):
    from typer.testing import CliRunner

    import vlastack.cli  # noqa: F401  (registers every command)
    from vlastack.cli.app import app

    args = ["improve", "--checkpoint", str(checkpoint), "--demos", str(root / "demos"), "--out", str(root / "out")]
    args += ["--tasks", "reach-v3", "--workers", "1", "--no-progress", *extra]
    return CliRunner().invoke(app, args)


def test_fpo_on_a_policy_without_a_flow_expert_is_refused_before_anything_runs(l1_checkpoint, monkeypatch):
    import vlastack.improve.rounds as rounds

    def no(*args, **kwargs):
        raise AssertionError("nothing may run")

    monkeypatch.setattr(rounds, "_validation_row", no)
    monkeypatch.setattr(rounds, "_gather", no)
    root = l1_checkpoint
    done = _cli(root, root / "l1", "--method", "rl-sim", "--set", "explore.update=fpo")
    assert done.exit_code != 0 and isinstance(done.exception, ConfigError)
    assert "explore.update=fpo needs a policy with a flow-matching action expert" in str(done.exception)
    assert "'l1' policy" in str(done.exception) and not (root / "out").exists()
    other = _cli(root, root / "l1", "--method", "dagger", "--set", "explore.update=fpo")
    assert isinstance(other.exception, ConfigError) and "explore.update=fpo is an update rule of method rl-sim" in str(other.exception)
    assert not (root / "out").exists()


def test_fpo_with_options_that_choose_copies_is_refused(tmp_path, monkeypatch):
    from vlastack.improve.fine_tune import _check_update

    vla = SimpleNamespace(uses_flow=True, policy_type="vla", label="preset 'debug' (variant hybrid)")
    monkeypatch.setattr("vlastack.improve.fine_tune._policy_config", lambda checkpoint: vla)
    for name in ("balance_tasks", "success_only"):
        config = SimpleNamespace(method="rl-sim", checkpoint=tmp_path, explore=ExploreConfig(update="fpo", **{name: True}))
        with pytest.raises(ConfigError, match=f"explore.{name} is not used with explore.update=fpo"):
            _check_update(config)
    _check_update(SimpleNamespace(method="rl-sim", checkpoint=tmp_path, explore=ExploreConfig(update="fpo")))
    bins = SimpleNamespace(uses_flow=False, policy_type="vla", label="preset 'bins' (variant bins)")
    monkeypatch.setattr("vlastack.improve.fine_tune._policy_config", lambda checkpoint: bins)
    with pytest.raises(ConfigError, match="variant bins"):
        _check_update(SimpleNamespace(method="rl-sim", checkpoint=tmp_path, explore=ExploreConfig(update="fpo")))
