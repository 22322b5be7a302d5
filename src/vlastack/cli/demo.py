"""``vlastack demo``: the main job on the built-in default.

By default the demo runs the policy that ships inside the package (``vlastack/assets/demo_policy``,
trained by this project on its own MT50 demonstrations; see the README for how) closed loop on a
few Meta-World tasks, through the chosen executor and the always-on safety layer. It prints the
success table and writes the evaluation report with one video per task. ``--checkpoint DIR`` runs
another policy the same way; ``--experts`` records scripted-expert demonstrations instead, through
the safety layer unless ``--no-safety`` is given.
"""

from __future__ import annotations

from pathlib import Path

import typer

from vlastack.cli.app import app

#: Two easy tasks, one hard (pick-place) and one very hard (stick-push): under the protocol the shipped MT50
#: policy solves them 100, 100, 90 and 60 % of the time, so the demo shows it both where it is reliable and
#: where it is not (README.md, "The demo policy").
DEMO_TASKS = "drawer-open-v3,window-close-v3,pick-place-v3,stick-push-v3"


@app.command()
def demo(
    out: Path = typer.Option(Path("outputs/demo"), help="Where the report, videos (and with --experts the dataset) go."),
    tasks: str = typer.Option(DEMO_TASKS, help="Tasks, comma-separated."),
    episodes: int = typer.Option(2, help="Episodes per task."),
    checkpoint: Path | None = typer.Option(None, help="Policy to run (default: the shipped demo policy)."),
    executor: str = typer.Option("sync", help="sync, ensemble or async."),
    max_steps: int = typer.Option(500, help="Step limit per episode (the protocol's 500)."),
    experts: bool = typer.Option(False, "--experts", help="Record scripted-expert demonstrations instead of running a policy."),
    image_size: int = typer.Option(128, help="With --experts: square image side in pixels."),
    safety: bool = typer.Option(
        True,
        "--safety/--no-safety",
        help="With --experts: step the experts through the safety layer (default); --no-safety "
        "records their raw actions. A policy always runs behind the layer.",
    ),
) -> None:
    """Show the system at work: a trained policy on a few tasks (or, with --experts, expert demonstrations)."""
    if experts:
        _record_experts(out, tasks, episodes, image_size, safety)
        return
    if not safety:
        raise typer.BadParameter(
            "--no-safety only applies to --experts: a policy always runs behind the safety layer", param_hint="--no-safety"
        )
    from vlastack.assets import DEMO_POLICY
    from vlastack.cli.eval import run_eval
    from vlastack.errors import CheckpointError

    if checkpoint is None:
        checkpoint = DEMO_POLICY
        if not (checkpoint / "config.json").is_file():
            raise CheckpointError(f"the shipped demo policy is missing from {checkpoint}; reinstall vlastack or pass --checkpoint")
        print(f"running the shipped demo policy ({checkpoint.name}); how it was trained: README.md, 'The demo policy'")
    from vlastack.envs.tasks import resolve_tasks

    # One video per task: the demo is where people look at the policy acting. run_eval ends with the report's path.
    run_eval(
        checkpoint=checkpoint,
        tasks=tasks,
        episodes=episodes,
        max_steps=max_steps,
        executor=executor,
        report=out / "report",
        videos=len(resolve_tasks(tasks)),
    )


def _record_experts(out: Path, tasks: str, episodes: int, image_size: int, safety: bool = True) -> None:
    from vlastack.cli.collect import collect
    from vlastack.cli.dataset import info, view
    from vlastack.episodes.reader import DatasetReader

    dataset = out / "dataset"
    collect(
        tasks=tasks,
        episodes=episodes,
        out=dataset,
        image_size=image_size,
        cameras="corner2,gripperPOV",
        depth=False,
        touch=True,
        workers=1,
        seed_offset=0,
        codec="h264",
        safety=safety,
        perturb="",
        base_arm_layer=False,
        safety_spec="metaworld_sawyer",
    )
    info(dataset, as_json=False)
    reader = DatasetReader(dataset)
    first: dict[str, int] = {}
    for row in reader.episodes.to_dict("records"):
        first.setdefault(row["vlastack/env_task"], int(row["episode_index"]))
    for task, e in first.items():
        view(dataset, episode=e, out=out / f"{task}.mp4")
