"""Where the arm actually goes under fuzzed action streams: the measured hand against the workspace
walls and a keep-out box, every step, in the real simulator.

    python benchmarks/safety_reached_fuzz.py --steps 100000 --out runs/safety_reached_fuzz.json

Meta-World tasks (no cameras; objects, doors and tables are there to push against), the
``metaworld_sawyer`` spec plus one keep-out box (10 cm cube centred at (0.2, 0.75, 0.15) m, away
from where the hand starts). Each episode (500 steps) is a stream of segments of 5-80 steps, each
one of:

- ``wall``: straight at a random workspace face (or corner), magnitude 0.1-1.0, some of it
  saturated (entries up to 1.3, which the layer clips);
- ``box``: straight at the keep-out box;
- ``wander``: a random direction and magnitude;
- ``noise``: Gaussian action noise (sigma 0.6) every step;
- ``flip``: full-scale direction reversals every 1-3 steps (jerk);
- ``invalid``: NaN actions (the layer holds).

Reported: steps; the largest distance the measured hand (``state[:3]``) got beyond a workspace
wall and into the box (mm; bar: 2 mm); steps the hand spent beyond a wall or inside the box;
stalled steps (the proposal was valid and moved, the layer let no translation through although
part of it pointed back inside or along the walls or boxes it is at; a motion scaled to zero by a
speed, acceleration or target-lead limit, or removed by the contact-force limit, is not counted); held steps.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from vlastack.envs import make_env
from vlastack.evaluation.limits import beyond_box_m, inside_box_m
from vlastack.safety import SAFETY_INFO_KEY, SafeActuator, load_spec
from vlastack.safety.faults import with_keep_out
from vlastack.safety.spec import Box

TASKS = ("reach-v3", "push-v3", "door-open-v3", "pick-place-v3", "button-press-topdown-v3", "drawer-close-v3", "sweep-into-v3")
BOX_CENTER, BOX_HALF = np.array([0.2, 0.75, 0.15]), 0.05
EPISODE_STEPS = 500
MODES = ("wall", "wall", "box", "wander", "noise", "flip", "invalid")


def segment(rng: np.random.Generator, p: np.ndarray, spec) -> tuple[str, int, np.ndarray]:
    """A mode, its length in steps, and its base direction (action units, [3])."""
    mode = str(rng.choice(MODES))
    steps = int(rng.integers(5, 81))
    if mode == "invalid":
        steps = int(rng.integers(1, 6))
    magnitude = float(rng.choice([0.1, 0.25, 0.5, 0.75, 1.0, 1.3]))
    if mode == "wall":
        d = np.zeros(3)
        for axis in rng.choice(3, size=int(rng.integers(1, 3)), replace=False):  # a face or an edge
            d[axis] = rng.choice([-1.0, 1.0])
        d += rng.normal(0.0, 0.2, 3)  # not exactly along the normal
    elif mode == "box":
        d = BOX_CENTER - p + rng.normal(0.0, 0.02, 3)
    else:
        d = rng.normal(0.0, 1.0, 3)
    d = d / max(np.max(np.abs(d)), 1e-9) * magnitude
    return mode, steps, d


def stalled(proposed: np.ndarray, sent: np.ndarray, interventions: list[dict]) -> bool:
    """Valid, moving proposal; nothing of its translation sent; some moving axis was never limited by a wall or box."""
    if not np.all(np.isfinite(proposed)) or not np.any(proposed[:3] != 0.0) or np.any(sent[:3] != 0.0):
        return False
    limited = set()
    for item in interventions:
        limit, message = item["limit"], item["message"]
        if limit.startswith("workspace.") and "[" in limit:
            limited.add(int(limit[limit.index("[") + 1]))
        elif limit.startswith("keep_out"):
            limited.update(i for i, a in enumerate("xyz") if f"{a} motion" in message or "only the motion out" in message)
        elif limit.startswith("motion.") or limit == "tracking.max_lead_m":
            limited.update(range(3))  # scales all axes (waiting for the hand to catch up): not a wall stall
        elif limit.startswith("contact."):
            # The motion into an overloaded contact is removed (the fuzz keeps driving into it): a limit
            # at work, not a stall (seed 1: 18 such steps, pressed at 905-960 N into door-open's door and
            # button-press's box, were counted as stalls before this line).
            limited.update(range(3))
    return any(proposed[i] != 0.0 and i not in limited for i in range(3))


def run(steps_total: int, seed: int, spec_name: str) -> dict:
    base = load_spec(spec_name)
    box = Box(tuple(BOX_CENTER - BOX_HALF), tuple(BOX_CENTER + BOX_HALF), name="fuzz probe")
    spec = with_keep_out(base, box)
    wl, wh = np.asarray(spec.workspace.low), np.asarray(spec.workspace.high)
    bl, bh = np.asarray(box.low), np.asarray(box.high)
    rng = np.random.default_rng(seed)
    totals = {"steps": 0, "episodes": 0, "max_wall_mm": 0.0, "max_box_mm": 0.0, "steps_beyond_wall": 0, "steps_inside_box": 0}
    totals.update({"steps_beyond_wall_2mm": 0, "stalled_steps": 0, "held_steps": 0, "per_task": {}})
    envs = {
        task: SafeActuator(make_env(task, cameras=(), image_size=16, max_steps=EPISODE_STEPS, terminate_on_success=False), spec)
        for task in TASKS
    }
    episode = 0
    while totals["steps"] < steps_total:
        task = TASKS[episode % len(TASKS)]
        actuator = envs[task]
        obs, _ = actuator.reset(seed=seed * 100_000 + episode)
        row = totals["per_task"].setdefault(task, {"steps": 0, "max_wall_mm": 0.0, "max_box_mm": 0.0})
        left, mode, direction = 0, "wander", np.zeros(3)
        for _ in range(EPISODE_STEPS):
            p = np.asarray(obs.state[:3], dtype=np.float64)
            if left == 0:
                mode, left, direction = segment(rng, p, spec)
            left -= 1
            if mode == "invalid":
                proposal = np.full(4, np.nan)
            else:
                move = direction.copy()
                if mode == "noise":
                    move = move + rng.normal(0.0, 0.6, 3)
                elif mode == "flip" and rng.random() < 0.5:
                    direction = -direction
                    move = direction
                proposal = np.r_[move, rng.uniform(-1.0, 1.0)]
            obs, _, terminated, truncated, info = actuator.step(proposal.astype(np.float32))
            decision = info[SAFETY_INFO_KEY]
            q = np.asarray(obs.state[:3], dtype=np.float64)
            wall, inside = 1000.0 * beyond_box_m(q, wl, wh), 1000.0 * inside_box_m(q, bl, bh)  # mm
            totals["steps"] += 1
            row["steps"] += 1
            totals["max_wall_mm"] = max(totals["max_wall_mm"], wall)
            totals["max_box_mm"] = max(totals["max_box_mm"], inside)
            row["max_wall_mm"] = max(row["max_wall_mm"], wall)
            row["max_box_mm"] = max(row["max_box_mm"], inside)
            totals["steps_beyond_wall"] += wall > 0.0
            totals["steps_beyond_wall_2mm"] += wall > 2.0
            totals["steps_inside_box"] += inside > 0.0
            totals["held_steps"] += bool(decision["held"])
            totals["stalled_steps"] += stalled(proposal, np.asarray(decision["action"], dtype=np.float64), decision["interventions"])
            if terminated or truncated:
                break
        episode += 1
        totals["episodes"] = episode
    for actuator in envs.values():
        actuator.close()
    return totals


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=100_000, help="real simulator steps in all")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--spec", default="metaworld_sawyer")
    parser.add_argument("--out", type=Path, default=Path("runs/safety_reached_fuzz.json"))
    args = parser.parse_args()
    t0 = time.perf_counter()
    totals = run(args.steps, args.seed, args.spec)
    totals["seconds"] = round(time.perf_counter() - t0, 1)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(totals, indent=1))
    print("| task | steps | max beyond a wall (mm) | max inside the box (mm) |\n|---|---|---|---|")
    for task, r in totals["per_task"].items():
        print(f"| {task} | {r['steps']} | {r['max_wall_mm']:.1f} | {r['max_box_mm']:.1f} |")
    print(
        f"\n{totals['steps']} steps, {totals['episodes']} episodes, {totals['seconds']} s: max {totals['max_wall_mm']:.1f} mm "
        f"beyond a wall, {totals['max_box_mm']:.1f} mm inside the box (bar: 2 mm); steps beyond a wall "
        f"{totals['steps_beyond_wall']} (by more than 2 mm: {totals['steps_beyond_wall_2mm']}), inside the box "
        f"{totals['steps_inside_box']}; stalled {totals['stalled_steps']}, held {totals['held_steps']}"
    )


if __name__ == "__main__":
    main()
