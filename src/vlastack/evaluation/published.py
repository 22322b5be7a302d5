"""The published Meta-World results our reports are drawn beside: the one place their figures live.

Copied from the protocol's table (``docs/benchmarks/METAWORLD.md``, "Published results"), which
copies Table 2 of the SmolVLA paper; ``tests/evaluation/test_published.py`` checks the two agree.
The published rows are MT50 figures (all 50 tasks); on MT10 our group rates cover only the MT10
tasks of each group, so there they are a guide, not a like-for-like comparison, and reports say so.
"""

from __future__ import annotations

from dataclasses import dataclass

SOURCE = "SmolVLA paper (arXiv 2506.01844), Table 2, as copied in docs/benchmarks/METAWORLD.md"
"""Where the figures come from, as reports cite it."""


@dataclass(frozen=True)
class PublishedRow:
    """One policy's published MT50 success rates, in percent."""

    policy: str
    """The policy as the paper names it."""
    params: str
    """Parameter count as published ("" when the paper gives none)."""
    easy: float
    """Success % over the 28 easy tasks."""
    medium: float
    """Success % over the 11 medium tasks."""
    hard: float
    """Success % over the 6 hard tasks."""
    very_hard: float
    """Success % over the 5 very hard tasks."""
    avg: float
    """The plain mean of the four group rates."""

    @property
    def label(self) -> str:
        return f"{self.policy} {self.params}".strip()

    def groups(self) -> dict[str, float]:
        """Group name (as ``envs.tasks.DIFFICULTY_GROUPS`` spells it) -> success as a fraction."""
        return {"easy": self.easy / 100, "medium": self.medium / 100, "hard": self.hard / 100, "very_hard": self.very_hard / 100}


ROWS: tuple[PublishedRow, ...] = (
    PublishedRow("Diffusion Policy", "", 23.1, 10.7, 1.9, 6.1, 10.5),
    PublishedRow("TinyVLA", "", 77.6, 21.5, 11.4, 15.8, 31.6),
    PublishedRow("pi0 (PaliGemma init)", "3.3B", 80.4, 40.9, 36.7, 44.0, 50.5),
    PublishedRow("pi0 (pretrained)", "3.3B", 71.8, 48.2, 41.7, 30.0, 47.9),
    PublishedRow("SmolVLA", "0.24B", 86.4, 46.4, 35.0, 60.0, 57.0),
    PublishedRow("SmolVLA", "0.45B", 82.5, 41.8, 45.0, 60.0, 57.3),
    PublishedRow("SmolVLA", "2.25B", 87.1, 51.8, 70.0, 64.0, 68.2),
)

CPU_FLOOR_MT10 = (0.71, 0.73)
"""The protocol's CPU floor: MT10 mean success of its deliberately simple 0.9 M-parameter policy
after one hour on 2 cores (docs/benchmarks/METAWORLD.md, "A floor measured on this kind of machine")."""
