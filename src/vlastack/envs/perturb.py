"""Controlled changes to how a scene looks, never to how it moves (issue 17, item 6).

Each named level (:data:`PERTURBATIONS`) is a :class:`VisualPerturbation`: lighting, table colour,
task-object colour, a jitter of the main camera's pose around its placement, and distractor objects.
Where those are in a scene (which camera, which bodies are the table and the task's objects, where the
table top is) is a :class:`LookSpec`: :data:`METAWORLD` for Meta-World's Sawyer scenes (the ``corner2``
camera, jittered around the protocol's placement), one per robosuite task (envs/robosuite_env.py) and one
for the Fetch scenes (envs/fetch_env.py). What each episode gets is drawn at reset from the reset seed (and the level's
name), so an episode is reproducible and the same seed gives the same look in every process.

Only fields the simulation never reads are changed: ``light_*`` and the headlight, ``geom_rgba``,
``cam_pos`` / ``cam_quat``. Distractors are not added to the model at all: they are drawn into the
rendered scene after MuJoCo has built it (``decorate``), so they have no mass, no contacts and
cannot be touched; the arm passes through them (visual-only distractors, not obstacles).
The goal site and every other site are left alone (recolouring the goal would change the task).
``none`` (or no level) changes nothing: the environment is bit-for-bit the unperturbed one.

A mix (:data:`MIXES`, e.g. ``randomise``) is for training with randomisation: at each reset it switches
each of its levels on or off, drawn from the seed, and a level that is on looks exactly as when it is
asked for alone with that seed.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import Any

import mujoco
import numpy as np

from vlastack.errors import ConfigError
from vlastack.registry import unknown_name_error

NONE = "none"
"""The level that changes nothing."""

#: The scene every Meta-World task shares: the Sawyer arm, its pedestal, the table, the wall behind.
#: Every other body carrying geoms is a task object (block, drawer, door, window, button box, peg...).
SCENE_BODIES = frozenset(
    {
        "world",
        "mocap",
        "tablelink",
        "RetainingWall",
        "controller_box",
        "pedestal",
        "pedestal_feet",
        "torso",
        "head",
        "screen",
        "right_arm_base_link",
        "right_l0",
        "right_l1",
        "right_l1_2",
        "right_l2",
        "right_l3",
        "right_l4",
        "right_l5",
        "right_l6",
        "right_hand",
        "hand",
        "rightclaw",
        "rightpad",
        "leftclaw",
        "leftpad",
    }
)
TABLE_BODY = "tablelink"
CAMERA = "corner2"
#: MuJoCo's default geom colour: a geom with a material and this rgba is drawn in the material's colour.
_DEFAULT_RGBA = np.array([0.5, 0.5, 0.5, 1.0], dtype=np.float32)
#: Where distractors may stand on the table top (world x, y in metres; the top is at z = 0).
DISTRACTOR_AREA_M = ((-0.4, 0.4), (0.4, 0.9))


@dataclass(frozen=True)
class LookSpec:
    """Where a scene keeps what the perturbations change: one per family of scenes (world frame, metres)."""

    camera: str
    """The camera whose pose is jittered (the fixed view the policy sees; a wrist camera rides on the arm)."""
    table_body: str
    """The body whose visible geoms are the table that ``table_rgb`` tints."""
    hand_body: str
    """A body of the hand: distractors keep ``distractor_clearance_m`` from it at reset."""
    distractor_area_m: tuple[tuple[float, float], tuple[float, float]]
    """Where distractors may stand on the table top: (x low, x high), (y low, y high), world frame (m)."""
    table_top_z_m: float = 0.0
    """Height of the table top (world z, m): distractors stand on it."""
    goal_site: str | None = None
    """A site distractors keep clear of too (Meta-World's ``goal``); None: none."""
    scene_bodies: frozenset[str] | None = None
    """Bodies that are the robot and the room; every other body with visible geoms is a task object. Give
    this or ``object_bodies``."""
    object_bodies: frozenset[str] | None = None
    """Bodies that are the task's objects (recoloured by ``object_rgb``); give this or ``scene_bodies``."""

    def __post_init__(self) -> None:
        if (self.scene_bodies is None) == (self.object_bodies is None):
            raise ConfigError("LookSpec: give exactly one of scene_bodies and object_bodies")
        (x0, x1), (y0, y1) = self.distractor_area_m
        if not (x0 < x1 and y0 < y1):
            raise ConfigError(f"distractor_area_m must be ((x low, x high), (y low, y high)) with low < high, got {self.distractor_area_m}")

    def is_object(self, body: str) -> bool:
        """Whether ``body`` is one of the task's objects."""
        if self.object_bodies is not None:
            return body in self.object_bodies
        return body not in self.scene_bodies  # type: ignore[operator]


METAWORLD = LookSpec(
    camera=CAMERA, table_body=TABLE_BODY, hand_body="hand", distractor_area_m=DISTRACTOR_AREA_M, goal_site="goal", scene_bodies=SCENE_BODIES
)
"""Meta-World's Sawyer scenes: every body outside :data:`SCENE_BODIES` is a task object; the table top is at z = 0."""


@dataclass(frozen=True)
class VisualPerturbation:
    """One named level of visual change; every field at its default changes nothing."""

    light_scale: tuple[float, float] = (1.0, 1.0)
    """Range (unitless factor) each scene light's diffuse intensity, and the headlight's, is multiplied by."""
    light_tilt_deg: float = 0.0
    """Each scene light's direction is turned by this many degrees about a random axis."""
    table_rgb: tuple[float, float] | None = None
    """Range of each RGB channel (0-1) of the colour the table's visible geoms are tinted with; None: unchanged."""
    object_rgb: tuple[float, float] | None = None
    """Range of each RGB channel (0-1) of a colour drawn per visible task-object geom; None: unchanged."""
    camera_shift_m: float = 0.0
    """The scene's main camera (LookSpec.camera; Meta-World's corner2) moves by exactly this many metres in a random direction."""
    camera_turn_deg: float = 0.0
    """That camera turns by exactly this many degrees about a random axis."""
    distractors: int = 0
    """Visual-only boxes, spheres and cylinders (half-size 2.5-4.5 cm) drawn on the table, away from the task's objects."""
    distractor_clearance_m: float = 0.12
    """Least distance (metres, in the table plane) from a distractor to the hand, every task object and the goal."""

    def __post_init__(self) -> None:
        for name in ("light_scale", "table_rgb", "object_rgb"):
            r = getattr(self, name)
            if r is not None and not (len(r) == 2 and 0 <= r[0] <= r[1]):
                raise ConfigError(f"{name} must be a range (low, high) with 0 <= low <= high, got {r}")
        for name in ("table_rgb", "object_rgb"):
            r = getattr(self, name)
            if r is not None and r[1] > 1:
                raise ConfigError(f"{name} must lie in [0, 1] (RGB channels), got {r}")
        for name in ("light_tilt_deg", "camera_shift_m", "camera_turn_deg", "distractor_clearance_m"):
            if getattr(self, name) < 0:
                raise ConfigError(f"{name} must be >= 0, got {getattr(self, name)}")
        if not 0 <= self.distractors <= 8:
            raise ConfigError(f"distractors must be in [0, 8], got {self.distractors}")


PERTURBATIONS: dict[str, VisualPerturbation] = {
    NONE: VisualPerturbation(),
    "lighting": VisualPerturbation(light_scale=(0.25, 1.75), light_tilt_deg=30.0),
    "table_colour": VisualPerturbation(table_rgb=(0.2, 1.0)),
    "object_colour": VisualPerturbation(object_rgb=(0.1, 0.9)),
    "camera_2cm_3deg": VisualPerturbation(camera_shift_m=0.02, camera_turn_deg=3.0),
    "camera_5cm_6deg": VisualPerturbation(camera_shift_m=0.05, camera_turn_deg=6.0),
    "distractors": VisualPerturbation(distractors=3),
}
"""The named levels ``vlastack eval --perturb`` accepts; several may be combined."""

MIXES: dict[str, tuple[tuple[str, ...], float]] = {
    # Every factor of the robustness table, the camera at its larger jitter; each on in half the episodes, so
    # about 1 episode in 32 is unperturbed and most show two or three changes at once.
    "randomise": (("lighting", "table_colour", "object_colour", "camera_5cm_6deg", "distractors"), 0.5),
}
"""Randomisation mixes: name -> (levels, probability each level is on in an episode, drawn from its seed)."""


def check_perturbations(names: tuple[str, ...]) -> tuple[str, ...]:
    """``names`` with ``none`` left out; a ConfigError naming the valid levels and mixes for an unknown one."""
    for n in names:
        if n not in PERTURBATIONS and n not in MIXES:
            raise unknown_name_error("perturbation", n, {**PERTURBATIONS, **MIXES})
    if len(set(names)) != len(names):
        raise ConfigError(f"perturbations must be distinct, got {names}")
    return tuple(n for n in names if n != NONE)


def _random_rotation(rng: np.random.Generator, angle_deg: float) -> np.ndarray:
    """A unit quaternion (w, x, y, z) turning by exactly ``angle_deg`` about a uniformly random axis."""
    axis = rng.normal(size=3)
    axis /= np.linalg.norm(axis)
    half = np.deg2rad(angle_deg) / 2
    return np.concatenate([[np.cos(half)], np.sin(half) * axis])


def _random_direction(rng: np.random.Generator) -> np.ndarray:
    v = rng.normal(size=3)
    return v / np.linalg.norm(v)


class SceneLook:
    """Applies named perturbations to one model at each reset; keeps the original values."""

    def __init__(self, model: Any, names: tuple[str, ...], spec: LookSpec = METAWORLD) -> None:
        self.names = check_perturbations(names)
        """The levels and mixes asked for (``none`` left out); empty: the look never changes."""
        self.levels = [(n, PERTURBATIONS[n]) for n in self.names if n in PERTURBATIONS]
        self.mixes = [(n, MIXES[n]) for n in self.names if n in MIXES]
        self.episode_levels: tuple[str, ...] = ()
        """The levels the last ``apply`` drew (the fixed ones and the mixes' picks)."""
        self.model, self.spec = model, spec
        body = lambda i: mujoco.mj_id2name(model, mujoco.mjtObj.mjOBJ_BODY, i)  # noqa: E731
        self.camera = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_CAMERA, spec.camera)
        if self.camera < 0:
            raise ConfigError(f"LookSpec.camera: the scene has no camera {spec.camera!r}")
        visible = [g for g in range(model.ngeom) if model.geom_group[g] <= 2 and model.geom_rgba[g][3] > 0]
        self.table_geoms = [g for g in visible if body(model.geom_bodyid[g]) == spec.table_body]
        self.object_geoms = [g for g in visible if spec.is_object(body(model.geom_bodyid[g]))]
        self.object_bodies = sorted({int(model.geom_bodyid[g]) for g in self.object_geoms})
        self._original = {
            "light_diffuse": model.light_diffuse.copy(),
            "light_dir": model.light_dir.copy(),
            "geom_rgba": model.geom_rgba.copy(),
            "cam_pos": model.cam_pos.copy(),
            "cam_quat": model.cam_quat.copy(),
        }
        self._headlight = (model.vis.headlight.diffuse.copy(), model.vis.headlight.ambient.copy())
        self._distractors: list[tuple[int, np.ndarray, np.ndarray, np.ndarray]] = []
        self._rngs: list[tuple[VisualPerturbation, np.random.Generator]] = []

    def apply(self, seed: int) -> None:
        """Restore the original look, then draw every level's change of the model from ``seed``. Call it
        before the forward pass that follows a reset: the camera's world pose is computed there."""
        m = self.model
        for name, value in self._original.items():
            getattr(m, name)[:] = value
        m.vis.headlight.diffuse[:], m.vis.headlight.ambient[:] = self._headlight
        self._rngs = []
        chosen = list(self.levels)
        for mix, (members, p) in self.mixes:
            on = np.random.default_rng([int(seed) & 0xFFFFFFFF, zlib.crc32(mix.encode())]).random(len(members)) < p
            chosen += [(n, PERTURBATIONS[n]) for n, yes in zip(members, on, strict=True) if yes and n not in dict(chosen)]
        self.episode_levels = tuple(n for n, _ in chosen)
        for name, level in chosen:
            # One stream per (seed, level): a level looks the same whichever others it is combined with.
            rng = np.random.default_rng([int(seed) & 0xFFFFFFFF, zlib.crc32(name.encode())])
            self._apply_one(level, rng)
            self._rngs.append((level, rng))

    def start_episode(self, seed: int, data: Any) -> None:
        """A new episode's look: ``apply(seed)``, the forward pass that places the jittered camera and says where the
        hand, objects and goal are (kinematics only, the simulated state is untouched), then ``place_distractors``."""
        self.apply(seed)
        mujoco.mj_forward(self.model, data)
        self.place_distractors(data)

    def place_distractors(self, data: Any) -> None:
        """Draw where this episode's distractors stand (after ``apply`` and the forward pass: positions are read from ``data``)."""
        self._distractors = []
        for level, rng in self._rngs:
            if level.distractors:
                self._distractors += self._place_distractors(level, rng, data)

    def _apply_one(self, p: VisualPerturbation, rng: np.random.Generator) -> None:
        m = self.model
        if p.light_scale != (1.0, 1.0) or p.light_tilt_deg:
            for i in range(m.nlight):
                m.light_diffuse[i] = np.clip(m.light_diffuse[i] * rng.uniform(*p.light_scale), 0, 1)
                rotation = np.zeros(9)
                mujoco.mju_quat2Mat(rotation, _random_rotation(rng, p.light_tilt_deg))
                m.light_dir[i] = rotation.reshape(3, 3) @ m.light_dir[i]
            scale = rng.uniform(*p.light_scale)
            m.vis.headlight.diffuse[:] = np.clip(m.vis.headlight.diffuse * scale, 0, 1)
            m.vis.headlight.ambient[:] = np.clip(m.vis.headlight.ambient * scale, 0, 1)
        if p.table_rgb is not None:
            colour = rng.uniform(*p.table_rgb, size=3)
            for g in self.table_geoms:
                m.geom_rgba[g, :3] = colour
        if p.object_rgb is not None:
            for g in self.object_geoms:
                # Keep what the geom's transparency was (glass stays glass), whether it came from its material or itself.
                from_material = m.geom_matid[g] >= 0 and np.array_equal(self._original["geom_rgba"][g], _DEFAULT_RGBA)
                alpha = m.mat_rgba[m.geom_matid[g], 3] if from_material else m.geom_rgba[g, 3]
                m.geom_rgba[g] = np.concatenate([rng.uniform(*p.object_rgb, size=3), [alpha]])
        if p.camera_shift_m or p.camera_turn_deg:
            c = self.camera
            m.cam_pos[c] = m.cam_pos[c] + p.camera_shift_m * _random_direction(rng)
            turned = np.zeros(4)
            mujoco.mju_mulQuat(turned, _random_rotation(rng, p.camera_turn_deg), m.cam_quat[c])
            m.cam_quat[c] = turned

    def _place_distractors(self, p: VisualPerturbation, rng: np.random.Generator, data: Any) -> list:
        """Shapes on the table top at least ``distractor_clearance_m`` from the hand, the objects, the goal
        and each other (rejection sampling; fewer if the table is too crowded)."""
        m = self.model
        keep_away = [data.xpos[b][:2] for b in self.object_bodies]
        spec = self.spec
        keep_away.append(data.xpos[mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_BODY, spec.hand_body)][:2])
        goal = mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_SITE, spec.goal_site) if spec.goal_site else -1
        if goal >= 0:
            keep_away.append(data.site_xpos[goal][:2])
        out = []
        for _ in range(200):
            if len(out) == p.distractors:
                break
            xy = np.array([rng.uniform(*spec.distractor_area_m[0]), rng.uniform(*spec.distractor_area_m[1])])
            kind = int(rng.integers(3))
            half = rng.uniform(0.025, 0.045)
            rgba = np.concatenate([rng.uniform(0.1, 0.9, size=3), [1.0]])
            if any(np.linalg.norm(xy - q) < p.distractor_clearance_m for q in keep_away):
                continue
            keep_away.append(xy)
            geom_type = (mujoco.mjtGeom.mjGEOM_BOX, mujoco.mjtGeom.mjGEOM_SPHERE, mujoco.mjtGeom.mjGEOM_CYLINDER)[kind]
            out.append(
                (int(geom_type), np.array([half, half, half]), np.array([xy[0], xy[1], spec.table_top_z_m + half]), rgba.astype(np.float32))
            )
        return out

    def decorate(self, scene: Any) -> None:
        """Draw the distractors into a rendered scene (after ``update_scene``; the model is untouched)."""
        for geom_type, size, pos, rgba in self._distractors:
            if scene.ngeom >= scene.maxgeom:
                return
            geom = scene.geoms[scene.ngeom]
            mujoco.mjv_initGeom(geom, geom_type, size, pos, np.eye(3).reshape(-1), rgba)
            # mjv_initGeom leaves these as whatever the slot held before: a stale ``transparent`` made the
            # renderer skip the distractor's depth write now and then (depth images differed between runs).
            geom.transparent = 0  # opaque (alpha 1)
            geom.category = mujoco.mjtCatBit.mjCAT_STATIC  # drawn like the scene's own fixed objects
            geom.objtype, geom.objid = mujoco.mjtObj.mjOBJ_UNKNOWN, -1  # no model element behind it
            geom.segid, geom.camdist = scene.ngeom, 0.0  # its own segmentation id, as MuJoCo numbers scene geoms
            scene.ngeom += 1
