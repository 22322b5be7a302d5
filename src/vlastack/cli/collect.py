"""``vlastack collect``: record scripted-expert demonstrations into a LeRobot v3 dataset."""

from __future__ import annotations

from pathlib import Path

import typer

from vlastack.cli.app import app
from vlastack.cli.signals import stop_on_sigterm


@app.command()
def collect(
    tasks: str = typer.Option(
        "mt10",
        help="Task names and/or groups, comma-separated: easy, medium, hard, very_hard, mt10, mt50; rs_lift, rs_two_arm, rs_mobile (robosuite).",
    ),
    episodes: int = typer.Option(50, help="Successful demonstrations per task."),
    out: Path = typer.Option(..., help="Dataset directory (created, or resumed if it exists)."),
    image_size: int = typer.Option(128, help="Square image side in pixels (even)."),
    cameras: str = typer.Option(
        "",
        help="Cameras to record, comma-separated; empty: the suite's (corner2,gripperPOV; robosuite: agentview,robot0_eye_in_hand; Fetch: external_camera_0). "
        "Meta-World also offers corner2_hand: corner2 magnified around the gripper.",
    ),
    depth: bool = typer.Option(False, help="Also record depth in metres per camera."),
    touch: bool = typer.Option(True, help="Record finger contact forces in newtons."),
    workers: int = typer.Option(1, help="Simulator processes."),
    seed_offset: int = typer.Option(0, help="First reset seed of each task's demonstrations."),
    codec: str = typer.Option("h264", help="Video codec: h264, h264-lossless or av1."),
    safety: bool = typer.Option(
        True,
        "--safety/--no-safety",
        help="Step the experts through the safety layer (default), so the recorded actions are the "
        "ones it allowed; --no-safety records the experts' raw actions.",
    ),
    perturb: str = typer.Option(
        "",
        help="Visual perturbations drawn per episode from its seed, comma-separated, for training with "
        "randomisation: a level (lighting, table_colour, ...) or the mix 'randomise' (each level on in half the episodes).",
    ),
    base_arm_layer: bool = typer.Option(
        False,
        "--base-arm-layer",
        help="Wheeled robots: the arm-only expert over the base-arm layer, which splits its hand motion between base and "
        "arm; the dataset records the hand motion (what a policy run with `vlastack eval --base-arm-layer` gives).",
    ),
    safety_spec: str = typer.Option(
        "embodiment",
        help="Safety spec: 'embodiment' (each task's robot's own: metaworld_sawyer, robosuite_<arm>, robosuite_pandaomron; two-arm tasks: "
        "robosuite_<task>, each arm's own limits plus a keep-out between the hands), a preset name or a JSON file.",
    ),
) -> None:
    """Collect demonstrations; an interrupted run resumes where it stopped.

    Every action goes through the safety layer, with each robot's own spec, unless --no-safety is
    given; each frame records what the layer changed (features safety.interventions and safety.held).
    Two-arm tasks use their two-arm spec (each arm's own limits and a keep-out between the hands). The
    wheeled robosuite robot uses robosuite_pandaomron: its hand's limits plus bounds on the base and torso
    commands (with --base-arm-layer the layer's split goes through it). A robot without a spec has its
    expert's actions recorded as they are, and the command says so."""
    from rich.console import Console
    from rich.table import Table

    from vlastack.envs.collect import EMBODIMENT_SAFETY, resolve_config, without_safety_spec
    from vlastack.envs.collect import collect as run
    from vlastack.envs.fetch_tasks import is_fetch_task
    from vlastack.envs.robosuite_tasks import is_robosuite_task
    from vlastack.envs.tasks import resolve_tasks
    from vlastack.episodes.video import VideoSettings

    robosuite = any(is_robosuite_task(t) for t in resolve_tasks(tasks))
    fetch = any(is_fetch_task(t) for t in resolve_tasks(tasks))
    missing = without_safety_spec(resolve_tasks(tasks)) if safety and safety_spec == EMBODIMENT_SAFETY else []
    if missing:
        Console().print(f"[yellow]no safety spec yet for the robots of {', '.join(missing)}: recording the expert's own actions[/yellow]")
        safety = False
    if not cameras:
        cameras = "agentview,robot0_eye_in_hand" if robosuite else "external_camera_0" if fetch else "corner2,gripperPOV"
    config = resolve_config(
        tasks,
        episodes=episodes,
        out=out,
        image_size=image_size,
        cameras=tuple(c.strip() for c in cameras.split(",") if c.strip()),
        depth=depth,
        touch=touch,
        workers=workers,
        seed_offset=seed_offset,
        video=VideoSettings(codec=codec, crf=0 if codec == "h264-lossless" else 18),
        safety=safety_spec if safety else None,
        perturb=tuple(p.strip() for p in perturb.split(",") if p.strip()),
        base_arm_layer=base_arm_layer,
    )
    _check_cameras(config.cameras, robosuite, fetch)
    stop_on_sigterm()  # the episodes in flight finish, the workers exit with the pool
    try:
        summary = run(config)
    except KeyboardInterrupt:
        from vlastack.episodes.reader import read_episode_table

        saved = len(read_episode_table(out)) if out.exists() else 0
        print(f"\ninterrupted: {saved} finished episodes are saved in {out}; run the same command to resume")
        raise typer.Exit(130) from None
    layer = f"behind the safety layer ({config.safety_label})" if config.safety else "without the safety layer"
    table = Table(title=f"Expert demonstrations in {out}, {layer}")
    columns = ("task", "kept", "dropped (expert failed)", "expert success")
    for col in columns + (("steps changed by safety (this run)",) if config.safety else ()):
        table.add_column(col)
    for t in config.tasks:
        tried = summary.kept[t] + summary.failed[t]
        row = [t, str(summary.kept[t]), str(summary.failed[t]), f"{summary.kept[t] / max(tried, 1):.0%}"]
        table.add_row(*row, *([str(summary.safety_changed.get(t, 0))] if config.safety else []))
    Console().print(table)
    if summary.given_up:
        Console().print(f"[red]gave up on {summary.given_up}: the expert failed too often[/red]")


def _check_cameras(cameras: tuple[str, ...], robosuite: bool = False, fetch: bool = False) -> None:
    """Validate camera names before any worker starts, so the error comes at once."""
    from vlastack.envs.hand_view import DERIVED_CAMERAS
    from vlastack.registry import unknown_name_error

    valid = ("corner", "corner2", "corner3", "corner4", "topview", "behindGripper", "gripperPOV", *DERIVED_CAMERAS)
    if robosuite:  # the cameras of robosuite's table scenes (robot1_*: the second robot of a two-arm task)
        valid = (
            "frontview",
            "birdview",
            "agentview",
            "sideview",
            "robot0_robotview",
            "robot0_eye_in_hand",
            "robot1_robotview",
            "robot1_eye_in_hand",
        )
    if fetch:  # the Fetch model's cameras (envs/fetch_env.py)
        valid = ("external_camera_0", "head_camera_rgb", "gripper_camera_rgb", "lidar")
    for cam in cameras:
        if cam not in valid:
            raise unknown_name_error("camera", cam, valid)
