"""``vlastack train``: train any policy preset on a dataset, with checkpoints and exact resume.

Examples::

    vlastack train --preset debug --dataset data/reach --out runs/debug --steps 20
    vlastack train --preset hybrid --dataset data/mt10 --out runs/hybrid            # CPU or one GPU
    vlastack train --preset hybrid --dataset data/mt10 --out runs/hybrid --resume   # continue exactly
    accelerate launch -m vlastack train --preset hybrid --dataset data/mt10 --out runs/hybrid   # DDP
    vlastack train --preset l1 ... --set policy.keypoints=64 --set train.lr=5e-4    # any config field
    vlastack train --preset l1 ... --init-from runs/mt10/l1/checkpoints/step_00020000  # fine-tune
    vlastack train --preset l1 ... --init-from STAGE1 --set train.init_partial=true  # the tensors that match (another action_dim)
    vlastack train --preset l1 ... --set train.episodes_per_task=5   # the first 5 episodes of each task, their stats
    vlastack train --preset l1-effnet ... --set train.tasks=rs-lift-panda,rs-lift-ur5e   # those tasks' episodes only
    vlastack train --preset l1-effnet ... --set train.feature_cache=true   # frozen trunk's maps computed once, then read

This command reads only the policy contract (``PolicyConfig`` fields, ``fit_inputs``), never a
variant's own fields: a new policy family needs no change here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from vlastack.cli.app import app

PRESET_HELP = "Preset name (vlastack train --list-presets): e.g. debug (seconds, for tests), bins, fast, flow, hybrid, l1."


@app.command()
def train(
    preset: Annotated[str | None, typer.Option(help=PRESET_HELP)] = None,
    dataset: Annotated[Path | None, typer.Option(help="Dataset directory (LeRobot v3 layout written by vlastack).")] = None,
    out: Annotated[Path | None, typer.Option(help="Run directory: checkpoints/, metrics.jsonl, run.json.")] = None,
    extra_dataset: Annotated[
        list[Path] | None,
        typer.Option(
            help="More datasets whose training windows join --dataset's (repeatable), each read with its own caches. "
            "Normalisation statistics and fitted inputs (the tokenizer) still come from --dataset alone. For example a "
            "policy's own recorded episodes beside the demonstrations, with train.trainable naming what they may train."
        ),
    ] = None,
    set_: Annotated[
        list[str] | None,
        typer.Option(
            "--set",
            help="Override any config field: policy.FIELD=VALUE or train.FIELD=VALUE "
            "(JSON values; repeatable), e.g. --set policy.horizon=8 --set train.lr=5e-4.",
        ),
    ] = None,
    list_presets: Annotated[bool, typer.Option(help="List the presets with their descriptions and exit.")] = False,
    steps: Annotated[int | None, typer.Option(help="Optimizer steps in all (default: the preset's).")] = None,
    resume: Annotated[bool, typer.Option(help="Continue from the last checkpoint in --out (starts fresh when there is none).")] = False,
    batch_size: Annotated[int | None, typer.Option(help="Samples per step and process (default: the preset's).")] = None,
    save_every: Annotated[int | None, typer.Option(help="Checkpoint every N steps (default: the preset's).")] = None,
    seed: Annotated[int | None, typer.Option(help="Random seed (default: the preset's).")] = None,
    warmup_steps: Annotated[int | None, typer.Option(help="Linear learning-rate warm-up steps (default: the preset's).")] = None,
    num_workers: Annotated[int | None, typer.Option(help="DataLoader worker processes (default 0).")] = None,
    frames: Annotated[
        str,
        typer.Option(
            help="Where decoded camera frames live: 'memory' (this process) or 'memmap' (an on-disk "
            "cache, <dataset>/cache, built once; for datasets larger than RAM)."
        ),
    ] = "memory",
    cameras: Annotated[str | None, typer.Option(help="Override the preset's cameras, comma-separated (e.g. corner2,gripperPOV).")] = None,
    touch: Annotated[bool | None, typer.Option("--touch/--no-touch", help="Override whether the policy reads finger touch.")] = None,
    depth: Annotated[
        bool | None, typer.Option("--depth/--no-depth", help="Override whether the policy reads depth (a 4th image channel).")
    ] = None,
    cpu: Annotated[bool, typer.Option(help="Train on the CPU even when a GPU is present.")] = False,
    tensorboard: Annotated[bool, typer.Option(help="Also write TensorBoard logs (needs the tensorboard package).")] = False,
    progress: Annotated[bool, typer.Option(help="Show a progress bar.")] = True,
    init_from: Annotated[
        Path | None,
        typer.Option(
            help="Fine-tune: start a fresh run from this policy directory's weights and normalisation statistics "
            "(its config must match the preset's; a hierarchical preset also starts from a flat l1 policy). With "
            "--set train.init_partial=true: only its tensors whose name and shape match (e.g. another action_dim)."
        ),
    ] = None,
) -> None:
    """Train a policy preset on a dataset; writes checkpoints and metrics under --out."""
    from dataclasses import replace

    from vlastack import keys
    from vlastack.data.subset import first_per_task, subset_stats, task_episodes
    from vlastack.data.windows import WindowDataset, collate
    from vlastack.episodes.reader import DatasetReader
    from vlastack.overrides import apply_overrides
    from vlastack.policies.presets import PRESETS
    from vlastack.policies.registry import policy_class
    from vlastack.training.checkpoint import latest_checkpoint
    from vlastack.training.feature_caches import cache_encoder, cache_run_info, open_camera_caches
    from vlastack.training.loop import train as train_loop

    if list_presets:
        for name in PRESETS.names():
            p = PRESETS.get(name)
            typer.echo(f"{name:10s} {type(p.policy).policy_type:5s} {p.description}")
        return
    for flag, value in (("--preset", preset), ("--dataset", dataset), ("--out", out)):
        if value is None:
            raise typer.BadParameter(f"{flag} is required", param_hint=flag)
    chosen = PRESETS.get(preset)
    inputs = {
        "cameras": tuple(c.strip() for c in cameras.split(",") if c.strip()) if cameras else None,
        "use_touch": touch,
        "use_depth": depth,
    }
    cfg = replace(chosen.policy, **{k: v for k, v in inputs.items() if v is not None})  # checked against the dataset below
    overrides = {
        "steps": steps,
        "batch_size": batch_size,
        "save_every": save_every,
        "seed": seed,
        "num_workers": num_workers,
        "warmup_steps": warmup_steps,
    }
    tcfg = replace(chosen.train, cpu=cpu, tensorboard=tensorboard, **{k: v for k, v in overrides.items() if v is not None})
    configs = apply_overrides({"policy": cfg, "train": tcfg}, set_ or [])
    cfg, tcfg = configs["policy"], configs["train"]
    if save_every is None and tcfg.save_every > tcfg.steps:
        tcfg = replace(tcfg, save_every=tcfg.steps)

    reader = DatasetReader(dataset)
    cfg.check_dataset_features(reader.features, where=f"dataset {dataset}")
    # A few-demonstration run (train.episodes_per_task) or part of the tasks (train.tasks): its samples, statistics
    # and tokenizer come from the chosen episodes alone; None keeps the whole dataset and its stats.json.
    episodes = None
    if tcfg.episodes_per_task is not None:
        episodes = first_per_task(reader, tcfg.episodes_per_task, "train.episodes_per_task", tcfg.tasks, "train.tasks")
    elif tcfg.tasks is not None:
        episodes = task_episodes(reader, tcfg.tasks, "train.tasks")
    feature_caches, encoder = {}, None
    if tcfg.feature_cache:
        encoder = cache_encoder(cfg, tcfg.feature_cache_shifts, "train.feature_cache")
        feature_caches = open_camera_caches(reader, cfg, encoder, progress=progress)
    options = dict(
        obs_history=cfg.obs_history,
        action_horizon=cfg.horizon,
        image_keys=[keys.image_key(c) for c in cfg.cameras],
        state=True,
        touch=cfg.use_touch,
        depth=cfg.use_depth,
        frames=frames,
        progress=progress,
        targets=tuple(cfg.training_targets),
        future_offsets=cfg.future_frame_offsets,
        subtasks=cfg.subtask_vocabulary,
    )
    data = WindowDataset(reader, episodes=episodes, feature_caches=feature_caches, **options)
    instructions = list(reader.tasks)
    extras = []
    for path in extra_dataset or []:  # every episode of each (train.tasks / episodes_per_task pick from --dataset only)
        extra = DatasetReader(path)
        cfg.check_dataset_features(extra.features, where=f"extra dataset {path}")
        maps = open_camera_caches(extra, cfg, encoder, progress=progress) if encoder is not None else {}
        extras.append(WindowDataset(extra, feature_caches=maps, **options))
        instructions += [t for t in extra.tasks if t not in instructions]
    if extras:
        from torch.utils.data import ConcatDataset

        data = ConcatDataset([data, *extras])
    policy_inputs, stats = {}, None
    if not (resume and latest_checkpoint(out) is not None):  # a resumed run reads them from its checkpoint
        policy_inputs = policy_class(cfg).fit_inputs(cfg, reader.episode_actions(episodes), tcfg.tokenizer_max_chunks)
        stats = reader.stats if episodes is None else subset_stats(reader, episodes)
    run_info = {"preset": preset, "dataset": str(Path(dataset).resolve()), "samples": len(data)}
    if extras:
        run_info["extra_datasets"] = [{"dataset": str(Path(p).resolve()), "samples": len(d)} for p, d in zip(extra_dataset, extras)]
    if episodes is not None:
        run_info["episodes"] = episodes
    if encoder is not None:
        run_info["feature_cache"] = cache_run_info(encoder, feature_caches)
    result = train_loop(
        cfg,
        tcfg,
        data,
        collate,
        out,
        stats=stats,
        policy_inputs=policy_inputs,
        resume=resume,
        progress=progress,
        extra_run_info=run_info,
        instructions=instructions,
        data_info=_data_info(reader, cfg.cameras[0], episodes),
        init_from=init_from,
    )
    loss = result.metrics.get("loss")
    if not result.is_main:
        return
    typer.echo(
        f"trained {preset} to step {result.step}/{tcfg.steps}"
        + (f", loss {loss:.4f}" if isinstance(loss, float) else "")
        + (f"; checkpoint {result.checkpoint}" if result.checkpoint else "")
    )
    dropped = result.grounding_dropped
    if dropped:
        typer.echo(
            f"note: the start policy's instruction grounding ({dropped['tasks']} tasks) did not know "
            f"{dropped['unknown_instructions']} of this dataset's instructions and was not carried over; "
            "fit one for these tasks with `vlastack ground`"
        )


def _data_info(reader, camera: str, episodes: list[int] | None = None) -> dict:
    """What a checkpoint records about its training data: the recorded image size, and the embodiments of
    the episodes it trains on (``episodes``, None: all; ``embodiments``: ids of vlastack.embodiments; left out
    when no episode names a known task), so a policy trained on some arms of a dataset names those alone; and
    ``action_space: "shared"`` for a dataset ``vlastack data embody`` wrote (evaluation then maps through each
    task's robot, vlastack.embodiments.adapter)."""
    from vlastack import keys
    from vlastack.embodiments import dataset_embodiment_ids
    from vlastack.embodiments.embody import ACTION_SPACE

    info = {"image_size": list(reader.features[keys.image_key(camera)]["shape"][:2])}
    if ACTION_SPACE in reader.info:
        info[ACTION_SPACE] = reader.info[ACTION_SPACE]
    embodiments = dataset_embodiment_ids(reader, episodes)
    if embodiments:
        info["embodiments"] = embodiments
    return info
