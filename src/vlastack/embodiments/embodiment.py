"""One robot as the policy sees it: the shared action space, and the transform to and from one robot's own.

The shared action (:data:`SHARED_ACTION_NAMES`, :data:`SHARED_DIM` float entries) is the same for every
robot:

- ``dx_m, dy_m, dz_m``: end-effector translation this control step, metres, in the *shared frame*:
  world-aligned (its axes do not turn with the hand), x forward (from the robot's base towards the
  table), y to the robot's left, z up. Each simulator's world frame is a fixed turn of it about z
  (:attr:`Embodiment.yaw_rad`): robosuite's table scenes put the arm's base at x = -0.56 m facing +x,
  so there it is the world frame (yaw 0); Meta-World's Sawyer stands at the origin reaching along +y,
  so there forward is world +y and left is world -x (yaw +90 degrees).
- ``drx_rad, dry_rad, drz_rad``: end-effector rotation this control step, radians, an axis-angle
  vector in the same frame (absent on Meta-World: masked).
- ``grip``: gripper command in [-1, 1], +1 closes and -1 opens (both suites' own sign).
- ``extra0..extra3``: commands of a whole-body robot other than its arm (PandaOmron: base forward,
  sideways, turn, torso), passed through in the robot's own normalised units, unscaled.

A robot's native action is whatever its environment takes (Meta-World: ``[dx, dy, dz, grip]`` in
[-1, 1]; robosuite: ``[dx, dy, dz, drx, dry, drz, grip]`` in [-1, 1]); :meth:`Embodiment.to_native`
and :meth:`Embodiment.to_shared` convert, and :attr:`Embodiment.mask` says which shared entries a robot
uses (the others are padding: 0 in :meth:`to_shared`, ignored by :meth:`to_native`).

Scaling: a native unit of translation moves the hand :attr:`Embodiment.translation_m_per_unit` metres
per control step once it is moving (the steady state under a constant command), *measured* per robot
by ``benchmarks/embodiment_scaling.py``; the controllers' nominal numbers (Meta-World's mocap 1 cm per
unit, robosuite's 5 cm target offset per unit) say where the target goes, not how far the hand gets.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from vlastack.errors import ConfigError

#: The shared action's entries, in order (see the module docstring for units and frame).
SHARED_ACTION_NAMES = ("dx_m", "dy_m", "dz_m", "drx_rad", "dry_rad", "drz_rad", "grip", "extra0", "extra1", "extra2", "extra3")
SHARED_DIM = len(SHARED_ACTION_NAMES)
#: Where each part of the shared action is.
SHARED_TRANSLATION, SHARED_ROTATION, SHARED_GRIP = slice(0, 3), slice(3, 6), 6
SHARED_EXTRA = slice(7, SHARED_DIM)


def yaw_matrix(yaw_rad: float) -> np.ndarray:
    """Rotation about z by ``yaw_rad``: maps a shared-frame vector to the native frame (see :attr:`Embodiment.yaw_rad`)."""
    c, s = math.cos(yaw_rad), math.sin(yaw_rad)
    # Multiples of 90 degrees come out exact (cos(pi/2) is 6e-17 in floating point): no stray leak between axes.
    c, s = round(c, 12) + 0.0, round(s, 12) + 0.0
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


def _triple(field: str, xs: object, positive: bool = False) -> tuple:
    if isinstance(xs, (str, bytes)) or not hasattr(xs, "__len__") or len(xs) != 3:
        raise ConfigError(f"{field}: expected 3 entries (x, y, z), got {xs!r}")
    if positive and not all(isinstance(x, (int, float)) and math.isfinite(x) and x > 0 for x in xs):
        raise ConfigError(f"{field}: expected 3 positive finite numbers, got {xs!r}")
    return tuple(xs)


@dataclass(frozen=True)
class Embodiment:
    """One robot: its native action layout and the transform between it and the shared action."""

    id: str
    """Embodiment id, e.g. ``metaworld_sawyer``, ``robosuite_panda``: what datasets, checkpoints and the server name."""
    suite: str
    """The simulator it runs in: ``metaworld`` or ``robosuite``."""
    robot: str
    """The simulator's name for the robot, e.g. ``Panda``."""
    native_action_names: tuple[str, ...]
    """Entries of the environment's own action vector, in order (each in [-1, 1])."""
    control_period_s: float
    """Seconds per control step (Meta-World 1/80, robosuite 1/20): the shared deltas are per step of this robot."""
    translation_dims: tuple[int, int, int]
    """Indices of the native x, y, z translation commands."""
    translation_m_per_unit: tuple[float, float, float]
    """Metres the hand moves per control step per native unit, along native x, y, z (measured, steady state)."""
    yaw_rad: float
    """Turn about z from the shared frame to the native action's frame (rad): ``native = Rz(yaw) @ shared``
    for translation and rotation vectors. 0 where the native frame is x forward, y left, z up."""
    gripper_dim: int | None
    """Index of the native gripper command; None: no gripper (shared ``grip`` masked)."""
    gripper_close_sign: int = 1
    """+1 if a larger native gripper command closes (both suites), -1 if it opens."""
    rotation_dims: tuple[int, int, int] | None = None
    """Indices of the native rotation commands (axis-angle x, y, z); None: the robot takes none (masked)."""
    rotation_rad_per_unit: tuple[float, float, float] | None = None
    """Radians the hand turns per control step per native rotation unit, about native x, y, z (measured)."""
    extra_dims: tuple[int, ...] = ()
    """Native indices passed through unscaled to ``extra0, extra1, ...`` (a mobile base's commands)."""
    safety_spec: str | None = None
    """Name of its safety spec preset (vlastack.safety.presets); None: none yet."""
    tasks: str = ""
    """Which vlastack tasks run this robot, in words (``embodiment_for_task`` is the exact map)."""
    note: str = ""
    """Caveats of the measured scaling (an axis that saturates, a response that is not linear)."""
    state_origin_m: tuple[float, float, float] = (0.0, 0.0, 0.0)
    """Point of the simulator's world frame (x, y, z, metres) the shared state's hand position is measured
    from (:mod:`.observation`): the centre of the table top the robot works over, so that ``hand_up_m`` is the
    height above the table on every robot."""

    def __post_init__(self) -> None:
        if not self.id or not isinstance(self.id, str):
            raise ConfigError(f"embodiment id: expected a non-empty string, got {self.id!r}")
        where = f"embodiment {self.id!r}"
        n = len(self.native_action_names)
        object.__setattr__(self, "native_action_names", tuple(self.native_action_names))
        if not (isinstance(self.control_period_s, (int, float)) and self.control_period_s > 0):
            raise ConfigError(f"{where}: control_period_s must be a positive number of seconds, got {self.control_period_s!r}")
        dims = list(_triple(f"{where}: translation_dims", self.translation_dims))
        _triple(f"{where}: translation_m_per_unit", self.translation_m_per_unit, positive=True)
        if self.rotation_dims is not None:
            dims += _triple(f"{where}: rotation_dims", self.rotation_dims)
            _triple(f"{where}: rotation_rad_per_unit", self.rotation_rad_per_unit, positive=True)
        elif self.rotation_rad_per_unit is not None:
            raise ConfigError(f"{where}: rotation_rad_per_unit is given but rotation_dims is None")
        if self.gripper_dim is not None:
            dims.append(self.gripper_dim)
        if self.gripper_close_sign not in (1, -1):
            raise ConfigError(f"{where}: gripper_close_sign must be 1 or -1, got {self.gripper_close_sign!r}")
        extra = SHARED_DIM - SHARED_EXTRA.start
        if len(self.extra_dims) > extra:
            raise ConfigError(f"{where}: extra_dims holds {len(self.extra_dims)} entries, the shared action has room for {extra}")
        dims += list(self.extra_dims)
        bad = [d for d in dims if not isinstance(d, int) or not 0 <= d < n]
        if bad:
            raise ConfigError(
                f"{where}: action indices {bad} are outside the native action of {n} entries {list(self.native_action_names)}"
            )
        if len(set(dims)) != len(dims):
            raise ConfigError(f"{where}: a native action index is used twice: {dims}")
        _triple(f"{where}: state_origin_m", self.state_origin_m)
        if not all(isinstance(x, (int, float)) and math.isfinite(x) for x in self.state_origin_m):
            raise ConfigError(f"{where}: state_origin_m must be 3 finite numbers (metres), got {self.state_origin_m!r}")
        if not math.isfinite(self.yaw_rad):
            raise ConfigError(f"{where}: yaw_rad must be finite, got {self.yaw_rad!r}")

    # ---- layout --------------------------------------------------------------------------------
    @property
    def native_dim(self) -> int:
        return len(self.native_action_names)

    @property
    def mask(self) -> np.ndarray:
        """bool [SHARED_DIM]: the shared entries this robot uses; the others are padding."""
        m = np.zeros(SHARED_DIM, dtype=bool)
        m[SHARED_TRANSLATION] = True
        m[SHARED_ROTATION] = self.rotation_dims is not None
        m[SHARED_GRIP] = self.gripper_dim is not None
        m[SHARED_EXTRA.start : SHARED_EXTRA.start + len(self.extra_dims)] = True
        return m

    @property
    def rotation(self) -> np.ndarray:
        """[3, 3]: shared-frame vector -> native-frame vector."""
        return yaw_matrix(self.yaw_rad)

    # ---- transforms (work on one action [D] or a batch [..., D]) --------------------------------
    def to_native(self, shared: np.ndarray) -> np.ndarray:
        """Shared action(s) [..., SHARED_DIM] -> native action(s) [..., native_dim], float32, *not* clipped:
        an entry beyond [-1, 1] asks for more than the robot does in one step (the env clips it)."""
        s = self._check(shared, SHARED_DIM, "shared action")
        r = self.rotation
        out = np.zeros((*s.shape[:-1], self.native_dim))
        out[..., list(self.translation_dims)] = (s[..., SHARED_TRANSLATION] @ r.T) / np.asarray(self.translation_m_per_unit)
        if self.rotation_dims is not None:
            out[..., list(self.rotation_dims)] = (s[..., SHARED_ROTATION] @ r.T) / np.asarray(self.rotation_rad_per_unit)
        if self.gripper_dim is not None:
            out[..., self.gripper_dim] = self.gripper_close_sign * s[..., SHARED_GRIP]
        if self.extra_dims:
            out[..., list(self.extra_dims)] = s[..., SHARED_EXTRA.start : SHARED_EXTRA.start + len(self.extra_dims)]
        return out.astype(np.float32)

    def to_shared(self, native: np.ndarray) -> np.ndarray:
        """Native action(s) [..., native_dim] -> shared action(s) [..., SHARED_DIM], float32; padding entries
        (``~mask``) are 0. Native entries outside the layout (none today) are dropped."""
        a = self._check(native, self.native_dim, f"native action of {self.id} {list(self.native_action_names)}")
        r = self.rotation
        out = np.zeros((*a.shape[:-1], SHARED_DIM))
        out[..., SHARED_TRANSLATION] = (a[..., list(self.translation_dims)] * np.asarray(self.translation_m_per_unit)) @ r
        if self.rotation_dims is not None:
            out[..., SHARED_ROTATION] = (a[..., list(self.rotation_dims)] * np.asarray(self.rotation_rad_per_unit)) @ r
        if self.gripper_dim is not None:
            out[..., SHARED_GRIP] = self.gripper_close_sign * a[..., self.gripper_dim]
        if self.extra_dims:
            out[..., SHARED_EXTRA.start : SHARED_EXTRA.start + len(self.extra_dims)] = a[..., list(self.extra_dims)]
        return out.astype(np.float32)

    def shared_limits(self) -> np.ndarray:
        """float [SHARED_DIM]: the largest magnitude of each shared entry alone that stays inside the native
        [-1, 1] (metres or radians per step; 1 for grip and extras; 0 for padding)."""
        out = np.zeros(SHARED_DIM)
        r = np.abs(self.rotation)
        out[SHARED_TRANSLATION] = 1.0 / np.max(r / np.asarray(self.translation_m_per_unit)[:, None], axis=0)
        if self.rotation_dims is not None:
            out[SHARED_ROTATION] = 1.0 / np.max(r / np.asarray(self.rotation_rad_per_unit)[:, None], axis=0)
        out[SHARED_GRIP] = 1.0 if self.gripper_dim is not None else 0.0
        out[SHARED_EXTRA.start : SHARED_EXTRA.start + len(self.extra_dims)] = 1.0
        return out

    def describe(self) -> dict:
        """JSON-ready summary for clients (the policy server's metadata): the robot, its native action, units."""
        return {
            "id": self.id,
            "suite": self.suite,
            "robot": self.robot,
            "native_action": list(self.native_action_names),
            "shared_action": [n for n, used in zip(SHARED_ACTION_NAMES, self.mask) if used],
            "control_period_s": self.control_period_s,
            "translation_m_per_unit": list(self.translation_m_per_unit),
            "yaw_deg": round(math.degrees(self.yaw_rad), 6),
            "safety_spec": self.safety_spec,
        }

    @staticmethod
    def _check(x: np.ndarray, dim: int, what: str) -> np.ndarray:
        a = np.asarray(x, dtype=np.float64)
        if a.ndim == 0 or a.shape[-1] != dim:
            raise ConfigError(f"{what}: expected {dim} entries in the last axis, got shape {np.shape(x)}")
        return a
