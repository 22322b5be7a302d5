"""Fixtures for policy tests: tiny fake data built from a config, and a policy per preset."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

from vlastack import keys
from vlastack.policies import PRESETS, VLAConfig, VLAPolicy
from vlastack.policies.base import fake_samples
from vlastack.policies.components.token_head import make_action_tokenizer
from vlastack.policies.normalize import stats_from_arrays

torch.set_num_threads(1)

PRESET_NAMES = ["debug", "bins", "fast", "flow", "hybrid"]


def config_for(name: str, **overrides) -> VLAConfig:
    """A preset's config with the fast word-hash text encoder (MiniLM has its own test)."""
    return replace(PRESETS.get(name).policy, **{"text_encoder": "hash", **overrides})


def fit_inputs(cfg: VLAConfig, n: int = 48, seed: int = 1):
    """(stats, tokenizer) fitted on ``n`` fake samples, as the CLI fits them on a dataset."""
    samples = fake_samples(cfg, n, seed=seed)
    actions = np.stack([s[keys.ACTION].numpy() for s in samples])
    arrays = {keys.STATE: np.stack([s[keys.STATE].numpy() for s in samples]), keys.ACTION: actions}
    if cfg.use_touch:
        arrays[keys.TOUCH] = np.stack([s[keys.TOUCH].numpy() for s in samples])
    tok = make_action_tokenizer(cfg.tokenizer_kind, actions) if cfg.uses_tokens else None
    return stats_from_arrays(arrays), tok


def make_policy(cfg: VLAConfig, seed: int = 0) -> VLAPolicy:
    stats, tok = fit_inputs(cfg)
    torch.manual_seed(seed)
    return VLAPolicy(cfg, tokenizer=tok, stats=stats)


@pytest.fixture(params=PRESET_NAMES)
def preset_policy(request) -> VLAPolicy:
    """A freshly built policy of each preset (hash text encoder), stats and tokenizer fitted on fake data."""
    return make_policy(config_for(request.param))


@pytest.fixture
def cfg_for():
    """``cfg_for(preset, **overrides)`` -> VLAConfig (hash text encoder)."""
    return config_for


@pytest.fixture
def policy_for():
    """``policy_for(cfg)`` -> VLAPolicy with stats and tokenizer fitted on fake data."""
    return make_policy
