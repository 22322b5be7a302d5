"""Does a policy's motion depend on where the object and goal are? A causal-confusion check.

Meta-World's scripted experts all start from the same hand position and move roughly straight at
their target, so during training the hand's own position (in the state and in the image) already
tells which way the demonstration was heading. A policy can fit the demonstrations by continuing
its own motion instead of looking at the 1-2 pixel goal: the shortcut that imitation learning calls
causal confusion (de Haan et al., 2019). This benchmark measures it on seeds never used for training
or evaluation (300000+ by default):

* first chunk: at the reset observation (no motion yet, so no shortcut), the mean xyz of the policy's
  first ``--steps`` actions against the mean of the expert's first ``--steps`` actions from the same
  start, per axis: correlation across seeds and the ratio of their spreads (std policy / std expert).
  A policy that ignores the target has correlation near 0 and a ratio near 0.
* with ``--rollout``: the policy drives a whole episode (sync executor, no safety layer); reported are
  success, the spread of the final hand positions across seeds against the spread of the goals, and
  the closest the hand came to the goal. Final hands that all land on one point are an attractor that
  does not depend on the goal.

    python benchmarks/goal_dependence.py --checkpoint runs/mt10/l1/checkpoints/step_00024000 \\
        --tasks reach-v3,push-v3,pick-place-v3,drawer-open-v3 --seeds 30 [--rollout 6]
"""

from __future__ import annotations

import argparse
import json

import numpy as np
import torch

from vlastack.envs.experts import expert_for
from vlastack.envs.metaworld import make_env
from vlastack.policies import load_policy
from vlastack.policies.base import batch_from_observation

GOAL = slice(36, 39)
"""The goal's xyz (metres) in Meta-World's 39-d privileged state."""


def first_chunk(policy, env, task: str, seeds: range, steps: int) -> dict:
    """Per-axis correlation and spread ratio of the policy's and the expert's first ``steps`` xyz actions."""
    expert = expert_for(task)
    ours, theirs = [], []
    for s in seeds:
        obs, info = env.reset(seed=s)
        ours.append(policy.sample_actions(batch_from_observation(obs)).actions[0][:steps, :3].mean(0))
        acts = []
        for _ in range(steps):
            a = expert.act(obs, info)
            acts.append(a[:3])
            obs, _, _, _, info = env.step(a)
        theirs.append(np.mean(acts, 0))
    p, e = np.array(ours), np.array(theirs)
    corr = [float(np.corrcoef(p[:, i], e[:, i])[0, 1]) if p[:, i].std() > 1e-9 and e[:, i].std() > 1e-9 else 0.0 for i in range(3)]
    return {"corr_xyz": corr, "spread_ratio_xyz": (p.std(0) / np.maximum(e.std(0), 1e-9)).tolist()}


def rollouts(policy, env, seeds: range, execute: int) -> dict:
    """Success, final-hand spread against goal spread (cm), and closest approach to the goal (cm)."""
    finals, goals, closest, wins = [], [], [], 0
    for s in seeds:
        obs, info = env.reset(seed=s)
        goal = np.asarray(info["privileged"][GOAL])
        best, done = np.inf, False
        while not done:
            chunk = policy.sample_actions(batch_from_observation(obs)).actions[0][:execute]
            for a in chunk:
                obs, _, term, trunc, info = env.step(a)
                best = min(best, float(np.linalg.norm(obs.state[:3] - goal)))
                if term or trunc:
                    wins += bool(info.get("success"))
                    done = True
                    break
        finals.append(obs.state[:3].copy())
        goals.append(goal)
        closest.append(best)
    f, g = np.array(finals), np.array(goals)
    return {
        "success": wins / len(finals),
        "final_hand_spread_cm": float(np.linalg.norm(f.std(0)) * 100),
        "goal_spread_cm": float(np.linalg.norm(g.std(0)) * 100),
        "closest_to_goal_cm": float(np.mean(closest) * 100),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--checkpoint", required=True)
    ap.add_argument("--tasks", default="reach-v3,push-v3,pick-place-v3,drawer-open-v3")
    ap.add_argument("--seeds", type=int, default=30, help="starts per task for the first-chunk check")
    ap.add_argument("--seed-offset", type=int, default=300_000, help="first seed (default: a range no run trains or evaluates on)")
    ap.add_argument("--steps", type=int, default=8, help="actions averaged at the start")
    ap.add_argument("--rollout", type=int, default=0, help="also drive this many whole episodes per task")
    ap.add_argument("--execute", type=int, default=None, help="actions run per chunk in rollouts (default: the checkpoint's)")
    args = ap.parse_args()
    torch.set_num_threads(1)
    policy = load_policy(args.checkpoint).eval()
    c = policy.config
    execute = args.execute or c.execute_steps or c.horizon
    rows = {}
    for task in args.tasks.split(","):
        env = make_env(task, cameras=tuple(c.cameras), image_size=c.image_size[0], touch=c.use_touch, depth=c.use_depth)
        row = first_chunk(policy, env, task, range(args.seed_offset, args.seed_offset + args.seeds), args.steps)
        if args.rollout:
            row.update(rollouts(policy, env, range(args.seed_offset, args.seed_offset + args.rollout), execute))
        env.close()
        rows[task] = row
        print(json.dumps({task: row}), flush=True)
    print(json.dumps({"checkpoint": args.checkpoint, "tasks": rows}, indent=1))


if __name__ == "__main__":
    main()
