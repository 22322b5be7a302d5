"""``vlastack wm``: the world model (issue 14) on a frozen policy encoder's embeddings.

    vlastack wm train  --dataset runs/mt10_50b --encoder runs/mt10/l1/checkpoints/step_00024000 --out runs/wm/dyn
    vlastack wm latent --dataset data/video_only --encoder CKPT --out runs/wm/lam      # no action column needed
    vlastack wm heads  --dynamics runs/wm/dyn --out runs/wm/heads    # reward and safety heads on its embeddings
    vlastack wm guardrail --heads runs/wm/heads --out runs/wm/guard    # thresholds -> vlastack eval --guardrail runs/wm/guard
    vlastack wm progress --dynamics runs/wm/dyn --out runs/wm/progress  # dense-reward head (vlastack improve --method rl-wm)
    vlastack wm pseudo-label --dataset runs/mt10_50b --labelled-per-task 5 --out runs/wm14/mt10_pseudo5  # IDM labels
    vlastack wm latent-label --latent runs/wm/lam --dataset runs/mt10_50b --out runs/wm/mt10_latent  # latent actions
    vlastack wm preview train --dynamics runs/wm/dyn --out runs/wm/preview   # decoder: embedding -> 32 px frame
    vlastack wm preview show --preview runs/wm/preview --out chunk.png      # expected beside what happened
    vlastack wm eval --dynamics runs/wm/dyn [--latent runs/wm/lam] [--heads runs/wm/heads] [--json eval.json]  # held-out tables
    ... --resume continues from the last checkpoint; --set FIELD=VALUE overrides any config field (JSON value).

Frames are encoded once into ``OUT/embeddings.safetensors`` (reused while dataset and encoder stay the
same); ``--dataset`` may be repeated, the i-th further dataset cached in ``OUT/embeddings_<i>.safetensors``
and its episode ids shifted by ``i * 1,000,000``. Every ``--held-out-every``-th episode of each task of
each dataset is left out of training for evaluation.
"""

from __future__ import annotations

import json
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer

from vlastack.cli.app import app

wm = typer.Typer(help="World model: embedding dynamics and latent actions (issue 14).", no_args_is_help=True)
app.add_typer(wm, name="wm")

Dataset = Annotated[
    list[Path], typer.Option(help="Dataset directory (LeRobot v3), repeatable to join several; `wm latent` needs no action column.")
]
Encoder = Annotated[Path, typer.Option(help="Policy checkpoint directory whose image_features are the embeddings (kept frozen).")]
Out = Annotated[Path, typer.Option(help="Run directory: embeddings.safetensors, checkpoints/, metrics.jsonl.")]
Set = Annotated[list[str] | None, typer.Option("--set", help="Override a config field: FIELD=VALUE (JSON value; repeatable).")]
Resume = Annotated[bool, typer.Option(help="Continue from the last checkpoint in --out.")]
HeldOut = Annotated[int, typer.Option(help="Every N-th episode of each task is held out of training.")]
PerTask = Annotated[int | None, typer.Option(help="Use only the first N episodes of each task (a smaller, cheaper run).")]


def _configured(cfg, items: list[str] | None):
    """``cfg`` with every ``--set FIELD=VALUE`` applied through ``vlastack.overrides`` (JSON values,
    typed, unknown fields named with the valid ones)."""
    from vlastack.overrides import apply_overrides

    return apply_overrides({"wm": cfg}, [f"wm.{item}" for item in items or []])["wm"]


def _prepare(datasets: list[Path], encoder: Path, out: Path, held_out_every: int, per_task: int | None):
    """(training rows of the embedding table, meta for the checkpoint); encodes the frames when needed."""
    from vlastack.checkpoint import resolve_checkpoint
    from vlastack.episodes.reader import DatasetReader
    from vlastack.world_model.embeddings import EPISODE_OFFSET, cached_embeddings, concat_tables, embeddings_path
    from vlastack.world_model.train import split_by_task

    encoder = resolve_checkpoint(encoder)
    tables, train_eps, held = [], [], []
    for i, dataset in enumerate(datasets):
        reader = DatasetReader(dataset)
        tr, he = split_by_task(reader, held_out_every, per_task)
        tables.append(cached_embeddings(embeddings_path(out, i), reader, encoder, sorted(tr + he), progress=True))
        train_eps += [i * EPISODE_OFFSET + e for e in tr]
        held += [i * EPISODE_OFFSET + e for e in he]
    table = concat_tables(tables)
    meta = {
        "dataset": str(datasets[0]),
        "datasets": [str(d) for d in datasets],
        "encoder": str(encoder),
        "train_episodes": train_eps,
        "held_out_episodes": held,
    }
    typer.echo(f"{len(train_eps)} training episodes, {len(held)} held out; embeddings {list(table.z.shape)}")
    return table.select(train_eps), meta


def _run(cfg, train_fn, dataset: list[Path], encoder: Path, out: Path, resume: bool, held_out_every: int, per_task: int | None) -> None:
    """Encode (or reuse) the embeddings, then ``train_fn(table, cfg, out, meta, ...)``; prints the last checkpoint."""
    table, meta = _prepare(dataset, encoder, out, held_out_every, per_task)
    last = train_fn(table, cfg, out, meta, resume=resume, log=typer.echo)
    typer.echo(f"checkpoint: {last}")


@wm.command("train")
def train(
    dataset: Dataset,
    encoder: Encoder,
    out: Out,
    set_: Set = None,
    resume: Resume = False,
    held_out_every: HeldOut = 5,
    per_task: PerTask = None,
) -> None:
    """Train the chunk predictor z(t+m) = f(z(t), a(t..t+m-1)) (needs actions)."""
    from vlastack.world_model.config import DynamicsConfig
    from vlastack.world_model.train import train_dynamics

    _run(_configured(DynamicsConfig(), set_), train_dynamics, dataset, encoder, out, resume, held_out_every, per_task)


@wm.command("latent")
def latent(
    dataset: Dataset,
    encoder: Encoder,
    out: Out,
    set_: Set = None,
    resume: Resume = False,
    held_out_every: HeldOut = 5,
    per_task: PerTask = None,
) -> None:
    """Train inverse dynamics -> FSQ code and the forward model that uses it (actions are never read)."""
    from vlastack.world_model.config import LatentActionConfig
    from vlastack.world_model.train import train_latent_actions

    _run(_configured(LatentActionConfig(), set_), train_latent_actions, dataset, encoder, out, resume, held_out_every, per_task)


def _head_meta(run) -> dict:
    """What a head run records of the dynamics run it was trained on (its checkpoint, datasets and split)."""
    return {
        "dynamics": str(run.checkpoint),
        "datasets": run.datasets,
        "train_episodes": run.train_episodes,
        "held_out_episodes": run.held_out,
    }


@wm.command("heads")
def heads(
    dynamics: Annotated[Path, typer.Option(help="`vlastack wm train` run (or one of its checkpoints): embeddings, split and rollouts.")],
    out: Annotated[Path, typer.Option(help="Run directory for the heads: checkpoints/, metrics.jsonl.")],
    set_: Set = None,
    resume: Resume = False,
) -> None:
    """Train reward and safety heads (success, keep_out, over_force, object_lost) on the dynamics run's
    training episodes; labels come from the datasets' recorded columns (see HeadsConfig)."""
    import torch

    from vlastack.world_model.config import HeadsConfig
    from vlastack.world_model.heads import EVENTS
    from vlastack.world_model.runs import DynamicsRun
    from vlastack.world_model.train import train_heads

    cfg = _configured(HeadsConfig(), set_)
    run = DynamicsRun.load(dynamics)
    labels, _ = run.labels(cfg)
    train_rows = run.rows(run.train_episodes)
    table = run.table.select(run.train_episodes)
    counts = ", ".join(f"{e} {int(n)}" for e, n in zip(EVENTS, labels[train_rows].sum(0).tolist(), strict=True))
    typer.echo(f"{len(run.train_episodes)} training episodes, {len(table.z)} frames; positive frames: {counts}")
    meta = _head_meta(run)
    torch.set_num_threads(1)
    last = train_heads(table, labels[train_rows], run.model, cfg, out, meta, resume=resume, log=typer.echo)
    typer.echo(f"checkpoint: {last}")


@wm.command("progress")
def progress(
    dynamics: Annotated[Path, typer.Option(help="`vlastack wm train` run (or one of its checkpoints): embeddings, split and rollouts.")],
    out: Annotated[Path, typer.Option(help="Run directory for the progress head: checkpoints/, metrics.jsonl.")],
    set_: Set = None,
    resume: Resume = False,
) -> None:
    """Train the progress head (the dense reward / reward_scale, in [0, 1]) on the dynamics run's training episodes,
    then print its mean absolute error on the held-out episodes' true embeddings beside a constant's."""
    import torch

    from vlastack.episodes.reader import DatasetReader
    from vlastack.world_model import checkpoint
    from vlastack.world_model.config import ProgressConfig
    from vlastack.world_model.heads import table_progress
    from vlastack.world_model.runs import DynamicsRun
    from vlastack.world_model.train import train_progress

    cfg = _configured(ProgressConfig(), set_)
    run = DynamicsRun.load(dynamics)
    targets = table_progress(run.table, [DatasetReader(d) for d in run.datasets], cfg.reward_scale)
    train_rows = run.rows(run.train_episodes)
    meta = _head_meta(run)
    torch.set_num_threads(1)
    last = train_progress(
        run.table.select(run.train_episodes), targets[train_rows], run.model, cfg, out, meta, resume=resume, log=typer.echo
    )
    typer.echo(f"checkpoint: {last}")
    if run.held_out:
        head, _ = checkpoint.load(last)
        rows = run.rows(run.held_out)
        with torch.no_grad():
            pred = head.progress(head.norm.normalize(run.table.z[rows]))
        held = targets[rows]
        constant = (held - targets[train_rows].mean()).abs().mean()
        typer.echo(f"held-out progress, mean absolute error: {float((pred - held).abs().mean()):.3f} (a constant: {float(constant):.3f})")


@wm.command("guardrail")
def guardrail(
    heads: Annotated[Path, typer.Option(help="`vlastack wm heads` run (or one of its checkpoints).")],
    out: Annotated[Path, typer.Option(help="Directory for guardrail.json (give it to `vlastack eval --guardrail`).")],
    horizon: Annotated[int, typer.Option(help="Steps of each chunk the guardrail rolls out and checks.")] = 16,
    new_only: Annotated[
        bool, typer.Option("--new-only/--all-events", help="Ignore events the heads already see in the current frame.")
    ] = True,
) -> None:
    """Fit the guardrail's thresholds (best F1 per unsafe event over the training episodes' chunks at this
    horizon) and write OUT/guardrail.json: heads, dynamics model, encoder, horizon, thresholds."""
    import torch

    from vlastack.world_model.shield import ShieldConfig, fit_shield

    torch.set_num_threads(1)
    record = fit_shield(heads, out, ShieldConfig(horizon=horizon, new_only=new_only))
    typer.echo(f"{out}: thresholds {record['thresholds']} at horizon {horizon}; encoder {record['encoder']}")


@wm.command("strip-actions")
def strip_actions(
    dataset: Annotated[Path, typer.Option(help="Source dataset directory (with an action column).")],
    out: Annotated[Path, typer.Option(help="New directory for the copy without the action feature.")],
) -> None:
    """Copy a dataset without its action feature (video-only data, for latent-action experiments)."""
    from vlastack.world_model.action_free import strip_actions as strip

    reader = strip(dataset, out)
    typer.echo(f"{out}: {reader.num_episodes} episodes, {reader.num_frames} frames, features {sorted(reader.features)}")


@wm.command("pseudo-label")
def pseudo_label(
    dataset: Annotated[Path, typer.Option(help="Source dataset directory (with action and observation.state columns).")],
    labelled_per_task: Annotated[
        int, typer.Option(help="The first N episodes of each task keep their actions and train the IDM (N >= 2).")
    ],
    out: Annotated[Path, typer.Option(help="New directory for the copy whose other episodes carry the IDM's actions.")],
    set_: Set = None,
) -> None:
    """Label every other episode with an inverse-dynamics model trained on the first N of each task
    (PseudoLabelConfig; --set FIELD=VALUE); the report is OUT/meta/pseudo_labels.json."""
    import torch

    from vlastack.world_model.config import PseudoLabelConfig
    from vlastack.world_model.pseudo_labels import REPORT_PATH
    from vlastack.world_model.pseudo_labels import pseudo_label as label

    cfg = _configured(PseudoLabelConfig(), set_)
    torch.set_num_threads(1)  # a few-second MLP: one thread, and the same numbers on every machine
    reader = label(dataset, out, labelled_per_task, cfg, log=typer.echo)
    quality = json.loads((out / REPORT_PATH).read_text())["pseudo_vs_true_actions"] or {}
    overall = {k: quality.get(k) for k in ("frames", "mae", "r2")}
    typer.echo(f"{out}: {reader.num_episodes} episodes, {reader.num_frames} frames; pseudo vs true actions {overall}")


@wm.command("latent-label")
def latent_label(
    latent: Annotated[Path, typer.Option(help="`vlastack wm latent` run (or one of its checkpoints): the latent-action model.")],
    dataset: Annotated[Path, typer.Option(help="Source dataset directory (its action column, if any, is replaced).")],
    out: Annotated[Path, typer.Option(help="New directory for the copy whose action column holds the latent actions.")],
) -> None:
    """Label every frame with the latent action the model infers from it and the frame k (its gap) steps later, for
    latent-action pretraining (LAPA-style); the report is OUT/meta/latent_labels.json."""
    from vlastack import keys
    from vlastack.world_model.latent_labels import REPORT_PATH
    from vlastack.world_model.latent_labels import latent_label as label

    reader = label(latent, dataset, out, log=typer.echo, progress=True)
    report = json.loads((out / REPORT_PATH).read_text())
    usage = report["codebook"]
    typer.echo(
        f"{out}: {reader.num_episodes} episodes, {reader.num_frames} frames; action = latent action "
        f"{reader.features[keys.ACTION]['shape']} (k = {report['gap']}), codes used {usage['used']} of {usage['size']} "
        f"(perplexity {usage['perplexity']:.1f})"
    )


def _steps(text: str, option: str, empty_ok: bool = False) -> list[int]:
    """``1,8,16`` -> [1, 8, 16]; a value that is not a whole number >= 1 is named with its option."""
    from vlastack.errors import ConfigError

    try:
        steps = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        steps = None
    if steps is None or (not steps and not empty_ok) or min(steps, default=1) < 1:
        raise ConfigError(f"{option} {text!r}: expected whole numbers >= 1, comma-separated (e.g. 1,8,16)")
    return steps


@contextmanager
def _option(name: str):
    """Errors of loading or evaluating a run (wrong kind, missing checkpoint) prefixed with the option that named it."""
    from vlastack.errors import VlastackError

    try:
        yield
    except VlastackError as err:
        raise type(err)(f"{name}: {err}") from err


@wm.command("eval")
def eval_(
    dynamics: Annotated[
        Path | None, typer.Option(help="`vlastack wm train` run (or checkpoint): error vs horizon, positions read out.")
    ] = None,
    latent: Annotated[
        Path | None,
        typer.Option(help="`vlastack wm latent` run: codebook use, action read-outs (beside --dynamics: its action-free copy)."),
    ] = None,
    heads: Annotated[
        Path | None, typer.Option(help="`vlastack wm heads` run: heads k steps ahead and guardrail replay (with its own dynamics run).")
    ] = None,
    horizons: Annotated[
        str | None,
        typer.Option(help="Steps ahead of every table, comma-separated (default: 1,2,...,64 errors; 8,16,32 positions; 1,8,16 heads)."),
    ] = None,
    guard_horizons: Annotated[
        str, typer.Option(help='Chunk lengths of the guardrail replay (--heads), comma-separated; "" for none.')
    ] = "8",
    json_out: Annotated[Path | None, typer.Option("--json", help="Write every number here (one JSON).")] = None,
) -> None:
    """Evaluate world-model runs on their held-out episodes and print the tables (markdown): embedding prediction
    error beside copy-last and linear extrapolation, object / goal positions read from predicted embeddings,
    latent-action codebook use and action read-outs, heads AUROC / AP k steps ahead, guardrail offline replay.
    --json: one dict, each part if its run is given: dynamics, horizon_mse, position_readout_cm (--dynamics);
    latent_actions (--latent); heads (--heads: per_dataset, guardrail per chunk length)."""
    import torch

    from vlastack.errors import ConfigError
    from vlastack.world_model import report
    from vlastack.world_model.runs import DynamicsRun

    if dynamics is None and latent is None and heads is None:
        raise ConfigError("give at least one run: --dynamics, --latent or --heads")
    steps = None if horizons is None else _steps(horizons, "--horizons")
    guard_steps = _steps(guard_horizons, "--guard-horizons", empty_ok=True)
    torch.set_num_threads(1)
    result: dict = {}

    def show(part: dict) -> None:
        typer.echo(("\n" if result else "") + report.markdown(part))
        result.update(part)

    run = None
    if dynamics is not None:
        with _option("--dynamics"):
            run = DynamicsRun.load(dynamics)
            show(report.dynamics_report(run, steps or report.HORIZONS, steps or report.READOUT_HORIZONS))
    if latent is not None:
        with _option("--latent"):
            show({"latent_actions": report.latent_report_of(latent, run)})
    if heads is not None:
        with _option("--heads"):
            show({"heads": report.heads_eval(heads, steps or report.HEADS_HORIZONS, guard_steps, run)})
    if json_out is not None:
        json_out.parent.mkdir(parents=True, exist_ok=True)
        json_out.write_text(json.dumps(result, indent=1))
        typer.echo(f"\nwrote {json_out}")


preview = typer.Typer(help="Preview decoder: predicted embeddings drawn as low-resolution frames.", no_args_is_help=True)
wm.add_typer(preview, name="preview")


@preview.command("train")
def preview_train(
    dynamics: Annotated[Path, typer.Option(help="`vlastack wm train` run (or one of its checkpoints): embeddings, split and rollouts.")],
    out: Annotated[Path, typer.Option(help="Run directory for the decoder: checkpoints/, metrics.jsonl.")],
    set_: Set = None,
    resume: Resume = False,
) -> None:
    """Train the preview decoder (PreviewConfig; --set FIELD=VALUE) on the dynamics run's training episodes:
    their true embeddings and the dynamics model's rollouts, against the frames downsized."""
    import torch

    from vlastack.world_model.config import PreviewConfig
    from vlastack.world_model.preview import run_frames, train_preview
    from vlastack.world_model.runs import DynamicsRun

    cfg = _configured(PreviewConfig(), set_)
    run = DynamicsRun.load(dynamics)
    table, frames, key = run_frames(run, run.train_episodes, cfg)
    typer.echo(f"{len(run.train_episodes)} training episodes, {len(table.z)} frames of {key} at {cfg.image_size} px")
    meta = {
        "dynamics": str(run.checkpoint),
        "datasets": run.datasets,
        "camera": key,
        "train_episodes": run.train_episodes,
        "held_out_episodes": run.held_out,
    }
    torch.set_num_threads(1)
    last = train_preview(table, frames, run.model, cfg, out, meta, resume=resume, log=typer.echo)
    typer.echo(f"checkpoint: {last}")


@preview.command("show")
def preview_show(
    preview_run: Annotated[Path, typer.Option("--preview", help="`vlastack wm preview train` run (or one of its checkpoints).")],
    out: Annotated[Path, typer.Option(help="PNG to write (the per-step numbers go beside it as .json).")],
    episode: Annotated[int | None, typer.Option(help="A held-out episode of the run (default: the first).")] = None,
    start: Annotated[int, typer.Option(help="Frame t the chunk starts at.")] = 0,
    steps: Annotated[int, typer.Option(help="Steps of the chunk a(t..t+steps-1) to roll out and show.")] = 16,
) -> None:
    """PNG strip of one chunk of a held-out episode: per step, the decoded prediction (expected), the true
    frame (happened) and the decoded true embedding (the decoder's ceiling)."""
    import dataclasses

    import torch

    from vlastack import keys
    from vlastack.errors import ConfigError
    from vlastack.world_model.preview import run_frames
    from vlastack.world_model.preview_eval import chunk_strip, load_preview, save_strip
    from vlastack.world_model.runs import DynamicsRun

    torch.set_num_threads(1)
    ckpt, decoder, meta = load_preview(preview_run)
    run = DynamicsRun.load(meta["dynamics"])
    held = run.held_out
    episode = held[0] if episode is None else episode
    if episode not in held:
        raise ConfigError(
            f"--episode {episode} is not a held-out episode of the run; held out: {held[:10]}{' ...' if len(held) > 10 else ''}"
        )
    # one episode: decoding its video is cheaper than opening (or building) the whole dataset's frame cache
    cfg = dataclasses.replace(decoder.config, camera=keys.camera_of(meta["camera"]), frames="memory")
    table, frames, _ = run_frames(run, [episode], cfg)
    try:
        imgs, per_step = chunk_strip(decoder, run.model, table, frames, episode, start, steps)
    except ValueError as err:
        raise ConfigError(f"--start/--steps: {err}") from err
    title = f"episode {episode}, frames {start + 1}..{start + steps} after t = {start}; {ckpt}"
    path = save_strip(imgs, out, title=title)
    path.with_suffix(".json").write_text(
        json.dumps({"checkpoint": str(ckpt), "episode": episode, "start": start, "steps": per_step}, indent=1)
    )
    for r in per_step:
        typer.echo(f"t+{r['step']}: PSNR {r['psnr_expected']:.2f} dB (copy-last {r['psnr_copy_last']:.2f}), SSIM {r['ssim_expected']:.3f}")
    typer.echo(f"wrote {path}")
