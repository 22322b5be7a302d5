"""Policies: the contract (config.py, base.py), the registry and factory, presets, and one folder per family.

from vlastack.policies import PRESETS, make_policy, load_policy, fake_batch
cfg = PRESETS.get("flow").policy
policy = make_policy(cfg, stats=reader.stats, **type(policy).fit_inputs(...))
loss = policy.compute_loss(batch)            # [B]
chunk = policy.sample_actions(batch)         # ActionChunk [B, H, D], environment units
"""

from vlastack.policies.base import Policy, batch_from_observation, fake_batch
from vlastack.policies.config import PolicyConfig
from vlastack.policies.presets import PRESETS, Preset
from vlastack.policies.registry import POLICIES, load_policy, make_policy, policy_class
from vlastack.policies.vla.config import VLAConfig
from vlastack.policies.vla.model import VLAPolicy

__all__ = [
    "POLICIES",
    "PRESETS",
    "Policy",
    "PolicyConfig",
    "Preset",
    "VLAConfig",
    "VLAPolicy",
    "batch_from_observation",
    "fake_batch",
    "load_policy",
    "make_policy",
    "policy_class",
]
