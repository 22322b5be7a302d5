"""``vlastack eval``: closed-loop evaluation of a checkpoint under the Meta-World protocol."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import typer

from vlastack.cli.app import app
from vlastack.cli.signals import stop_on_sigterm


@app.command(name="eval")
def evaluate(
    checkpoint: Path | None = typer.Option(None, help="Policy checkpoint directory."),
    server: str | None = typer.Option(None, help="Evaluate a remote policy: ws://host:port of `vlastack serve`."),
    token: str | None = typer.Option(None, help="Shared token for --server."),
    tasks: str = typer.Option("mt10", help="Task names and/or groups, comma-separated."),
    episodes: int = typer.Option(10, help="Episodes per task (the protocol uses 10)."),
    max_steps: int = typer.Option(500, help="Step limit per episode (the protocol uses 500)."),
    executor: str = typer.Option("sync", help="sync, ensemble or async."),
    instruction_variant: int = typer.Option(
        0,
        help="Instruction phrasing: 0-2 seen in training, 3 held out, 4 an unseen wording (every MT50 task), 5 the dev wording for choices.",
    ),
    workers: int = typer.Option(1, help="Simulator processes."),
    videos: int = typer.Option(3, help="Record the first episode of this many tasks for the report's gallery (with --report)."),
    image_size: int | None = typer.Option(
        None, help="Rendered image side in pixels (default: the resolution the checkpoint was trained on)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as one JSON object."),
    report: Path | None = typer.Option(
        None,
        help="Write results.json, report.md, report.html and videos here; finished episodes are logged there as they end (episodes.jsonl).",
    ),
    resume: bool = typer.Option(
        False, help="Keep the episodes an interrupted run with the same settings logged in --report DIR; run only the rest."
    ),
    safety: str = typer.Option(
        "embodiment",
        help="Safety spec between executor and simulator (default on, as users run it): 'embodiment' gives each task "
        "its robot's own (metaworld_sawyer, robosuite_<arm>, robosuite_pandaomron, fetch; two-arm tasks their two-arm spec, as collection does), "
        "or a preset name or JSON file for every task; 'none' steps the simulator directly, as published benchmark "
        "rows were measured.",
    ),
    seed_offset: int = typer.Option(
        100_000,
        help="Reset seed of episode 0: 100000 is the protocol's evaluation range; "
        "use 200000 (validation) for choices, so reported rows are never tuned on.",
    ),
    execute_steps: int | None = typer.Option(
        None,
        help="Actions of each chunk the sync executor runs before asking again "
        "(default: the checkpoint's execute_steps, else the whole chunk).",
    ),
    perturb: list[str] = typer.Option(
        [],
        "--perturb",
        help="Visual perturbation of the scene, drawn per episode from its seed (lighting, table_colour, object_colour, "
        "camera_2cm_3deg, ...; 'none' for the unperturbed scene); repeat or comma-separate to combine them.",
    ),
    guardrail: Path | None = typer.Option(
        None,
        "--guardrail",
        help="A `vlastack wm guardrail` directory: the safety layer asks that world model about every chunk before "
        "it runs, and replaces (by the policy's next sample, or for a deterministic policy a nearby chunk, predicted safe) "
        "or holds a chunk it predicts unsafe.",
    ),
    guardrail_alternatives: int = typer.Option(
        8, "--guardrail-alternatives", help="Alternatives the layer may fall back on when the guardrail flags a chunk (0: hold)."
    ),
    plan: int = typer.Option(
        0,
        "--plan",
        help="Best-of-K planning with the guardrail's world model: K candidate chunks, the one with the highest "
        "predicted success among those predicted safe runs (needs --guardrail; 0: off).",
    ),
    preview: Path | None = typer.Option(
        None,
        "--preview",
        help="A `vlastack wm preview train` run: under each recorded episode's video the report shows what that world "
        "model expected one chunk of the executed actions to do, beside what happened (needs --report).",
    ),
    base_arm_layer: bool = typer.Option(
        False,
        "--base-arm-layer",
        help="Pass every action through the base-arm layer before the simulator: it splits the hand motion the policy "
        "asks for between the wheeled base and the arm, so the arm stays in reach (one-arm wheeled robots only, "
        "e.g. rs-reachfar-pandaomron); the layer's commands then go through the safety layer (robosuite_pandaomron by default).",
    ),
    no_progress: bool = typer.Option(False, "--no-progress", help="No progress bar (it is drawn on stderr)."),
    strict: bool = typer.Option(
        True,
        "--strict/--no-strict",
        help="Exit with status 3 when any episode crashed "
        "(policy raised, worker died); --no-strict exits 0. Either way a crash summary "
        "goes to stderr and the results are written.",
    ),
) -> None:
    """Success per task and difficulty group, Avg (mean of group rates), length, latency.

    Exit status: 0 all episodes ran (whatever their success), 2 bad input, 3 some episode crashed
    (with --strict, the default), 130 interrupted.
    """
    run_eval(**locals())


def run_eval(
    checkpoint: Path | None = None,
    server: str | None = None,
    token: str | None = None,
    tasks: str = "mt10",
    episodes: int = 10,
    max_steps: int = 500,
    executor: str = "sync",
    instruction_variant: int = 0,
    workers: int = 1,
    videos: int = 3,
    image_size: int | None = None,
    as_json: bool = False,
    report: Path | None = None,
    resume: bool = False,
    safety: str = "embodiment",
    seed_offset: int = 100_000,
    execute_steps: int | None = None,
    perturb: list[str] | tuple[str, ...] = (),
    guardrail: Path | None = None,
    guardrail_alternatives: int = 8,
    plan: int = 0,
    preview: Path | None = None,
    base_arm_layer: bool = False,
    no_progress: bool = False,
    strict: bool = True,
) -> None:
    """``vlastack eval`` as a plain function with the command's defaults (``vlastack demo`` calls it)."""
    from vlastack.envs.tasks import resolve_tasks
    from vlastack.errors import ConfigError
    from vlastack.evaluation.chunk_preview import ChunkPreview, draw_previews
    from vlastack.evaluation.crashes import CRASH_EXIT_CODE, crash_summary
    from vlastack.evaluation.protocol import summarize
    from vlastack.evaluation.report import write_report
    from vlastack.evaluation.run_info import checkpoint_name, describe, policy_description
    from vlastack.evaluation.runner import EvalConfig
    from vlastack.evaluation.runner import evaluate as run
    from vlastack.evaluation.terminal import print_summary

    task_list = resolve_tasks(tasks)
    perturbations = tuple(n.strip() for item in perturb for n in item.split(",") if n.strip())
    config = EvalConfig(
        checkpoint=checkpoint,
        tasks=tuple(task_list),
        episodes=episodes,
        max_steps=max_steps,
        executor=executor,
        instruction_variant=instruction_variant,
        workers=workers,
        video_tasks=videos,
        image_size=image_size,
        server=server,
        token=token,
        seed_offset=seed_offset,
        execute_steps=execute_steps,
        safety_spec=safety,
        perturb=perturbations,
        guardrail=guardrail,
        guardrail_alternatives=guardrail_alternatives,
        plan=plan,
        preview=preview,
        base_arm_layer=base_arm_layer,
    )
    if preview is not None and report is None:
        raise ConfigError("--preview draws its strips into the evaluation report: give --report DIR too")
    previewer = None if preview is None else ChunkPreview.load(preview)  # a wrong run fails now, not after the episodes
    stop_on_sigterm()
    try:
        results, recordings = run(config, progress=not no_progress, log_dir=report, resume=resume)
    except KeyboardInterrupt:
        where = (
            f"logged in {report / 'episodes.jsonl'}; add --resume to the same command to run only the rest"
            if report is not None
            else "lost (give --report DIR to log them and resume later)"
        )
        typer.echo(f"\ninterrupted: the finished episodes are {where}", err=True)
        raise typer.Exit(130) from None
    summary = summarize(results, task_list)
    summary["config"] = {
        "checkpoint": str(checkpoint),
        # Reports name the policy by these, never by the path on this machine.
        "checkpoint_name": checkpoint_name(checkpoint),
        "policy": policy_description(checkpoint) if checkpoint is not None else None,
        "server": server,
        "executor": executor,
        "episodes": episodes,
        "max_steps": max_steps,
        "instruction_variant": instruction_variant,
        "seed_offset": seed_offset,
        "execute_steps": execute_steps,
        # The spec every task ran behind (``metaworld_sawyer`` for Meta-World), "embodiment" when tasks had
        # their own ones (each episode's ``limits.spec`` names its), or "none".
        "safety": config.safety_label,
        # Visual perturbations (envs/perturb.py); absent from results written before they existed, which were unperturbed.
        "perturb": [n for n in perturbations if n != "none"],
        # The world model's look-ahead (absent from results written before it existed, which had none).
        "guardrail": None if guardrail is None else str(guardrail),
        "guardrail_alternatives": guardrail_alternatives if guardrail is not None else None,
        "plan": plan,
        # The world model whose chunk previews the report shows (absent from results written before them).
        "preview": None if preview is None else str(preview),
        # The base-arm layer under the policy (absent from results written before it existed, which had none).
        "base_arm_layer": base_arm_layer,
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
    }
    title = f"Evaluation of {describe(summary['config'])}"
    if report is not None:
        previews = {} if previewer is None else draw_previews(previewer, recordings, report)
        videos = {task: rec.video for task, rec in recordings.items()}
        write_report(report, summary, [r.to_dict() for r in results], videos, title=title, previews=previews)
    if as_json:
        print(json.dumps(summary, indent=2))
    else:
        print_summary(summary, title, report=None if report is None else report / "report.html")
    crashes = crash_summary(results)
    if crashes is not None:
        saved = f"results written to {report}" if report is not None else "give --report DIR to keep every error"
        typer.echo(
            f"{crashes}\n{saved}; exit status {CRASH_EXIT_CODE if strict else 0} ({'--strict' if strict else '--no-strict'})", err=True
        )
        if strict:
            raise typer.Exit(CRASH_EXIT_CODE)
