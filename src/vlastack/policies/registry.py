"""Policies by name, and the one place a new policy folder is registered.

    make_policy(config, stats=..., **inputs)   a fresh policy of the class the config names
    load_policy(directory, expect=None)        the policy saved in a checkpoint directory, whatever its class
    policy_class(config_or_name)               the registered class

To add a policy: write ``policies/<name>/`` (a config subclassing ``PolicyConfig``, a model subclassing
``Policy`` and decorated ``@POLICIES.register(name)``, and its presets registered in ``PRESETS``), then
add its package to :data:`BUILTIN` below. Nothing in training, evaluation, serving or the CLI changes.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vlastack.registry import Registry

if TYPE_CHECKING:
    from vlastack.policies.base import Policy

#: Registered policy classes by name; an unknown name lists the valid ones.
POLICIES: Registry[type[Policy]] = Registry("policy")

#: The policy packages that ship with vlastack; importing one registers its class and presets.
BUILTIN = ("vlastack.policies.vla", "vlastack.policies.l1", "vlastack.policies.hier")


def load_builtin() -> None:
    """Import every built-in policy package (idempotent; Python caches the imports)."""
    for module in BUILTIN:
        importlib.import_module(module)


def policy_class(config_or_name: Any) -> type[Policy]:
    """The class registered for a config (its ``policy_type``) or a policy name."""
    load_builtin()
    name = config_or_name if isinstance(config_or_name, str) else type(config_or_name).policy_type
    return POLICIES.get(name)


def make_policy(config: Any, stats: dict | None = None, **inputs: Any) -> Policy:
    """A fresh policy for ``config``; ``stats`` are the dataset statistics, ``inputs`` what
    ``policy_class(config).fit_inputs`` returned (e.g. a fitted action tokenizer)."""
    return policy_class(config)(config, stats=stats, **inputs)


def load_policy(directory: str | Path, expect: Any = None) -> Policy:
    """The policy saved in ``directory`` (whatever its registered class); ``expect`` as in ``from_pretrained``."""
    from vlastack.checkpoint import read_policy_meta

    meta = read_policy_meta(directory)
    return policy_class(str(meta["policy"])).from_pretrained(directory, expect=expect)
