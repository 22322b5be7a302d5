"""Untrained policies and statistics fitted on fake samples, for tests and benchmarks.

One place for what tests, benchmarks and the serving tests all need: a real, saveable policy of any
registered family without a dataset or training.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from vlastack import keys
from vlastack.policies.base import Policy, fake_samples
from vlastack.policies.normalize import stats_from_arrays
from vlastack.policies.registry import make_policy, policy_class


def fake_stats(config: Any, samples: list[dict[str, Any]]) -> dict:
    """Normalisation statistics of ``samples`` (from :func:`fake_samples`) for every vector feature the config reads."""
    arrays = {
        keys.STATE: np.stack([s[keys.STATE].numpy() for s in samples]),
        keys.ACTION: np.stack([s[keys.ACTION].numpy() for s in samples]),
    }
    if config.use_touch:
        arrays[keys.TOUCH] = np.stack([s[keys.TOUCH].numpy() for s in samples])
    for name in config.training_targets:
        arrays[name] = np.stack([s[name].numpy() for s in samples])
    return stats_from_arrays(arrays)


def fitted_inputs(config: Any, samples: list[dict[str, Any]]) -> tuple[dict, dict]:
    """(stats, constructor inputs) fitted on fake samples as ``vlastack train`` fits them on a dataset."""
    episodes = [s[keys.ACTION].numpy() for s in samples]  # each sample's chunk stands in for an episode
    return fake_stats(config, samples), policy_class(config).fit_inputs(config, episodes, 0)


def untrained_policy(config: Any, samples: int = 16, data_seed: int = 3, init_seed: int = 0) -> Policy:
    """A freshly initialised policy of ``config``'s family; stats (and e.g. a tokenizer) from ``samples`` fake samples."""
    stats, inputs = fitted_inputs(config, fake_samples(config, samples, seed=data_seed))
    torch.manual_seed(init_seed)
    return make_policy(config, stats=stats, **inputs)
