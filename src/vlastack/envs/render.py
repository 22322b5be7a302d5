"""Offscreen camera rendering for MuJoCo scenes: RGB and depth from any number of cameras.

Fast settings by default: no multisample anti-aliasing, no shadows, no reflections (on a 2-core
CPU through EGL about 10 ms a frame instead of about 90). Images are returned upright: cameras
whose MuJoCo definition renders them upside down are listed in ``FLIP_BOTH_AXES`` and rotated by
180 degrees, checked by eye (the floor at the bottom, the robot standing on its base).
"""

from __future__ import annotations

from collections.abc import Callable

import mujoco
import numpy as np

from vlastack.registry import unknown_name_error

#: Cameras that MuJoCo renders upside down in Meta-World's scene (LeRobot flips corner2 likewise).
FLIP_BOTH_AXES = frozenset({"corner", "corner2", "corner3", "corner4"})


def camera_names(model: mujoco.MjModel) -> list[str]:
    """The names of the cameras ``model`` defines, in id order."""
    return [mujoco.mj_id2name(model, mujoco.mjtObj.mjOBJ_CAMERA, i) for i in range(model.ncam)]


def fast_renderer(model: mujoco.MjModel, width: int, height: int, fast: bool = True) -> mujoco.Renderer:
    """A ``mujoco.Renderer`` of ``width`` x ``height`` pixels; ``fast``: no multisampling, shadows or reflections."""
    if fast:
        model.vis.quality.offsamples = 0
    # The offscreen buffer must be at least as large as the requested image.
    model.vis.global_.offwidth = max(model.vis.global_.offwidth, width)
    model.vis.global_.offheight = max(model.vis.global_.offheight, height)
    renderer = mujoco.Renderer(model, height, width)
    if fast:
        renderer.scene.flags[mujoco.mjtRndFlag.mjRND_SHADOW] = 0
        renderer.scene.flags[mujoco.mjtRndFlag.mjRND_REFLECTION] = 0
    return renderer


def draw(
    renderer: mujoco.Renderer,
    data: mujoco.MjData,
    camera: str,
    depth: bool,
    decorate: Callable[[mujoco.MjvScene], None] | None = None,
    adjust: Callable[[mujoco.MjvScene], None] | None = None,
) -> tuple[np.ndarray, np.ndarray | None]:
    """One camera's upright image: (uint8 [H, W, 3], float32 [H, W] metres or None when ``depth`` is off).

    ``decorate`` adds visual-only geoms to the scene (distractors); ``adjust`` changes the scene's camera
    after ``update_scene`` set it (e.g. a narrowed frustum); both before anything is drawn."""
    renderer.update_scene(data, camera=camera)
    if decorate is not None:
        decorate(renderer.scene)
    if adjust is not None:
        adjust(renderer.scene)
    img, d = renderer.render(), None
    if depth:
        renderer.enable_depth_rendering()
        d = renderer.render().astype(np.float32)
        renderer.disable_depth_rendering()
    if camera in FLIP_BOTH_AXES:
        img = img[::-1, ::-1]
        d = None if d is None else d[::-1, ::-1]
    return np.ascontiguousarray(img), None if d is None else np.ascontiguousarray(d)


class CameraRenderer:
    """Renders a fixed set of named cameras of one model at one resolution."""

    def __init__(self, model: mujoco.MjModel, cameras: tuple[str, ...], size: int, depth: bool = False, fast: bool = True) -> None:
        valid = camera_names(model)
        for cam in cameras:
            if cam not in valid:
                raise unknown_name_error("camera", cam, valid)
        if size < 8 or size > 2048:
            raise ValueError(f"image size must be in [8, 2048] pixels, got {size}")
        self.cameras = tuple(cameras)
        self.depth = depth
        self._renderer = fast_renderer(model, size, size, fast)

    def render(
        self, data: mujoco.MjData, decorate: Callable[[mujoco.MjvScene], None] | None = None
    ) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
        """(rgb, depth): camera -> uint8 [S, S, 3] and camera -> float32 [S, S] metres (empty if off).

        ``decorate`` may add visual-only geoms to each camera's scene before it is drawn (distractors)."""
        rgb, depth = {}, {}
        for cam in self.cameras:
            rgb[cam], d = draw(self._renderer, data, cam, self.depth, decorate)
            if d is not None:
                depth[cam] = d
        return rgb, depth

    def close(self) -> None:
        self._renderer.close()
