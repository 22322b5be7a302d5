"""The debug preset trains a few steps, checkpoints, and resumes exactly."""

from __future__ import annotations

import json

import pytest
import torch

from vlastack.checkpoint import load_safetensors
from vlastack.errors import CheckpointError
from vlastack.policies import fake_batch, load_policy
from vlastack.train_config import TrainConfig
from vlastack.training.checkpoint import list_checkpoints
from vlastack.training.loop import DataOrder, train
from vlastack.training.optim import lr_at


def test_debug_trains_checkpoints_and_loads(setup_for, tmp_path):
    s = setup_for()
    result = train(s.policy, s.train, s.samples, s.collate, tmp_path / "run", **s.kwargs())
    assert result.step == s.train.steps == 8
    ckpts = list_checkpoints(tmp_path / "run")
    assert [p.name for p in ckpts] == ["step_00000004", "step_00000008"]
    last = ckpts[-1]
    for name in (
        "model.safetensors",
        "config.json",
        "normalization.safetensors",
        "tokenizer/tokenizer.json",
        "training/weights.safetensors",
        "training/optimizer.safetensors",
        "training/state.json",
        "training/rng_rank0.safetensors",
    ):
        assert (last / name).is_file(), name
    rows = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == list(range(1, 9))
    assert all(r["loss"] == r["loss"] and "loss_flow" in r and "loss_tokens" in r for r in rows)
    policy = load_policy(last, expect="hybrid")  # acts with the EMA weights
    chunk = policy.sample_actions(fake_batch(s.policy, 2, with_action=False))
    assert chunk.actions.shape == (2, 4, 4)


def _weights(ckpt):
    return {
        **load_safetensors(ckpt / "model.safetensors"),
        **{"raw." + k: v for k, v in load_safetensors(ckpt / "training/weights.safetensors").items()},
        **{"opt." + k: v for k, v in load_safetensors(ckpt / "training/optimizer.safetensors").items()},
    }


def test_interrupted_then_resumed_equals_uninterrupted(setup_for, tmp_path):
    s = setup_for(save_every=3, steps=8)
    full = train(s.policy, s.train, s.samples, s.collate, tmp_path / "full", **s.kwargs())
    # Interrupted after 5 steps: the last checkpoint is step 3; steps 4-5 are lost and redone.
    cut = train(s.policy, s.train, s.samples, s.collate, tmp_path / "cut", stop_after=5, **s.kwargs())
    assert cut.step == 5 and cut.checkpoint.name == "step_00000003"
    with open(tmp_path / "cut" / "metrics.jsonl", "a") as f:
        f.write('{"step": 6, "lo')  # a row torn by the interruption
    torch.manual_seed(1234)  # whatever happened in between must not matter
    resumed = train(s.policy, s.train, s.samples, s.collate, tmp_path / "cut", resume=True, progress=False)
    assert resumed.step == 8
    a, b = _weights(full.checkpoint), _weights(resumed.checkpoint)
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k

    def losses(run):
        return [
            (r["step"], r["loss"], r["grad_norm"]) for r in map(json.loads, (tmp_path / run / "metrics.jsonl").read_text().splitlines())
        ]

    assert losses("full") == losses("cut")  # rows past the checkpoint were dropped and redone identically


def test_trains_without_accelerate(setup_for, tmp_path, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "accelerate", None)  # import accelerate -> ImportError
    s = setup_for(steps=2, save_every=2)
    assert train(s.policy, s.train, s.samples, s.collate, tmp_path / "run", **s.kwargs()).step == 2


def test_resume_refuses_another_variant_or_settings(setup_for, tmp_path):
    from dataclasses import replace

    s = setup_for(steps=2, save_every=2)
    train(s.policy, s.train, s.samples, s.collate, tmp_path / "run", **s.kwargs())
    flow = replace(s.policy, variant="flow", tokenizer=None)
    with pytest.raises(CheckpointError, match="variant: expected 'flow', checkpoint has 'hybrid'"):
        train(flow, s.train, s.samples, s.collate, tmp_path / "run", resume=True, progress=False)
    with pytest.raises(CheckpointError, match="lr: run has 0.001, now 0.5"):
        train(s.policy, replace(s.train, lr=0.5), s.samples, s.collate, tmp_path / "run", resume=True, progress=False)
    with pytest.raises(CheckpointError, match="already holds checkpoints; pass --resume"):
        train(s.policy, s.train, s.samples, s.collate, tmp_path / "run", **s.kwargs())


def test_lr_schedule_warmup_then_cosine():
    cfg = TrainConfig(steps=110, lr=1.0, warmup_steps=10, min_lr_ratio=0.1)
    assert lr_at(0, cfg) == pytest.approx(0.1) and lr_at(9, cfg) == pytest.approx(1.0)
    assert lr_at(10, cfg) == pytest.approx(1.0) and lr_at(60, cfg) == pytest.approx(0.55)
    assert lr_at(110, cfg) == pytest.approx(0.1)


def test_data_order_is_a_function_of_the_position():
    a = DataOrder(10, 4, seed=0)
    first = [b for _, b in zip(range(5), a)]
    assert sorted(first[0] + first[1] + first[2][:2]) == list(range(10))  # each epoch is a permutation
    b = DataOrder(10, 4, seed=0, position=8)
    assert [x for _, x in zip(range(3), b)] == first[2:5]
    ranks = [next(iter(DataOrder(10, 2, seed=0, rank=r, world=2))) for r in (0, 1)]
    assert ranks[0] + ranks[1] == first[0]  # two processes split the same global batch


def test_a_loss_fn_replaces_the_policys_loss(setup_for, tmp_path):
    s = setup_for(steps=2, save_every=2, log_every=1)
    calls = []

    def loss_fn(model, batch):
        calls.append(batch.size)
        return model(batch) * 0.0 + 7.0  # per-sample [B]; the loop takes its mean

    result = train(s.policy, s.train, s.samples, s.collate, tmp_path / "run", loss_fn=loss_fn, **s.kwargs())
    assert result.step == 2 and calls == [s.train.batch_size] * 2
    rows = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert [r["loss"] for r in rows] == [7.0, 7.0]


def test_a_fine_tune_keeps_the_start_grounding_only_where_it_knows_the_new_instructions(setup_for, tmp_path):
    from vlastack.policies.base import FAKE_INSTRUCTIONS
    from vlastack.policies.components.grounding import GROUNDING_FILE, InstructionGrounding
    from vlastack.policies.untrained import untrained_policy

    s = setup_for(steps=2, save_every=2)
    start = untrained_policy(s.policy)
    texts = list(FAKE_INSTRUCTIONS)
    start.grounding = InstructionGrounding.fit(texts, [f"task{i}" for i in range(len(texts))], torch.eye(len(texts), 8), None)
    start.save_pretrained(tmp_path / "start")
    # the same tasks (post-training): the grounding still describes the policy, so it stays
    same = train(s.policy, s.train, s.samples, s.collate, tmp_path / "same", init_from=tmp_path / "start", instructions=texts, **s.kwargs())
    assert (same.checkpoint / GROUNDING_FILE).is_file()
    assert "grounding_dropped" not in json.loads((tmp_path / "same" / "run.json").read_text())
    # new phrasings: the old grounding would reroute them onto its own tasks, so the run drops it and says so
    new = [*texts, "a long-horizon instruction"]
    other = train(s.policy, s.train, s.samples, s.collate, tmp_path / "other", init_from=tmp_path / "start", instructions=new, **s.kwargs())
    assert not (other.checkpoint / GROUNDING_FILE).exists() and load_policy(other.checkpoint).grounding is None
    dropped = json.loads((tmp_path / "other" / "run.json").read_text())["grounding_dropped"]
    assert (
        dropped
        == other.grounding_dropped
        == {"tasks": len(texts), "unknown_instructions": 1, "first_unknown": ["a long-horizon instruction"]}
    )
    assert same.grounding_dropped is None


def test_trainable_trains_the_named_parameters_alone(setup_for, tmp_path):
    """``train.trainable``: the named modules change, every other parameter keeps its start value; a name that matches
    no parameter is refused with the policy's modules listed."""
    from vlastack.errors import ConfigError
    from vlastack.policies.untrained import untrained_policy

    start = untrained_policy(setup_for().policy)
    start.save_pretrained(tmp_path / "start")
    tops = [n for n, m in start.named_children() if any(p.requires_grad for p in m.parameters())]
    chosen = tops[-1]
    s = setup_for(steps=3, save_every=3, trainable=(chosen,), ema_decay=0.0)
    result = train(s.policy, s.train, s.samples, s.collate, tmp_path / "run", init_from=tmp_path / "start", **s.kwargs())
    before, after = start.state_dict(), load_policy(result.checkpoint).state_dict()
    params = {n for n, _ in start.named_parameters()}
    moved = {n for n in params if not torch.equal(before[n], after[n])}
    assert moved and all(n.startswith(chosen + ".") for n in moved)
    with pytest.raises(ConfigError, match="no_such_head"):
        train(
            s.policy,
            setup_for(steps=1, trainable=("no_such_head",)).train,
            s.samples,
            s.collate,
            tmp_path / "bad",
            init_from=tmp_path / "start",
            **s.kwargs(),
        )


def test_trainable_never_thaws_a_parameter_the_policy_keeps_frozen():
    from torch import nn

    from vlastack.training.loop import _freeze_all_but

    model = nn.Sequential(nn.Linear(2, 2), nn.Linear(2, 2), nn.Linear(2, 2))
    model[0].requires_grad_(False)  # a frozen pretrained trunk
    _freeze_all_but(model, ("0", "1"))
    assert [p.requires_grad for p in model.parameters()] == [False, False, True, True, False, False]
