"""``corner2_hand``: a magnified view around the gripper, cut out of the protocol's own corner2 camera.

Nothing new is seen: the view is a window of the ``corner2`` image at high resolution
(``hand_render_size`` pixels square, the protocol's native 480), centred on where the hand point of
the state (``Observation.state[:3]``, Meta-World's ``hand`` body origin, about 4.5 cm above the point
between the fingertips) projects, then resized to the environment's ``image_size``. A policy so gets
more pixels on the gripper from the camera and the proprioception the protocol already allows.

Only the window is drawn: the camera's frustum is narrowed to it (``narrow_to_window``) and a
``hand_crop``-pixel image rendered, the same pixel grid as the whole high-resolution image (equal to
cutting that image up to rounding: shading a level apart here and there), for a 160 px window of 480
about 8 ms a step instead of 20 (2-core CPU, EGL), a ninth of the pixels drawn.

Pixels: area averaging (each output pixel the mean of the source area it covers, the same weights as
OpenCV's ``INTER_AREA``), written in numpy so images do not depend on whether OpenCV is installed.
Depth: the source pixel under each output pixel's centre, not an average, so that every value is a
real surface's distance, as in a depth image rendered at the output size (an average across an edge
would invent a surface between the two).
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import mujoco
import numpy as np

from vlastack.envs.camera_geometry import crop_origin, narrow_to_window, project_points
from vlastack.envs.render import FLIP_BOTH_AXES, camera_names, draw, fast_renderer
from vlastack.errors import ConfigError
from vlastack.registry import unknown_name_error

HAND_CAMERA = "corner2_hand"
"""The derived camera's name, accepted wherever a Meta-World camera name is."""
SOURCE_CAMERA = "corner2"
"""The camera it is cut from."""
DERIVED_CAMERAS = {HAND_CAMERA: SOURCE_CAMERA}
"""Derived camera name -> the real camera rendered for it."""


def area_weights(n_in: int, n_out: int) -> np.ndarray:
    """float64 [n_out, n_in]: row i holds the share of each source pixel in output pixel i, whose footprint
    is ``[i, i + 1) * n_in / n_out`` source pixels; rows sum to 1. (Enlarging: about the nearest source pixel.)"""
    edges = np.arange(n_out + 1) * (n_in / n_out)
    j = np.arange(n_in)[None, :]
    overlap = np.clip(np.minimum(edges[1:, None], j + 1) - np.maximum(edges[:-1, None], j), 0.0, None)
    return overlap / overlap.sum(axis=1, keepdims=True)


@functools.lru_cache(maxsize=16)
def _area_taps(n_in: int, n_out: int) -> tuple[np.ndarray, np.ndarray]:
    """``area_weights`` as taps: (int [n_out, k] source indices, float64 [n_out, k] weights), k the most
    source pixels one output pixel touches (unused taps: index 0, weight 0)."""
    weights = area_weights(n_in, n_out)
    k = int((weights > 0).sum(axis=1).max())
    index, share = np.zeros((n_out, k), dtype=np.intp), np.zeros((n_out, k))
    for i, row in enumerate(weights):
        (nonzero,) = np.nonzero(row)
        index[i, : len(nonzero)], share[i, : len(nonzero)] = nonzero, row[nonzero]
    index.flags.writeable = share.flags.writeable = False
    return index, share


def area_resize(image: np.ndarray, size: int) -> np.ndarray:
    """uint8 [H, W, C] -> uint8 [size, size, C] by area averaging, rounded to the nearest level.

    A few weighted taps per axis rather than a matrix product: no BLAS, so no threads fighting a busy
    machine's cores, and a fixed order of sums, so the same pixels on every machine."""
    index, share = _area_taps(image.shape[0], size)
    rows = (image[index].astype(np.float64) * share[:, :, None, None]).sum(axis=1)  # [size, W, C]
    index, share = _area_taps(image.shape[1], size)
    out = (rows[:, index] * share[None, :, :, None]).sum(axis=2)  # [size, size, C]
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def centre_sample(image: np.ndarray, size: int) -> np.ndarray:
    """[H, W, ...] -> [size, size, ...]: the source pixel under each output pixel's centre."""
    r = ((np.arange(size) + 0.5) * image.shape[0] / size).astype(int)
    c = ((np.arange(size) + 0.5) * image.shape[1] / size).astype(int)
    return image[r[:, None], c[None, :]]


class HandView:
    """Renders ``corner2_hand`` for one model: the ``crop`` x ``crop`` window around the hand of corner2's
    ``render_size`` image, resized to ``out_size`` square."""

    def __init__(self, model: mujoco.MjModel, render_size: int, crop: int, out_size: int, depth: bool = False) -> None:
        if SOURCE_CAMERA not in camera_names(model):
            raise unknown_name_error("camera", SOURCE_CAMERA, camera_names(model))
        if not 1 <= crop <= render_size:
            raise ConfigError(f"hand_crop must be in [1, hand_render_size = {render_size}] pixels, got {crop}")
        self.model = model
        self.render_size, self.crop, self.out_size, self.depth = render_size, crop, out_size, depth
        self._renderer = fast_renderer(model, crop, crop)
        self.last_origin: tuple[int, int] = (0, 0)
        """(top row, left column) of the last window in the upright ``render_size`` image, pixels."""

    def render(
        self, data: mujoco.MjData, hand_xyz: np.ndarray, decorate: Callable[[mujoco.MjvScene], None] | None = None
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """(uint8 [S, S, 3] RGB, float32 [S, S] depth in metres or None when depth is off), S = ``out_size``,
        around the world point ``hand_xyz`` (metres). ``decorate`` as in :meth:`CameraRenderer.render`."""
        n, c, r = self.render_size, self.crop, self._renderer
        u, v = project_points(self.model, data, SOURCE_CAMERA, np.asarray(hand_xyz, dtype=np.float64), n, n)
        top, left = crop_origin(float(u), float(v), c, n, n)
        self.last_origin = (top, left)
        flipped = SOURCE_CAMERA in FLIP_BOTH_AXES
        image, depth = draw(r, data, SOURCE_CAMERA, self.depth, decorate, lambda scene: narrow_to_window(scene, top, left, c, n, flipped))
        if c != self.out_size:
            image = area_resize(image, self.out_size)
            depth = None if depth is None else np.ascontiguousarray(centre_sample(depth, self.out_size))
        return image, depth

    def close(self) -> None:
        self._renderer.close()
