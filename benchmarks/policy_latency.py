"""Parameters, training throughput and per-chunk inference latency of every policy preset.

    python benchmarks/policy_latency.py                      # 2 CPU threads, all presets
    python benchmarks/policy_latency.py --dataset data/mt10  # fit the action tokenizers on real actions
    python benchmarks/policy_latency.py --presets hybrid --threads 1 --runs 300

Latency is the wall-clock time of ``policy.sample_actions`` for a batch of 1 (one 96x96 corner2
image, 4-d state, a cached instruction), horizon 16: vision + backbone once, then the Euler steps
of the expert (flow, hybrid) or greedy decoding of action tokens with a KV cache (bins, fast).
Token variants' latency depends on how many tokens they emit: untrained weights would stop at a
random EOS, so decoding is made to emit exactly the mean token count of the chunks the tokenizer
was fitted on (bins: 64; FAST: data-dependent, pass --dataset to fit it on real actions). Training throughput is forward + backward + AdamW step on
batches of --train-batch fake samples. Prints a markdown table; the machine is shared, so the load
average is printed beside it (numbers taken under load are slower and noisier).
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from dataclasses import replace

import numpy as np
import torch

from vlastack import keys
from vlastack.policies import PRESETS, VLAConfig, VLAPolicy, make_policy
from vlastack.policies.base import fake_samples, stack_samples
from vlastack.policies.components.token_head import make_action_tokenizer
from vlastack.policies.normalize import stats_from_arrays
from vlastack.policies.untrained import untrained_policy
from vlastack.train_config import TrainConfig
from vlastack.training.optim import make_optimizer


def build(name: str, text_encoder: str | None, chunks: np.ndarray | None) -> tuple[VLAPolicy, np.ndarray]:
    cfg = PRESETS.get(name).policy
    if text_encoder:
        cfg = replace(cfg, text_encoder=text_encoder)
    samples = fake_samples(cfg, 256, seed=0)
    actions = np.stack([s[keys.ACTION].numpy() for s in samples])
    stats = stats_from_arrays({keys.STATE: np.stack([s[keys.STATE].numpy() for s in samples]), keys.ACTION: actions})
    tok = None
    if cfg.uses_tokens:
        tok = make_action_tokenizer(cfg.tokenizer_kind, chunks if chunks is not None else actions)
    torch.manual_seed(0)
    return make_policy(cfg, stats=stats, **({"tokenizer": tok} if tok is not None else {})), (chunks if chunks is not None else actions)


def fix_decode_length(policy: VLAPolicy, chunks: np.ndarray) -> int:
    """Make greedy decoding emit exactly the mean token count of ``chunks`` (untrained weights would stop
    at a random EOS or run to the cap): EOS is banned and the cap set to that count. Returns the count."""
    sample = chunks[np.linspace(0, len(chunks) - 1, min(len(chunks), 2000)).astype(int)]
    n = int(np.ceil(np.mean([len(t) for t in policy.tokenizer.encode_batch(sample.astype(np.float64))])))
    head = policy.token_head
    allowed = head.vocab.allowed_after_bos

    def no_eos(device):
        mask = allowed(device)
        mask[head.vocab.eos] = False
        return mask

    head.vocab.allowed_after_bos = no_eos
    head.max_tokens = n - 1  # _generate emits max_tokens + 1 tokens
    return n


def latency(policy: VLAPolicy, runs: int, **kwargs) -> tuple[float, float]:
    """(p50, p99) wall-clock milliseconds per chunk for a batch of one (packed CPU inference path, as evaluation and serving run)."""
    policy.pack_for_inference()
    batch = stack_samples(fake_samples(policy.config, 1, seed=1, with_action=False))
    for _ in range(10):
        policy.sample_actions(batch, **kwargs)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        policy.sample_actions(batch, **kwargs)
        times.append((time.perf_counter() - start) * 1e3)
    return float(np.percentile(times, 50)), float(np.percentile(times, 99))


def calibration() -> str:
    """Two fixed workloads, so that tables taken at different times on a shared machine can be compared."""
    a, w, big = torch.randn(16, 96), torch.randn(96, 576), torch.randn(256, 256)

    def us(fn, n: int) -> float:
        for _ in range(20):
            fn()
        start = time.perf_counter()
        for _ in range(n):
            fn()
        return (time.perf_counter() - start) / n * 1e6

    with torch.inference_mode():
        return f"calibration: 16x96 @ 96x576 matmul {us(lambda: a @ w, 2000):.1f} us, 256^3 matmul {us(lambda: big @ big, 200):.0f} us"


def train_throughput(policy: VLAPolicy, batch_size: int, steps: int) -> float:
    policy.train()
    opt = make_optimizer(policy, TrainConfig())
    batches = [stack_samples(fake_samples(policy.config, batch_size, seed=i)) for i in range(2)]
    for i in range(2 + steps):
        if i == 2:
            start = time.perf_counter()
        loss = policy.compute_loss(batches[i % 2]).mean()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(policy.parameters(), 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
    return batch_size * steps / (time.perf_counter() - start)


def breakdown(policy: VLAPolicy, runs: int = 50) -> str:
    """Milliseconds of prefix embedding (vision + text + state), backbone, and the expert's Euler loop."""
    policy.pack_for_inference()
    batch = stack_samples(fake_samples(policy.config, 1, seed=1, with_action=False))

    def ms(fn) -> float:
        for _ in range(5):
            fn()
        start = time.perf_counter()
        for _ in range(runs):
            fn()
        return (time.perf_counter() - start) * 1e3 / runs

    with torch.inference_mode():
        prefix = policy.embed_prefix(batch)
        parts = {"prefix embedding": ms(lambda: policy.embed_prefix(batch)), "backbone": ms(lambda: policy.backbone(prefix))}
        if policy.expert is not None:
            ctx = policy._expert_context(policy.backbone(prefix)[1])
            x = torch.randn(1, policy.config.horizon, policy.config.max_action_dim)
            steps = policy.config.num_inference_steps
            parts[f"expert ({steps} Euler steps)"] = ms(lambda: policy.expert.sample(ctx, x, steps))
    return ", ".join(f"{k} {v:.2f} ms" for k, v in parts.items()) + f" (prefix {prefix.shape[1]} tokens)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presets", nargs="*", default=["bins", "fast", "flow", "hybrid"])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--runs", type=int, default=200, help="timed chunks per flow variant (token variants: a quarter)")
    parser.add_argument("--train-batch", type=int, default=32)
    parser.add_argument("--train-steps", type=int, default=5)
    parser.add_argument("--text-encoder", default=None, help="override the presets' text encoder (minilm or hash)")
    parser.add_argument("--dataset", default=None, help="fit the action tokenizers on this dataset's actions")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    chunks = None
    if args.dataset:
        from vlastack.episodes.reader import DatasetReader
        from vlastack.tokenizers import make_chunks, subsample

        chunks = subsample(make_chunks(DatasetReader(args.dataset).episode_actions(), 16), 20_000)

    load_before = os.getloadavg()[0]
    rows, notes = [], []
    for name in args.presets:
        if not isinstance(PRESETS.get(name).policy, VLAConfig):  # another family: the contract only
            policy = untrained_policy(
                replace(PRESETS.get(name).policy, **({"text_encoder": args.text_encoder} if args.text_encoder else {}))
            )
            params = sum(p.numel() for p in policy.parameters())
            p50, p99 = latency(policy, args.runs)
            sps = train_throughput(policy, args.train_batch, args.train_steps)
            rows.append(f"| {name} | {params / 1e6:.2f} M | {sps:.0f} | {p50:.2f} | {p99:.2f} | one forward pass ({policy.policy_name}) |")
            continue
        policy, fitted_on = build(name, args.text_encoder, chunks)
        c = policy.config
        params = sum(p.numel() for p in policy.parameters())
        n_tokens = fix_decode_length(policy, fitted_on) if c.acts_with == "tokens" else 0
        runs = args.runs if c.acts_with == "flow" else max(10, args.runs // 4)
        p50, p99 = latency(policy, runs)
        sps = train_throughput(policy, args.train_batch, args.train_steps)
        head = (
            f"{c.num_inference_steps} Euler steps" if c.acts_with == "flow" else f"greedy decoding of {n_tokens} {c.tokenizer_kind} tokens"
        )
        rows.append(f"| {name} | {params / 1e6:.2f} M | {sps:.0f} | {p50:.2f} | {p99:.2f} | {head} |")
        if c.uses_flow:
            notes.append(f"- {name}: {breakdown(policy)}")
            if c.num_inference_steps != 10:  # openpi's step count, for comparison
                p50, p99 = latency(policy, runs, num_steps=10)
                rows.append(f"| {name}, 10 steps | same | same | {p50:.2f} | {p99:.2f} | 10 Euler steps (sample_actions(num_steps=10)) |")
    load_after = os.getloadavg()[0]
    calib = calibration()

    print(
        f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, torch {torch.__version__}, "
        f"{args.threads} threads; load average {load_before:.2f} before, {load_after:.2f} after; {calib}."
    )
    print(f"Batch 1, horizon 16, 96x96 corner2 image, cached instruction; training batch {args.train_batch}.\n")
    print("| preset | parameters | train samples/s | p50 ms/chunk | p99 ms/chunk | actions from |")
    print("|---|---|---|---|---|---|")
    print("\n".join(rows))
    print("\nBreakdown (batch 1, means):\n" + "\n".join(notes))


if __name__ == "__main__":
    main()
