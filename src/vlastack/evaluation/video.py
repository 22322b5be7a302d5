"""Frames for people: cameras side by side with a caption strip."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw


def side_by_side(streams: list[np.ndarray], caption: str = "", caption_height: int = 16) -> np.ndarray:
    """Join uint8 [N, H, W, 3] streams of equal N and H horizontally; write ``caption`` below them.

    The result has even height and width, as H.264 in yuv420p requires.
    """
    if not streams:
        raise ValueError("side_by_side needs at least one stream")
    frames = np.concatenate(streams, axis=2)
    n, h, w, _ = frames.shape
    strip = Image.new("RGB", (w, caption_height), (0, 0, 0))
    ImageDraw.Draw(strip).text((2, 2), caption[: max(1, w // 6)], fill=(255, 255, 255))
    strip_arr = np.broadcast_to(np.asarray(strip), (n, caption_height, w, 3))
    out = np.concatenate([frames, strip_arr], axis=1)
    return np.ascontiguousarray(out[:, : out.shape[1] // 2 * 2, : out.shape[2] // 2 * 2])
