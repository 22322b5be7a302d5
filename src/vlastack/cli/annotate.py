"""``vlastack annotate``: add per-frame subtask and reason annotations to a dataset."""

from __future__ import annotations

from pathlib import Path

import typer

from vlastack.cli.app import app


@app.command()
def annotate(
    dataset: Path = typer.Option(..., help="Dataset directory recorded by `vlastack collect` (it keeps observation.environment_state)."),
) -> None:
    """Derive each frame's subtask and reason from the scripted expert's phase and store them as the
    features subtask_index and reason_index, with meta/subtasks.parquet and meta/reasons.parquet.

    Every file is replaced atomically; running it again recomputes and replaces the annotations."""
    from rich.console import Console
    from rich.table import Table

    from vlastack.reasoning.annotate import annotate_dataset

    s = annotate_dataset(dataset)
    table = Table(title=f"{dataset}: {s.episodes} episodes, {s.frames} frames, {len(s.subtasks)} subtasks, {s.reasons} distinct reasons")
    table.add_column("subtask_index")
    table.add_column("subtask")
    table.add_column("frames")
    for i, name in enumerate(s.subtasks):
        table.add_row(str(i), name, str(s.frames_per_subtask[name]))
    Console().print(table)
