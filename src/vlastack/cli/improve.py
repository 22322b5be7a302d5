"""``vlastack improve``: post-train a policy with rounds of new data, fine-tuning and validation.

Examples::

    vlastack improve --checkpoint runs/mt10/l1/checkpoints/step_00024000 --demos runs/mt10_50b \\
        --tasks mt10 --out runs/improve/int --method interventions --rounds 2
    vlastack improve ... --out runs/improve/demos --method expert-demos --match runs/improve/int   # the control
    vlastack improve ... --set gate.threshold=0.4 --set improve.steps=3000                         # any config field
    vlastack improve ... --out runs/improve/rl --method rl-sim --episodes 10 --set explore.noise_std=0.3   # RL in the simulator
    vlastack improve --checkpoint runs/mt10/l1-effnet/... --method dagger --feature-cache ...   # fine-tune on cached trunk maps
    vlastack improve ... --out runs/improve/wm --method rl-wm --world-model runs/wm/guard --progress-head runs/wm/progress \
        --set imagine.frames_per_task=256   # RL in the world model: no environment step to gather (see improve/imagine.py)

Running the same command again continues an interrupted run.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

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
            "episodes, the expert labels every frame), rl-sim (RL in the simulator: the policy explores with correlated "
            "noise behind the safety layer and imitates its own episodes weighted by their reward; flow policies: "
            "--set explore.update=fpo for Flow Policy Optimization instead), rl-wm (RL in the "
            "world model: candidate chunks around the policy's, at demonstration frames, imagined and scored by the world "
            "model's heads; the best beats the policy's own by a margin -> label) or expert-demos (the control)."
        ),
    ] = "interventions",
    rounds: Annotated[int, typer.Option(help="Gather-fine-tune-validate rounds.")] = 2,
    episodes: Annotated[int, typer.Option(help="Assisted or explored (rl-sim) episodes per task and round.")] = 10,
    match: Annotated[
        Path | None, typer.Option(help="expert-demos: the interventions run whose new frames per task and round are matched.")
    ] = None,
    world_model: Annotated[
        Path | None, typer.Option(help="rl-wm: a `vlastack wm guardrail` directory (encoder, dynamics, heads, thresholds).")
    ] = None,
    progress_head: Annotated[
        Path | None, typer.Option(help="rl-wm: a `vlastack wm progress` run trained on that world model's dynamics run (dense reward).")
    ] = None,
    workers: Annotated[int, typer.Option(help="Simulator processes.")] = 2,
    feature_cache: Annotated[
        bool,
        typer.Option(
            help="Fine-tune on the frozen image trunk's maps, computed once per frame and cached beside each dataset, "
            "instead of running the trunk every step (policies with a frozen trunk, e.g. l1-effnet; ~10x faster)."
        ),
    ] = False,
    feature_cache_shifts: Annotated[
        int, typer.Option(help="With --feature-cache: exact pixel shifts per axis cached per frame (odd; 3 = 9 shifts, 9x the cache).")
    ] = 1,
    set_: Annotated[
        list[str] | None,
        typer.Option(
            "--set",
            help="Override a config field: improve.FIELD=VALUE (ImproveConfig), gate.FIELD=VALUE (the operator's "
            "GateConfig), explore.FIELD=VALUE (rl-sim's ExploreConfig: noise, score, weights) or imagine.FIELD=VALUE "
            "(rl-wm's ImagineConfig: start frames, candidates, score, margin), JSON values, "
            "e.g. --set improve.steps=3000 --set gate.threshold=0.4 --set explore.noise_std=0.2.",
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
        world_model=world_model,
        progress_head=progress_head,
        workers=workers,
        feature_cache=feature_cache,
        feature_cache_shifts=feature_cache_shifts,
    )
    sections = {"improve": config, "gate": config.gate, "explore": config.explore, "imagine": config.imagine}
    sections = apply_overrides(sections, set_ or [])
    config = replace(sections["improve"], gate=sections["gate"], explore=sections["explore"], imagine=sections["imagine"])
    stop_on_sigterm()
    try:
        table = run(config, progress=progress)
    except KeyboardInterrupt:
        print(f"\ninterrupted: what finished is saved under {out}; run the same command to continue")
        raise typer.Exit(130) from None
    view = Table(title=f"vlastack improve ({config.method}) on {len(config.tasks)} tasks, validation seeds, behind the safety layer")
    for name, _ in (columns := round_columns(config.method)):
        view.add_column(name, min_width=max(len(w) for w in name.split()) if config.method in ("rl-sim", "rl-wm") else None)
    steps = 0
    for row in table:
        steps += gathered_steps(row)
        view.add_row(*(cell(row, steps) for _, cell in columns))
    Console().print(view)
    if config.method == "rl-wm" and len(table) > 1:
        Console().print(imagination_table(table, config.tasks))


def imagination_table(table: list[dict], tasks: tuple[str, ...]) -> Any:
    """rl-wm: per task and round, the world model's promise for the round's labels, its view of the fine-tuned policy
    at those frames, and the real validation change (where imagination misleads: imagined > 0, real <= 0)."""
    from rich.table import Table

    view = Table(
        title="rl-wm, imagined against real: predicted score gain promised / imagined after fine-tuning / validation success change"
    )
    view.add_column("task")
    rounds = [row for row in table if "imagination" in row]
    for row in rounds:
        view.add_column(f"round {row['round']}")
    for task in tasks:
        cells = []
        for row in rounds:
            v = row["imagination"].get(task)
            cells.append("-" if v is None else f"{v['promised']:+.3f} / {v['imagined']:+.3f} / {v['real']:+.0%}")
        view.add_row(task, *cells)
    return view


def gathered_steps(row: dict) -> int:
    """Environment steps a round's gathering took (every recorded frame is one)."""
    return sum(int(v.get("frames", 0)) for v in row.get("gathered", {}).values())


def round_columns(method: str) -> list[tuple[str, Callable[[dict, int], str]]]:
    """The round table's columns for ``method``: (title, cell(row, environment steps so far))."""

    def total(key: str) -> Callable[[dict, int], str]:
        return lambda row, _: str(sum(int(v.get(key, 0)) for v in row["gathered"].values())) if row.get("gathered") else "-"

    def operator_frames(row: dict, _: int) -> str:
        g = row.get("gathered", {})
        op = sum(int(v.get("intervention_frames", v.get("matched_frames", 0))) for v in g.values())
        return f"{op} / {gathered_steps(row)}" if g else "-"

    def takeovers(row: dict, _: int) -> str:
        g = row.get("gathered", {})
        return str(sum(int(v["takeovers"]) for v in g.values())) if g and all("takeovers" in v for v in g.values()) else "-"

    def gather_safety(row: dict, _: int) -> str:
        g = row.get("gathered", {})
        eps = sum(int(v.get("episodes", 0)) for v in g.values())
        return f"{sum(int(v.get('safety_changed_steps', 0)) for v in g.values()) / eps:.1f}" if eps else "-"

    def fine_tune_cpu(row: dict, _: int) -> str:
        return f"{row['train_cpu_s']:.0f}" if "train_cpu_s" in row else "-"

    def cpu(row: dict, _: int) -> str:
        gather = f"{row['gather_cpu_s']:.0f}" if "gather_cpu_s" in row else "-"
        return f"{gather} / {fine_tune_cpu(row, _)}" if "gathered" in row else "-"

    def safety(row: dict, _: int) -> str:
        return f"{gather_safety(row, _)} / {row['safety_changed_steps_per_episode']:.1f}"

    def solved(row: dict, _: int) -> str:
        g = row.get("gathered", {})
        return f"{sum(int(v['success']) for v in g.values())} / {sum(int(v['episodes']) for v in g.values())}" if g else "-"

    def noise(row: dict, _: int) -> str:
        stds = [float(v["noise_std"]) for v in row.get("gathered", {}).values() if "noise_std" in v]
        return "-" if not stds else f"{min(stds):.2f}" if min(stds) == max(stds) else f"{min(stds):.2f}-{max(stds):.2f}"

    head: list[tuple[str, Callable[[dict, int], str]]] = [
        ("round", lambda row, _: str(row["round"])),
        ("success", lambda row, _: f"{row['success']:.0%}"),
    ]

    def imagined(key: str) -> Callable[[dict, int], str]:
        return lambda row, _: str(sum(int(v.get(key, 0)) for v in row["gathered"].values())) if row.get("gathered") else "-"

    def kept_frames(row: dict, _: int) -> str:
        g = row.get("gathered", {})
        return f"{sum(int(v['kept']) for v in g.values())} / {sum(int(v['start_frames']) for v in g.values())}" if g else "-"

    def mean_over_tasks(key: str, fmt: str) -> Callable[[dict, int], str]:
        def cell(row: dict, _: int) -> str:
            values = [float(v[key]) for v in row.get("gathered", {}).values() if v.get(key) is not None and not math.isnan(float(v[key]))]
            return format(sum(values) / len(values), fmt) if values else "-"

        return cell

    def imagined_after(row: dict, _: int) -> str:
        im = row.get("imagination", {})
        values = [float(v["imagined"]) for v in im.values() if not math.isnan(float(v["imagined"]))]
        return f"{sum(values) / len(values):+.3f}" if values else "-"

    if method == "rl-wm":
        return head + [
            ("env steps gathering (cum.)", lambda row, steps: str(steps)),
            ("imagined rollouts", imagined("imagined_rollouts")),
            ("kept / start frames", kept_frames),
            ("pred. gain promised", mean_over_tasks("promised", "+.3f")),
            ("pred. gain after fine-tune", imagined_after),
            ("pred. own score", mean_over_tasks("mean_own_score", ".3f")),
            ("CPU s imagine / train", cpu),
            ("safety steps / episode valid.", lambda row, _: f"{row['safety_changed_steps_per_episode']:.1f}"),
        ]
    if method == "rl-sim":
        return head + [
            ("solved / episodes exploring", solved),
            ("env steps (cum.)", lambda row, steps: str(steps)),
            ("kept", total("kept")),
            ("CPU s gather / train", cpu),
            ("safety steps / episode: exploring / valid.", safety),
            ("noise std (tasks)", noise),
        ]
    return head + [  # the new frames are the environment steps of the round
        ("new episodes", total("episodes")),
        ("operator frames / new frames", operator_frames),
        ("takeovers", takeovers),
        ("fine-tune CPU s", fine_tune_cpu),
        ("safety-changed steps / episode", lambda row, _: f"{row['safety_changed_steps_per_episode']:.1f}"),
    ]
