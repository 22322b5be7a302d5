"""Fixtures for policy tests: tiny fake data built from a config, and a policy per preset."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch

from vlastack.policies import PRESETS, Policy, PolicyConfig
from vlastack.policies.components import effnet_weights
from vlastack.policies.components.effnet_lite import EfficientNetLite0
from vlastack.policies.untrained import untrained_policy

torch.set_num_threads(1)

#: Every registered preset: the contract tests run over all of them, so a new policy is covered by registering it.
PRESET_NAMES = PRESETS.names()


def config_for(name: str, **overrides) -> PolicyConfig:
    """A preset's config with the fast word-hash text encoder (MiniLM has its own test)."""
    return replace(PRESETS.get(name).policy, **{"text_encoder": "hash", **overrides})


def make_policy(cfg, seed: int = 0):
    """A policy of ``cfg``'s family with stats (and tokenizer) fitted on 48 fake samples."""
    return untrained_policy(cfg, samples=48, data_seed=1, init_seed=seed)


@pytest.fixture(params=PRESET_NAMES)
def preset_policy(request) -> Policy:
    """A freshly built policy of each preset (hash text encoder), stats and tokenizer fitted on fake data."""
    return make_policy(config_for(request.param))


@pytest.fixture
def cfg_for():
    """``cfg_for(preset, **overrides)`` -> the preset's config (hash text encoder)."""
    return config_for


@pytest.fixture
def policy_for():
    """``policy_for(cfg)`` -> a policy with stats and tokenizer fitted on fake data."""
    return make_policy


@pytest.fixture
def fake_imagenet(monkeypatch):
    """Random full-model EfficientNet-Lite0 weights (BatchNorm statistics off their defaults) in place of the ImageNet
    file, so the frozen-trunk tests need no weights package; returns (weights, calls), calls counting the loads."""
    torch.manual_seed(1)
    net = EfficientNetLite0(None)
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.1, 0.1)
                m.running_var.uniform_(0.5, 2.0)
    state = {k: v.clone() for k, v in net.state_dict().items()}
    calls = []
    monkeypatch.setattr(effnet_weights, "load_effnet_lite0_weights", lambda cache=None: calls.append(1) or state)
    return state, calls
