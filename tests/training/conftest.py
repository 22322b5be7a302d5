"""Fixtures for training tests: the debug preset on a small fake dataset."""

from __future__ import annotations

from dataclasses import dataclass, replace

import pytest
import torch

from vlastack.policies.base import fake_samples, stack_samples
from vlastack.policies.presets import PRESETS
from vlastack.policies.untrained import fitted_inputs
from vlastack.policies.vla.config import VLAConfig
from vlastack.train_config import TrainConfig

torch.set_num_threads(1)


@dataclass
class Setup:
    policy: VLAConfig
    train: TrainConfig
    samples: list
    stats: dict
    inputs: dict
    """What the policy class's ``fit_inputs`` fitted (the debug preset: its action tokenizer)."""
    collate = staticmethod(stack_samples)

    def kwargs(self) -> dict:
        return {"policy_inputs": self.inputs, "stats": self.stats, "progress": False}


def make_setup(n: int = 24, **train_overrides) -> Setup:
    preset = PRESETS.get("debug")
    cfg = preset.policy
    samples = fake_samples(cfg, n, seed=3)
    stats, inputs = fitted_inputs(cfg, samples)
    return Setup(cfg, replace(preset.train, **train_overrides), samples, stats, inputs)


@pytest.fixture
def setup_for():
    """``setup_for(n=24, **train_overrides)`` -> Setup (debug preset, fake data, fitted stats and tokenizer)."""
    return make_setup
