"""corner2_hand: the projection of world points into corner2, the window around the hand, its config."""

from __future__ import annotations

import mujoco
import numpy as np
import pytest

from vlastack.envs import make_env
from vlastack.envs.camera_geometry import crop_origin, project_points
from vlastack.envs.hand_view import HandView, area_resize, centre_sample
from vlastack.errors import ConfigError

SIZE = 480  # the high-resolution corner2 the window is cut from (MetaWorldConfig.hand_render_size)
CROP = 160  # MetaWorldConfig.hand_crop
#: Hand moves (dx, dy, dz, grip) held for 10 steps each, so the hand is seen in several places.
MOVES = [(0.0, 0.0, 0.0, 0.0), (-0.8, -0.6, 0.4, 0.0), (0.9, -0.3, -0.6, 0.0)]
#: The gripper's visible bodies (the hand body's own mesh is mostly hidden behind the wrist).
GRIPPER_BODIES = ("right_hand", "hand", "rightpad", "leftpad")


_SEGMENTERS: dict = {}


def segmentation(env, width: int = SIZE, height: int = SIZE) -> np.ndarray:
    """int [H, W]: the geom id drawn at each pixel of the upright corner2 image (-1: no geom)."""
    m, d = env._env.model, env._env.data
    key = (id(m), width, height)
    if key not in _SEGMENTERS:  # one renderer per model and size: making an OpenGL context costs
        _SEGMENTERS[key] = mujoco.Renderer(m, height, width)
        _SEGMENTERS[key].enable_segmentation_rendering()
    r = _SEGMENTERS[key]
    r.update_scene(d, camera="corner2")
    seg = r.render()[::-1, ::-1]  # corner2 is turned by 180 degrees, as CameraRenderer does
    return np.where(seg[..., 1] == mujoco.mjtObj.mjOBJ_GEOM, seg[..., 0], -1)


@pytest.fixture(autouse=True)
def _close_segmenters():
    yield
    while _SEGMENTERS:
        _SEGMENTERS.popitem()[1].close()


def geoms_of(env, bodies) -> list[int]:
    m = env._env.model
    ids = {mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_BODY, b) for b in bodies}
    return [g for g in range(m.ngeom) if m.geom_bodyid[g] in ids]


def centroid(mask: np.ndarray) -> tuple[float, float]:
    """(u, v) of a mask's pixels, in the module's convention (pixel centres at + 0.5)."""
    r, c = np.nonzero(mask)
    return c.mean() + 0.5, r.mean() + 0.5


def test_window_shifts_at_the_borders_and_never_pads():
    assert crop_origin(240.0, 240.0, 160, 480, 480) == (160, 160)  # (top, left): centred
    assert crop_origin(10.0, 470.0, 160, 480, 480) == (320, 0)  # pushed back inside, same size
    assert crop_origin(-50.0, 1e9, 160, 480, 480) == (320, 0)
    assert crop_origin(float("nan"), 3.0, 160, 480, 480) == (160, 160)  # behind the camera: the centre
    with pytest.raises(ConfigError, match="crop must be in"):
        crop_origin(0.0, 0.0, 481, 480, 480)


def test_area_resize_averages_areas():
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (160, 160, 3), dtype=np.uint8)
    blocks = img.reshape(80, 2, 80, 2, 3).astype(float).mean(axis=(1, 3))
    np.testing.assert_array_equal(area_resize(img, 80), np.rint(blocks).astype(np.uint8))  # 2 x 2 blocks
    assert np.all(area_resize(np.full((160, 160, 3), 77, np.uint8), 128) == 77)
    assert centre_sample(np.arange(16.0).reshape(4, 4), 2).tolist() == [[5.0, 7.0], [13.0, 15.0]]
    cv2 = pytest.importorskip("cv2")  # not a dependency: only a cross-check where it is installed
    for size in (128, 100):  # OpenCV rounds in float32: at most one level apart
        theirs = cv2.resize(img, (size, size), interpolation=cv2.INTER_AREA)
        assert np.abs(area_resize(img, size).astype(int) - theirs).max() <= 1


def test_bad_sizes_name_the_field():
    with pytest.raises(ConfigError, match="hand_crop must be in"):
        make_env("reach-v3", cameras=("corner2_hand",), hand_crop=500)
    with pytest.raises(ConfigError, match="hand_crop must be in"):
        make_env("reach-v3", cameras=("corner2_hand",), hand_crop=0)
    with pytest.raises(ConfigError, match="hand_render_size must be in"):
        make_env("reach-v3", cameras=("corner2_hand",), hand_render_size=4, hand_crop=4)
    with pytest.raises(ConfigError, match="Did you mean 'corner2_hand'"):
        make_env("reach-v3", cameras=("corner2_hnd",), image_size=32)


@pytest.mark.slow
def test_projection_lands_where_mujoco_draws():
    env = make_env("pick-place-v3", cameras=("corner2",), image_size=32)
    obs, _ = env.reset(seed=0)
    m, d = env._env.model, env._env.data
    pad, block = geoms_of(env, ("rightpad",))[0], geoms_of(env, ("obj",))[0]  # a box and a cylinder
    gripper = geoms_of(env, GRIPPER_BODIES)
    for move in MOVES:
        for _ in range(10):
            obs, *_ = env.step(np.array(move))
        for width, height in ((SIZE, SIZE), (320, 240)):  # square, and wider than tall (fovy is vertical)
            seg = segmentation(env, width, height)
            for g in (pad, block):  # a convex shape's silhouette is centred on its projected centre
                u, v = project_points(m, d, "corner2", d.geom_xpos[g], width, height)
                np.testing.assert_allclose(centroid(seg == g), (u, v), atol=2.0 * width / SIZE)
        # The state's hand point (the hand body's origin) projects inside the gripper's silhouette box.
        seg = segmentation(env)
        r, c = np.nonzero(np.isin(seg, gripper))
        u, v = project_points(m, d, "corner2", obs.state[:3], SIZE, SIZE)
        assert c.min() <= u <= c.max() + 1 and r.min() <= v <= r.max() + 1, (u, v)
    env.close()


@pytest.mark.slow
def test_corner2_hand_is_the_window_around_the_hand():
    env = make_env("pick-place-v3", cameras=("corner2", "corner2_hand"), image_size=128)
    full = make_env("pick-place-v3", cameras=("corner2",), image_size=SIZE)  # the image the window is cut from
    obs, big = env.reset(seed=1)[0], full.reset(seed=1)[0]
    pads = geoms_of(env, ("rightpad", "leftpad"))
    for move in MOVES:
        for _ in range(10):
            obs, big = env.step(np.array(move))[0], full.step(np.array(move))[0]
        img = obs.images["corner2_hand"]
        assert list(obs.images) == ["corner2", "corner2_hand"] and img.shape == (128, 128, 3)
        assert img.std() > 20, f"corner2_hand looks blank (pixel std {img.std():.1f})"
        u, v = project_points(env._env.model, env._env.data, "corner2", obs.state[:3], SIZE, SIZE)
        top, left = crop_origin(float(u), float(v), CROP, SIZE, SIZE)
        assert env._hand_view.last_origin == (top, left)
        # Rendering only the window draws the whole image's pixels there, up to rounding: shading a level
        # apart here and there, a rare edge pixel that falls the other way.
        cut = big.images["corner2"][top : top + CROP, left : left + CROP]
        window = HandView(env._env.model, SIZE, CROP, CROP)
        differ = np.abs(window.render(env._env.data, obs.state[:3])[0].astype(int) - cut).max(axis=-1)
        window.close()
        assert differ.mean() < 0.2 and (differ > 1).mean() < 0.005, np.bincount(differ.ravel())
        assert np.abs(img.astype(int) - area_resize(cut, 128)).mean() < 0.2
        # The fingers are near the middle of the window (they hang some 4.5 cm below the hand point).
        pu, pv = centroid(np.isin(segmentation(env), pads))
        assert abs(pu - (left + CROP / 2)) < CROP / 4 and abs(pv - (top + CROP / 2)) < CROP / 4, (pu, pv, top, left)
    env.close()
    full.close()


@pytest.mark.slow
def test_corner2_is_unchanged_beside_corner2_hand_and_perturbations_reach_both():
    kwargs = dict(image_size=64, depth=True, perturb=("camera_5cm_6deg", "distractors"))
    both = make_env("push-v3", cameras=("corner2", "corner2_hand"), **kwargs)
    alone = make_env("push-v3", cameras=("corner2",), **kwargs)
    for env in (both, alone):
        env.reset(seed=4)
    pads = geoms_of(both, ("rightpad", "leftpad"))
    for _ in range(10):
        a, b = both.step(np.array([0.5, -0.5, -0.2, 0.0]))[0], alone.step(np.array([0.5, -0.5, -0.2, 0.0]))[0]
        np.testing.assert_array_equal(a.images["corner2"], b.images["corner2"])
        np.testing.assert_array_equal(a.depth["corner2"], b.depth["corner2"])
    hand_depth = a.depth["corner2_hand"]
    assert hand_depth.shape == (64, 64) and hand_depth.dtype == np.float32 and 0.3 < hand_depth.min() < hand_depth.max() < 5.0
    # The moved camera is the one projected through: the fingers are still in the middle of the window.
    top, left = both._hand_view.last_origin
    pu, pv = centroid(np.isin(segmentation(both), pads))
    assert abs(pu - (left + CROP / 2)) < CROP / 4 and abs(pv - (top + CROP / 2)) < CROP / 4
    both.close()
    alone.close()


@pytest.mark.slow
def test_long_horizon_envs_and_corner2_hand_alone():
    env = make_env("lh-drawer-open-close", cameras=("corner2_hand",), image_size=64)
    obs, _ = env.reset(seed=0)
    assert list(obs.images) == ["corner2_hand"] and obs.images["corner2_hand"].shape == (64, 64, 3)
    assert obs.images["corner2_hand"].std() > 20
    assert env._renderer is None  # no other camera asked for: no renderer at image_size
    env.close()
