"""``vlastack improve``: post-train a policy with rounds of new data, fine-tuning and validation.

Examples::

    vlastack improve --checkpoint runs/mt10/l1/checkpoints/step_00024000 --demos runs/mt10_50b \\
        --tasks mt10 --out runs/improve/int --method interventions --rounds 2
    vlastack improve ... --out runs/improve/demos --method expert-demos --match runs/improve/int   # the control
    vlastack improve ... --set gate.threshold=0.4 --set improve.steps=3000                         # any config field

Running the same command again continues an interrupted run.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from vlastack.cli.app import app
from vlastack.cli.signals import stop_on_sigterm


@app.command()
def improve(
    checkpoint: Annotated[Path, typer.Option(help="The policy to improve (a policy directory or training checkpoint).")],
    demos: Annotated[Path, typer.Option(help="The demonstrations mixed into every fine-tuning set (keeps what already works).")],
    out: Annotated[Path, typer.Option(help="Run directory; created, or continued.")],
    tasks: Annotated[str, typer.Option(help="Task names and/or groups, comma-separated (mt10, mt50, ...).")] = "mt10",
    method: Annotated[
        str,
        typer.Option(
            help="interventions (scripted operator takes over, HG-DAgger; its frames are the labels), dagger (the same "
            "episodes, the expert labels every frame) or expert-demos (the control)."
        ),
    ] = "interventions",
    rounds: Annotated[int, typer.Option(help="Gather-fine-tune-validate rounds.")] = 2,
    episodes: Annotated[int, typer.Option(help="Assisted episodes per task and round.")] = 10,
    match: Annotated[
        Path | None, typer.Option(help="expert-demos: the interventions run whose new frames per task and round are matched.")
    ] = None,
    workers: Annotated[int, typer.Option(help="Simulator processes.")] = 2,
    set_: Annotated[
        list[str] | None,
        typer.Option(
            "--set",
            help="Override a config field: improve.FIELD=VALUE (ImproveConfig) or gate.FIELD=VALUE (the operator's "
            "GateConfig), JSON values, e.g. --set improve.steps=3000 --set gate.threshold=0.4.",
        ),
    ] = None,
    progress: Annotated[bool, typer.Option(help="Show progress bars.")] = True,
) -> None:
    """Improve a policy after imitation; prints the round table (also in OUT/improve.json)."""
    from dataclasses import replace

    from rich.console import Console
    from rich.table import Table

    from vlastack.envs.tasks import resolve_tasks
    from vlastack.improve.rounds import ImproveConfig
    from vlastack.improve.rounds import improve as run
    from vlastack.overrides import apply_overrides

    config = ImproveConfig(
        checkpoint=checkpoint,
        demos=demos,
        tasks=tuple(resolve_tasks(tasks)),
        out=out,
        method=method,
        rounds=rounds,
        episodes=episodes,
        match=match,
        workers=workers,
    )
    sections = apply_overrides({"improve": config, "gate": config.gate}, set_ or [])
    config = replace(sections["improve"], gate=sections["gate"])
    stop_on_sigterm()
    try:
        table = run(config, progress=progress)
    except KeyboardInterrupt:
        print(f"\ninterrupted: what finished is saved under {out}; run the same command to continue")
        raise typer.Exit(130) from None
    view = Table(title=f"vlastack improve ({config.method}) on {len(config.tasks)} tasks, validation seeds, behind the safety layer")
    for col in (
        "round",
        "success",
        "new episodes",
        "operator frames / new frames",
        "takeovers",
        "fine-tune CPU s",
        "safety-changed steps / episode",
    ):
        view.add_column(col)
    for row in table:
        g = row.get("gathered", {})
        eps = sum(int(v.get("episodes", 0)) for v in g.values())
        op = sum(int(v.get("intervention_frames", v.get("matched_frames", 0))) for v in g.values())
        frames = sum(int(v.get("frames", 0)) for v in g.values())
        view.add_row(
            str(row["round"]),
            f"{row['success']:.0%}",
            str(eps) if g else "-",
            f"{op} / {frames}" if g else "-",
            str(sum(int(v["takeovers"]) for v in g.values())) if g and all("takeovers" in v for v in g.values()) else "-",
            f"{row['train_cpu_s']:.0f}" if "train_cpu_s" in row else "-",
            f"{row['safety_changed_steps_per_episode']:.1f}",
        )
    Console().print(view)
