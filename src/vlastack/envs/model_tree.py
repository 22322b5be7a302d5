"""Reading a MuJoCo model's kinematic tree."""

from __future__ import annotations

from typing import Any


def bodies_below(model: Any, root: int) -> frozenset[int]:
    """``root`` and every body whose chain of parents reaches it (body ids)."""
    out = set()
    for b in range(model.nbody):
        a = b
        while a > 0 and a != root:
            a = int(model.body_parentid[a])
        if a == root:
            out.add(b)
    return frozenset(out)
