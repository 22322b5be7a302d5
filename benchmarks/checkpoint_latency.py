"""Milliseconds per chunk of saved policies, on a synthetic observation with every camera the policy reads.

    OMP_NUM_THREADS=1 python benchmarks/checkpoint_latency.py --threads 1 --runs 200 CHECKPOINT [CHECKPOINT ...]

``benchmarks/policy_latency.py`` times presets with untrained weights; this times checkpoints as they were
trained (their cameras, e.g. ``corner2`` + ``corner2_hand``, and their instruction cache). Batch 1, random
128 px frames, 20 warm-up calls, then ``--runs`` timed calls of ``sample_actions``; p50 and p99 in ms.
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
        for _ in range(20):
            policy.sample_actions(batch)
        times = []
        for _ in range(args.runs):
            start = time.perf_counter()
            policy.sample_actions(batch)
            times.append((time.perf_counter() - start) * 1e3)
        print(
            f"{path}  cameras {','.join(c.cameras)}  threads {args.threads}  p50 {np.percentile(times, 50):.2f} ms  p99 {np.percentile(times, 99):.2f} ms"
        )


if __name__ == "__main__":
    main()
