"""The VLA policy family: ``VLAConfig`` (config.py), ``VLAPolicy`` (model.py) and its presets (presets.py)."""

from vlastack.policies.vla import presets as _presets  # noqa: F401  (registers the presets)
from vlastack.policies.vla.config import VLAConfig
from vlastack.policies.vla.model import VLAPolicy

__all__ = ["VLAConfig", "VLAPolicy"]
