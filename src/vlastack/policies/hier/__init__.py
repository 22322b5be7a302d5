"""The hierarchical policy: a subtask head over the l1 policy's backbone (config.py, model.py, presets.py)."""

from vlastack.policies.hier import presets as _presets  # noqa: F401  (registers the presets)
from vlastack.policies.hier.config import HierConfig
from vlastack.policies.hier.model import HierPolicy

__all__ = ["HierConfig", "HierPolicy"]
