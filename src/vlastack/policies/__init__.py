"""Policies: the two-method interface (base.py), the VLA family (vla/), presets and the registry.

    from vlastack.policies import PRESETS, VLAPolicy, load_policy, fake_batch
    policy = VLAPolicy(PRESETS.get("hybrid").policy, tokenizer=tok, stats=reader.stats)
    loss = policy.compute_loss(batch)            # [B]
    chunk = policy.sample_actions(batch)         # ActionChunk [B, H, D], environment units
"""

from vlastack.policies.base import Policy, batch_from_observation, fake_batch
from vlastack.policies.presets import PRESETS, Preset
from vlastack.policies.registry import POLICIES, load_policy
from vlastack.policies.vla.config import VLAConfig
from vlastack.policies.vla.model import VLAPolicy

__all__ = ["POLICIES", "PRESETS", "Policy", "Preset", "VLAConfig", "VLAPolicy", "batch_from_observation", "fake_batch", "load_policy"]
