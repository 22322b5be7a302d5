"""``vlastack improve``: rounds of (gather data with the current policy, fine-tune, validate), resumable.

Methods:

- ``interventions`` (HG-DAgger): assisted episodes (``improve/interventions.py``) with the
  scripted expert as operator; the fine-tuning set is the original demonstrations plus every
  operator-labelled frame gathered so far (only the operator's actions are labels).
- ``dagger``: the same assisted episodes (the gate still hands the controls to the expert when the
  policy strays, so episodes reach the later stages of a task), but every frame is a label: the
  expert's own action at that frame (``expert.action``), whoever acted. The policy's mistakes thus
  become training states, with the expert's answer from there (DAgger, Ross et al. 2011, with the
  gate as its state-dependent mixing of expert and policy).
- ``rl-sim`` (RL in the simulator, ``improve/explore.py``; a round's gathering and scoring in
  ``improve/explore_rounds.py``): the policy runs with correlated exploration noise behind the safety
  layer; episodes are scored by success, dense reward and safety interventions, and the fine-tuning set
  is the demonstrations plus every episode gathered so far, each repeated by its reward weight
  (reward-weighted self-imitation; the labels are the actions sent into the safety layer, noise
  included). With ``explore.update=fpo`` (flow policies,
  ``improve/fpo.py``) the round's episodes enter once each with a group-normalised advantage, in a
  PPO-clip objective against the round's starting policy, and earlier rounds' episodes are not used.
- ``rl-wm`` (RL in the world model, ``improve/imagine.py``): rl-sim's self-imitation with every rollout
  imagined: at real start frames of the demonstrations, the policy's chunk and alternatives around it are rolled
  out in a learned world model (``world_model``: a ``vlastack wm guardrail`` directory; ``progress_head``: a
  ``vlastack wm progress`` run) and scored by its reward and safety heads; the frames where a candidate beats the
  policy's chunk are kept with that chunk as the label. Gathering takes no environment step; validation does.
- ``expert-demos`` (the control the comparison needs): about as many new frames per task and
  round, as whole fresh expert demonstrations from new starts (the operator frames divided by the
  task's mean demonstration length, rounded up); ``match`` names the ``interventions`` run whose
  frame counts it copies.

Every round fine-tunes the previous round's policy (AdamW from a fresh state, warm-up and cosine
decay over ``steps``) on the mix, then runs the validation seeds (200000+, never the protocol's),
always behind the safety layer. The round table (``improve.json``) has success, episodes and
frames gathered (every frame is one environment step), CPU time of gathering (rl-sim: summed over
the simulator processes) and fine-tuning, and safety interventions per episode. Each phase's
output is on disk (the dataset, the training run, the validation episodes), so running the same
command again continues where it stopped.

Layout of ``out``::

    improve_config.json         the settings; a resumed run must use the same ones
    data/                       LeRobot dataset of everything gathered (assisted, explored or expert episodes)
    data/cache/                 its decoded frames (frames=memmap) and, with feature_cache, the trunk's maps (latest round's)
    round_<r>/episodes.jsonl    rl-sim: each finished episode's CPU seconds and noisy steps, as it finishes
    round_<r>/gathered.json     what round r gathered (written when its gathering is complete); rl-sim:
                                with each episode's score, weight and copies (``scored``; update=fpo:
                                also its ``advantage``) and each
                                task's noise std (``adaptive_noise``: from the success it was scaled by)
    round_<r>/train/            the fine-tuning run (checkpoints/, metrics.jsonl, cpu.json)
    round_<r>/labels.safetensors, scored.json   rl-wm: the kept frames' chosen chunks, and every start frame's scores
    round_<r>/imagined_after.json   rl-wm: the world model's score of the fine-tuned policy's chunks at the round's frames
    round_<r>/validation.json   validation of that round's policy
    start_validation.json       validation of the starting policy
    improve.json                the round table
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from vlastack import keys
from vlastack.errors import ConfigError
from vlastack.improve.explore import ExploreConfig
from vlastack.improve.explore_rounds import gather_explored
from vlastack.improve.fine_tune import _check_feature_cache, _check_update, _fine_tune
from vlastack.improve.imagine import AFTER_FILE, LABELS_FILE, SCORED_FILE, ImagineConfig
from vlastack.improve.interventions import (
    ASSIST_SEED_OFFSET,
    INTERVENTION,
    AssistedResult,
    assisted_feature_names,
    collect_assisted,
    count_takeovers,
)
from vlastack.improve.operator import GateConfig
from vlastack.improve.records import config_dict as _config_dict
from vlastack.improve.records import write_json as _write_json
from vlastack.improve.round_files import pending, validation_path

METHODS = ("interventions", "dagger", "rl-sim", "rl-wm", "expert-demos")
#: Seeds of expert-demos episodes: above the assisted ones, so the two arms never share a start.
DEMO_SEED_OFFSET = ASSIST_SEED_OFFSET + 500_000
TABLE_FILE = "improve.json"


@dataclass(frozen=True)
class ImproveConfig:
    """A post-training run (``vlastack improve``)."""

    checkpoint: Path
    """The policy to improve (a policy directory, e.g. a training checkpoint)."""
    demos: Path
    """The demonstration dataset mixed into every fine-tuning set, so that what the policy already
    does well is not forgotten (the behaviour-cloning anchor)."""
    tasks: tuple[str, ...]
    """Meta-World task names."""
    out: Path
    """Run directory (see the module docstring); reused to resume."""
    method: str = "interventions"
    """``interventions``, ``dagger``, ``rl-sim``, ``rl-wm`` or ``expert-demos``."""
    rounds: int = 2
    """Gather-fine-tune-validate rounds (rl-sim: at most 29)."""
    episodes: int = 10
    """Assisted (``interventions``, ``dagger``) or explored (``rl-sim``) episodes per task and round
    (rl-sim: at most 10000, the width of a round's seed range)."""
    match: Path | None = None
    """``expert-demos``: the ``interventions`` run whose new frames per task and round are matched."""
    gate: GateConfig = field(default_factory=GateConfig)
    """When the scripted operator takes over."""
    explore: ExploreConfig = field(default_factory=ExploreConfig)
    """``rl-sim``: the exploration noise and how episodes are scored and weighted."""
    world_model: Path | None = None
    """``rl-wm``: a ``vlastack wm guardrail`` directory (its encoder, dynamics model, reward and safety heads and
    thresholds) in which the candidate chunks are rolled out and scored."""
    progress_head: Path | None = None
    """``rl-wm``: a ``vlastack wm progress`` run (or checkpoint) trained with the world model's dynamics model; its
    predicted dense reward scores progress short of success. None: success and safety alone score."""
    imagine: ImagineConfig = field(default_factory=ImagineConfig)
    """``rl-wm``: start frames, candidate chunks, and how they are scored and weighted."""
    safety: str = "metaworld_sawyer"
    """Safety spec every action (policy's or operator's) passes through."""
    steps: int = 2_000
    """Fine-tuning optimizer steps per round."""
    lr: float = 3e-4
    """Peak fine-tuning learning rate (below the 1e-3 of training from scratch: the weights start good)."""
    batch_size: int = 64
    """Samples per fine-tuning step."""
    new_data_weight: int = 4
    """Each new sample appears this many times in the fine-tuning set (the new frames are a few
    thousand against tens of thousands of demonstration frames); rl-sim: on average over a task's
    episodes of a round, each episode ``round(new_data_weight * its weight)`` times; rl-wm: each kept
    frame ``max(1, round(new_data_weight * its weight))`` times (``imagine.frame_copies``)."""
    validation_episodes: int = 5
    """Validation episodes per task after every round (seeds 200000+)."""
    execute_steps: int | None = None
    """Actions of each chunk executed before asking again; None: the checkpoint's."""
    workers: int = 2
    """Simulator processes for gathering and validation."""
    max_steps: int = 500
    """Step limit of every episode, assisted and validation (500 is the protocol's)."""
    frames: str = "memmap"
    """Where fine-tuning keeps decoded frames (``memory`` or ``memmap``, see ``data/windows.py``)."""
    feature_cache: bool = False
    """Fine-tune on the policy's frozen image trunk's maps, computed once per frame into an on-disk cache
    (data/feature_cache.py, ``TrainConfig.feature_cache``), instead of running the trunk on every frame of every
    step (about 10x faster for ``l1-effnet``). The demonstrations' cache is built once (and shared with ``vlastack
    train`` runs on them); the gathered dataset's is rebuilt each round, as it grows. Needs a policy with a frozen
    trunk; gathering and validation always run the trunk on the real frame."""
    feature_cache_shifts: int = 1
    """With ``feature_cache``: pixel shifts per axis cached per frame (odd, ``TrainConfig.feature_cache_shifts``).
    1: the shift augmentation moves the cached map (approximate); 3: the 9 exact shifts (9x the cache's size)."""

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ConfigError(f"method must be one of {METHODS}, got {self.method!r}")
        if self.method == "expert-demos" and self.match is None:
            raise ConfigError("method expert-demos needs match: the interventions run whose frame counts it copies")
        for name in ("rounds", "episodes", "steps", "batch_size", "new_data_weight", "validation_episodes", "workers"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.method == "rl-wm" and self.world_model is None:
            raise ConfigError("method rl-wm needs world_model: a `vlastack wm guardrail` directory to imagine in")
        for name in ("world_model", "progress_head"):
            value = getattr(self, name)
            if value is not None and self.method != "rl-wm":  # it would be silently ignored
                raise ConfigError(f"{name} is read only by method rl-wm (method is {self.method!r})")
            if value is not None and not Path(value).is_dir():
                raise ConfigError(f"{name}: {value} is not a directory")
        if self.method == "rl-sim" and self.episodes > 10_000:
            raise ConfigError(f"episodes must be <= 10000 for rl-sim (a round's seed range), got {self.episodes}")
        if self.method == "rl-sim" and self.rounds > 29:
            raise ConfigError(f"rounds must be <= 29 for rl-sim (its seeds stay below expert-demos' 900000), got {self.rounds}")
        if self.lr <= 0:
            raise ConfigError(f"lr must be > 0, got {self.lr}")
        if not isinstance(self.feature_cache, bool):
            raise ConfigError(f"feature_cache must be true or false, got {self.feature_cache!r}")
        shifts = self.feature_cache_shifts
        if isinstance(shifts, bool) or not isinstance(shifts, int) or shifts < 1 or shifts % 2 == 0:
            raise ConfigError(
                f"feature_cache_shifts must be an odd integer >= 1 (the grid's centre is the unshifted frame), got {shifts!r}"
            )
        for name in ("checkpoint", "demos"):
            if not Path(getattr(self, name)).is_dir():
                raise ConfigError(f"{name}: {getattr(self, name)} is not a directory")


def improve(config: ImproveConfig, progress: bool = True) -> list[dict[str, Any]]:
    """Run (or continue) every round; returns the round table (also in ``out/improve.json``)."""
    _check_feature_cache(config)
    _check_update(config)
    config.out.mkdir(parents=True, exist_ok=True)
    if config.method == "rl-wm":
        from vlastack.improve.imagine import check_world_model

        check_world_model(config)  # before anything runs: a mismatched world model fails in seconds
    _check_same_run(config)
    table = [_validation_row(config, config.checkpoint, validation_path(config, 0), round_=0, progress=progress)]
    current = config.checkpoint
    for r in range(1, config.rounds + 1):
        gathered = _gather(config, current, r, progress)
        current, train_s = _fine_tune(config, current, r, progress)
        row = _validation_row(config, current, validation_path(config, r), round_=r, progress=progress)
        row.update(gathered, train_cpu_s=train_s)
        if config.method == "rl-wm":
            row["imagination"] = _imagination(config, current, r, table[-1]["per_task"], row, progress)
        table.append(row)
        _write_json(config.out / TABLE_FILE, {"config": _config_dict(config), "rounds": table})
    return table


# ---- gathering ------------------------------------------------------------------------------------
def _gather(config: ImproveConfig, checkpoint: Path, round_: int, progress: bool) -> dict[str, Any]:
    """Add this round's episodes to ``out/data`` (skipping those already there); returns the round's counts."""

    from vlastack.episodes.writer import DatasetWriter

    log_path = config.out / f"round_{round_}" / "gathered.json"
    if log_path.is_file():
        return json.loads(log_path.read_text())
    if config.method == "expert-demos":
        return _gather_demos(config, round_, log_path, progress)
    if config.method == "rl-sim":
        return gather_explored(config, checkpoint, round_, log_path, progress)
    if config.method == "rl-wm":
        return _gather_imagined(config, checkpoint, round_, log_path, progress)
    data = config.out / "data"
    writer = DatasetWriter(data, robot_type="sawyer", feature_names=assisted_feature_names(expert_labels=True))
    seeds = [ASSIST_SEED_OFFSET + 10_000 * round_ + k for k in range(config.episodes)]
    jobs, bar = pending(writer, config.tasks, seeds, f"round {round_}: assisted episodes", progress)
    stats = _episode_stats(writer, config.tasks, seeds)
    cpu0 = time.process_time()
    t0 = time.perf_counter()

    def done_fn(res: AssistedResult) -> None:
        writer.add_episode(res.episode)
        _add_stats(
            stats,
            res.task,
            res.success,
            res.takeovers,
            res.intervention_frames,
            len(res.episode.frames[INTERVENTION]),
            res.safety_interventions,
        )
        bar.update(1)
        bar.set_postfix(takeovers=sum(s["takeovers"] for s in stats.values()))

    try:
        collect_assisted(checkpoint, jobs, config.gate, config.safety, config.execute_steps, config.workers, done_fn, config.max_steps)
    finally:
        bar.close()
    result = {"gathered": stats, "gather_wall_s": time.perf_counter() - t0, "gather_main_cpu_s": time.process_time() - cpu0}
    _write_json(log_path, result)
    return result


def _gather_imagined(config: ImproveConfig, checkpoint: Path, round_: int, log_path: Path, progress: bool) -> dict[str, Any]:
    """rl-wm: this round's start frames scored in the world model; the kept frames' labels to ``labels.safetensors``,
    every frame's scores to ``scored.json``, then the summary to ``gathered.json`` (written last: a round whose
    gathering was cut off is imagined again whole, which takes no environment step)."""
    from vlastack.checkpoint import save_safetensors
    from vlastack.improve.fine_tune import _policy_config
    from vlastack.improve.imagine import gather_imagined, label_tensors

    summary, scored, labels = gather_imagined(config, checkpoint, round_, progress)
    cfg = _policy_config(checkpoint)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    save_safetensors(label_tensors(labels, cfg.horizon, cfg.action_dim), log_path.parent / LABELS_FILE)
    _write_json(log_path.parent / SCORED_FILE, scored)
    _write_json(log_path, summary)
    return summary


def _imagination(config: ImproveConfig, checkpoint: Path, round_: int, before: dict, row: dict, progress: bool) -> dict[str, Any]:
    """rl-wm: per task, what the world model promised for round ``round_``'s labels, how much it thinks the fine-tuned
    policy improved at those frames (``imagined_after.json``, computed once) and how much validation success changed."""
    from vlastack.improve.imagine import imagination_vs_reality, score_after

    path = config.out / f"round_{round_}" / AFTER_FILE
    if not path.is_file():
        _write_json(path, score_after(config, checkpoint, round_, progress))
    return imagination_vs_reality(row["gathered"], json.loads(path.read_text()), before, row["per_task"])


def _gather_demos(config: ImproveConfig, round_: int, log_path: Path, progress: bool) -> dict[str, Any]:
    """Fresh expert demonstrations: per task, as many episodes as the matched run's operator frames
    of rounds 1..round_ fill at the task's mean demonstration length (the collection is cumulative)."""
    from vlastack.envs.collect import CollectConfig, collect
    from vlastack.episodes.reader import DatasetReader

    reader = DatasetReader(config.demos)
    lengths: dict[str, list[int]] = {}
    for e in range(reader.num_episodes):
        lengths.setdefault(str(reader.episode_meta(e).get("vlastack/env_task")), []).append(reader.length(e))
    matched = [json.loads((Path(config.match) / f"round_{r}" / "gathered.json").read_text())["gathered"] for r in range(1, round_ + 1)]
    t0, stats = time.perf_counter(), {}
    for task in config.tasks:
        mean_len = sum(lengths[task]) / len(lengths[task])
        per_round = [math.ceil(int(m[task]["intervention_frames"]) / mean_len) for m in matched]
        if sum(per_round):
            collect(
                CollectConfig(
                    tasks=(task,),
                    episodes=sum(per_round),
                    out=config.out / "data",
                    image_size=int(reader.features[reader.video_keys[0]]["shape"][0]),
                    cameras=tuple(keys.camera_of(k) for k in reader.video_keys),
                    touch=True,
                    depth=any(k.startswith(keys.DEPTH_PREFIX) for k in reader.features),
                    workers=config.workers,
                    seed_offset=DEMO_SEED_OFFSET,
                    safety=config.safety,
                ),
                progress=progress,
            )
    # What was kept this round (collect can give up on a task), counted from the dataset itself.
    kept = _demo_counts(config.out / "data", config.tasks)
    before = _demo_counts_before(config, round_)
    for task in config.tasks:
        episodes, frames = kept.get(task, (0, 0))
        b_eps, b_frames = before.get(task, (0, 0))
        stats[task] = {
            "matched_frames": int(matched[-1][task]["intervention_frames"]),
            "episodes": episodes - b_eps,
            "frames": frames - b_frames,
        }
    result = {"gathered": stats, "gather_wall_s": time.perf_counter() - t0, "kept_so_far": {t: list(v) for t, v in kept.items()}}
    _write_json(log_path, result)
    return result


def _demo_counts(root: Path, tasks: tuple[str, ...]) -> dict[str, tuple[int, int]]:
    """Per task: (episodes, frames) of the expert-demos dataset at ``root``."""
    from vlastack.episodes.reader import DatasetReader

    if not (root / "meta").is_dir():
        return {}
    reader, out = DatasetReader(root), {}
    for e in range(reader.num_episodes):
        task = str(reader.episode_meta(e).get("vlastack/env_task"))
        eps, frames = out.get(task, (0, 0))
        out[task] = (eps + 1, frames + reader.length(e))
    return out


def _demo_counts_before(config: ImproveConfig, round_: int) -> dict[str, tuple[int, int]]:
    """Per task: (episodes, frames) kept before ``round_`` (from the previous round's log)."""
    if round_ == 1:
        return {}
    prev = json.loads((config.out / f"round_{round_ - 1}" / "gathered.json").read_text())
    return {t: tuple(v) for t, v in prev.get("kept_so_far", {}).items()}


def _episode_stats(writer: Any, tasks: tuple[str, ...], seeds: list[int]) -> dict[str, dict[str, Any]]:
    """Counts of the episodes of these seeds already in the dataset (a resumed round)."""
    from vlastack.episodes.reader import DatasetReader

    stats = {
        t: {"episodes": 0, "success": 0, "takeovers": 0, "intervention_frames": 0, "frames": 0, "safety_changed_steps": 0} for t in tasks
    }
    if writer.num_episodes == 0:
        return stats
    reader = DatasetReader(writer.root)
    wanted = set(seeds)
    for e in range(reader.num_episodes):
        meta = reader.episode_meta(e)
        task, seed = meta.get("vlastack/env_task"), int(meta.get("vlastack/seed", -1))
        if task in stats and seed in wanted:
            cols = reader.read_columns(e)
            flags = cols[INTERVENTION].reshape(-1).astype(bool)
            takeovers = count_takeovers(flags)
            changed = int((cols["safety.interventions"].reshape(-1) > 0).sum())
            _add_stats(stats, task, bool(meta.get("vlastack/success", False)), takeovers, int(flags.sum()), len(flags), changed)
    return stats


def _add_stats(stats: dict, task: str, success: bool, takeovers: int, flagged: int, frames: int, changed: int) -> None:
    s = stats[task]
    s["episodes"] += 1
    s["success"] += int(success)
    s["takeovers"] += takeovers
    s["intervention_frames"] += flagged
    s["frames"] += frames
    s["safety_changed_steps"] += changed


# ---- validation -----------------------------------------------------------------------------------
def _validation_row(config: ImproveConfig, checkpoint: Path, path: Path, round_: int, progress: bool) -> dict[str, Any]:
    from vlastack.evaluation.protocol import VALIDATION_SEED_OFFSET, summarize
    from vlastack.evaluation.runner import EvalConfig, evaluate

    if not path.is_file():
        ec = EvalConfig(
            checkpoint=Path(checkpoint),
            tasks=config.tasks,
            episodes=config.validation_episodes,
            workers=config.workers,
            video_tasks=0,
            safety_spec=config.safety,
            seed_offset=VALIDATION_SEED_OFFSET,
            execute_steps=config.execute_steps,
            max_steps=config.max_steps,
        )
        results, _ = evaluate(ec, progress=progress)
        crashed = [f"{r.task} seed {r.seed}: {r.error}" for r in results if r.error]
        if crashed:  # not saved: a crash is not a failure of the policy, and a re-run tries them again
            raise ConfigError(f"validation of {checkpoint}: {len(crashed)} episodes crashed, e.g. {crashed[0]}")
        summary = summarize(results, list(config.tasks))
        changed = sum(int(r.safety.get("steps_changed", 0)) for r in results)
        _write_json(
            path,
            {
                "checkpoint": str(checkpoint),
                "success": summary["mean_success_over_tasks"],
                "per_task": {t: v["success"] for t, v in summary["per_task"].items()},
                "episodes": len(results),
                "safety_changed_steps_per_episode": changed / len(results),
            },
        )
    v = json.loads(path.read_text())
    return {"round": round_, **v}


# ---- bookkeeping ----------------------------------------------------------------------------------
def _check_same_run(config: ImproveConfig) -> None:
    """A resumed run must gather and train the same way (a changed setting would mix two runs)."""
    path = config.out / "improve_config.json"
    now = _config_dict(replace(config, rounds=1, workers=1))  # more rounds or workers may be asked for later
    if path.is_file():
        was = json.loads(path.read_text())
        for k, v in was.items():  # a sub-field added since (e.g. explore.adaptive_noise) counts as its default
            if k in now and isinstance(v, dict) and isinstance(default := _default_field(k), dict):
                was[k] = {**default, **v}
        # A field added since the run started (e.g. explore) counts as unchanged while it keeps its default.
        added = {k for k in set(now) - set(was) if now[k] == _default_field(k)}
        diff = sorted(k for k in (set(was) | set(now)) - added if was.get(k) != now.get(k))
        if diff:
            raise ConfigError(f"{config.out} was started with other settings ({', '.join(diff)}); use the same ones or another --out")
    else:
        _write_json(path, now)


def _default_field(name: str) -> Any:
    """An ``ImproveConfig`` field's default as it is written to ``improve_config.json`` (None: no default)."""
    from dataclasses import MISSING, fields

    f = next(f for f in fields(ImproveConfig) if f.name == name)
    value = f.default_factory() if f.default_factory is not MISSING else (None if f.default is MISSING else f.default)
    return json.loads(json.dumps(asdict(value) if hasattr(value, "__dataclass_fields__") else value, default=str))
