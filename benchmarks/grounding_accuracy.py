"""How often a policy's instruction grounding picks the task an instruction in new words asks for.

For every task and start (validation seeds by default: 200000, 200001, ...), the policy is reset and given
the task's instruction in the wording ``--variant`` (5: the dev wording, for choices; 4: the unseen wording,
the test; 3: the held-out phrasing); ``Policy.ground_batch`` reads it on the first frame, exactly as when
acting. Reported per way of reading (words and scene as fitted; words only; scene only, i.e. the nearest
centroid): the share of (task, start) pairs grounded to the right task, and the wrong picks. Open loop, no
episode is run; the closed-loop success is what ``vlastack eval`` measures.

    python benchmarks/grounding_accuracy.py --checkpoint runs/mt10/export_hand_s0 --tasks mt10 --variant 5
"""

from __future__ import annotations

import argparse
import json
from collections import Counter

import torch


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--checkpoint", required=True, help="a policy directory with grounding.safetensors (vlastack ground)")
    ap.add_argument("--tasks", default="mt10")
    ap.add_argument("--variant", type=int, default=5, help="instruction wording: 5 dev, 4 unseen, 3 held out")
    ap.add_argument("--starts", type=int, default=5, help="starts per task")
    ap.add_argument("--seed-offset", type=int, default=200000, help="first start's seed (validation range by default)")
    ap.add_argument("--scene-weights", default="", help="comma-separated scene weights to compare (default: the fitted one)")
    args = ap.parse_args()

    from vlastack.envs.instructions import instruction
    from vlastack.envs.metaworld import make_env
    from vlastack.envs.tasks import resolve_tasks
    from vlastack.policies import batch_from_observation, load_policy

    torch.set_num_threads(1)
    policy = load_policy(args.checkpoint).pack_for_inference()
    g = policy.grounding
    if g is None:
        raise SystemExit(f"{args.checkpoint} has no grounding: run vlastack ground --checkpoint {args.checkpoint} first")
    c = policy.config
    encoder = policy._text_caches()[0]
    samples = []  # (task, text vector, scene vector)
    for task in resolve_tasks(args.tasks):
        env = make_env(
            task,
            cameras=tuple(c.cameras),
            image_size=int(policy.recorded_image_size[0]),
            depth=bool(c.use_depth),
            instruction_variant=args.variant,
        )
        text = instruction(task, args.variant)
        vector = encoder.encode([text])[0]
        for seed in range(args.seed_offset, args.seed_offset + args.starts):
            observation, _ = env.reset(seed=seed)
            policy.reset()
            batch = batch_from_observation([observation] * int(getattr(c, "obs_history", 1)))
            samples.append((task, vector, policy.scene_vector(batch)[0] if g.scene is not None else None))
            assert policy.ground_batch(batch)[1][0].task == g.ground(text, vector, samples[-1][2]).task  # same path as acting
        env.close()
    weights = [float(w) for w in args.scene_weights.split(",") if w] or [g.scene_weight]
    ways = [(f"words + scene (weight {w})", w, True) for w in weights] if g.scene is not None else []
    ways += [("words only", 0.0, False)]
    if g.scene is not None:
        ways += [("scene only (nearest centroid)", None, True)]
    rows = []
    for name, weight, scene in ways:
        wrong: Counter = Counter()
        for task, vector, sv in samples:
            if weight is None:  # nearest centroid in units of each task's radius
                pick = g.task_names[int(g.scene_distances(sv).argmin())]
            else:
                pick = g.task_names[int(g.scores(vector, sv if scene else None, weight).argmax())]
            if pick != task:
                wrong[f"{task}->{pick}"] += 1
        right = len(samples) - sum(wrong.values())
        rows.append({"way": name, "right": right, "of": len(samples), "wrong": dict(wrong)})
    print(json.dumps({"checkpoint": args.checkpoint, "tasks": args.tasks, "variant": args.variant, "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
