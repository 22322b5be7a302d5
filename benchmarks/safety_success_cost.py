"""What the safety layer costs a policy in success where nothing unsafe happens: the same episodes with and without it.

    python benchmarks/safety_success_cost.py --checkpoint src/vlastack/assets/demo_policy --tasks mt10 \
        --episodes 10 --workers 2 --out runs/safety_success_cost.jsonl

Each episode runs exactly as ``vlastack eval`` runs it (``vlastack.evaluation.runner``: the
checkpoint's cameras and resolution, the sync executor on a fake clock advanced one control
period per step, protocol seeds ``eval_seed(k)``, the policy's noise seeded with the episode
seed, 500 steps), once behind a :class:`vlastack.safety.SafeActuator` with ``--spec`` and once
stepping the simulator directly. Without the layer, each step's action is still judged by
``vlastack.safety.verify.violations`` (nothing is changed), so the table also shows how many
sent actions broke a limit and which. Episodes are appended to ``--out`` as they finish; an
interrupted run resumes. Prints a markdown table per task.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
from collections import Counter, defaultdict
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from pathlib import Path
from typing import Any

_CACHE: dict[str, Any] = {}


class _Judged:
    """The environment without the layer; each step's action is judged by ``verify`` but sent unchanged."""

    def __init__(self, env: Any, spec: Any) -> None:
        from vlastack.safety.verify import MotionMemory

        self.env, self.spec = env, spec
        self.memory = MotionMemory.at_rest(spec)
        self.broken: Counter[str] = Counter()
        self.state = self.touch = None

    def __getattr__(self, name: str) -> Any:
        return getattr(self.env, name)

    def reset(self, *, seed: int | None = None):
        from vlastack.safety.verify import MotionMemory

        obs, info = self.env.reset(seed=seed)
        self.memory, self.broken = MotionMemory.at_rest(self.spec), Counter()
        self.state, self.touch = obs.state, obs.touch
        return obs, info

    def step(self, action):
        import numpy as np

        from vlastack.safety.verify import violations

        a = np.clip(np.asarray(action, dtype=np.float64), -1.0, 1.0)  # what the simulator applies
        for v in violations(self.spec, np.asarray(action, dtype=np.float64), self.state, self.touch, self.memory):
            self.broken[v.limit.split("[")[0]] += 1
        self.memory.advance(self.spec, a)
        obs, reward, terminated, truncated, info = self.env.step(action)
        self.state, self.touch = obs.state, obs.touch
        return obs, reward, terminated, truncated, info


def run_episode(checkpoint: str, task: str, k: int, layer: bool, spec_name: str) -> dict:
    from vlastack.envs.metaworld import FPS, make_env
    from vlastack.envs.rollout import rollout
    from vlastack.evaluation.protocol import eval_seed
    from vlastack.evaluation.runner import _LocalPolicy
    from vlastack.execution import FakeClock, executor_act, make_executor
    from vlastack.safety import SafeActuator, load_spec

    if "policy" not in _CACHE:
        _CACHE["policy"] = _LocalPolicy(Path(checkpoint))
    policy = _CACHE["policy"]
    if task not in _CACHE:
        _CACHE[task] = make_env(
            task, cameras=policy.cameras, image_size=policy.image_size, depth=policy.depth, touch=True, max_steps=500, instruction_variant=0
        )
    env, seed = _CACHE[task], eval_seed(k)
    spec = load_spec(spec_name)
    policy.reset(seed)
    clock = FakeClock()
    executor = make_executor("sync", policy, clock=clock)
    executor.reset()
    stepped = SafeActuator(env, spec, clock=clock) if layer else _Judged(env, spec)
    try:
        result = rollout(stepped, executor_act(executor, clock, advance_s=1.0 / FPS), seed=seed, record=False)
    except Exception as err:  # noqa: BLE001 - without the layer a NaN action makes the simulator refuse: a failure
        return {
            "task": task,
            "seed": seed,
            "layer": layer,
            "success": False,
            "steps": 0,
            "error": repr(err),
            "violations": {},
            "by_limit": {},
            "steps_changed": 0,
            "steps_held": 0,
        }
    row = {"task": task, "seed": seed, "layer": layer, "success": bool(result.success), "steps": result.steps}
    if layer:
        s = stepped.summary()
        row.update(steps_changed=s["steps_changed"], steps_held=s["steps_held"], by_limit=s["by_limit"])
    else:
        row.update(violations=dict(stepped.broken))
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--checkpoint", default="src/vlastack/assets/demo_policy")
    parser.add_argument("--tasks", default="mt10")
    parser.add_argument("--episodes", type=int, default=10)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--spec", default="metaworld_sawyer")
    parser.add_argument("--out", type=Path, default=Path("runs/safety_success_cost.jsonl"))
    args = parser.parse_args()

    from vlastack.envs import resolve_tasks
    from vlastack.evaluation.protocol import eval_seed

    tasks = resolve_tasks(args.tasks)
    done = {}
    if args.out.exists():
        for line in args.out.read_text().splitlines():
            if line.strip():
                r = json.loads(line)
                done[(r["task"], r["seed"], r["layer"])] = r
    jobs = [(t, k, layer) for t in tasks for k in range(args.episodes) for layer in (True, False) if (t, eval_seed(k), layer) not in done]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with args.out.open("a") as log, ProcessPoolExecutor(args.workers, mp_context=mp.get_context("spawn")) as pool:
        pending = list(reversed(jobs))
        running = set()
        while pending or running:
            while pending and len(running) < args.workers:
                t, k, layer = pending.pop()
                running.add(pool.submit(run_episode, args.checkpoint, t, k, layer, args.spec))
            finished, running = wait(running, return_when=FIRST_COMPLETED)
            for f in finished:
                r = f.result()
                done[(r["task"], r["seed"], r["layer"])] = r
                log.write(json.dumps(r) + "\n")
                log.flush()
                print(
                    f"{r['task']:24s} seed {r['seed']} layer {'on ' if r['layer'] else 'off'}: "
                    f"{'success' if r['success'] else 'fail'} in {r['steps']} steps",
                    flush=True,
                )
    report(tasks, args.episodes, done)


def report(tasks: list[str], episodes: int, done: dict) -> None:
    from vlastack.evaluation.protocol import eval_seed

    print(
        "\n| task | success with layer | without | steps changed by the layer (mean) | held (mean) | "
        "limits it changed (total) | limits broken without it (total steps) |\n|---|---|---|---|---|---|---|"
    )
    total = defaultdict(int)
    for t in tasks:
        on = [done[(t, eval_seed(k), True)] for k in range(episodes) if (t, eval_seed(k), True) in done]
        off = [done[(t, eval_seed(k), False)] for k in range(episodes) if (t, eval_seed(k), False) in done]
        limits, broken = Counter(), Counter()
        for r in on:
            limits.update(r["by_limit"])
        for r in off:
            broken.update(r["violations"])
        total["on"] += sum(r["success"] for r in on)
        total["off"] += sum(r["success"] for r in off)
        total["n_on"] += len(on)
        total["n_off"] += len(off)
        mean = lambda key, on=on: sum(r[key] for r in on) / max(len(on), 1)  # noqa: E731
        print(
            f"| {t} | {sum(r['success'] for r in on)}/{len(on)} | {sum(r['success'] for r in off)}/{len(off)} | "
            f"{mean('steps_changed'):.0f} | {mean('steps_held'):.1f} | {dict(limits.most_common(4))} | {dict(broken.most_common(4))} |"
        )
    print(
        f"| **all** | {total['on']}/{total['n_on']} ({100 * total['on'] / max(total['n_on'], 1):.1f} %) | "
        f"{total['off']}/{total['n_off']} ({100 * total['off'] / max(total['n_off'], 1):.1f} %) | | | | |"
    )


if __name__ == "__main__":
    main()
