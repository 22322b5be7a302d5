"""Flat against hierarchical policies on the long-horizon suite: success per stage and overall, latency.

    MUJOCO_GL=egl python benchmarks/hierarchical_eval.py --policy flat=runs/hier16/flat/checkpoints/step_00003000 \\
        --policy hier=runs/hier16/hier/checkpoints/step_00003000 --seeds 20 --out runs/hier16/eval.jsonl

Each policy runs every task of the suite on reset seeds ``--seed-offset`` .. + N-1 (default 300000:
never used for demonstrations, training or any choice), with instruction ``--instruction-variant``
(0-2 were used for training, 3 is held out), chunks executed synchronously (the policy's
``execute_steps`` actions per chunk), behind the default safety layer with contact forces sensed, as
``vlastack eval`` runs. Episodes are appended to ``--out`` as they finish; a rerun skips the ones
there (resumable). ``--policy`` may be repeated; ``--workers`` run episodes in parallel processes.
Latency is the wall time of ``sample_actions`` (one call per executed chunk; for the hierarchical
policy it includes the re-plan and its explanation), on whatever the machine's load is. Each episode's
row keeps the hierarchical policy's explanation (subtask, plan, reason, confidence) at every switch of
subtask (``explanations_at_switches``).
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np

_POLICIES: dict = {}
_ENVS: dict = {}


def run_episode(label: str, checkpoint: str, task: str, seed: int, variant: int, safety: str, oracle: bool = False) -> dict:
    from dataclasses import replace

    import torch

    from vlastack.envs.long_horizon_env import FAILED, STAGES_DONE
    from vlastack.envs.metaworld import FPS, make_env
    from vlastack.execution import FakeClock, executor_act, make_executor
    from vlastack.policies import batch_from_observation, load_policy
    from vlastack.policies.l1 import L1Policy
    from vlastack.reasoning.plan import plan_of
    from vlastack.safety import SafeActuator

    torch.set_num_threads(1)
    if checkpoint not in _POLICIES:
        _POLICIES[checkpoint] = load_policy(checkpoint).pack_for_inference()
    policy = _POLICIES[checkpoint]
    c = policy.config
    key = (checkpoint, task, variant)
    if key not in _ENVS:  # building a scene costs about a second: one per task and process
        _ENVS[key] = make_env(
            task, cameras=tuple(c.cameras), image_size=int(policy.recorded_image_size[0]), touch=True, instruction_variant=variant
        )
    env = _ENVS[key]
    latency: list[float] = []
    switches: list[tuple[int, str, int]] = []  # (step, subtask, subtasks done): a new entry per change of either
    said: list[dict] = []  # the policy's explanation at each switch of subtask (its plan and reason then)
    steps = [0]

    stage = [0]  # the environment's stage now (for --oracle-subtask)

    def policy_fn(observation):
        t = time.perf_counter()
        batch = batch_from_observation(observation)
        with torch.inference_mode():
            if oracle:  # diagnosis: the low level alone, given the true stage's subtask (a perfect high level)
                subtask = plan_of(task)[min(stage[0], len(env.task.stages) - 1)]
                chunk = L1Policy.sample_actions(policy, replace(batch, instruction=[subtask]))
                chunk.info["subtask"] = [subtask]
            else:
                chunk = policy.sample_actions(batch)
        latency.append((time.perf_counter() - t) * 1000)
        subtask = (chunk.info.get("subtask") or [None])[0]
        plan = None if oracle else (getattr(policy, "last_plan", None) or [None])[0]
        n_done = len(plan["done"]) if plan else 0  # counts a repeat (press, press again) that keeps the same text
        if subtask is not None and (not switches or switches[-1][1:] != (subtask, n_done)):
            switches.append((steps[0], subtask, n_done))
            if chunk.explanations:
                e = chunk.explanations[0]
                said.append({"step": steps[0], "subtask": e.subtask, "reason": e.reason, "plan": list(e.plan), "confidence": e.confidence})
        return chunk

    clock = FakeClock()
    executor = make_executor("sync", policy_fn, clock=clock, k=c.execute_steps)
    executor.reset()
    policy.reset()
    actuator = SafeActuator(env, safety, clock=clock)
    act = executor_act(executor, clock, advance_s=1.0 / FPS)
    obs, info = actuator.reset(seed=seed)
    stage_steps: list[int] = []
    while True:
        obs, _, terminated, truncated, info = actuator.step(act(obs, info))
        steps[0] += 1
        stage[0] = int(info[STAGES_DONE])
        while len(stage_steps) < info[STAGES_DONE]:
            stage_steps.append(steps[0])
        if terminated or truncated:
            break
    return {
        "policy": label,
        "checkpoint": checkpoint,
        "task": task,
        "seed": seed,
        "instruction": env.instruction,
        "variant": variant,
        "stages": len(env.task.stages),
        "stages_done": int(info[STAGES_DONE]),
        "success": bool(info["success"]),
        "failed": bool(info.get(FAILED, False)),
        "steps": steps[0],
        "stage_done_at": stage_steps,
        "latency_ms": latency,
        "subtask_switches": switches,
        "explanations_at_switches": said,
    }


def _job(args: tuple) -> dict:
    return run_episode(*args)


def _early_switch(row: dict) -> bool:
    """Whether the policy's plan moved past a stage before the environment counted that stage done (the
    i-th change of subtask after the first pick should come after the i-th stage is done)."""
    done_at = row["stage_done_at"]
    return any(i >= len(done_at) or step < done_at[i] for i, (step, *_) in enumerate(row["subtask_switches"][1:]))


def summarise(rows: list[dict]) -> None:
    """Per policy: success per stage and overall per task, the suite means, and latency."""
    from vlastack.envs.long_horizon import SUITE

    for label in dict.fromkeys(r["policy"] for r in rows):
        mine = [r for r in rows if r["policy"] == label]
        print(f"\n== {label} ({len(mine)} episodes)")
        stage_rates, overall = [], []
        for task in SUITE:
            ep = [r for r in mine if r["task"] == task]
            if not ep:
                continue
            done = np.array([r["stages_done"] for r in ep])
            n = ep[0]["stages"]
            per_stage = [float(np.mean(done > k)) for k in range(n)]
            stage_rates += per_stage
            overall.append(float(np.mean(done == n)))
            over = sum(1 for r in ep if r.get("failed"))
            print(
                f"{task:34s} n={len(ep):3d} per stage {', '.join(f'{100 * p:.0f}' for p in per_stage)} % | success {100 * overall[-1]:.0f} %"
                + (f" | pressed too often in {over}" if over else "")
            )
        if any(r["subtask_switches"] for r in mine):
            early = [r for r in mine if _early_switch(r)]
            failed = [r for r in mine if not r["success"]]
            print(
                f"re-plans that moved on before the environment counted the stage done: in {len(early)} of {len(mine)} episodes "
                f"({sum(1 for r in failed if _early_switch(r))} of the {len(failed)} failed ones)"
            )
        lat = np.concatenate([r["latency_ms"] for r in mine])
        per_step = [sum(r["latency_ms"]) / r["steps"] for r in mine]
        print(
            f"suite: success {100 * np.mean(overall):.1f} % (mean over tasks), mean stage success {100 * np.mean(stage_rates):.1f} %; "
            f"latency per call median {np.median(lat):.2f} ms, p95 {np.percentile(lat, 95):.2f} ms; per control step {np.mean(per_step):.2f} ms"
        )


def latency(policies: dict[str, str], runs: int) -> None:
    """Per-call latency of each policy on the same real observation (lh-drawer-open-close, its reset), the
    policies called in turn so that both see the same machine load; one thread each."""
    import torch

    from vlastack.envs.metaworld import make_env
    from vlastack.policies import batch_from_observation, load_policy

    torch.set_num_threads(1)
    loaded = {label: load_policy(ckpt).pack_for_inference() for label, ckpt in policies.items()}
    first = next(iter(loaded.values()))
    env = make_env("lh-drawer-open-close", cameras=tuple(first.config.cameras), image_size=int(first.recorded_image_size[0]), touch=True)
    obs, _ = env.reset(seed=300_000)
    batch = batch_from_observation(obs)
    times: dict[str, list[float]] = {label: [] for label in loaded}
    for i in range(runs + 5):
        for label, policy in loaded.items():
            policy.reset()  # every call is a re-plan from scratch for the hierarchical policy
            t = time.perf_counter()
            with torch.inference_mode():
                policy.sample_actions(batch)
            if i >= 5:  # the first calls warm caches up
                times[label].append((time.perf_counter() - t) * 1000)
    env.close()
    for label, ms in times.items():
        print(
            f"{label}: per call median {np.median(ms):.2f} ms, p90 {np.percentile(ms, 90):.2f} ms over {runs} calls (load {os.getloadavg()[0]:.1f})"
        )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--policy", action="append", default=[], help="LABEL=CHECKPOINT_DIR; repeatable.")
    ap.add_argument("--tasks", default="long_horizon", help="Long-horizon tasks or the group long_horizon, comma-separated.")
    ap.add_argument("--seeds", type=int, default=20, help="Episodes per task and policy.")
    ap.add_argument("--seed-offset", type=int, default=300_000, help="First reset seed (default: never used for data or choices).")
    ap.add_argument("--instruction-variant", type=int, default=0, help="Which phrasing of each task (0-2 trained on, 3 held out).")
    ap.add_argument("--safety", default="metaworld_sawyer", help="Safety spec between executor and simulator (the default layer).")
    ap.add_argument("--workers", type=int, default=1, help="Episodes run in parallel processes.")
    ap.add_argument("--out", type=Path, default=None, help="Episode log (JSON lines), appended to; a rerun skips logged episodes.")
    ap.add_argument(
        "--oracle-subtask",
        action="store_true",
        help="Diagnosis for a hierarchical checkpoint: its low level acts on the true stage's subtask (no high level).",
    )
    ap.add_argument("--summary-only", action="store_true", help="Only print the tables of what --out holds.")
    ap.add_argument("--latency", type=int, default=0, help="Instead: time N calls of each policy on one observation, interleaved.")
    args = ap.parse_args()
    if args.latency:
        latency(dict(p.split("=", 1) for p in args.policy), args.latency)
        return
    if args.out is None:
        ap.error("--out is required (the episode log)")
    rows = [json.loads(line) for line in args.out.read_text().splitlines() if line.strip()] if args.out.is_file() else []
    # only this run's seeds and wording (a log may hold more; tables never mix protocols)
    rows = [r for r in rows if 0 <= r["seed"] - args.seed_offset < args.seeds and r["variant"] == args.instruction_variant]
    if not args.summary_only:
        from vlastack.envs.tasks import resolve_tasks

        policies = dict(p.split("=", 1) for p in args.policy)
        seen = {(r["policy"], r["task"], r["seed"], r["variant"]) for r in rows}
        jobs = [
            (label, ckpt, task, args.seed_offset + k, args.instruction_variant, args.safety, args.oracle_subtask)
            for label, ckpt in policies.items()
            for k in range(args.seeds)  # seeds outermost: an interrupted run has covered every task
            for task in resolve_tasks(args.tasks)
            if (label, task, args.seed_offset + k, args.instruction_variant) not in seen
        ]
        print(f"{len(jobs)} episodes to run ({len(rows)} already logged)", flush=True)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        os.environ.setdefault("OMP_NUM_THREADS", "1")
        if args.workers > 1:
            import multiprocessing as mp

            with mp.get_context("spawn").Pool(args.workers) as pool, open(args.out, "a") as f:
                for row in pool.imap_unordered(_job, jobs):
                    f.write(json.dumps(row) + "\n")
                    f.flush()
                    rows.append(row)
                    print(row["policy"], row["task"], row["seed"], row["stages_done"], "/", row["stages"], flush=True)
        else:
            with open(args.out, "a") as f:
                for job in jobs:
                    row = _job(job)
                    f.write(json.dumps(row) + "\n")
                    f.flush()
                    rows.append(row)
                    print(row["policy"], row["task"], row["seed"], row["stages_done"], "/", row["stages"], flush=True)
    summarise(rows)


if __name__ == "__main__":
    main()
