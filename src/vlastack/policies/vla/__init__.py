"""The VLA policy family: ``VLAConfig`` (config.py) and ``VLAPolicy`` (model.py)."""
