"""One ``rl-sim`` round of ``vlastack improve`` (``improve/explore.py`` holds the noise, scores and weights): the
explored episodes gathered into the run's dataset, then every one scored and given its copies in the fine-tuning
set (``update=fpo``: its advantage), from what the dataset holds (so a resumed round scores the same)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from vlastack import keys
from vlastack.errors import ConfigError
from vlastack.improve.explore import (
    RL_SIM_SEED_OFFSET,
    ExploredResult,
    adaptive_std,
    balanced_copies,
    collect_explored,
    episode_copies,
    episode_score,
    episode_weights,
    explored_feature_names,
    fpo_advantages,
    held_return,
)
from vlastack.improve.records import write_json as _write_json
from vlastack.improve.round_files import pending, validation_path

if TYPE_CHECKING:
    from vlastack.improve.rounds import ImproveConfig


def rl_sim_seeds(round_: int, episodes: int) -> list[int]:
    """The reset seeds of a round's rl-sim episodes (the same for every task)."""
    return [RL_SIM_SEED_OFFSET + 10_000 * round_ + k for k in range(episodes)]


def gather_explored(config: ImproveConfig, checkpoint: Path, round_: int, log_path: Path, progress: bool) -> dict[str, Any]:
    """rl-sim: this round's explored episodes into ``out/data`` (those already there are kept), then
    every one scored and weighted from what the dataset holds (so a resumed round scores the same)."""

    from vlastack.episodes.writer import DatasetWriter

    writer = DatasetWriter(config.out / "data", robot_type="sawyer", feature_names=explored_feature_names())
    seeds = rl_sim_seeds(round_, config.episodes)
    cpu_log = log_path.parent / "episodes.jsonl"
    cpu_log.parent.mkdir(parents=True, exist_ok=True)
    jobs, bar = pending(writer, config.tasks, seeds, f"round {round_}: explored episodes", progress)
    noise = task_noise(config, round_)
    t0 = time.perf_counter()
    solved = [0]

    def done_fn(res: ExploredResult) -> None:
        writer.add_episode(res.episode)
        with open(cpu_log, "a") as f:
            row = {"task": res.task, "seed": res.seed, "cpu_s": res.cpu_s, "steps": res.steps, "noisy_steps": res.noisy_steps}
            f.write(json.dumps(row) + "\n")
        solved[0] += int(res.success)
        bar.update(1)
        bar.set_postfix(solved=solved[0])

    try:
        task_std = {t: v["noise_std"] for t, v in noise.items()} if config.explore.adaptive_noise else None
        collect_explored(
            checkpoint, jobs, config.explore, config.safety, config.execute_steps, config.workers, done_fn, config.max_steps, task_std
        )
    finally:
        bar.close()
    scored = score_round(config, seeds, cpu_log, {t: v.get("noise_success") for t, v in noise.items()})
    stats: dict[str, dict[str, Any]] = {}
    for task in config.tasks:
        mine = [e for e in scored if e["task"] == task]
        stats[task] = {
            "episodes": len(mine),
            "success": sum(int(e["success"]) for e in mine),
            "frames": sum(e["steps"] for e in mine),
            "safety_changed_steps": sum(e["safety_changed_steps"] for e in mine),
            "kept": sum(int(e["copies"] > 0) for e in mine),
            "copies": sum(e["copies"] for e in mine),
            "mean_score": float(np.mean([e["score"] for e in mine])) if mine else float("nan"),
            # None where an episode's log line was lost (an interrupted write)
            "noisy_steps": sum(e["noisy_steps"] for e in mine) if all(e["noisy_steps"] is not None for e in mine) else None,
            **noise[task],
        }
    cpu = [e["cpu_s"] for e in scored if e["cpu_s"] is not None]
    result = {
        "gathered": stats,
        "gather_wall_s": time.perf_counter() - t0,
        "gather_cpu_s": float(sum(cpu)),
        "gather_cpu_episodes": len(cpu),  # episodes whose CPU time is known (all, unless one was cut off mid-write)
        "scored": scored,
    }
    _write_json(log_path, result)
    return result


def task_noise(config: ImproveConfig, round_: int) -> dict[str, dict[str, Any]]:
    """Per task, the noise std this round explores with (``noise_std``) and, with ``adaptive_noise`` or
    ``balance_tasks``, the success it was scaled or rebalanced by (``noise_success``): the validation of the policy
    that explores, which ``improve`` has always run before the round gathers (round 1: the start's)."""
    e = config.explore
    if not (e.adaptive_noise or e.balance_tasks):
        return {t: {"noise_std": e.noise_std} for t in config.tasks}
    per_task = json.loads(validation_path(config, round_ - 1).read_text())["per_task"]
    scale = (lambda s: adaptive_std(e.noise_std, s, e.min_noise_scale)) if e.adaptive_noise else (lambda s: e.noise_std)
    return {t: {"noise_std": scale(per_task[t]), "noise_success": per_task[t]} for t in config.tasks}


def score_round(
    config: ImproveConfig, seeds: list[int], cpu_log: Path, task_success: dict[str, float | None] | None = None
) -> list[dict[str, Any]]:
    """Every episode of this round's seeds in ``out/data``: outcome, score, weight and copies (``balance_tasks``:
    rebalanced by ``task_success``, each task's validation success of the exploring policy); with ``update=fpo``,
    weight 1, one copy each and its ``advantage`` (:func:`fpo_advantages` over the task's episodes)."""
    from vlastack.envs.rollout import SAFETY_INTERVENTIONS
    from vlastack.episodes.reader import DatasetReader

    logged: dict[tuple[str, int], dict[str, Any]] = {}
    if cpu_log.is_file():
        for line in cpu_log.read_text().splitlines():
            try:
                row = json.loads(line)
            except ValueError:
                continue  # a line torn by an interruption
            logged[(row["task"], int(row["seed"]))] = row
    reader, wanted, out = DatasetReader(config.out / "data"), set(seeds), []
    for e in range(reader.num_episodes):
        meta = reader.episode_meta(e)
        task, seed = str(meta.get("vlastack/env_task")), int(meta.get("vlastack/seed", -1))
        if task not in config.tasks or seed not in wanted:
            continue
        cols = reader.read_columns(e)
        rewards = cols[keys.REWARD].reshape(-1)
        changed = int(np.count_nonzero(cols[SAFETY_INTERVENTIONS].reshape(-1))) if SAFETY_INTERVENTIONS in cols else 0
        success = bool(meta.get("vlastack/success", False))
        out.append(
            {
                "task": task,
                "seed": seed,
                "episode_index": e,
                "success": success,
                "steps": len(rewards),
                "held_return": held_return(rewards, config.max_steps),
                "safety_changed_steps": changed,
                "score": episode_score(success, rewards, changed, config.max_steps, config.explore),
                "cpu_s": logged.get((task, seed), {}).get("cpu_s"),
                "noisy_steps": logged.get((task, seed), {}).get("noisy_steps"),
            }
        )
    out.sort(key=lambda x: (config.tasks.index(x["task"]), x["seed"]))
    for task in config.tasks:
        mine = [x for x in out if x["task"] == task]
        scores = [x["score"] for x in mine]
        if config.explore.update == "fpo":
            for x, a in zip(mine, fpo_advantages(scores), strict=True):
                x["weight"], x["copies"], x["advantage"] = 1.0, 1, float(a)
            continue
        weights = episode_weights(scores, config.explore)
        copies = episode_copies(scores, [x["success"] for x in mine], config.new_data_weight, config.explore)
        if config.explore.balance_tasks:
            success = (task_success or {}).get(task)
            if success is None:
                raise ConfigError(f"explore.balance_tasks: no validation success of the exploring policy for {task}")
            copies = balanced_copies(copies, weights, success, config.new_data_weight, config.explore)
        for x, w, c in zip(mine, weights, copies, strict=True):
            x["weight"], x["copies"] = float(w), c
    return out
