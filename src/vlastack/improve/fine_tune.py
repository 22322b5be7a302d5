"""Fine-tuning of one ``vlastack improve`` round: the demonstrations plus what the rounds gathered, labelled
as the method says (improve/rounds.py), optionally on the frozen trunk's cached maps."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vlastack import keys
from vlastack.errors import ConfigError
from vlastack.improve.explore import EXPLORE_ACTION
from vlastack.improve.interventions import EXPERT_ACTION, INTERVENTION
from vlastack.improve.records import config_dict as _config_dict
from vlastack.improve.records import write_json as _write_json

if TYPE_CHECKING:
    from vlastack.improve.rounds import ImproveConfig


def _fine_tune(config: ImproveConfig, start: Path, round_: int, progress: bool) -> tuple[Path, float]:
    from torch.utils.data import ConcatDataset

    from vlastack.data.windows import WindowDataset, collate
    from vlastack.episodes.reader import DatasetReader
    from vlastack.train_config import TrainConfig
    from vlastack.training.checkpoint import latest_checkpoint
    from vlastack.training.loop import train

    run = config.out / f"round_{round_}" / "train"
    last = latest_checkpoint(run)
    if last is not None and int(last.name.split("_")[-1]) >= config.steps:
        return last, float(json.loads((run / "cpu.json").read_text())["cpu_s"]) if (run / "cpu.json").is_file() else float("nan")
    cfg = _policy_config(start)
    tcfg = TrainConfig(
        steps=config.steps,
        batch_size=config.batch_size,
        lr=config.lr,
        warmup_steps=min(100, config.steps // 10),
        weight_decay=1e-4,
        save_every=max(1, config.steps // 4),  # an interrupted round loses at most a quarter
        log_every=min(100, config.steps),
        cpu=True,
        num_workers=1,  # samples are assembled in another process while this one trains
        feature_cache=config.feature_cache,  # recorded in run.json, and checked when the round resumes
        feature_cache_shifts=config.feature_cache_shifts,
    )
    options = dict(
        obs_history=cfg.obs_history,
        action_horizon=cfg.horizon,
        image_keys=[keys.image_key(c) for c in cfg.cameras],
        touch=cfg.use_touch,
        depth=cfg.use_depth,
        frames=config.frames,
        progress=progress,
        future_offsets=cfg.future_frame_offsets,
    )
    demos = DatasetReader(config.demos)
    # rl-wm gathers no dataset: its labels are frames of the demonstrations (improve/imagine.py)
    new = None if config.method == "rl-wm" else DatasetReader(config.out / "data")
    run_info = {"improve": _config_dict(config), "round": round_, "started_from": str(Path(start).resolve())}
    instructions = sorted(set(demos.tasks) | set(new.tasks if new is not None else ()))
    loss_fn = None  # the policy's own loss
    demo_maps, new_maps = _feature_caches(config, cfg, demos, new, run_info, progress)
    if config.method == "rl-wm":
        from vlastack.improve.imagine import ImaginedLabels, imagined_labels

        anchor = WindowDataset(demos, feature_caches=demo_maps, **options)
        parts = [anchor, ImaginedLabels(anchor, imagined_labels(config, round_))]
    elif config.method == "rl-sim" and config.explore.update == "fpo":
        from vlastack.improve.fpo import FPOLoss, WithAdvantage

        # This round's episodes only: the old policy of the ratio is the one that explored them.
        advantages = _round_advantages(config, round_)
        label = _explored_label(config)
        parts = [
            WithAdvantage(WindowDataset(demos, feature_caches=demo_maps, **options)),
            WithAdvantage(
                WindowDataset(new, episodes=sorted(advantages), action_key=label, feature_caches=new_maps, **options), advantages
            ),
        ]
        loss_fn = FPOLoss(_old_policy(start, cfg, instructions), config.explore.fpo_clip, config.explore.fpo_draws)
    elif config.method == "rl-sim":
        parts = [WindowDataset(demos, feature_caches=demo_maps, **options)]
        label = _explored_label(config)
        for copies, episodes in sorted(_explored_copies(config, round_).items()):
            parts += [WindowDataset(new, episodes=episodes, action_key=label, feature_caches=new_maps, **options)] * copies
    else:
        label = INTERVENTION if config.method == "interventions" else None
        action_key = EXPERT_ACTION if config.method == "dagger" else keys.ACTION
        parts = [WindowDataset(demos, feature_caches=demo_maps, **options)] + [
            WindowDataset(new, label_key=label, action_key=action_key, feature_caches=new_maps, **options)
        ] * config.new_data_weight
    import torch

    # In-process gathering or validation (workers=1) left torch at one thread; train on what the user set.
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS") or os.cpu_count() or 1))
    cpu0 = sum(os.times()[:4])  # this process and its finished children (the data worker)
    result = train(
        cfg,
        tcfg,
        ConcatDataset(parts),
        collate,
        run,
        resume=True,
        progress=progress,
        init_from=start if last is None else None,
        extra_run_info=run_info,
        instructions=instructions,
        loss_fn=loss_fn,
    )
    cpu_s = sum(os.times()[:4]) - cpu0
    _write_json(run / "cpu.json", {"cpu_s": cpu_s})
    return Path(result.checkpoint), cpu_s


def _feature_caches(config: ImproveConfig, cfg: Any, demos: Any, new: Any, run_info: dict, progress: bool) -> tuple[dict, dict]:
    """With ``feature_cache``: the trunk's maps of every camera of the demonstrations and of the gathered data
    (image key -> cache, for ``WindowDataset(feature_caches=...)``; ``new`` None: no gathered data, rl-wm), recorded in ``run_info`` the way ``vlastack
    train`` records them; without it, no caches (the images are read).

    The gathered dataset has grown since the last round, so its fingerprint, and with it its cache, is new:
    building it deletes the earlier rounds' maps of the same camera and trunk setting (data/feature_cache.py's
    stale-file cleanup), so ``out/data/cache`` holds one round's maps, never one per round. Rebuilding runs the
    trunk once on every gathered frame, old ones included: a few thousand frames a round, against the trunk on
    every sample of every step without the cache."""
    if not config.feature_cache:
        return {}, {}
    from vlastack.training.feature_caches import cache_run_info, open_camera_caches

    encoder = _cache_encoder(config, cfg)
    demo_maps = open_camera_caches(demos, cfg, encoder, progress=progress)
    new_maps = open_camera_caches(new, cfg, encoder, progress=progress) if new is not None else {}
    run_info["feature_cache"] = cache_run_info(encoder, demo_maps, new_maps)
    return demo_maps, new_maps


def _check_feature_cache(config: ImproveConfig) -> None:
    """The cache settings against each other and the policy, before anything is gathered: a policy without a
    frozen trunk fails in seconds, not after a round of gathering. (Not in ``__post_init__``: ``--set`` applies
    one field at a time, so the pair would be checked half-changed.)"""
    if config.feature_cache_shifts > 1 and not config.feature_cache:  # it would be silently ignored
        raise ConfigError(
            f"feature_cache_shifts={config.feature_cache_shifts} needs feature_cache=true (only the cache holds shifted copies)"
        )
    if config.feature_cache:
        _cache_encoder(config, _policy_config(config.checkpoint))


def _cache_encoder(config: ImproveConfig, cfg: Any) -> Any:
    """The feature-cache encoder of the policy config ``cfg``; errors name this run's options."""
    from vlastack.training.feature_caches import cache_encoder

    try:
        return cache_encoder(cfg, config.feature_cache_shifts, "improve.feature_cache")
    except ConfigError as err:
        if str(err).startswith("improve."):
            raise
        # the policy's own check (e.g. shifts without a shift augmentation) speaks of train.*: say which option led here
        raise ConfigError(f"improve.feature_cache with feature_cache_shifts={config.feature_cache_shifts}: {err}") from err


def _check_update(config: ImproveConfig) -> None:
    """``explore.update=fpo`` against the method, the policy and the other explore options, before anything is
    gathered (not in ``ExploreConfig.__post_init__``: it needs the method and the checkpoint)."""
    if config.explore.update != "fpo":
        return
    if config.method != "rl-sim":
        raise ConfigError(f"explore.update=fpo is an update rule of method rl-sim (method is {config.method!r}); leave it 'weighted'")
    cfg = _policy_config(config.checkpoint)
    if not getattr(cfg, "uses_flow", False):
        raise ConfigError(
            f"explore.update=fpo needs a policy with a flow-matching action expert (VLA variant flow or hybrid); "
            f"{config.checkpoint} is a {cfg.policy_type!r} policy, {cfg.label}: use explore.update=weighted"
        )
    for name in ("success_only", "balance_tasks"):  # they choose copies, which fpo does not use
        if getattr(config.explore, name):
            raise ConfigError(f"explore.{name} is not used with explore.update=fpo (every episode enters once); set it false")


def _old_policy(start: Path, cfg: Any, instructions: list[str]) -> Any:
    """FPO's old policy: the round's starting checkpoint, loaded once, frozen (improve/fpo.py moves and keeps it in train mode)."""
    from vlastack.policies.registry import policy_class

    old = policy_class(cfg).from_pretrained(start, expect=cfg)
    old.prepare_instructions(instructions)  # a frozen text encoder embeds them as the trained copy's does
    return old


def _explored_label(config: ImproveConfig) -> str:
    """rl-sim: the explored episodes' label column, what was sent into the safety layer or what it let through."""
    return EXPLORE_ACTION if config.explore.label == "sent" else keys.ACTION


def _round_advantages(config: ImproveConfig, round_: int) -> dict[int, float]:
    """``update=fpo``: dataset episode index -> advantage, over this round's explored episodes (``scored``)."""
    scored = json.loads((config.out / f"round_{round_}" / "gathered.json").read_text())["scored"]
    return {int(e["episode_index"]): float(e["advantage"]) for e in scored}


def _policy_config(checkpoint: Path) -> Any:
    """The policy config a policy directory was saved with."""
    from vlastack.checkpoint import read_policy_meta
    from vlastack.policies.registry import policy_class

    meta = read_policy_meta(checkpoint)
    return policy_class(meta["policy"]).config_class.from_dict(meta["config"])


def _explored_copies(config: ImproveConfig, round_: int) -> dict[int, list[int]]:
    """rl-sim: copies -> the dataset episodes that enter the fine-tuning set that many times, over
    every round so far (each weighted within its own round); episodes with 0 copies are left out."""
    groups: dict[int, list[int]] = {}
    for r in range(1, round_ + 1):
        for e in json.loads((config.out / f"round_{r}" / "gathered.json").read_text())["scored"]:
            if e["copies"] > 0:
                groups.setdefault(int(e["copies"]), []).append(int(e["episode_index"]))
    return {c: sorted(v) for c, v in groups.items()}
