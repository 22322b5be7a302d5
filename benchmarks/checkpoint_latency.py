"""Milliseconds per chunk of saved policies, on a synthetic observation with every camera the policy reads.

    OMP_NUM_THREADS=1 python benchmarks/checkpoint_latency.py --threads 1 --runs 200 CHECKPOINT [CHECKPOINT ...]

``benchmarks/policy_latency.py`` times presets with untrained weights; this times checkpoints as they were
trained (their cameras, e.g. ``corner2`` + ``corner2_hand``, and their instruction cache). Batch 1, random
128 px frames, 20 warm-up calls, then ``--runs`` timed calls of ``sample_actions``; p50 and p99 in ms.

``--new-episode``: ``reset()`` before every timed call, so each is an episode's first chunk: with a grounding
(``vlastack ground``) and words the policy was not trained on, that is the call that reads them (one more trunk
pass for the scene; the sentence vector is cached after the process's first). The very first call of the process,
which also loads MiniLM and embeds the words, is printed apart.

    python benchmarks/checkpoint_latency.py --threads 2 --new-episode --instruction "cap the container with its top" src/vlastack/assets/demo_policy
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from vlastack.policies import batch_from_observation, load_policy
from vlastack.types import Observation


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("checkpoints", nargs="+", help="Policy directories (a checkpoint or an export).")
    ap.add_argument("--threads", type=int, default=1, help="torch intra-op threads.")
    ap.add_argument("--runs", type=int, default=200, help="Timed calls per policy.")
    ap.add_argument("--instruction", default="pick up the puck and place it at the goal", help="Instruction text.")
    ap.add_argument("--new-episode", action="store_true", help="reset() before every call: time episodes' first chunks.")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    rng = np.random.default_rng(0)
    for path in args.checkpoints:
        policy = load_policy(path).pack_for_inference()
        c = policy.config
        images = {cam: rng.integers(0, 256, (128, 128, 3), dtype=np.uint8) for cam in c.cameras}
        obs = Observation(
            images=images, depth={}, state=np.zeros(4, np.float32), instruction=args.instruction, touch=None, arm_contact=None
        )
        batch = batch_from_observation(obs)
        start = time.perf_counter()
        chunk = policy.sample_actions(batch)
        first_ms = (time.perf_counter() - start) * 1e3
        for _ in range(20):
            policy.sample_actions(batch)
        times = []
        for _ in range(args.runs):
            if args.new_episode:
                policy.reset()
            start = time.perf_counter()
            policy.sample_actions(batch)
            times.append((time.perf_counter() - start) * 1e3)
        grounded = chunk.info.get("grounded_task")
        print(
            f"{path}  cameras {','.join(c.cameras)}  threads {args.threads}  {'first chunks of episodes' if args.new_episode else 'every chunk'}"
            f"  p50 {np.percentile(times, 50):.2f} ms  p99 {np.percentile(times, 99):.2f} ms  first call of the process {first_ms:.0f} ms"
            + (f"  (grounded to {grounded})" if grounded else "")
        )


if __name__ == "__main__":
    main()
