"""The L1 chunk-regression policy: ``L1Config`` (config.py), ``L1Policy`` (model.py), presets (presets.py)."""

from vlastack.policies.l1 import presets as _presets  # noqa: F401  (registers the presets)
from vlastack.policies.l1.config import L1Config
from vlastack.policies.l1.model import L1Policy

__all__ = ["L1Config", "L1Policy"]
