"""What the hierarchical policy's explanation costs per re-plan: time and reply bytes.

    python benchmarks/explanation_latency.py                                # untrained `hier` preset, hash text encoder
    python benchmarks/explanation_latency.py --checkpoint runs/hier16/hier/checkpoints/step_00003000 --runs 300

Times, per ``sample_actions`` call at batch 1 (one re-plan): the whole call, the factored plan head's
look-ahead (the "and then?" questions that spell out the rest of the plan) and building the
explanation (the reason's words from the chunk's actions), each measured inside the same calls by
wrapping those two functions. Also the msgpack bytes the explanation adds to a server reply. An
untrained policy's done-detector and plan head make arbitrary picks, so the look-ahead's length (and
its cost, up to MAX_PLAN_STEPS - 1 tiny MLP calls) varies from a trained one's: the plan length is
printed. The machine's load average is printed beside the numbers.
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from dataclasses import replace

import numpy as np
import torch

from vlastack.policies import PRESETS, fake_batch, load_policy
from vlastack.policies.hier import model as hier_model
from vlastack.policies.untrained import untrained_policy
from vlastack.serving import msgpack_numpy
from vlastack.serving.protocol import explanation_reply


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--preset", default="hier")
    parser.add_argument("--checkpoint", default=None, help="a trained hier checkpoint instead of an untrained preset")
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--reset-every", type=int, default=4, help="calls per episode (the suite's tasks have 2 to 4 stages)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.checkpoint:
        policy = load_policy(args.checkpoint)
    else:  # the word-hash encoder: no MiniLM download; the text is cached either way
        policy = untrained_policy(replace(PRESETS.get(args.preset).policy, text_encoder="hash"), samples=64)
    policy.pack_for_inference()
    spent = {"look_ahead": [], "words": []}

    def timed(name, fn):
        def wrapper(*a, **k):
            start = time.perf_counter()
            out = fn(*a, **k)
            spent[name][-1] += (time.perf_counter() - start) * 1e3
            return out

        return wrapper

    policy._look_ahead = timed("look_ahead", policy._look_ahead)
    hier_model.explanation = timed("words", hier_model.explanation)
    batch = fake_batch(policy.config, batch_size=1, seed=0, with_action=False)
    total, plan_lengths, ahead, reply_bytes = [], [], [], []
    load_before = os.getloadavg()[0]
    for i in range(args.runs + 10):
        if i % args.reset_every == 0:
            policy.reset()  # a new episode: the look-ahead has the most to spell out at its first re-plan
        for times in spent.values():
            times.append(0.0)
        start = time.perf_counter()
        chunk = policy.sample_actions(batch)
        total.append((time.perf_counter() - start) * 1e3)
        e = chunk.explanations[0]
        plan_lengths.append(len(e.plan))
        ahead.append(len(e.plan) - e.plan_index - 1)
        reply_bytes.append(len(msgpack_numpy.packb(explanation_reply(e))))
    warm = slice(10, None)  # the first calls pay for allocation and caches

    def stats(xs) -> str:
        xs = np.asarray(xs[warm])
        return f"p50 {np.percentile(xs, 50):.3f} ms, p99 {np.percentile(xs, 99):.3f} ms, max {xs.max():.3f} ms"

    print(
        f"{args.checkpoint or args.preset} (head {policy.config.head}), {args.runs} calls, {args.threads} thread(s), {os.cpu_count()} CPUs, {platform.machine()}"
    )
    print(f"load average before/after: {load_before:.2f} / {os.getloadavg()[0]:.2f}")
    print(f"sample_actions: {stats(total)}")
    print(f"  of which look-ahead: {stats(spent['look_ahead'])}")
    print(f"  of which explanation words: {stats(spent['words'])}")
    share = (np.asarray(spent["look_ahead"][warm]) + np.asarray(spent["words"][warm])) / np.asarray(total[warm])
    print(f"explanation share of the call: median {np.median(share):.1%}")
    print(
        f"plan length: mean {np.mean(plan_lengths[warm]):.2f}, of which predicted ahead {np.mean(ahead[warm]):.2f}; "
        f"reply bytes added: median {np.median(reply_bytes[warm]):.0f}"
    )
    print(f"example reason: {chunk.explanations[0].reason}")


if __name__ == "__main__":
    main()
