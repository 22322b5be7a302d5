"""``vlastack ground``: fit a policy's instruction grounding, so it acts on instructions in words it never saw."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from vlastack.cli.app import app


@app.command()
def ground(
    checkpoint: Annotated[
        Path, typer.Option(help="Policy directory (a training checkpoint or an export); the grounding is written into it.")
    ],
    tasks: Annotated[str, typer.Option(help="The tasks the policy was trained on: names and/or groups, comma-separated.")] = "mt10",
    starts: Annotated[int, typer.Option(help="Demonstration starts (seeds 0, 1, ...) per task that fit the scene term.")] = 10,
    words_only: Annotated[bool, typer.Option("--words-only", help="Ground by the words alone (no scene term).")] = False,
) -> None:
    """Map new wordings onto the trained skills: by what they say and what the camera sees (grounding.safetensors)."""
    import torch

    from vlastack.checkpoint import resolve_checkpoint
    from vlastack.envs.tasks import resolve_tasks
    from vlastack.policies import load_policy
    from vlastack.training.grounding import fit_grounding, save_grounding

    torch.set_num_threads(1)
    directory = resolve_checkpoint(checkpoint)
    policy = load_policy(directory).pack_for_inference()
    names = resolve_tasks(tasks)
    grounding = fit_grounding(policy, names, starts=starts, scene=not words_only)
    path = save_grounding(grounding, directory)
    how = "words and scene" if grounding.scene is not None else "words only"
    typer.echo(f"grounding of {len(names)} tasks ({len(grounding.texts)} phrasings; {how}) -> {path}")
