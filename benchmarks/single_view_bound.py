"""How well can one camera place a goal that floats in the air? An upper bound for reach and pick-place.

Meta-World's reach and pick-place goals are drawn uniformly in a box (x -0.1..0.1, y 0.8..0.9,
z 0.05..0.3 m, ``SawyerReachEnvV3.goal_space``) and drawn as a small sphere with no shadow. From the
protocol's single ``corner2`` view a perfect 2-D localiser learns the ray through the goal, not the
depth along it; the goal is then anywhere on the ray's chord inside the box. Guessing the chord's
midpoint (the best single guess under the uniform prior, ignoring the small r^2 weighting) is within
``threshold`` of the goal with probability min(1, 2 * threshold / chord). This script averages that over
uniform goals: the success an ideal single-view policy could reach, and its mean position error.

    python benchmarks/single_view_bound.py [--draws 20000]
"""

from __future__ import annotations

import argparse
import json

import numpy as np

CAMERA = np.array([0.75, 0.075, 0.7])
"""corner2's position (m), the protocol's placement (``vlastack.envs.metaworld.CORNER2_POSITION``)."""
GOAL_LOW, GOAL_HIGH = np.array([-0.1, 0.8, 0.05]), np.array([0.1, 0.9, 0.3])
"""Meta-World v3 reach / pick-place goal box (m)."""
THRESHOLDS = {"reach-v3": 0.05, "pick-place-v3 (object to goal)": 0.07}
"""Success distances (m): reach needs the hand within 5 cm of the goal, pick-place the object within 7 cm."""


def chord(goal: np.ndarray) -> tuple[float, float]:
    """(length of the camera ray's chord through the goal box, distance of the goal from the chord's middle), metres."""
    d = goal - CAMERA
    dist = float(np.linalg.norm(d))
    u = d / dist
    with np.errstate(divide="ignore"):
        a, b = (GOAL_LOW - CAMERA) / u, (GOAL_HIGH - CAMERA) / u
    enter, leave = np.max(np.minimum(a, b)), np.min(np.maximum(a, b))
    return float(leave - enter), abs(dist - (enter + leave) / 2)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--draws", type=int, default=20_000)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    goals = np.random.default_rng(args.seed).uniform(GOAL_LOW, GOAL_HIGH, (args.draws, 3))
    chords, errors = zip(*(chord(g) for g in goals))
    chords, errors = np.array(chords), np.array(errors)
    out = {
        "draws": args.draws,
        "mean_error_cm": round(float(errors.mean() * 100), 2),
        "mean_chord_cm": round(float(chords.mean() * 100), 1),
    }
    for task, thr in THRESHOLDS.items():
        out[f"success_bound_{task}"] = round(float(np.minimum(1.0, 2 * thr / chords).mean()), 3)
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
