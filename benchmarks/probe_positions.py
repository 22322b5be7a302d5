"""Probe: how well can object and goal positions be read out of a policy's image features?

A minutes-long stand-in for closed-loop evaluation when ranking perception choices. For each
checkpoint, the policy's ``image_features`` (frozen, no augmentation) are computed on frames of a
dataset; a readout (ridge regression, and a small MLP) is fitted on the frames of some episodes and
scored on the frames of held-out episodes. Targets come from ``observation.environment_state``
(privileged, never a policy input): Meta-World's 39-d state holds the first object's position at
[4:7] and the goal at [36:39], metres, world frame. Reported: mean Euclidean error in centimetres on
the held-out frames, beside the error of always predicting the training mean (the "no information" row)
and of predicting the training mean of the frame's task ("task mean": what knowing only which task it is
gives; the instruction tells the policy that much), and the same on the first frame of each held-out episode only ("frame 0": the hand has not moved yet, so
only the image can say where the goal is).

``--pretrained effnet_lite0`` probes the frozen ImageNet EfficientNet-Lite0 trunk instead of (or beside) a
checkpoint: one forward pass per frame at each ``--pretrained-sizes`` image size, read out at output stride
8, 16 and 32 with three heads: ``gap`` (channel means), ``kp`` (spatial-softmax (x, y) of every channel,
plus the channel means: what the l1 policy's keypoint head reads) and ``grid4`` (the map average-pooled
to 4x4 and flattened).

    python benchmarks/probe_positions.py --dataset runs/mt10_50 --checkpoint runs/mt10/l1/checkpoints/step_X [--checkpoint ...]
    python benchmarks/probe_positions.py --dataset runs/mt10_50b --pretrained effnet_lite0 --pretrained-sizes 96,128
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import dataclass

import numpy as np
import torch

from vlastack import keys
from vlastack.data.subset import episode_task
from vlastack.data.windows import WindowDataset, collate
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
        task = episode_task(reader, e)
        if tasks is not None and task not in tasks:
            continue
        k = seen.get(task, 0)
        seen[task] = k + 1
        (held if k % held_out_every == held_out_every - 1 else fit).append(e)
    return fit, held


def features_and_targets(
    encoder, reader: DatasetReader, episodes: list[int], stride: int, batch: int, frames: str = "memory"
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray], np.ndarray, np.ndarray]:
    """Image features {readout: [N, F]} of every frame of ``episodes`` whose index is a multiple of ``stride``
    (so every episode's frame 0 is in), the matching target positions {target: [N, 3]}, frame indices [N] and
    episode indices [N].

    ``encoder``: anything with ``config`` (cameras, obs_history, use_depth) and ``features(batch)`` ->
    {readout name: tensor [B, F]} (:class:`CheckpointFeatures`, :class:`PretrainedFeatures`).
    """
    data = encoder_windows(encoder, reader, episodes, frames)
    env = {e: reader.read_columns(e)[keys.ENV_STATE] for e in episodes}
    # The dataset's samples are ordered episode by episode, frame by frame (one per frame).
    idx, start = [], 0
    for e in episodes:
        n = reader.length(e)
        idx += [start + t for t in range(0, n, stride)]
        start += n
    feats: dict[str, list[np.ndarray]] = {}
    targets: dict[str, list[np.ndarray]] = {name: [] for name in TARGETS}
    frame_index: list[int] = []
    episode_index: list[int] = []
    with torch.inference_mode():
        for b0 in range(0, len(idx), batch):
            samples = [data[i] for i in idx[b0 : b0 + batch]]
            for name, f in encoder.features(collate(samples)).items():
                feats.setdefault(name, []).append(f.float().numpy())
            for s in samples:
                row = env[int(s[keys.EPISODE_INDEX])][int(s[keys.FRAME_INDEX])]
                frame_index.append(int(s[keys.FRAME_INDEX]))
                episode_index.append(int(s[keys.EPISODE_INDEX]))
                for name, sl in TARGETS.items():
                    targets[name].append(row[sl])
    feats_out = {k: np.concatenate(v) for k, v in feats.items()}
    return feats_out, {k: np.stack(v) for k, v in targets.items()}, np.asarray(frame_index), np.asarray(episode_index)


class CheckpointFeatures:
    """A saved policy's ``image_features`` (frozen, no augmentation) as the single readout ``""``."""

    def __init__(self, path: str) -> None:
        self.policy = load_policy(path).eval()
        self.config, self.label = self.policy.config, path

    def features(self, batch) -> dict[str, torch.Tensor]:
        return {"": self.policy.image_features(batch)}


@dataclass(frozen=True)
class _ProbeInputs:
    """The inputs a pretrained trunk reads: one camera, one frame, RGB (the fields ``encoder_windows`` uses)."""

    cameras: tuple[str, ...]
    obs_history: int = 1
    use_depth: bool = False


class PretrainedFeatures:
    """The frozen ImageNet EfficientNet-Lite0 trunk at ``size`` px, read out at output strides 8, 16, 32.

    Frames are resized bilinearly to ``size`` (as the policies do), normalised inside the trunk, and the
    stride-8/16/32 maps are taken from one forward pass. Readouts per stride (see the module docstring):
    ``s8 gap``, ``s8 kp``, ``s8 grid4``, ... .
    """

    def __init__(self, name: str, size: int, camera: str, strides: tuple[int, ...] = (8, 16, 32)) -> None:
        from vlastack.policies.components.effnet_lite import OUTPUT_STRIDES, FrozenEffNetTrunk
        from vlastack.policies.components.effnet_weights import load_effnet_lite0_weights

        if name != "effnet_lite0":
            raise SystemExit(f"--pretrained {name!r}: only effnet_lite0 is available")
        self.trunk = FrozenEffNetTrunk(max(strides), load_effnet_lite0_weights())
        self.taps = {OUTPUT_STRIDES[s][0] - 1: s for s in strides}  # index of the last block at each stride
        self.size, self.label = size, f"{name} @ {size} px"
        self.config = _ProbeInputs(cameras=(camera,))

    def maps(self, x: torch.Tensor) -> dict[int, torch.Tensor]:
        """Images [N, 3, H, W] in [0, 1] -> {output stride: feature map [N, C, h, w]}."""
        net, out = self.trunk.net, {}
        h = net.stem((x - self.trunk.mean) / self.trunk.std)
        for i, block in enumerate(net.blocks):
            h = block(h)
            if i in self.taps:
                out[self.taps[i]] = h
        return out

    def features(self, batch) -> dict[str, torch.Tensor]:
        x = batch.features[keys.image_key(self.config.cameras[0])].flatten(0, 1).float()
        if x.shape[-1] != self.size or x.shape[-2] != self.size:
            x = torch.nn.functional.interpolate(x, size=(self.size, self.size), mode="bilinear", align_corners=False)
        out = {}
        for s, f in self.maps(x).items():
            gap = f.mean(dim=(2, 3))
            out[f"s{s} gap"] = gap
            out[f"s{s} kp"] = torch.cat([spatial_softmax(f).flatten(1), gap], dim=1)
            out[f"s{s} grid4"] = torch.nn.functional.adaptive_avg_pool2d(f, 4).flatten(1)
        return out


def spatial_softmax(f: torch.Tensor) -> torch.Tensor:
    """Feature maps [N, C, h, w] -> expected (x, y) of each channel's softmax over positions [N, C, 2], in [-1, 1]."""
    n, c, h, w = f.shape
    attn = torch.softmax(f.flatten(2), dim=-1).view(n, c, h, w)
    ys = torch.linspace(-1.0, 1.0, h, dtype=f.dtype)
    xs = torch.linspace(-1.0, 1.0, w, dtype=f.dtype)
    return torch.stack([(attn.sum(2) * xs).sum(-1), (attn.sum(3) * ys).sum(-1)], dim=-1)


def trunk_latency_ms(size: int, stride: int, batch: int = 1, repeats: int = 20) -> float:
    """Median wall time (ms) of one frozen trunk forward per frame, ``batch`` frames of ``size`` px, current torch threads."""
    from vlastack.policies.components.effnet_lite import FrozenEffNetTrunk

    trunk = FrozenEffNetTrunk(stride)  # random weights: the time does not depend on their values
    x = torch.rand(batch, 3, size, size)
    times = []
    with torch.inference_mode():
        trunk(x)
        for _ in range(repeats):
            t0 = time.perf_counter()
            trunk(x)
            times.append(time.perf_counter() - t0)
    return float(np.median(times) * 1e3 / batch)


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


def task_mean(y_fit: np.ndarray, task_fit: np.ndarray, task_test: np.ndarray) -> np.ndarray:
    """Each held-out frame's prediction is the mean target of the fit frames of its task (the overall mean for an unseen task)."""
    means = {t: y_fit[task_fit == t].mean(0) for t in np.unique(task_fit)}
    overall = y_fit.mean(0)
    return np.stack([means.get(t, overall) for t in task_test])


def score(
    xf: np.ndarray,
    yf: dict[str, np.ndarray],
    xt: np.ndarray,
    yt: dict[str, np.ndarray],
    first: np.ndarray,
    task_fit: np.ndarray,
    task_test: np.ndarray,
) -> dict[str, float]:
    """Mean / task-mean / linear / MLP errors (cm) of each target on the held-out frames, and on their frame-0
    subset ``first``; ``task_fit``/``task_test``: the task of each fit / held-out frame."""
    row: dict[str, float] = {}
    for name in TARGETS:
        preds = {
            "mean": np.broadcast_to(yf[name].mean(0), yt[name].shape),
            "taskmean": task_mean(yf[name], task_fit, task_test),
            "linear": ridge(xf, yf[name], xt),
            "mlp": mlp(xf, yf[name], xt),
        }
        for kind, p in preds.items():
            row[f"{name}_{kind}_cm"] = cm(p, yt[name])
            row[f"{name}_{kind}_first_cm"] = cm(p[first], yt[name][first])
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dataset", required=True)
    ap.add_argument("--checkpoint", action="append", default=[], help="policy directory (repeatable)")
    ap.add_argument("--pretrained", action="append", default=[], help="a frozen pretrained trunk to probe (effnet_lite0; repeatable)")
    ap.add_argument("--pretrained-sizes", default="96", help="comma-separated image sizes (px) for --pretrained (default 96)")
    ap.add_argument("--camera", default="corner2", help="camera stream read by --pretrained (default corner2)")
    ap.add_argument("--held-out-every", type=int, default=5, help="hold out every k-th episode of each task (default 5: 20 %%)")
    ap.add_argument("--stride", type=int, default=8, help="use the frames whose index is a multiple of k (frame 0 always)")
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--frames", choices=WindowDataset.FRAME_STORES, default="memory", help="frame store (memmap: the decoded-frame cache)")
    ap.add_argument("--threads", type=int, default=1, help="torch threads (one is fastest on a busy 2-core machine)")
    ap.add_argument(
        "--task-onehot",
        action="store_true",
        help="append a one-hot of the frame's task to every readout's features (a frozen trunk does not see the instruction a policy gets)",
    )
    ap.add_argument("--readouts", default=None, help="comma-separated readouts to score (e.g. 's16 grid4,s16 kp'; default all)")
    ap.add_argument("--tasks", default=None, help="comma-separated environment tasks to probe on (default: every episode)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    if not args.checkpoint and not args.pretrained:
        raise SystemExit("give at least one --checkpoint or --pretrained")
    torch.set_num_threads(args.threads)
    reader = DatasetReader(args.dataset)
    tasks = set(args.tasks.split(",")) if args.tasks else None
    fit_eps, held_eps = split_episodes(reader, args.held_out_every, tasks)
    if not held_eps:
        raise SystemExit(f"--tasks {args.tasks!r}: no episodes of these tasks in {args.dataset}")
    encoders = [CheckpointFeatures(c) for c in args.checkpoint]
    encoders += [PretrainedFeatures(p, int(s), args.camera) for p in args.pretrained for s in args.pretrained_sizes.split(",")]
    rows = []
    for enc in encoders:
        t0 = time.perf_counter()
        xf, yf, _, ep_f = features_and_targets(enc, reader, fit_eps, args.stride, args.batch, args.frames)
        xt, yt, frame_t, ep_t = features_and_targets(enc, reader, held_eps, args.stride, args.batch, args.frames)
        encode_s = time.perf_counter() - t0
        first = frame_t == 0
        task_f = np.asarray([episode_task(reader, int(e)) for e in ep_f])
        task_t = np.asarray([episode_task(reader, int(e)) for e in ep_t])
        names = sorted(set(task_f) | set(task_t))
        onehot_f = (task_f[:, None] == np.asarray(names)[None]).astype(np.float32)
        onehot_t = (task_t[:, None] == np.asarray(names)[None]).astype(np.float32)
        for readout in xf:
            if args.readouts and readout and readout not in args.readouts.split(","):
                continue
            fit_x, test_x = xf[readout], xt[readout]
            if args.task_onehot:  # the instruction's information, as the policy has it beside its image features
                fit_x, test_x = np.hstack([fit_x, onehot_f]), np.hstack([test_x, onehot_t])
            row = {
                "encoder": enc.label,
                "readout": (readout or "image_features") + (" +task" if args.task_onehot else ""),
                "tasks": args.tasks or "all",
                "features": int(fit_x.shape[1]),
                "fit_frames": len(xf[readout]),
                "held_out_frames": len(xt[readout]),
                "held_out_first_frames": int(first.sum()),
                "encode_s": round(encode_s, 1),
            }
            row.update(score(fit_x, yf, test_x, yt, first, task_f, task_t))
            rows.append(row)
            print(json.dumps(row), flush=True)
    latency = []
    for size in sorted({int(s) for s in args.pretrained_sizes.split(",")}) if args.pretrained else []:
        for stride in (8, 16, 32):
            latency.append(
                {
                    "size": size,
                    "stride": stride,
                    "ms_per_frame_b1": trunk_latency_ms(size, stride),
                    "ms_per_frame_b64": trunk_latency_ms(size, stride, 64, 3),
                }
            )
    if args.json:
        print(json.dumps({"rows": rows, "latency": latency}, indent=1))
        return
    print(
        "| encoder | readout | features | object: mean / task mean / linear / MLP (cm) | goal: mean / task mean / linear / MLP (cm) "
        "| frame 0 object: mean / task mean / linear / MLP | frame 0 goal: mean / task mean / linear / MLP |"
    )
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        cells = [
            " / ".join(f"{r[f'{t}_{k}{sfx}_cm']:.1f}" for k in ("mean", "taskmean", "linear", "mlp"))
            for sfx in ("", "_first")
            for t in TARGETS
        ]
        print(f"| {r['encoder']} | {r['readout']} | {r['features']} | " + " | ".join(cells) + " |")
    if latency:
        print(
            f"\ntrunk forward, ms per frame, {args.threads} thread(s): "
            + ", ".join(
                f"{d['size']} px s{d['stride']}: {d['ms_per_frame_b1']:.1f} (b1) / {d['ms_per_frame_b64']:.1f} (b64)" for d in latency
            )
        )


if __name__ == "__main__":
    main()
