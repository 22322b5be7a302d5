"""``vlastack export``: a training checkpoint -> a policy directory to ship (no optimizer or RNG state)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from vlastack.cli.app import app


@app.command()
def export(
    checkpoint: Annotated[Path, typer.Option(help="Training checkpoint, e.g. runs/hybrid/checkpoints/step_00002000.")],
    out: Annotated[Path, typer.Option(help="New directory for the policy files (must not exist).")],
    half: Annotated[bool, typer.Option(help="Store the weights in float16 (half the size; loaded back as float32).")] = False,
    execute_steps: Annotated[
        int | None, typer.Option(help="Set how many actions of each chunk an executor runs before asking again.")
    ] = None,
) -> None:
    """Copy the acting part of a checkpoint (weights, config, normalisation, tokenizer, text cache)."""
    from vlastack.training.checkpoint import export_policy

    path = export_policy(checkpoint, out, half=half, execute_steps=execute_steps)
    size = sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    typer.echo(f"exported {checkpoint} -> {path} ({size / 1e6:.1f} MB)")
