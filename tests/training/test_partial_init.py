"""Partial initialisation (``train.init_partial``): a run starts from another policy whose action space differs,
taking every tensor whose name and shape match bit for bit and building the rest fresh for its own data, and refuses
a start policy that shares too little; without it ``--init-from`` still refuses any other config."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
import torch
from typer.testing import CliRunner

from tests.conftest import synthetic_episode
from vlastack import keys
from vlastack.episodes.reader import DatasetReader
from vlastack.episodes.writer import DatasetWriter
from vlastack.errors import CheckpointError, ConfigError
from vlastack.policies import load_policy
from vlastack.policies.presets import PRESETS
from vlastack.policies.registry import make_policy
from vlastack.policies.untrained import untrained_policy
from vlastack.training.checkpoint import load_matching

ACTION_NORM = {"normalizer.action__offset", "normalizer.action__scale"}


def _dataset(root, action_dim: int):
    writer = DatasetWriter(root)
    for i in range(2):
        ep = synthetic_episode(10, i, task="open the drawer" if i else "reach the goal position", size=32)
        ep.frames[keys.ACTION] = ep.frames[keys.ACTION][:, :action_dim] * (0.5 if action_dim == 3 else 1.0)
        writer.add_episode(ep)
    return root


def _cli(*args: str):
    from vlastack.cli import app

    return CliRunner().invoke(app, ["train", "--preset", "l1-debug", "--steps", "2", "--save-every", "2", "--no-progress", *args])


@pytest.fixture(scope="module")
def stage1(tmp_path_factory):
    """(root, the checkpoint of an l1-debug policy trained on 3-d actions, the 4-d dataset)."""
    root = tmp_path_factory.mktemp("partial")
    done = _cli("--dataset", str(_dataset(root / "d3", 3)), "--out", str(root / "s1"), "--set", "policy.action_dim=3")
    assert done.exit_code == 0, done.output
    return root, root / "s1" / "checkpoints" / "step_00000002", _dataset(root / "d4", 4)


def test_matching_tensors_load_bit_for_bit_and_the_action_head_and_normaliser_stay_fresh(stage1):
    _, start, data = stage1
    cfg, stats = PRESETS.get("l1-debug").policy, DatasetReader(data).stats
    torch.manual_seed(0)
    fresh = make_policy(cfg, stats=stats).state_dict()
    torch.manual_seed(0)
    policy = make_policy(cfg, stats=stats)
    info = load_matching(policy, start)
    old = load_policy(start).state_dict()
    head = {k for k, v in old.items() if k.startswith("head.") and v.shape != fresh[k].shape}
    assert len(head) == 2 and set(info["fresh"]) == head | ACTION_NORM  # the output layer's weight and bias
    for name, value in policy.state_dict().items():
        want = fresh[name] if name in info["fresh"] else old[name]
        assert torch.equal(value, want), name
    assert not torch.equal(policy.normalizer.offset(keys.ACTION)[:3], old["normalizer.action__offset"])  # the new data's
    assert info["loaded"] == len(fresh) - 4 and info["loaded_value_share"] > 0.8 and info["unused"] == []
    assert info["config_differences"] == {"action_dim": [3, 4]}


def test_the_cli_records_the_partial_start_and_keeps_the_strict_default(stage1, tmp_path):
    _, start, data = stage1
    args = ["--dataset", str(data), "--init-from", str(start)]
    strict = _cli(*args, "--out", str(tmp_path / "strict"))
    assert isinstance(strict.exception, CheckpointError) and "action_dim: expected 4, checkpoint has 3" in str(strict.exception)
    done = _cli(*args, "--out", str(tmp_path / "s2"), "--set", "train.init_partial=true")
    assert done.exit_code == 0, done.output
    run = json.loads((tmp_path / "s2" / "run.json").read_text())
    assert run["init_from"] == str(start.resolve()) and run["train"]["init_partial"] is True
    assert set(run["init_partial"]["fresh"]) >= ACTION_NORM and len(run["init_partial"]["fresh"]) == 4
    assert load_policy(tmp_path / "s2" / "checkpoints" / "step_00000002").config.action_dim == 4
    alone = _cli("--dataset", str(data), "--out", str(tmp_path / "alone"), "--set", "train.init_partial=true")
    assert isinstance(alone.exception, ConfigError) and "needs a start policy (--init-from DIR)" in str(alone.exception)


def test_a_start_policy_that_shares_too_little_is_refused(stage1, tmp_path):
    root, _, data = stage1
    cfg = PRESETS.get("l1-debug").policy
    other_text = replace(cfg, text_options={"buckets": 128, "dim": 16})  # its word table, most of the values, differs
    untrained_policy(other_text).save_pretrained(tmp_path / "other_text")
    untrained_policy(PRESETS.get("debug").policy).save_pretrained(tmp_path / "vla")
    policy = make_policy(cfg, stats=DatasetReader(data).stats)
    with pytest.raises(CheckpointError, match=r"only \d+ of 20 tensors \(\d+% of the parameter values\).*start policy meant"):
        load_matching(policy, tmp_path / "other_text")
    with pytest.raises(CheckpointError, match="holds a 'vla' policy, this run trains a 'l1' one"):
        load_matching(policy, tmp_path / "vla")
    with pytest.raises(CheckpointError, match="config.json"):
        load_matching(policy, data)  # not a policy directory at all
    refused = _cli(
        "--dataset", str(data), "--out", str(tmp_path / "run"), "--init-from", str(tmp_path / "other_text"), "--set=train.init_partial=true"
    )
    assert isinstance(refused.exception, CheckpointError) and not (tmp_path / "run").exists()
