"""``vlastack data embody``: datasets of several robots rewritten as one in the shared spaces (vlastack.embodiments)."""

from __future__ import annotations

from pathlib import Path

import typer

from vlastack.cli.app import app

data_app = typer.Typer(help="Make datasets from datasets.", no_args_is_help=True)
app.add_typer(data_app, name="data")


@data_app.command()
def embody(
    datasets: str = typer.Option(..., help="Source dataset directories, comma-separated (e.g. a Meta-World and a robosuite one)."),
    out: Path = typer.Option(..., help="New dataset directory (must not exist; an interrupted run of the same command resumes)."),
    image_size: int | None = typer.Option(None, help="Camera image side in pixels, even (default: the first dataset's)."),
    cameras: str = typer.Option(
        "front,wrist", help="Camera slots, comma-separated: front (corner2 / agentview), wrist (gripperPOV / robot0_eye_in_hand)."
    ),
    codec: str = typer.Option("h264", help="Video codec: h264, h264-lossless or av1."),
    progress: bool = typer.Option(True, help="Show a progress bar."),
) -> None:
    """One dataset in the shared action space (SHARED_DIM shared actions, the shared state, camera slots) from
    datasets of several robots; train on it with --set policy.state_dim=4 --set policy.action_dim=11 --no-touch
    --cameras front,wrist, and `vlastack eval` maps each task's observations and actions through its robot."""
    from vlastack.embodiments.embody import EmbodyConfig
    from vlastack.embodiments.embody import embody as run
    from vlastack.episodes.video import VideoSettings

    config = EmbodyConfig(
        datasets=tuple(Path(d.strip()) for d in datasets.split(",") if d.strip()),
        out=out,
        image_size=image_size,
        cameras=tuple(c.strip() for c in cameras.split(",") if c.strip()),
        video=VideoSettings(codec=codec),
    )
    s = run(config, progress=progress)
    per = ", ".join(f"{k} {v}" for k, v in s.episodes.items())
    resumed = f" (resumed after {s.resumed_from})" if s.resumed_from else ""
    typer.echo(f"wrote {s.out}: {sum(s.episodes.values())} episodes{resumed}, {s.frames} frames ({per})")
