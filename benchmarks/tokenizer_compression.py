"""Action tokenizers on real demonstrations: tokens per chunk, compression against binning, error, speed.

Fits binning (the baseline, 256 bins) and FAST at several scales for each horizon on the training
episodes (4 in 5) and measures them on the held-out episodes (every 5th), then prints a markdown table
to stdout (progress goes to stderr). Chunks start at every step, the last action repeated past an
episode's end (``--pad repeat``, what a policy trains on) or only windows inside an episode
(``--pad drop``); see ``vlastack.tokenizers.chunks``.

Where the actions come from (exactly one):

    python benchmarks/tokenizer_compression.py --dataset DIR          # a vlastack / LeRobot v3 dataset
    python benchmarks/tokenizer_compression.py --mt10-experts 50      # MT10 scripted experts run here, actions only
    python benchmarks/tokenizer_compression.py --synthetic            # smooth random walks: NOT robot data, a smoke test

``--mt10-experts N`` runs Meta-World's scripted expert on each MT10 task for reset seeds 0..N-1 (episodes
end at success or 500 steps, as in a collected dataset) and keeps only the actions; ``--cache FILE.npz``
stores them so a second run skips the simulation.
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from pathlib import Path

import numpy as np

from vlastack.tokenizers import BinningTokenizer, FastTokenizer, make_chunks, subsample
from vlastack.tokenizers.report import TokenizerReport, measure


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def dataset_episodes(root: Path) -> tuple[list[np.ndarray], str]:
    from vlastack.episodes.reader import DatasetReader

    return DatasetReader(root).episode_actions(), f"dataset `{root}`"


def expert_episodes(tasks: str, per_task: int) -> list[np.ndarray]:
    """Actions of ``per_task`` successful scripted-expert demonstrations per task, as ``vlastack collect`` keeps them.

    Like the collector, each task tries reset seeds 0, 1, 2, ... and drops the episodes its expert fails.
    """
    import warnings

    from vlastack.envs.experts import expert_for
    from vlastack.envs.metaworld import MetaWorldConfig, MetaWorldEnv
    from vlastack.envs.rollout import rollout
    from vlastack.envs.tasks import resolve_tasks

    warnings.filterwarnings("ignore", message="Constant")  # metaworld's experts warn about their gains
    episodes = []
    for task in resolve_tasks(tasks):
        env = MetaWorldEnv(MetaWorldConfig(task=task, cameras=(), touch=False))
        expert = expert_for(task)
        start, kept, seed = time.perf_counter(), 0, 0
        while kept < per_task and seed < 10 * per_task:
            result = rollout(env, expert.act, seed=seed)
            seed += 1
            if result.success:
                episodes.append(result.episode.frames["action"].astype(np.float32))
                kept += 1
        env.close()
        log(f"  {task}: {kept} demonstrations from seeds 0..{seed - 1}, {time.perf_counter() - start:.1f} s")
    return episodes


def mt10_episodes(per_task: int, cache: Path | None) -> tuple[list[np.ndarray], str]:
    source = (
        f"MT10 scripted-expert demonstrations, {per_task} successful per task (reset seeds from 0, failures dropped, "
        "as `vlastack collect` keeps them), actions only"
    )
    if cache is not None and cache.exists():
        with np.load(cache) as data:
            return [data[f"arr_{i}"] for i in range(len(data.files))], source + f" (cached in `{cache}`)"
    episodes = expert_episodes("mt10", per_task)
    if cache is not None:
        np.savez(cache, *episodes)
    return episodes, source


def synthetic_episodes(n: int, seed: int) -> tuple[list[np.ndarray], str]:
    """Meta-World-shaped but made up: 4-d, xyz a smoothed random walk in [-1, 1], a +-1 gripper."""
    rng = np.random.default_rng(seed)
    episodes = []
    for _ in range(n):
        steps = int(rng.integers(60, 300))
        walk = np.cumsum(rng.normal(scale=0.1, size=(steps + 9, 3)), axis=0)
        xyz = np.tanh(np.stack([np.convolve(walk[:, d], np.ones(10) / 10, mode="valid") for d in range(3)], axis=1))
        switch = int(rng.integers(steps // 4, 3 * steps // 4))
        grip = np.where(np.arange(steps) < switch, -1.0, 1.0)[:, None]
        episodes.append(np.concatenate([xyz, grip], axis=1).astype(np.float32))
    return episodes, f"SYNTHETIC smooth random walks ({n} episodes, seed {seed}); not robot data"


PAD_TEXT = {
    "repeat": "the last action repeated (constant tails compress well)",
    "drop": "windows dropped (only chunks inside an episode)",
}


def row(horizon: int, name: str, scale: str, r: TokenizerReport, baseline: TokenizerReport, fit_s: float) -> str:
    ratio = baseline.mean_tokens_per_chunk / r.mean_tokens_per_chunk
    return (
        f"| {horizon} | {name} | {scale} | {r.mean_tokens_per_chunk:.1f} | {r.p95_tokens_per_chunk:.0f} | "
        f"{ratio:.1f}x | {r.rmse:.4f} | {r.max_abs_error:.3f} | {100 * r.clip_fraction:.2f} | "
        f"{r.encode_us:.0f} | {r.decode_us:.0f} | {r.encode_batch_us:.1f} | {fit_s:.1f} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--dataset", type=Path, help="dataset directory (LeRobot v3)")
    source.add_argument("--mt10-experts", type=int, metavar="N", help="run MT10 scripted experts, N episodes per task")
    source.add_argument("--synthetic", action="store_true", help="smooth random walks (clearly labelled)")
    parser.add_argument("--cache", type=Path, help="with --mt10-experts: npz file to store / reuse the actions")
    parser.add_argument("--horizons", default="8,16,50")
    parser.add_argument("--scales", default="5,10,20")
    parser.add_argument("--vocab-size", type=int, default=1024)
    parser.add_argument("--bins", type=int, default=256)
    parser.add_argument("--max-fit-chunks", type=int, default=50_000, help="fit on at most this many chunks (0: all)")
    parser.add_argument("--max-eval-chunks", type=int, default=20_000, help="measure at most this many (0: all)")
    parser.add_argument("--timing-chunks", type=int, default=300)
    parser.add_argument("--pad", choices=["repeat", "drop"], default="repeat", help="windows past an episode's end")
    parser.add_argument("--seed", type=int, default=0, help="with --synthetic")
    args = parser.parse_args()

    if args.dataset is not None:
        episodes, source_text = dataset_episodes(args.dataset)
    elif args.mt10_experts is not None:
        episodes, source_text = mt10_episodes(args.mt10_experts, args.cache)
    else:
        episodes, source_text = synthetic_episodes(200, args.seed)
    held_out = [e for i, e in enumerate(episodes) if i % 5 == 4]
    train = [e for i, e in enumerate(episodes) if i % 5 != 4]
    if not held_out:
        log("fewer than 5 episodes: measuring on the training episodes")
        held_out = train
    lengths = np.array([len(e) for e in episodes])

    import tokenizers

    print(f"Data: {source_text}.")
    print(
        f"{len(episodes)} episodes ({len(train)} fit, {len(held_out)} held out: every 5th), action_dim {episodes[0].shape[1]}, "
        f"steps per episode: mean {lengths.mean():.0f}, min {lengths.min()}, max {lengths.max()}. "
        f"Chunks start at every step; past an episode's end: {PAD_TEXT[args.pad]}."
    )
    print(
        f"Machine: {platform.processor() or platform.machine()}, Python {platform.python_version()}, numpy {np.__version__}, "
        f"tokenizers {tokenizers.__version__}; enc/dec µs: median of single-chunk calls; batch enc: one encode_batch call / chunks (shared machine: speeds vary 2-3x between runs).\n"
    )
    print(
        "| H | tokenizer | scale | tokens/chunk | p95 | compression vs bins | RMSE | max abs err | clipped % "
        "| enc µs | dec µs | batch enc µs | fit s |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for horizon in (int(h) for h in args.horizons.split(",")):
        fit_chunks = subsample(make_chunks(train, horizon, pad=args.pad), args.max_fit_chunks)
        eval_chunks = subsample(make_chunks(held_out, horizon, pad=args.pad), args.max_eval_chunks)
        log(f"H={horizon}: fit on {len(fit_chunks)} chunks, measure on {len(eval_chunks)}")
        start = time.perf_counter()
        bins = BinningTokenizer(n_bins=args.bins).fit(fit_chunks)
        bins_fit = time.perf_counter() - start
        baseline = measure(bins, eval_chunks, timing_chunks=args.timing_chunks)
        print(row(horizon, f"bins ({args.bins})", "-", baseline, baseline, bins_fit), flush=True)
        for scale in (float(s) for s in args.scales.split(",")):
            start = time.perf_counter()
            fast = FastTokenizer(scale=scale, vocab_size=args.vocab_size).fit(fit_chunks)
            fit_s = time.perf_counter() - start
            report = measure(fast, eval_chunks, timing_chunks=args.timing_chunks)
            print(row(horizon, f"FAST ({args.vocab_size})", f"{scale:g}", report, baseline, fit_s), flush=True)
            log(f"  scale {scale:g}: {report.mean_tokens_per_chunk:.1f} tokens, fit {fit_s:.1f} s")
    print(
        "\nRMSE and max abs err: environment units after encode -> decode, over all held-out values. "
        "clipped %: values (bins) or DCT coefficients (FAST) outside the fitted range, clipped at encode. "
        "Binning always needs horizon x action_dim tokens."
    )


if __name__ == "__main__":
    main()
