"""Where world points land in a MuJoCo camera's image (the pinhole model MuJoCo renders with).

Pixel convention, used by every function here: continuous coordinates ``(u, v)`` in the *upright*
image as :class:`vlastack.envs.render.CameraRenderer` returns it (cameras in ``FLIP_BOTH_AXES``
already turned by 180 degrees); ``u`` grows to the right along a row, ``v`` downwards along a column,
and pixel ``[row i, column j]`` covers ``[j, j + 1) x [i, i + 1)``, so its centre is ``(j + 0.5, i + 0.5)``.

The camera (MuJoCo's convention): position ``data.cam_xpos``, orientation ``data.cam_xmat`` whose
columns are the camera's x axis (image right), y axis (image up) and z axis (the camera looks along
-z); vertical field of view ``model.cam_fovy`` in degrees, the same focal length horizontally, so
one pixel is square whatever the aspect ratio.
"""

from __future__ import annotations

from typing import Any

import mujoco
import numpy as np

from vlastack.envs.render import FLIP_BOTH_AXES, camera_names
from vlastack.errors import ConfigError
from vlastack.registry import unknown_name_error


def focal_length_px(fovy_deg: float, height: int) -> float:
    """Focal length in pixels of a pinhole camera whose vertical field of view is ``fovy_deg`` degrees."""
    return (height / 2) / np.tan(np.deg2rad(fovy_deg) / 2)


def project_points(
    model: Any, data: Any, camera_name: str, points_xyz: np.ndarray, width: int, height: int
) -> tuple[np.ndarray, np.ndarray]:
    """Pixel coordinates ``(u, v)`` (see the module docstring) of world points ``points_xyz`` [..., 3] (metres)
    in ``camera_name``'s upright ``width`` x ``height`` image; each of shape ``points_xyz.shape[:-1]``.

    Reads the camera pose from ``data``: call it after the forward pass that placed the camera (it then
    follows a perturbed camera too). A point at or behind the camera plane gets NaN for both coordinates.
    Points outside the field of view get coordinates outside ``[0, width] x [0, height]``."""
    cam = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_CAMERA, camera_name)
    if cam < 0:
        raise unknown_name_error("camera", camera_name, camera_names(model))
    if model.cam_orthographic[cam]:
        raise ConfigError(f"camera {camera_name!r} is orthographic: project_points handles perspective cameras only")
    if np.any(model.cam_sensorsize[cam] > 0):
        raise ConfigError(f"camera {camera_name!r} defines its intrinsics by sensor size: project_points reads cam_fovy only")
    if width < 1 or height < 1:
        raise ConfigError(f"width and height must be >= 1 pixel, got {width} x {height}")
    p = np.asarray(points_xyz, dtype=np.float64)
    if p.shape[-1:] != (3,):
        raise ConfigError(f"points_xyz must have shape [..., 3] (x, y, z in metres), got {p.shape}")
    rotation = data.cam_xmat[cam].reshape(3, 3)  # columns: the camera's axes in world coordinates
    local = (p - data.cam_xpos[cam]) @ rotation  # world -> camera frame, row vectors
    depth = -local[..., 2]  # metres in front of the camera along its optical axis
    f = focal_length_px(float(model.cam_fovy[cam]), height)
    with np.errstate(divide="ignore", invalid="ignore"):
        u = width / 2 + f * local[..., 0] / depth
        v = height / 2 - f * local[..., 1] / depth  # image rows grow downwards, camera y upwards
    behind = depth <= 0
    u, v = np.where(behind, np.nan, u), np.where(behind, np.nan, v)
    if camera_name in FLIP_BOTH_AXES:  # the renderer turns these images by 180 degrees
        u, v = width - u, height - v
    return u, v


def crop_origin(u: float, v: float, crop: int, width: int, height: int) -> tuple[int, int]:
    """(top row, left column) of the ``crop`` x ``crop`` pixel window centred as near ``(u, v)`` as the
    image allows: shifted, never padded, to stay inside a ``width`` x ``height`` image. A NaN centre
    (a point behind the camera) gives the window at the image's centre."""
    if not 1 <= crop <= min(width, height):
        raise ConfigError(f"crop must be in [1, {min(width, height)}] pixels (the image side), got {crop}")
    if not (np.isfinite(u) and np.isfinite(v)):
        u, v = width / 2, height / 2
    left = int(np.clip(np.floor(u - crop / 2 + 0.5), 0, width - crop))
    top = int(np.clip(np.floor(v - crop / 2 + 0.5), 0, height - crop))
    return top, left


def narrow_to_window(scene: Any, top: int, left: int, crop: int, size: int, flipped: bool) -> None:
    """Make ``scene``'s camera see only the ``crop`` x ``crop`` pixel window at (``top``, ``left``) of its
    upright ``size`` x ``size`` image, so that a ``crop`` x ``crop`` render *is* that window: the same pixel
    grid, about ``(size / crop)**2`` times fewer pixels drawn than rendering the whole image and cutting.

    Call it after ``update_scene`` (which sets the whole image's frustum) and before rendering. ``flipped``:
    the camera is one the renderer turns by 180 degrees (the window is then mirrored in the raw image).
    Both eyes' frusta are set (MuJoCo draws a mono image with their average)."""
    if not 0 <= top <= size - crop or not 0 <= left <= size - crop:
        raise ConfigError(f"window ({top}, {left}) + {crop} px must lie inside the {size} px image")
    eye = scene.camera[0]
    high, low, centre = float(eye.frustum_top), float(eye.frustum_bottom), float(eye.frustum_center)
    half_width = float(eye.frustum_width) or (high - low) / 2  # 0: from the (square) viewport's aspect
    pixel_x, pixel_y = 2 * half_width / size, (high - low) / size  # one pixel on the near plane, metres
    row, col = (size - top - crop, size - left - crop) if flipped else (top, left)  # the window in the raw image
    for eye in scene.camera:
        eye.frustum_center = centre - half_width + (col + crop / 2) * pixel_x
        eye.frustum_width = crop / 2 * pixel_x
        eye.frustum_top = high - row * pixel_y
        eye.frustum_bottom = high - (row + crop) * pixel_y
