"""vlastack: vision-language-action robot control."""

__version__ = "0.1.0"
