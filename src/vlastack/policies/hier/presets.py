"""Presets of the hierarchical policy.

hier        the l1 preset's action policy plus the factored subtask head (96 px, frozen MiniLM)
hier-effnet the l1-effnet preset's action policy (frozen ImageNet trunk) plus the factored subtask head
hier-debug  the same at l1-debug's size with the word-hash text encoder: trains in seconds (tests)
"""

from __future__ import annotations

from dataclasses import fields

from vlastack.policies.hier.config import HierConfig
from vlastack.policies.l1.config import L1Config
from vlastack.policies.l1.presets import L1, L1_DEBUG, L1_EFFNET
from vlastack.policies.presets import Preset, add_preset


def _from_l1(config: L1Config, name: str, **high) -> HierConfig:
    """A HierConfig with every l1 field of ``config`` (so the two policies differ only in the high level)."""
    values = {f.name: getattr(config, f.name) for f in fields(L1Config)}
    return HierConfig(**{**values, **high, "name": name})


HIER = add_preset(
    Preset(
        "hier",
        _from_l1(L1.policy, "hier", head="factored"),
        L1.train,
        "hierarchical: a subtask head (closed set of subtask texts) over the l1 trunk, then l1 acting on the chosen subtask",
    )
)
HIER_EFFNET = add_preset(
    Preset(
        "hier-effnet",
        _from_l1(L1_EFFNET.policy, "hier-effnet", head="factored"),
        L1_EFFNET.train,
        "hierarchical on the frozen trunk: the factored subtask head over l1-effnet, which then acts on the chosen subtask",
    )
)
HIER_DEBUG = add_preset(
    Preset(
        "hier-debug",
        _from_l1(L1_DEBUG.policy, "hier-debug", head="factored", high_hidden=16),
        L1_DEBUG.train,
        "tiny hierarchical policy that trains in seconds; for tests",
    )
)
