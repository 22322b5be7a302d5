"""Named presets: a policy config plus training defaults, found by name with ``PRESETS.get(name)``.

Each policy package registers its own presets (``policies/vla/presets.py``, ``policies/l1/presets.py``);
:func:`get_preset` imports the built-in packages first, so every preset can be found by name.
"""

from __future__ import annotations

from dataclasses import dataclass

from vlastack.policies.config import PolicyConfig
from vlastack.registry import Registry
from vlastack.train_config import TrainConfig


@dataclass(frozen=True)
class Preset:
    """A named starting point; ``vlastack train --preset NAME`` uses it."""

    name: str
    """The name the CLI takes."""
    policy: PolicyConfig
    """Architecture (any registered policy's config)."""
    train: TrainConfig
    """Training defaults (every field can be overridden from the CLI)."""
    description: str
    """One line for ``--help`` and error messages."""


class _Presets(Registry[Preset]):
    """A registry that loads the built-in policy packages before the first lookup."""

    def get(self, name: str) -> Preset:
        _load()
        return super().get(name)

    def names(self) -> list[str]:
        _load()
        return super().names()

    def __contains__(self, name: object) -> bool:
        _load()
        return super().__contains__(name)


def _load() -> None:
    from vlastack.policies.registry import load_builtin

    load_builtin()


PRESETS: Registry[Preset] = _Presets("preset")


def add_preset(preset: Preset) -> Preset:
    """Register ``preset`` under its name (a second preset of the same name is refused)."""
    return PRESETS.register(preset.name)(preset)
