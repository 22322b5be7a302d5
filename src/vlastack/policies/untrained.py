"""An untrained policy with normalisation statistics and tokenizer fitted on fake samples.

For tests and benchmarks that need a real, saveable policy without a dataset or training.
"""

from __future__ import annotations

import numpy as np
import torch

from vlastack import keys
from vlastack.policies.base import fake_samples
from vlastack.policies.components.token_head import make_action_tokenizer
from vlastack.policies.normalize import stats_from_arrays
from vlastack.policies.vla.config import VLAConfig
from vlastack.policies.vla.model import VLAPolicy


def untrained_policy(config: VLAConfig, samples: int = 16, data_seed: int = 3, init_seed: int = 0) -> VLAPolicy:
    """A freshly initialised ``VLAPolicy``; stats and tokenizer come from ``samples`` fake samples."""
    data = fake_samples(config, samples, seed=data_seed)
    actions = np.stack([s[keys.ACTION].numpy() for s in data])
    stats = stats_from_arrays({keys.STATE: np.stack([s[keys.STATE].numpy() for s in data]), keys.ACTION: actions})
    tokenizer = make_action_tokenizer(config.tokenizer_kind, actions)
    torch.manual_seed(init_seed)
    return VLAPolicy(config, tokenizer=tokenizer, stats=stats)
