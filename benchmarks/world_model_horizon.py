"""World model (issue 14) on held-out episodes: embedding prediction error against horizon, positions
read from predicted embeddings, and latent-action codebook use and action read-outs.

    python benchmarks/world_model_horizon.py --dynamics runs/wm14/dyn [--latent runs/wm14/lam] [--json out.json]

``--dynamics``: a ``vlastack wm train`` run (or one checkpoint); its run folder's embeddings.safetensors
holds the frames, and its config.json the training / held-out episode split.
1. Error vs horizon (1..64 steps): mean squared error per feature in normalised units (each embedding
   feature scaled to unit variance over the training frames), of the rolled-out predictor, copy-last
   z(t+h) = z(t), and linear extrapolation z(t) + h (z(t) - z(t-1)); every held-out frame t >= 1 with
   t + h inside its episode.
2. Object and goal positions (observation.environment_state [4:7] and [36:39], privileged, read-out only):
   a ridge read-out fitted on the true embeddings of the training episodes, applied to the predicted
   z(t+h) of held-out episodes; mean Euclidean error in cm beside copy-last, the true z(t+h) and the training mean.
``--latent``: a ``vlastack wm latent`` run, trained on the action-free copy of the same frames. Its
codebook use (perplexity, dead codes), forward error with its own code, with another pair's code and
copy-last, and linear read-outs from latents to the true mean action over the gap, fitted on the
training episodes' actions and scored on the held-out ones (actions from the --dynamics run's labelled embeddings).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from vlastack.checkpoint import latest_checkpoint
from vlastack.world_model import checkpoint
from vlastack.world_model.embeddings import EmbeddingTable
from vlastack.world_model.evaluate import horizon_errors, latent_report, position_readout

HORIZONS = [1, 2, 4, 8, 16, 32, 64]
READOUT_HORIZONS = [8, 16, 32]
TARGETS = {"object": slice(4, 7), "goal": slice(36, 39)}
"""Slices of Meta-World's 39-d state (metres): the first object's xyz and the goal's xyz."""


def load_run(path: Path):
    ckpt = path if (path / "config.json").is_file() else latest_checkpoint(path)
    if ckpt is None:
        raise SystemExit(f"{path} holds no checkpoint")
    model, meta = checkpoint.load(ckpt)
    table = EmbeddingTable.load(ckpt.parent.parent / "embeddings.safetensors")
    return ckpt, model, table.select(meta["train_episodes"]), table.select(meta["held_out_episodes"])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dynamics", type=Path, required=True, help="`vlastack wm train` run directory or checkpoint")
    ap.add_argument("--latent", type=Path, help="`vlastack wm latent` run directory or checkpoint")
    ap.add_argument("--json", type=Path, help="write every number here")
    args = ap.parse_args()
    torch.set_num_threads(1)
    result: dict = {}

    ckpt, model, train, held = load_run(args.dynamics)
    result["dynamics"] = {"checkpoint": str(ckpt), "train_frames": len(train.z), "held_out_frames": len(held.z)}
    rows = horizon_errors(model, held, HORIZONS)
    result["horizon_mse"] = rows
    print(f"## Embedding prediction error (MSE, normalised units), held-out episodes, {ckpt}")
    print("| horizon (steps) | pairs | model | copy-last | linear |\n|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['horizon']} | {r['n']} | {r['model']:.4f} | {r['copy_last']:.4f} | {r['linear']:.4f} |")
    pos = position_readout(model, train, held, TARGETS, READOUT_HORIZONS)
    result["position_readout_cm"] = pos
    print("\n## Positions read from embeddings (mean error, cm), held-out episodes")
    print("| horizon | target | n | predicted z(t+h) | copy-last z(t) | true z(t+h) | training mean |\n|---|---|---|---|---|---|---|")
    for r in pos:
        print(
            f"| {r['horizon']} | {r['target']} | {r['n']} | {r['model']:.2f} | {r['copy_last']:.2f} | {r['true']:.2f} | {r['train_mean']:.2f} |"
        )

    if args.latent:
        lckpt, lmodel, ltrain, lheld = load_run(args.latent)
        if ltrain.action is not None:
            raise SystemExit(f"{args.latent} was trained on a dataset with actions; this benchmark expects an action-free one")
        if not (torch.equal(ltrain.episode, train.episode) and torch.equal(lheld.episode, held.episode)):
            raise SystemExit("the latent run's episode split differs from the dynamics run's")
        same = max(float((ltrain.z - train.z).abs().max()), float((lheld.z - held.z).abs().max()))
        rep = latent_report(lmodel, train, held)
        rep["checkpoint"] = str(lckpt)
        rep["max_abs_embedding_difference_action_free_vs_labelled"] = same
        result["latent_actions"] = rep
        print(f"\n## Latent actions, {lckpt}")
        print(json.dumps(rep, indent=1))
    if args.json:
        args.json.write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
