"""The executors under simulated inference delay with a trained flow policy: sync, ensemble, async, async + RTC.

    python benchmarks/executor_delay.py --checkpoint runs/flow_demo --tasks door-open-v3,drawer-open-v3 --episodes 4 --out runs/executor_delay.jsonl

Every episode runs policy -> executor -> safety layer (``metaworld_sawyer``) -> Meta-World on a
fake clock: simulated time advances one control period (12.5 ms) per step, and by the delay while
a synchronous call blocks (sync, ensemble); the async executors keep stepping while the chunk is
"computed" and receive it ``delay`` of simulated time after asking. The policy's real compute time
is not simulated (only the fixed delay), so the table compares the executors, not this CPU.

- ``sync``: a chunk, its first ``k`` = 8 actions, then the next chunk (waits for each);
- ``ensemble``: a chunk every step, overlapping chunks averaged (m = 0.01), waits for each;
- ``async``: asks every 8 steps, keeps executing the old plan, drops the actions that are already in
  the past on arrival and cross-fades the seam over 4 steps;
- ``async+rtc``: the same, and the request carries the old plan from the request's step on; the
  flow policy inpaints its chunk towards it (real-time chunking), no cross-fade.

Episodes use the evaluation seeds (10000, ...) and seed the sampling noise with the episode's seed,
as ``vlastack eval`` does. Reported per executor and delay: success, mean time to success
(simulated seconds) and mean steps. The horizon of the checkpoint bounds what async can do: a
chunk that arrives after all its actions are in the past is discarded.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from vlastack.envs.metaworld import FPS, make_env
from vlastack.evaluation.protocol import eval_seed
from vlastack.execution import AsyncExecutor, DelayedPolicy, FakeClock, executor_act, make_executor
from vlastack.safety import SafeActuator

EXECUTORS = ("sync", "ensemble", "async", "async+rtc")
DELAYS_MS = (0, 50, 100, 200)
MAX_STEPS = 500


class FlowPolicy:
    """A checkpoint in this process: ``policy(observation, prefix_actions=None, prefix_weights=None) -> ActionChunk``."""

    def __init__(self, checkpoint: Path) -> None:
        import torch

        from vlastack.policies import load_policy

        torch.set_num_threads(1)
        self.policy = load_policy(checkpoint).pack_for_inference()
        c = self.policy.config
        self.cameras, self.image_size = tuple(c.cameras), int(self.policy.recorded_image_size[0])

    def __call__(self, observation, prefix_actions=None, prefix_weights=None):
        import torch

        from vlastack.policies import batch_from_observation

        with torch.inference_mode():
            return self.policy.sample_actions(
                batch_from_observation(observation), prefix_actions=prefix_actions, prefix_weights=prefix_weights
            )


def episode(policy: FlowPolicy, envs: dict, task: str, index: int, name: str, delay_ms: int) -> dict:
    import torch

    if task not in envs:
        envs[task] = make_env(task, cameras=policy.cameras, image_size=policy.image_size, touch=True, max_steps=MAX_STEPS)
    env, seed, clock, delay = envs[task], eval_seed(index), FakeClock(), delay_ms / 1000
    torch.manual_seed(seed)
    if name.startswith("async"):
        executor = AsyncExecutor(policy, k=8, blend_steps=4, clock=clock, simulated_latency_s=delay, rtc=name == "async+rtc")
    else:
        options = {"k": 8} if name == "sync" else {"m": 0.01}
        executor = make_executor(name, DelayedPolicy(policy, delay, sleep=clock.advance), clock=clock, **options)
    executor.reset()
    actuator = SafeActuator(env, "metaworld_sawyer", clock=clock)
    obs, info = actuator.reset(seed=seed)
    act = executor_act(executor, clock, advance_s=1.0 / FPS)
    success, done_s, steps = False, None, 0
    while steps < MAX_STEPS:
        obs, _, terminated, truncated, info = actuator.step(act(obs, info))
        steps += 1
        if info["success"]:
            success, done_s = True, clock()
        if terminated or truncated:
            break
    summary = executor.summary()
    executor.close()
    return {
        "task": task,
        "seed": seed,
        "executor": name,
        "delay_ms": delay_ms,
        "success": success,
        "steps": steps,
        "time_s": done_s,
        "stalled_s": summary["stalled_s"],
        "events": summary["events"],
    }


def table(rows: list[dict]) -> str:
    out = [
        "| executor | delay per chunk | episodes | success | time to success, s (mean) | steps (mean) | stalled s / episode |",
        "|---|---|---|---|---|---|---|",
    ]
    for name in EXECUTORS:
        for delay in DELAYS_MS:
            rs = [r for r in rows if r["executor"] == name and r["delay_ms"] == delay]
            if rs:
                times = [r["time_s"] for r in rs if r["success"]]
                out.append(
                    f"| {name} | {delay} ms | {len(rs)} | {sum(r['success'] for r in rs)}/{len(rs)} | "
                    f"{np.mean(times) if times else float('nan'):.2f} | {np.mean([r['steps'] for r in rs]):.0f} | "
                    f"{np.mean([r['stalled_s'] for r in rs]):.2f} |"
                )
    return "\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--checkpoint", type=Path, default=Path("runs/flow_demo"))
    parser.add_argument("--tasks", default="door-open-v3,drawer-open-v3,button-press-topdown-v3,window-open-v3")
    parser.add_argument("--episodes", type=int, default=4, help="per task, executor and delay")
    parser.add_argument("--executors", default=",".join(EXECUTORS))
    parser.add_argument("--out", type=Path, default=Path("runs/executor_delay.jsonl"))
    args = parser.parse_args()
    names = args.executors.split(",")
    unknown = sorted(set(names) - set(EXECUTORS))
    if unknown:
        raise SystemExit(f"--executors: unknown {unknown}; valid: {', '.join(EXECUTORS)}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    rows = [json.loads(line) for line in args.out.read_text().splitlines()] if args.out.exists() else []
    done = {(r["task"], r["seed"], r["executor"], r["delay_ms"]) for r in rows}
    policy, envs, start = FlowPolicy(args.checkpoint), {}, time.time()
    with args.out.open("a") as f:
        for task in args.tasks.split(","):
            for i in range(args.episodes):
                for name in names:
                    for delay in DELAYS_MS:
                        if (task, eval_seed(i), name, delay) in done:
                            continue
                        row = episode(policy, envs, task, i, name, delay)
                        f.write(json.dumps(row) + "\n")
                        f.flush()
                        rows.append(row)
                        print(
                            f"[{time.time() - start:6.0f} s] {task} {row['seed']} {name} {delay} ms: {row['success']} {row['steps']}",
                            flush=True,
                        )
    print(table(rows))


if __name__ == "__main__":
    main()
