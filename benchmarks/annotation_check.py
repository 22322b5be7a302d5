"""Annotate a dataset and check the annotations against the scripted policies themselves.

    MUJOCO_GL=egl python benchmarks/annotation_check.py DATASET_DIR

Runs ``vlastack annotate``'s library function (timed), then, per task, for every frame whose expert
is a single Meta-World policy with a ``_desired_pos`` method: whether the phase rule's target equals
the target that policy computes from the same recorded state (within 1 mm; the recorded state is
float32), i.e. whether the subtask names the branch the expert was in. Prints one JSON line per task.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("root")
    args = ap.parse_args()
    import metaworld.policies as policies

    from vlastack import keys
    from vlastack.envs.experts import _class_name
    from vlastack.episodes.reader import DatasetReader
    from vlastack.reasoning.annotate import annotate_dataset, episode_annotations
    from vlastack.reasoning.phases import RULES, phase

    t0 = time.perf_counter()
    summary = annotate_dataset(args.root)
    seconds = time.perf_counter() - t0
    print(
        json.dumps(
            {
                "episodes": summary.episodes,
                "frames": summary.frames,
                "subtasks": len(summary.subtasks),
                "reasons": summary.reasons,
                "annotate_s": round(seconds, 2),
            }
        )
    )
    reader = DatasetReader(args.root)
    per_task: dict[str, dict] = {}
    for e in range(reader.num_episodes):
        task = reader.episode_meta(e)["vlastack/env_task"]
        states = reader.read_columns(e)[keys.ENV_STATE].astype(np.float64)
        subtasks, _ = episode_annotations(args.root, e)
        row = per_task.setdefault(task, {"episodes": 0, "frames": 0, "checked": 0, "agree": 0, "subtask_order_ep0": None})
        row["episodes"] += 1
        row["frames"] += len(states)
        if row["subtask_order_ep0"] is None:
            row["subtask_order_ep0"] = list(dict.fromkeys(subtasks))
        policy = getattr(policies, _class_name(task))() if task in RULES else None
        if policy is None or not hasattr(policy, "_desired_pos"):
            continue
        for s in states[1:]:  # frame 0 is the reset's state, which can show the previous episode's objects
            want = np.asarray(policy._desired_pos(policy._parse_obs(s.copy())), dtype=np.float64)
            row["checked"] += 1
            row["agree"] += bool(np.all(np.abs(phase(task, s).target - want) < 1e-3))
    for task, row in per_task.items():
        print(json.dumps({"task": task, **row}))


if __name__ == "__main__":
    main()
