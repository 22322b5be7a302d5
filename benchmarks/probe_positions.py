"""Probe: how well can object and goal positions be read out of a policy's image features?

A minutes-long stand-in for closed-loop evaluation when ranking perception choices. For each
checkpoint, the policy's ``image_features`` (frozen, no augmentation) are computed on frames of a
dataset; a readout (ridge regression, and a small MLP) is fitted on the frames of some episodes and
scored on the frames of held-out episodes. Targets come from ``observation.environment_state``
(privileged, never a policy input): Meta-World's 39-d state holds the first object's position at
[4:7] and the goal at [36:39], metres, world frame. Reported: mean Euclidean error in centimetres on
the held-out frames, beside the error of always predicting the training mean (the "no information" row).

    python benchmarks/probe_positions.py --dataset runs/mt10_50 --checkpoint runs/mt10/l1/checkpoints/step_X [--checkpoint ...]
"""

from __future__ import annotations

import argparse
import json

import numpy as np
import torch

from vlastack import keys
from vlastack.data.windows import collate
from vlastack.episodes.reader import DatasetReader
from vlastack.policies import load_policy
from vlastack.world_model.embeddings import encoder_windows

TARGETS = {"object": slice(4, 7), "goal": slice(36, 39)}
"""Slices of Meta-World's 39-d state (metres): the first object's xyz and the goal's xyz."""


def split_episodes(reader: DatasetReader, held_out_every: int, tasks: set[str] | None = None) -> tuple[list[int], list[int]]:
    """Every ``held_out_every``-th episode of each task is held out; the rest fit the readout.

    ``tasks``: keep only the episodes of these environment tasks (None: all).
    """
    seen: dict[str, int] = {}
    fit, held = [], []
    for e in range(reader.num_episodes):
        task = task_of(reader, e)
        if tasks is not None and task not in tasks:
            continue
        k = seen.get(task, 0)
        seen[task] = k + 1
        (held if k % held_out_every == held_out_every - 1 else fit).append(e)
    return fit, held


def task_of(reader: DatasetReader, episode: int) -> str:
    """The environment task of an episode (``vlastack/env_task`` in its metadata, else its instruction)."""
    meta = reader.episode_meta(episode)
    return str(meta.get("vlastack/env_task") or meta["tasks"][0])


def features_and_targets(
    policy, reader: DatasetReader, episodes: list[int], stride: int, batch: int
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Image features [N, F] of every ``stride``-th frame of ``episodes`` and the matching target positions [N, 3]."""
    data = encoder_windows(policy, reader, episodes)
    env = {e: reader.read_columns(e)[keys.ENV_STATE] for e in episodes}
    idx = list(range(0, len(data), stride))
    feats, targets = [], {name: [] for name in TARGETS}
    with torch.inference_mode():
        for start in range(0, len(idx), batch):
            samples = [data[i] for i in idx[start : start + batch]]
            feats.append(policy.image_features(collate(samples)).float().numpy())
            for s in samples:
                row = env[int(s[keys.EPISODE_INDEX])][int(s[keys.FRAME_INDEX])]
                for name, sl in TARGETS.items():
                    targets[name].append(row[sl])
    return np.concatenate(feats), {k: np.stack(v) for k, v in targets.items()}


def ridge(x_fit: np.ndarray, y_fit: np.ndarray, x_test: np.ndarray, lam: float = 1e-2) -> np.ndarray:
    """Linear readout with an L2 penalty, on standardised features."""
    mu, sd = x_fit.mean(0), x_fit.std(0) + 1e-6
    a, b = (x_fit - mu) / sd, (x_test - mu) / sd
    a1, b1 = np.hstack([a, np.ones((len(a), 1))]), np.hstack([b, np.ones((len(b), 1))])
    w = np.linalg.solve(a1.T @ a1 + lam * len(a1) * np.eye(a1.shape[1]), a1.T @ y_fit)
    return b1 @ w


def mlp(x_fit: np.ndarray, y_fit: np.ndarray, x_test: np.ndarray, steps: int = 1500, batch: int = 256, seed: int = 0) -> np.ndarray:
    """A 2-layer MLP readout (256 hidden), Adam on mini-batches of ``batch`` frames; standardised inputs and targets."""
    torch.manual_seed(seed)
    mu, sd = x_fit.mean(0), x_fit.std(0) + 1e-6
    ym, ys = y_fit.mean(0), y_fit.std(0) + 1e-6
    a = torch.from_numpy(((x_fit - mu) / sd).astype(np.float32))
    t = torch.from_numpy(((y_fit - ym) / ys).astype(np.float32))
    net = torch.nn.Sequential(torch.nn.Linear(a.shape[1], 256), torch.nn.ReLU(), torch.nn.Linear(256, t.shape[1]))
    opt = torch.optim.Adam(net.parameters(), lr=1e-3, weight_decay=1e-4)
    g = torch.Generator().manual_seed(seed)
    for _ in range(steps):
        i = torch.randint(0, len(a), (min(batch, len(a)),), generator=g)
        loss = torch.nn.functional.mse_loss(net(a[i]), t[i])
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        out = net(torch.from_numpy(((x_test - mu) / sd).astype(np.float32))).numpy()
    return out * ys + ym


def cm(pred: np.ndarray, true: np.ndarray) -> float:
    return float(np.linalg.norm(pred - true, axis=1).mean() * 100.0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dataset", required=True)
    ap.add_argument("--checkpoint", action="append", required=True, help="policy directory (repeatable)")
    ap.add_argument("--held-out-every", type=int, default=5, help="hold out every k-th episode of each task (default 5: 20 %%)")
    ap.add_argument("--stride", type=int, default=8, help="use every k-th frame")
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--threads", type=int, default=1, help="torch threads (one is fastest on a busy 2-core machine)")
    ap.add_argument("--tasks", default=None, help="comma-separated environment tasks to probe on (default: every episode)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    reader = DatasetReader(args.dataset)
    tasks = set(args.tasks.split(",")) if args.tasks else None
    fit_eps, held_eps = split_episodes(reader, args.held_out_every, tasks)
    if not held_eps:
        raise SystemExit(f"--tasks {args.tasks!r}: no episodes of these tasks in {args.dataset}")
    rows = []
    for ckpt in args.checkpoint:
        policy = load_policy(ckpt).eval()
        xf, yf = features_and_targets(policy, reader, fit_eps, args.stride, args.batch)
        xt, yt = features_and_targets(policy, reader, held_eps, args.stride, args.batch)
        row = {
            "checkpoint": ckpt,
            "tasks": args.tasks or "all",
            "features": int(xf.shape[1]),
            "fit_frames": len(xf),
            "held_out_frames": len(xt),
        }
        for name in TARGETS:
            row[f"{name}_mean_cm"] = cm(np.broadcast_to(yf[name].mean(0), yt[name].shape), yt[name])
            row[f"{name}_linear_cm"] = cm(ridge(xf, yf[name], xt), yt[name])
            row[f"{name}_mlp_cm"] = cm(mlp(xf, yf[name], xt), yt[name])
        rows.append(row)
    if args.json:
        print(json.dumps(rows, indent=1))
        return
    print("| checkpoint | tasks | features | object: mean / linear / MLP (cm) | goal: mean / linear / MLP (cm) |")
    print("|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['checkpoint']} | {r['tasks']} | {r['features']} | {r['object_mean_cm']:.1f} / {r['object_linear_cm']:.1f} / {r['object_mlp_cm']:.1f} "
            f"| {r['goal_mean_cm']:.1f} / {r['goal_linear_cm']:.1f} / {r['goal_mlp_cm']:.1f} |"
        )


if __name__ == "__main__":
    main()
