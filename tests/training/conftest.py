"""Fixtures for training tests: the debug preset on a small fake dataset."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pytest
import torch

from vlastack import keys
from vlastack.policies.base import fake_samples, stack_samples
from vlastack.policies.components.token_head import make_action_tokenizer
from vlastack.policies.normalize import stats_from_arrays
from vlastack.policies.presets import PRESETS
from vlastack.policies.vla.config import VLAConfig
from vlastack.training.config import TrainConfig

torch.set_num_threads(1)


@dataclass
class Setup:
    policy: VLAConfig
    train: TrainConfig
    samples: list
    stats: dict
    tokenizer: object
    collate = staticmethod(stack_samples)

    def kwargs(self) -> dict:
        return {"tokenizer": self.tokenizer, "stats": self.stats, "progress": False}


def make_setup(n: int = 24, **train_overrides) -> Setup:
    preset = PRESETS.get("debug")
    cfg = preset.policy
    samples = fake_samples(cfg, n, seed=3)
    actions = np.stack([s[keys.ACTION].numpy() for s in samples])
    stats = stats_from_arrays({keys.STATE: np.stack([s[keys.STATE].numpy() for s in samples]), keys.ACTION: actions})
    tok = make_action_tokenizer(cfg.tokenizer_kind, actions)
    return Setup(cfg, replace(preset.train, **train_overrides), samples, stats, tok)


@pytest.fixture
def setup_for():
    """``setup_for(n=24, **train_overrides)`` -> Setup (debug preset, fake data, fitted stats and tokenizer)."""
    return make_setup
