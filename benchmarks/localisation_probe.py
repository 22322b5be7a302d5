"""Can a vision trunk find the small target at all? Train trunk + readout on positions, minutes per variant.

The frozen-feature probe (probe_positions.py) reads positions out of a trained policy's features,
but on frames where the hand is already moving the hand's own position gives the goal away, so a
trunk that never looks at the 1-2 pixel goal still scores well there. This benchmark asks the
harder question directly: train the l1 keypoint trunk (FiLM conv + spatial softmax) from scratch,
with a small readout, to regress the object's and the goal's positions (privileged
``observation.environment_state``, used only as the target), and score it on held-out episodes at
**frame 0**, where the arm has not moved and nothing but the pixels of the target can tell where it
is, and on all frames. Each variant trains for the same number of steps on one thread.

    python benchmarks/localisation_probe.py --dataset runs/mt10_50 --tasks reach-v3,push-v3,pick-place-v3 \\
        --variant base --variant sharp --variant px128 --steps 1500
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from vlastack import keys
from vlastack.episodes.reader import DatasetReader
from vlastack.policies.l1.model import KeypointEncoder

TARGETS = (slice(4, 7), slice(36, 39))
"""Object and goal xyz (metres) in Meta-World's 39-d state."""

#: name -> (image side px, trunk channels, keypoints, initial log temperature of the spatial softmax)
VARIANTS = {
    "base": (96, (16, 32, 32), 32, 0.0),
    "sharp": (96, (16, 32, 32), 32, -2.0),
    "px128": (128, (16, 32, 32), 32, 0.0),
    "px128_sharp": (128, (16, 32, 32), 32, -2.0),
    "wide": (96, (32, 64, 64), 64, 0.0),
}


class Probe(nn.Module):
    def __init__(self, channels: tuple[int, ...], keypoints: int, n_tasks: int, log_temperature: float) -> None:
        super().__init__()
        self.task = nn.Embedding(n_tasks, 16)
        self.trunk = KeypointEncoder(3, channels, keypoints, 16, pool=True)
        with torch.no_grad():
            self.trunk.softmax.log_temperature.fill_(log_temperature)
        self.head = nn.Sequential(nn.Linear(self.trunk.out_dim + 16, 256), nn.ReLU(), nn.Linear(256, 6))

    def forward(self, x: torch.Tensor, task: torch.Tensor) -> torch.Tensor:
        t = self.task(task)
        return self.head(torch.cat([self.trunk(x, t), t], dim=1))


def prep(frames: torch.Tensor, idx: torch.Tensor, size: int) -> torch.Tensor:
    """uint8 frames [N, 3, H, W] at ``idx`` -> float [n, 3, size, size] in [0, 1] (bilinear, as the policy resizes)."""
    x = frames[idx].float() / 255.0
    return x if x.shape[-1] == size else F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dataset", required=True)
    ap.add_argument("--tasks", default="reach-v3,push-v3,pick-place-v3")
    ap.add_argument("--camera", default="corner2")
    ap.add_argument("--variant", action="append", choices=sorted(VARIANTS), help="repeatable (default: base)")
    ap.add_argument("--steps", type=int, default=1500)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--held-out-every", type=int, default=5)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    torch.set_num_threads(1)
    from vlastack.data.windows import WindowDataset

    reader = DatasetReader(args.dataset)
    tasks = sorted(args.tasks.split(","))
    eps = [e for e in range(reader.num_episodes) if reader.episode_meta(e).get("vlastack/env_task") in tasks]
    if not eps:
        raise SystemExit(f"--tasks {args.tasks!r}: no episodes of these tasks in {args.dataset}")
    data = WindowDataset(reader, obs_history=1, action_horizon=1, image_keys=[keys.image_key(args.camera)], episodes=eps)
    # Gather every frame once: uint8 [N, 3, H, W], targets [N, 6], frame index, task id, episode position.
    xs, ys, fidx, tid, epos = [], [], [], [], []
    for i, e in enumerate(eps):
        n = data._lengths[i]
        xs.append(data._frames(i, keys.image_key(args.camera), np.arange(n)))  # uint8 [n, 3, H, W]
        env = reader.read_columns(e)[keys.ENV_STATE]
        ys.append(torch.from_numpy(np.concatenate([env[:, s] for s in TARGETS], 1).astype(np.float32)))
        fidx.append(torch.arange(n))
        tid.append(torch.full((n,), tasks.index(reader.episode_meta(e)["vlastack/env_task"])))
        epos.append(torch.full((n,), i))
    x_all, y_all, f_all, t_all, e_all = (torch.cat(v) for v in (xs, ys, fidx, tid, epos))
    held = (e_all % args.held_out_every) == args.held_out_every - 1
    fit_i, test_i = torch.nonzero(~held).squeeze(1), torch.nonzero(held).squeeze(1)
    mu, sd = y_all[fit_i].mean(0), y_all[fit_i].std(0) + 1e-6
    rows = []
    for name in args.variant or ["base"]:
        size, channels, k, log_t = VARIANTS[name]
        torch.manual_seed(args.seed)
        model = Probe(channels, k, len(tasks), log_t)
        opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=1e-4)
        g = torch.Generator().manual_seed(args.seed)

        start = time.perf_counter()
        for _ in range(args.steps):
            b = fit_i[torch.randint(0, len(fit_i), (args.batch,), generator=g)]
            loss = (model(prep(x_all, b, size), t_all[b]) - (y_all[b] - mu) / sd).abs().mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
        train_s = time.perf_counter() - start
        model.eval()
        with torch.no_grad():
            pred = (
                torch.cat([model(prep(x_all, test_i[j : j + 256], size), t_all[test_i[j : j + 256]]) for j in range(0, len(test_i), 256)])
                * sd
                + mu
            )
        err = pred - y_all[test_i]
        obj, goal = err[:, :3].norm(dim=1) * 100, err[:, 3:].norm(dim=1) * 100
        first = f_all[test_i] == 0
        base = y_all[test_i] - mu  # always predicting the training mean
        row = {
            "variant": name,
            "image_px": size,
            "steps": args.steps,
            "train_s": round(train_s, 1),
            "object_cm_all": round(float(obj.mean()), 2),
            "goal_cm_all": round(float(goal.mean()), 2),
            "object_cm_frame0": round(float(obj[first].mean()), 2),
            "goal_cm_frame0": round(float(goal[first].mean()), 2),
            "mean_baseline_goal_cm_frame0": round(float(base[first][:, 3:].norm(dim=1).mean() * 100), 2),
            "mean_baseline_object_cm_frame0": round(float(base[first][:, :3].norm(dim=1).mean() * 100), 2),
        }
        rows.append(row)
        print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
