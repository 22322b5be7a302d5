"""Policies by name: ``POLICIES.get("vla")`` is the class; ``load_policy(dir)`` reads any policy directory."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from vlastack.registry import Registry

if TYPE_CHECKING:
    from vlastack.policies.base import Policy

#: Registered policy classes by name; an unknown name lists the valid ones.
POLICIES: Registry[type["Policy"]] = Registry("policy")


def load_policy(directory: str | Path, expect: Any = None) -> "Policy":
    """The policy saved in ``directory`` (whatever its registered class); ``expect`` as in ``from_pretrained``."""
    import vlastack.policies.vla.model  # noqa: F401  (registers "vla")
    from vlastack.policies.base import read_policy_meta

    meta = read_policy_meta(directory)
    return POLICIES.get(str(meta["policy"])).from_pretrained(directory, expect=expect)
