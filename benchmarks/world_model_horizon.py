"""World model (issue 14) on held-out episodes: embedding prediction error against horizon, positions
read from predicted embeddings, and latent-action codebook use and action read-outs.

    python benchmarks/world_model_horizon.py --dynamics runs/wm14/dyn [--latent runs/wm14/lam] [--json out.json]

The same tables as ``vlastack wm eval --dynamics RUN [--latent RUN]`` (``vlastack.world_model.report``).

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

from vlastack.world_model.report import HORIZONS, READOUT_HORIZONS, dynamics_report, latent_report_of, markdown
from vlastack.world_model.runs import DynamicsRun


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dynamics", type=Path, required=True, help="`vlastack wm train` run directory or checkpoint")
    ap.add_argument("--latent", type=Path, help="`vlastack wm latent` run directory or checkpoint")
    ap.add_argument("--json", type=Path, help="write every number here")
    args = ap.parse_args()
    torch.set_num_threads(1)
    run = DynamicsRun.load(args.dynamics)
    result = dynamics_report(run, HORIZONS, READOUT_HORIZONS)
    if args.latent:
        result["latent_actions"] = latent_report_of(args.latent, run)
    print(markdown(result))
    if args.json:
        args.json.write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
