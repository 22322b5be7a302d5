"""Camera frames of a batch, stacked for one encoder call: the input side every image policy shares."""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

from vlastack import keys
from vlastack.errors import DatasetError


def stack_frames(feature: Callable[[str], torch.Tensor], config, frames: int | None = None) -> torch.Tensor:
    """Every camera and frame of a batch as one tensor [C*B*T, ch, h, w], rows ordered (camera, sample, frame).

    ``feature(key)`` returns a batch feature as float32 (and names the key when missing). RGB is in
    [0, 1]; with ``config.use_depth`` a 4th channel holds depth clipped to [0, depth_max_m] metres and
    divided by it. Frames of another size than ``config.image_size`` are resized bilinearly.
    ``frames``: T, frames per sample; default ``config.obs_history`` (another count for frames that are
    not the observation, e.g. the frames ahead a future-prediction loss reads).
    """
    c = config
    t = c.obs_history if frames is None else frames
    out = []
    for cam in c.cameras:
        x = feature(keys.image_key(cam))
        if x.shape[1] != t:
            want = f"obs_history={t}" if frames is None else f"{t} frames"
            raise DatasetError(f"{keys.image_key(cam)} has {x.shape[1]} frames; {c.label} expects {want}")
        x = x.flatten(0, 1)
        if c.use_depth:
            depth = feature(keys.depth_key(cam)).flatten(0, 1)
            x = torch.cat([x, depth.clamp(0.0, c.depth_max_m) / c.depth_max_m], dim=1)
        if tuple(x.shape[-2:]) != tuple(c.image_size):
            x = F.interpolate(x, size=tuple(c.image_size), mode="bilinear", align_corners=False)
        out.append(x)
    return torch.cat(out)
