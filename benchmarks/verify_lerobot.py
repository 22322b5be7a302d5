"""Open a vlastack dataset with LeRobot's own LeRobotDataset class and compare every value.

Run in an environment where ``lerobot`` (0.4.x, the last release for Python 3.11) is installed:

    python benchmarks/verify_lerobot.py DATASET_DIR

LeRobot decodes video with torchcodec or torchvision's VideoReader. Where neither works (this
project's CPU machines: torchcodec needs FFmpeg libraries built for its torch, torchvision 0.28
removed VideoReader), pass ``--pyav-decoder`` to let LeRobot's dataset code use a PyAV frame
decoder instead; everything else (metadata, parquet, indices, timestamps, deltas) stays LeRobot's.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np


def pyav_decode(video_path, timestamps, tolerance_s, backend=None, **_):
    import av
    import torch

    with av.open(str(video_path)) as c:
        stream = c.streams.video[0]
        frames = [(float(f.pts * stream.time_base), f.to_ndarray(format="rgb24")) for f in c.decode(video=0)]
    ts = np.array([t for t, _ in frames])
    out = []
    for t in timestamps:
        i = int(np.argmin(np.abs(ts - t)))
        if abs(ts[i] - t) > tolerance_s:
            raise ValueError(f"no frame within {tolerance_s}s of {t}s in {video_path}")
        out.append(torch.from_numpy(frames[i][1]).permute(2, 0, 1).float() / 255.0)
    return torch.stack(out)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("root")
    ap.add_argument("--pyav-decoder", action="store_true")
    ap.add_argument("--episodes", type=int, default=None, help="Compare only the first N episodes (all by default).")
    args = ap.parse_args()
    import lerobot.datasets.lerobot_dataset as lds
    from lerobot.datasets.lerobot_dataset import LeRobotDataset

    from vlastack.episodes.reader import DatasetReader

    if args.pyav_decoder:
        lds.decode_video_frames = pyav_decode
    theirs = LeRobotDataset(
        "local/vlastack", root=args.root, video_backend="pyav", delta_timestamps={"action": [i / 80 for i in range(16)]}
    )
    ours = DatasetReader(args.root)
    assert len(theirs) == ours.num_frames, (len(theirs), ours.num_frames)
    assert theirs.num_episodes == ours.num_episodes
    assert list(theirs.meta.tasks.index) == ours.tasks
    checked = 0
    n_eps = ours.num_episodes if args.episodes is None else min(args.episodes, ours.num_episodes)
    for e in range(n_eps):
        cols = ours.read_columns(e)
        frames = {k: ours.read_video(e, k) for k in ours.video_keys}
        start = int(ours.episodes["dataset_from_index"].iloc[e])
        for t in range(ours.length(e)):
            item = theirs[start + t]
            assert int(item["episode_index"]) == e and int(item["frame_index"]) == t
            np.testing.assert_allclose(item["observation.state"].numpy(), cols["observation.state"][t])
            want = cols["action"][np.minimum(np.arange(t, t + 16), ours.length(e) - 1)]
            np.testing.assert_allclose(item["action"].numpy(), want)
            for k, v in frames.items():
                np.testing.assert_allclose(item[k].permute(1, 2, 0).numpy(), v[t] / 255.0, atol=1e-6)
            assert item["task"] == ours.tasks[int(cols["task_index"][t])]
            checked += 1
    print(f"LeRobotDataset read {checked} frames of {n_eps} episodes (of {ours.num_episodes}) identical to vlastack's reader")
    return 0


if __name__ == "__main__":
    sys.exit(main())
