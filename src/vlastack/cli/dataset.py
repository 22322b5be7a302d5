"""``vlastack dataset info|view``: inspect a LeRobot v3 dataset."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from vlastack.cli.app import app

dataset_app = typer.Typer(help="Inspect a dataset.", no_args_is_help=True)
app.add_typer(dataset_app, name="dataset")


def dataset_summary(root: Path) -> dict:
    """Counts, features, tasks and per-task success of a dataset, as plain JSON-able values."""
    from vlastack.episodes.reader import DatasetReader

    r = DatasetReader(root)
    size = sum(p.stat().st_size for p in Path(root).rglob("*") if p.is_file())
    per_task: dict[str, dict] = {}
    for row in r.episodes.to_dict("records"):
        t = row.get("vlastack/env_task") or str(row["tasks"][0])
        d = per_task.setdefault(t, {"episodes": 0, "frames": 0})
        d["episodes"] += 1
        d["frames"] += int(row["length"])
    return {
        "root": str(root),
        "codebase_version": r.info["codebase_version"],
        "robot_type": r.info.get("robot_type"),
        "fps": r.fps,
        "episodes": r.num_episodes,
        "frames": r.num_frames,
        "size_mb": round(size / 1e6, 2),
        "features": {k: {"dtype": f["dtype"], "shape": f["shape"]} for k, f in r.features.items()},
        "tasks": r.tasks,
        "per_task": per_task,
    }


@dataset_app.command()
def info(
    root: Path = typer.Argument(..., help="Dataset directory."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Episodes, frames, features, tasks and size on disk."""
    s = dataset_summary(root)
    if as_json:
        print(json.dumps(s, indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    c = Console()
    c.print(
        f"[bold]{root}[/bold]: LeRobot {s['codebase_version']}, {s['episodes']} episodes, "
        f"{s['frames']} frames at {s['fps']} Hz, {s['size_mb']} MB"
    )
    ft = Table(title="features")
    for col in ("name", "dtype", "shape"):
        ft.add_column(col)
    for k, f in s["features"].items():
        ft.add_row(k, f["dtype"], str(f["shape"]))
    c.print(ft)
    tt = Table(title="episodes per task")
    for col in ("task", "episodes", "mean length"):
        tt.add_column(col)
    for t, d in s["per_task"].items():
        tt.add_row(t, str(d["episodes"]), f"{d['frames'] / d['episodes']:.0f}")
    c.print(tt)


@dataset_app.command()
def view(
    root: Path = typer.Argument(..., help="Dataset directory."),
    episode: int = typer.Option(0, help="Episode index."),
    out: Path = typer.Option(..., help="Output .mp4 file."),
) -> None:
    """Write one episode's cameras side by side, with the instruction printed, as an MP4."""
    from vlastack.episodes.reader import DatasetReader
    from vlastack.episodes.video import encode_video
    from vlastack.evaluation.video import side_by_side

    r = DatasetReader(root)
    ep = r.episode(episode)
    frames = side_by_side([ep.frames[k] for k in r.video_keys], caption=ep.task)
    encode_video(frames, out, r.fps)
    print(f"wrote {out}: episode {episode} ({len(ep)} frames, cameras {r.cameras}): {ep.task!r}")
