"""Architecture rules that keep the code base one folder per stage: checked on the source, so they fail
the moment someone breaks them, not when a new contributor trips over it."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import vlastack

ROOT = Path(vlastack.__file__).parent


def _unit(path: Path) -> str:
    """The first-level unit a source file belongs to: its sub-package, or the top-level module itself."""
    rel = path.relative_to(ROOT)
    return rel.parts[0] if len(rel.parts) > 1 else rel.stem


def _module_level_imports(path: Path) -> set[str]:
    """vlastack units imported at module level (imports inside functions are deliberate, lazy ones)."""
    out = set()
    for node in ast.parse(path.read_text()).body:
        names = []
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + ([f"{node.module}.{a.name}" for a in node.names] if node.module == "vlastack" else [])
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        for name in names:
            parts = name.split(".")
            if parts[0] == "vlastack" and len(parts) > 1:
                out.add(parts[1])
    return out


def package_graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for path in ROOT.rglob("*.py"):
        unit = _unit(path)
        graph.setdefault(unit, set()).update(u for u in _module_level_imports(path) if u != unit)
    return graph


def test_no_import_cycles_between_packages():
    graph = package_graph()
    assert "policies" in graph["training"]  # the scan sees module-level imports
    cycles = []
    for a, targets in graph.items():
        for b in targets:
            # b reaches a again? (depth-first over module-level edges)
            seen, stack = set(), [b]
            while stack:
                u = stack.pop()
                if u == a:
                    cycles.append(f"{a} -> {b} -> ... -> {a}")
                    break
                if u not in seen:
                    seen.add(u)
                    stack.extend(graph.get(u, ()))
    assert not cycles, f"package-level import cycles: {sorted(set(cycles))}"


def test_only_the_policy_contract_is_read_outside_policies():
    """Training, evaluation, serving, execution and the CLI know no policy family by name or field."""
    family_only = re.compile(
        r"VLAConfig|VLAPolicy|L1Config|L1Policy|policies\.(vla|l1)\b|\.acts_with|\.uses_tokens|"
        r"\.tokenizer_kind|\.max_action_dim|\.variant\b"
    )
    offenders = []
    for unit in ("training", "evaluation", "serving", "execution", "cli", "safety", "data", "episodes", "envs"):
        for path in (ROOT / unit).rglob("*.py"):
            for i, line in enumerate(path.read_text().splitlines(), 1):
                if family_only.search(line):
                    offenders.append(f"{path.relative_to(ROOT)}:{i}: {line.strip()}")
    assert not offenders, "\n".join(offenders)
