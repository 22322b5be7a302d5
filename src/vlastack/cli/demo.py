"""``vlastack demo``: the main job on the built-in default.

Without ``--checkpoint`` (the default until a trained policy ships with the project) the demo
records a few scripted-expert demonstrations on three Meta-World tasks, prints what was recorded,
and writes one video per task. With ``--checkpoint DIR`` it runs that policy closed loop on the
same tasks through the chosen executor and the safety layer, prints the success table and writes
the evaluation report with videos.
"""

from __future__ import annotations

from pathlib import Path

import typer

from vlastack.cli.app import app

DEMO_TASKS = "reach-v3,drawer-open-v3,button-press-topdown-v3"


@app.command()
def demo(
    out: Path = typer.Option(Path("outputs/demo"), help="Where the dataset and videos go."),
    tasks: str = typer.Option(DEMO_TASKS, help="Tasks to demonstrate, comma-separated."),
    episodes: int = typer.Option(2, help="Demonstrations per task."),
    image_size: int = typer.Option(128, help="Square image side in pixels."),
    checkpoint: Path | None = typer.Option(None, help="Run this policy instead of the scripted experts."),
    executor: str = typer.Option("sync", help="With --checkpoint: sync, ensemble or async."),
    max_steps: int = typer.Option(500, help="With --checkpoint: step limit per episode."),
) -> None:
    """Show the system at work on a few tasks: expert demonstrations, or a policy with --checkpoint."""
    if checkpoint is not None:
        from vlastack.cli.eval import evaluate

        evaluate(checkpoint=checkpoint, server=None, token=None, tasks=tasks, episodes=episodes, max_steps=max_steps,
                 executor=executor, instruction_variant=0, workers=1, as_json=False, report=out / "report")
        print(f"report and videos in {out / 'report'}")
        return
    from vlastack.cli.collect import collect
    from vlastack.cli.dataset import info, view
    from vlastack.episodes.reader import DatasetReader

    dataset = out / "dataset"
    collect(tasks=tasks, episodes=episodes, out=dataset, image_size=image_size, cameras="corner2,gripperPOV",
            depth=False, touch=True, workers=1, seed_offset=0, codec="h264")
    info(dataset, as_json=False)
    reader = DatasetReader(dataset)
    first: dict[str, int] = {}
    for row in reader.episodes.to_dict("records"):
        first.setdefault(row["vlastack/env_task"], int(row["episode_index"]))
    for task, e in first.items():
        view(dataset, episode=e, out=out / f"{task}.mp4")
