"""The safety layer and the executors on MT10, with injected faults and simulated inference delay.

    python benchmarks/safety_faults.py --tasks mt10 --seeds 10 --out runs/safety_faults

Part ``safety``: the scripted experts (a trained policy can take their place once checkpoints
exist), with and without the layer, clean and with each fault:

- ``noise``: Gaussian noise (sigma 0.3 action units) on every action;
- ``nan``: bursts of 5 NaN actions, starting with probability 4 % per step;
- ``stall``: bursts of 20 steps (250 ms) with no action at all, 3 % per step. Without the layer the
  loop keeps sending the last action (what a naive controller does); with it, the watchdog decides;
- ``keepout``: a 4 cm thick, 20 cm wide keep-out box across the straight line from the start of
  the end effector to the object (reach: to the goal).

Per episode: violating steps (actions *sent* that break a limit of ``metaworld_sawyer``, judged by
``vlastack.safety.verify``; sending stale actions past the watchdog deadline counts too), what
the layer changed, success, episode length. Without the layer a NaN reaches the simulator, which
refuses it: the episode ends there, counted as a crash and a failure.

Part ``executors``: sync (k=8), ensemble (m=0.01, every step) and async (k=8, 4 blend steps) with
simulated inference delays of 0, 50 and 200 ms per chunk, always behind the safety layer, on a
fake clock: sim time advances 12.5 ms per step and by the delay while a synchronous call blocks.
The stand-in chunking policy (:class:`ExpertPlanner`) rolls the expert forward 32 steps on a
kinematic model (the hand moves by the commanded delta; an object within 4 cm of a closing hand
moves with it; nothing else moves), so chunks slow down near targets the way a learned policy's
do, and go stale the way they do. These numbers compare the executors' timing, not policy quality.

Writes ``episodes.jsonl`` (one line per episode; an interrupted run resumes where it stopped)
and prints markdown tables.
"""

from __future__ import annotations

import argparse
import json
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

from vlastack.envs import make_env, resolve_tasks
from vlastack.envs.experts import expert_for
from vlastack.execution import AsyncExecutor, DelayedPolicy, FakeClock, executor_act, make_executor
from vlastack.safety import METAWORLD_SAWYER, SAFETY_INFO_KEY, SafeActuator
from vlastack.safety.faults import ActionDropouts, ActionNoise, NaNBursts, keep_out_across_path, with_keep_out
from vlastack.safety.verify import MotionMemory, violations
from vlastack.types import ActionChunk

SPEC = METAWORLD_SAWYER
DT = SPEC.control_period_s
MAX_STEPS = 500
FAULTS = ("clean", "noise", "nan", "stall", "keepout")
EXECUTORS = {"sync": {"k": 8}, "ensemble": {"m": 0.01}, "async": {"k": 8, "blend_steps": 4}}
DELAYS_MS = (0, 50, 200)
HORIZON = 32
SEED_START = 10_000  # evaluation seeds, disjoint from demonstration seeds (which start at 0)


_ENVS: dict[str, tuple] = {}


def env_and_expert(task: str):
    """One environment per task for the whole run (building one takes about a second); no cameras needed."""
    if task not in _ENVS:
        _ENVS[task] = (make_env(task, cameras=(), touch=True), expert_for(task))
    return _ENVS[task]


def stream_fault(fault: str, seed: int):
    return {
        "noise": lambda: ActionNoise(0.3, seed=seed, dims=[0, 1, 2]),
        "nan": lambda: NaNBursts(rate=0.04, length=5, seed=seed),
        "stall": lambda: ActionDropouts(rate=0.03, length=20, seed=seed),
    }.get(fault, lambda: None)()


class ExpertPlanner:
    """A chunking stand-in policy: the expert rolled forward ``horizon`` steps on a kinematic model.

    Meta-World's 39-d state: hand xyz [0:3], gripper [3], first object xyz [4:7]. Each predicted
    step moves the hand by ``action[:3] / 100`` m (inside the mocap box); the first object moves
    along when it is within 4 cm of the hand and the gripper is closing. ``latest["info"]`` must
    hold the info of the observation being passed (the expert reads the privileged state).
    """

    def __init__(self, expert, latest: dict, horizon: int = HORIZON) -> None:
        self.expert, self.latest, self.horizon = expert, latest, horizon

    def __call__(self, obs) -> ActionChunk:
        state = np.array(self.latest["info"]["privileged"], dtype=np.float64)
        actions = np.zeros((1, self.horizon, 4), dtype=np.float32)
        for i in range(self.horizon):
            a = self.expert.act(obs, {"privileged": state.astype(np.float32)})
            actions[0, i] = a
            step = np.clip(a[:3], -1, 1) * 0.01
            if a[3] > 0 and np.linalg.norm(state[4:7] - state[0:3]) < 0.04:
                state[4:7] += step
            state[0:3] = np.clip(state[0:3] + step, (-0.5, 0.40, 0.05), (0.5, 1.0, 0.5))
        return ActionChunk(actions)


def usual_path_box(task: str, privileged: np.ndarray):
    """Meta-World's 39-d state: hand xyz [0:3], first object xyz [4:7], goal xyz [36:39]."""
    target = privileged[36:39] if task.startswith("reach") else privileged[4:7]
    return keep_out_across_path(privileged[0:3], target, thickness_m=0.04, half_width_m=0.1, name="person")


def safety_episode(task: str, seed: int, fault: str, with_layer: bool) -> dict:
    env, expert = env_and_expert(task)
    obs, info = env.reset(seed=seed)
    spec = with_keep_out(SPEC, usual_path_box(task, info["privileged"])) if fault == "keepout" else SPEC
    actuator = SafeActuator(env, spec) if with_layer else None
    if actuator is not None:
        obs, info = actuator.reset(seed=seed)
    inject = stream_fault(fault, seed)
    memory, last_sent, last_fresh_s = MotionMemory.at_rest(spec), None, 0.0
    broken: dict[str, int] = defaultdict(int)
    violating = steps = 0
    success = crashed = False
    while steps < MAX_STEPS:
        now = steps * DT
        proposal = expert.act(obs, info)
        proposal = inject(proposal, steps) if inject is not None else proposal
        if proposal is not None:
            last_fresh_s = now
        state, touch = obs.state, obs.touch
        if actuator is not None:
            obs, _, terminated, truncated, info = actuator.step(proposal, now)
            sent = np.array(info[SAFETY_INFO_KEY]["action"], dtype=np.float32)
        else:
            sent = last_sent if proposal is None else proposal
            sent = np.zeros(4, np.float32) if sent is None else sent
        found = [v.limit for v in violations(spec, sent, state, touch, memory)]
        if now - last_fresh_s > spec.watchdog_s and np.any(sent[:3] != 0):
            found.append("watchdog_s")
        violating += bool(found)
        for limit in found:
            broken[limit.split("[")[0]] += 1
        if actuator is None:
            if not np.all(np.isfinite(sent)):
                crashed = True  # the simulator refuses a non-finite action
                break
            obs, _, terminated, truncated, info = env.step(sent)
        memory.advance(spec, sent)
        last_sent, steps = sent, steps + 1
        success = success or bool(info["success"])
        if terminated or truncated:
            break
    summary = actuator.summary() if actuator is not None else {}
    return {
        "part": "safety",
        "task": task,
        "seed": seed,
        "fault": fault,
        "layer": with_layer,
        "success": success,
        "steps": steps,
        "crashed": crashed,
        "violating_steps": violating,
        "violations": dict(broken),
        "steps_changed": summary.get("steps_changed", 0),
        "steps_held": summary.get("steps_held", 0),
        "by_check": summary.get("by_check", {}),
    }


def executor_episode(task: str, seed: int, name: str, delay_ms: int) -> dict:
    (env, expert), clock = env_and_expert(task), FakeClock()
    latest: dict = {}
    policy = ExpertPlanner(expert, latest)
    delay = delay_ms / 1000
    if name == "async":
        executor = AsyncExecutor(policy, clock=clock, simulated_latency_s=delay, **EXECUTORS[name])
    else:
        executor = make_executor(name, DelayedPolicy(policy, delay, sleep=clock.advance), clock=clock, **EXECUTORS[name])
    actuator = SafeActuator(env, SPEC, clock=clock)
    obs, latest["info"] = actuator.reset(seed=seed)
    act = executor_act(executor, clock, advance_s=DT)
    success, done_s, steps = False, None, 0
    while steps < MAX_STEPS:
        obs, _, terminated, truncated, latest["info"] = actuator.step(act(obs, latest["info"]))
        steps += 1
        if latest["info"]["success"]:
            success, done_s = True, clock()
        if terminated or truncated:
            break
    summary = executor.summary()
    executor.close()
    return {
        "part": "executors",
        "task": task,
        "seed": seed,
        "executor": name,
        "delay_ms": delay_ms,
        "success": success,
        "steps": steps,
        "time_s": done_s,
        "sim_time_s": clock(),
        "stalled_s": summary["stalled_s"],
        "events": summary["events"],
        "steps_held": actuator.summary()["steps_held"],
    }


def jobs(tasks: list[str], seeds: list[int], parts: list[str]):
    for task in tasks:
        for seed in seeds:
            if "safety" in parts:
                for fault in FAULTS:
                    for layer in (False, True):
                        yield ("safety", task, seed, fault, layer)
            if "executors" in parts:
                for name in EXECUTORS:
                    for delay in DELAYS_MS:
                        yield ("executors", task, seed, name, delay)


def key(row: dict) -> tuple:
    if row["part"] == "safety":
        return ("safety", row["task"], row["seed"], row["fault"], row["layer"])
    return ("executors", row["task"], row["seed"], row["executor"], row["delay_ms"])


def tables(rows: list[dict]) -> str:
    out = [
        "| fault | layer | episodes | success | mean length | violating steps / episode | steps changed / episode | crashes |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for fault in FAULTS:
        for layer in (False, True):
            rs = [r for r in rows if r["part"] == "safety" and r["fault"] == fault and r["layer"] == layer]
            if rs:
                out.append(
                    f"| {fault} | {'on' if layer else 'off'} | {len(rs)} | {np.mean([r['success'] for r in rs]):.0%} | "
                    f"{np.mean([r['steps'] for r in rs]):.0f} | {np.mean([r['violating_steps'] for r in rs]):.1f} | "
                    f"{np.mean([r['steps_changed'] for r in rs]):.1f} | {sum(r['crashed'] for r in rs)} |"
                )
    out += [
        "",
        "| executor | delay per chunk | episodes | success | time to success, s (mean) | steps (mean) | stalled s / episode |",
        "|---|---|---|---|---|---|---|",
    ]
    for name in EXECUTORS:
        for delay in DELAYS_MS:
            rs = [r for r in rows if r["part"] == "executors" and r["executor"] == name and r["delay_ms"] == delay]
            if rs:
                times = [r["time_s"] for r in rs if r["success"]]
                out.append(
                    f"| {name} | {delay} ms | {len(rs)} | {np.mean([r['success'] for r in rs]):.0%} | "
                    f"{np.mean(times) if times else float('nan'):.2f} | {np.mean([r['steps'] for r in rs]):.0f} | "
                    f"{np.mean([r['stalled_s'] for r in rs]):.2f} |"
                )
    return "\n".join(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tasks", default="mt10")
    ap.add_argument("--seeds", type=int, default=10, help="episodes per task and condition")
    ap.add_argument("--parts", default="safety,executors")
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / "episodes.jsonl"
    rows = [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []
    done = {key(r) for r in rows}
    todo = [
        j for j in jobs(resolve_tasks(args.tasks), list(range(SEED_START, SEED_START + args.seeds)), args.parts.split(",")) if j not in done
    ]
    start = time.time()
    with path.open("a") as f:
        for i, (part, task, seed, a, b) in enumerate(todo):
            row = safety_episode(task, seed, a, b) if part == "safety" else executor_episode(task, seed, a, b)
            f.write(json.dumps(row) + "\n")
            f.flush()
            rows.append(row)
            print(
                f"[{i + 1}/{len(todo)} {time.time() - start:6.0f} s] {part} {task} seed {seed} {a} {b}: "
                f"success={row['success']} steps={row['steps']}",
                flush=True,
            )
    report = tables(rows)
    (args.out / "report.md").write_text(report + "\n")
    print(report)


if __name__ == "__main__":
    main()
