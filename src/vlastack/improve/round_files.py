"""Where a ``vlastack improve`` run keeps what several of its methods share: the validation files, and which of a
round's episodes are still to run (a resumed round skips those its dataset already holds)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from vlastack.improve.rounds import ImproveConfig


def validation_path(config: ImproveConfig, round_: int) -> Path:
    """Where the validation of round ``round_``'s policy is kept (round 0: the start)."""
    return config.out / ("start_validation.json" if round_ == 0 else f"round_{round_}/validation.json")


def pending(writer: Any, tasks: tuple[str, ...], seeds: list[int], desc: str, progress: bool) -> tuple[list[tuple[str, int]], Any]:
    """The (task, seed) episodes of a round not yet in the dataset, and a progress bar over the whole
    round that starts at those already there (a resumed round)."""
    from tqdm import tqdm

    done = {(r.get("vlastack/env_task"), int(r["vlastack/seed"])) for r in writer.episode_rows()}
    jobs = [(t, s) for t in tasks for s in seeds if (t, s) not in done]
    total = len(tasks) * len(seeds)
    return jobs, tqdm(total=total, initial=total - len(jobs), desc=desc, unit="ep", disable=not progress)
