"""Record rollouts of the MT10 scripted experts with injected faults, as a LeRobot dataset, so that the
world model's safety heads (issue 14, item 4) have unsafe events to learn from and be measured on.

    MUJOCO_GL=egl python benchmarks/world_model_fault_rollouts.py --out runs/wm14/faults --episodes 10

Expert demonstrations (``runs/mt10_50b``) hold almost no unsafe events; these rollouts do. Every
episode runs the expert without a safety layer for ``--steps`` steps (not stopping at success, so
success is a state that can hold, be lost or never come) with one fault, chosen by episode index:

- ``noise``: Gaussian noise, sigma 0.4 action units, on every action;
- ``release``: the gripper is forced open for 15 steps (0.19 s) once the object is lifted 4 cm with
  the fingers on it, or at a random step if that never happens (drops what is carried);
- ``press``: for 25 steps the hand is driven at full speed at a point 3 cm below the object's centre
  with the fingers closed (presses into the object, the fixture or the table: contact forces);
- ``sweep``: for 40 steps the hand is driven through the object's position at full speed, 1 cm above
  its centre (knocks it away, perhaps off the table);
- ``drift``: for 30 steps the hand moves at full speed in a random direction (goes where experts never go);
- ``box``: for 30 steps the hand is driven at full speed at the centre of the default keep-out box
  (recorded separately, ``--faults box``: without it the keep-out box is entered in only the few tasks
  whose experts pass through it, and a head learns those scenes rather than the box).

Outside the fault window every action also gets small noise (sigma 0.1), and the expert resumes
afterwards. Besides the usual features (the corner2 view at 128 px, state, touch, privileged state,
action, reward, success) each frame records the net contact force on the arm
(``observation.arm_contact``, N, world frame, [3]) and which fault was active (``wm.fault``, int64:
0 none, else 1 + index in FAULTS). Seeds start at 300000, far from demonstration and evaluation seeds.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from vlastack import keys
from vlastack.envs import make_env, resolve_tasks
from vlastack.envs.experts import expert_for
from vlastack.envs.instructions import instruction
from vlastack.envs.metaworld import ACTION_NAMES, FPS, STATE_NAMES, TOUCH_NAMES
from vlastack.episodes.writer import DatasetWriter
from vlastack.types import Episode
from vlastack.world_model.heads import FAULT

FAULTS = ("noise", "release", "press", "sweep", "drift", "box")
KEEP_OUT_CENTRE = np.array([0.2, 0.65, 0.1])
"""Centre (m) of ``HeadsConfig``'s default keep-out box, the target of the ``box`` fault."""
SEED_START = 300_000


def fault_of(i: int, faults: tuple[str, ...] = FAULTS) -> str:
    """Fault of a task's i-th episode: cycles through ``faults``, shifted by one every 5 episodes so that
    the held-out episodes (every 5th, ``vlastack wm``'s split) get every fault too, not always the same one."""
    return faults[(i + i // 5) % len(faults)]


def run_episode(env, expert, task: str, seed: int, fault: str, steps: int) -> Episode:
    rng = np.random.default_rng(seed)
    env.instruction = instruction(task, 0)
    obs, info = env.reset(seed=seed)
    start = int(rng.integers(10, 80))  # first step of the fault window (steps)
    length = {"noise": steps, "release": 15, "press": 25, "sweep": 40, "drift": 30, "box": 30}[fault]
    if fault == "noise":
        start = 0
    direction = rng.normal(size=3)
    direction /= np.linalg.norm(direction)
    obj_z0 = float(info["privileged"][6]) if "privileged" in info else None
    rows: dict[str, list] = {}
    triggered = False
    for t in range(steps):
        priv = np.asarray(info.get("privileged", np.zeros(39)), dtype=np.float64)
        if obj_z0 is None:
            obj_z0 = float(priv[6])
        a = np.asarray(expert.act(obs, info), dtype=np.float64)
        if fault == "release" and not triggered:
            lifted = priv[6] > obj_z0 + 0.04 and obs.touch is not None and float(obs.touch.sum()) > 10.0
            if lifted or t == start + 40:
                start, triggered = t, True
        active = start <= t < start + length and (fault != "release" or triggered)
        if active and fault == "noise":
            a = a + rng.normal(0.0, 0.4, 4)
        elif active and fault == "release":
            a[3] = -1.0
        elif active and fault == "press":
            # at full speed into the object, aiming 3 cm below its centre, fingers closed
            to = priv[4:7] - np.array([0.0, 0.0, 0.03]) - priv[0:3]
            a = np.r_[to / max(np.abs(to).max(), 1e-6), 1.0]
        elif active and fault == "sweep":
            # full speed through the object's centre, 1 cm above it (the mocap moves 1 cm per unit action)
            to = priv[4:7] + np.array([0.0, 0.0, 0.01]) - priv[0:3]
            a = np.r_[to / max(np.abs(to).max(), 1e-6), -1.0]
            if np.linalg.norm(to[:2]) < 0.02:  # at the object: keep going the same way
                a = np.r_[rows["_sweep"][-1], -1.0] if "_sweep" in rows else a
        elif active and fault == "drift":
            a = np.r_[direction, a[3]]
        elif active and fault == "box":
            to = KEEP_OUT_CENTRE - priv[0:3]
            a = np.r_[to / max(np.abs(to).max(), 1e-6), a[3]]
        if not active:
            a = a + rng.normal(0.0, 0.1, 4)
        a = np.clip(a, -1.0, 1.0).astype(np.float32)
        if fault == "sweep" and active:
            rows.setdefault("_sweep", []).append(a[:3].astype(np.float64))
        for cam, img in obs.images.items():
            rows.setdefault(keys.image_key(cam), []).append(img)
        rows.setdefault(keys.STATE, []).append(obs.state)
        rows.setdefault(keys.TOUCH, []).append(obs.touch)
        rows.setdefault(keys.ARM_CONTACT, []).append(obs.arm_contact)
        rows.setdefault(keys.ENV_STATE, []).append(priv.astype(np.float32))
        rows.setdefault(FAULT, []).append(np.array([1 + FAULTS.index(fault) if active else 0], dtype=np.int64))
        obs, reward, _, _, info = env.step(a)
        rows.setdefault(keys.ACTION, []).append(a)
        rows.setdefault(keys.REWARD, []).append(np.float32(reward))
        rows.setdefault(keys.SUCCESS, []).append(np.bool_(info["success"]))
    rows.pop("_sweep", None)
    frames = {k: np.stack(v) for k, v in rows.items()}
    return Episode(
        task=env.instruction,
        frames=frames,
        fps=FPS,
        success=bool(frames[keys.SUCCESS].any()),
        seed=seed,
        env_task=task,
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, required=True, help="new dataset directory")
    ap.add_argument("--tasks", default="mt10")
    ap.add_argument("--episodes", type=int, default=10, help="episodes per task (faults cycle over them)")
    ap.add_argument("--steps", type=int, default=150, help="steps per episode (1.9 s at 80 Hz)")
    ap.add_argument("--faults", default=",".join(FAULTS[:5]), help="comma-separated faults to cycle through")
    ap.add_argument("--seed-start", type=int, default=SEED_START, help="reset seed of each task's first episode")
    args = ap.parse_args()
    names = {keys.STATE: STATE_NAMES, keys.ACTION: ACTION_NAMES, keys.TOUCH: TOUCH_NAMES, keys.ARM_CONTACT: ["fx_n", "fy_n", "fz_n"]}
    writer = DatasetWriter(args.out, robot_type="sawyer", feature_names=names)
    done = {(r["vlastack/env_task"], int(r["vlastack/seed"])) for r in writer.episode_rows()}
    faults = tuple(args.faults.split(","))
    unknown = sorted(set(faults) - set(FAULTS))
    if unknown:
        raise SystemExit(f"unknown faults {unknown}; known: {list(FAULTS)}")
    t0 = time.perf_counter()
    for task in resolve_tasks(args.tasks):
        env = make_env(task, cameras=("corner2",), image_size=128, max_steps=args.steps, terminate_on_success=False)
        expert = expert_for(task)
        for i in range(args.episodes):
            seed = args.seed_start + i
            if (task, seed) in done:
                continue
            ep = run_episode(env, expert, task, seed, fault_of(i, faults), args.steps)
            writer.add_episode(ep)
            print(f"{task} seed {seed} {fault_of(i, faults)}: success {ep.success}, {time.perf_counter() - t0:.0f} s", flush=True)
        env.close()


if __name__ == "__main__":
    main()
