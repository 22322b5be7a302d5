"""Camera streams as MP4 files: encode uint8 RGB frames, decode them back.

The default codec is H.264 in yuv420p, which LeRobot, torchcodec and every video player read.
It is lossy: decoded pixels differ from the recorded ones by a few grey levels (the tests bound the
error). ``libx264rgb`` with ``crf=0`` is offered for bit-exact storage at several times the size.
LeRobot itself defaults to AV1 (``libsvtav1``), also supported here.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from vlastack.errors import ConfigError, DatasetError

#: codec name as ffmpeg calls the encoder -> (pixel format, name written to info.json).
CODECS = {
    "h264": ("libx264", "yuv420p", "h264"),
    "h264-lossless": ("libx264rgb", "rgb24", "h264"),
    "av1": ("libsvtav1", "yuv420p", "av1"),
}


@dataclass(frozen=True)
class VideoSettings:
    """How camera streams are encoded."""

    codec: str = "h264"
    """One of ``CODECS``: ``h264`` (default), ``h264-lossless`` or ``av1``."""
    crf: int = 18
    """Constant rate factor: lower is better quality and bigger files; 0 is lossless for h264."""
    gop: int = 8
    """Frames between key frames: small values make random access fast and files larger."""

    def __post_init__(self) -> None:
        if self.codec not in CODECS:
            raise ConfigError(f"video codec {self.codec!r} is not supported; choose one of {sorted(CODECS)}")
        if not 0 <= self.crf <= 63:
            raise ConfigError(f"video crf must be in [0, 63], got {self.crf}")
        if self.gop < 1:
            raise ConfigError(f"video gop must be >= 1, got {self.gop}")

    @property
    def pix_fmt(self) -> str:
        return CODECS[self.codec][1]

    @property
    def codec_name(self) -> str:
        return CODECS[self.codec][2]


def encode_video(frames: np.ndarray, path: Path, fps: int, settings: VideoSettings = VideoSettings()) -> None:
    """Write uint8 [N, H, W, 3] RGB frames to ``path`` as MP4 (H and W must be even for yuv420p)."""
    if frames.dtype != np.uint8 or frames.ndim != 4 or frames.shape[-1] != 3:
        raise ConfigError(f"video frames must be uint8 [N, H, W, 3], got {frames.dtype} {frames.shape}")
    encoder, pix_fmt, _ = CODECS[settings.codec]
    options = {"crf": str(settings.crf), "g": str(settings.gop)}
    if encoder == "libx264" or encoder == "libx264rgb":
        options["preset"] = "veryfast"
    if encoder == "libsvtav1":
        options = {"crf": str(max(settings.crf, 1)), "g": str(settings.gop), "preset": "10"}
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), mode="w", format="mp4") as container:
        stream = container.add_stream(encoder, rate=Fraction(fps, 1), options=options)
        stream.width, stream.height = frames.shape[2], frames.shape[1]
        stream.pix_fmt = pix_fmt
        for frame in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def decode_video(path: Path, expected_frames: int | None = None) -> np.ndarray:
    """All frames of an MP4 file as uint8 [N, H, W, 3] RGB.

    Raises DatasetError naming the file if it is missing, unreadable, or has a different number of
    frames than ``expected_frames``.
    """
    if not os.path.exists(path):
        raise DatasetError(f"video file {path} is missing")
    try:
        with av.open(str(path)) as container:
            frames = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    except (av.FFmpegError, IndexError, ValueError) as err:
        raise DatasetError(f"video file {path} is corrupt or not an MP4 video: {err}") from err
    if not frames:
        raise DatasetError(f"video file {path} holds no frames")
    if expected_frames is not None and len(frames) != expected_frames:
        raise DatasetError(f"video file {path} has {len(frames)} frames, the episode metadata says {expected_frames}")
    return np.stack(frames)
