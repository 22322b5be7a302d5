"""The safety spec: what one embodiment may do, as frozen dataclasses validated on construction.

A spec is declarative data (JSON on disk, see :func:`vlastack.safety.loading.load_spec`); the
checks in :mod:`vlastack.safety.checks` read it and never hold numbers of their own.

Units: metres, seconds, newtons; positions in the world frame of the state vector. Actions are
end-effector *deltas*: ``action[translation_dims] * translation_scale_m`` metres per control
period. The commanded velocity is that delta divided by ``control_period_s``; speed, acceleration
and jerk limits apply to this commanded motion (what we send), not to the measured one.

Every validation error is a :class:`SpecError` (a :class:`vlastack.errors.ConfigError`) whose
``field`` names the offending field with its path, e.g. ``motion.max_speed_m_s`` or
``keep_out[1].low[2]``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from vlastack.errors import ConfigError


class SpecError(ConfigError):
    """A safety spec value is missing, unknown or impossible; ``field`` is its dotted path."""

    def __init__(self, field: str, problem: str) -> None:
        self.field = field
        self.problem = problem
        super().__init__(f"safety spec field {field!r}: {problem}")

    def within(self, prefix: str) -> SpecError:
        """The same error, with ``prefix`` (the enclosing field) put in front of the path."""
        return SpecError(prefix + ("" if self.field.startswith("[") else ".") + self.field, self.problem)


def _number(field: str, x: object) -> float:
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        raise SpecError(field, f"expected a number, got {x!r}")
    if not math.isfinite(x):
        raise SpecError(field, f"must be finite, got {x!r}")
    return float(x)


def _positive(field: str, x: object) -> float:
    value = _number(field, x)
    if value <= 0:
        raise SpecError(field, f"must be positive, got {value!r}")
    return value


def _non_negative(field: str, x: object) -> float:
    value = _number(field, x)
    if value < 0:
        raise SpecError(field, f"must not be negative, got {value!r}")
    return value


def _vector(field: str, xs: object, length: int | None = None) -> tuple[float, ...]:
    if isinstance(xs, (str, bytes)) or not hasattr(xs, "__len__"):
        raise SpecError(field, f"expected a list of numbers, got {xs!r}")
    if length is not None and len(xs) != length:
        raise SpecError(field, f"expected {length} numbers, got {len(xs)}")
    return tuple(_number(f"{field}[{i}]", x) for i, x in enumerate(xs))


def _index(field: str, x: object) -> int:
    if isinstance(x, bool) or not isinstance(x, int) or x < 0:
        raise SpecError(field, f"expected a non-negative integer index, got {x!r}")
    return x


def _indices(field: str, xs: object, length: int) -> tuple[int, ...]:
    if isinstance(xs, (str, bytes)) or not hasattr(xs, "__len__") or len(xs) != length:
        raise SpecError(field, f"expected {length} integer indices, got {xs!r}")
    out = tuple(_index(f"{field}[{i}]", x) for i, x in enumerate(xs))
    if len(set(out)) != length:
        raise SpecError(field, f"indices must be distinct, got {list(out)}")
    return out


def _lower_below_upper(low: tuple[float, ...], high: tuple[float, ...], strict: bool) -> None:
    for i, (lo, hi) in enumerate(zip(low, high)):
        if lo > hi or (strict and lo == hi):
            relation = "above" if lo > hi else "equal to"
            raise SpecError(f"low[{i}]", f"lower bound {lo} is {relation} the upper bound high[{i}] = {hi}")


@dataclass(frozen=True)
class Box:
    """An axis-aligned box in the world frame, metres."""

    low: tuple[float, float, float]
    """Lower corner (x, y, z), metres; each strictly below the matching ``high``."""
    high: tuple[float, float, float]
    """Upper corner (x, y, z), metres."""
    name: str = ""
    """Label used in reasons, e.g. ``"operator"`` for the zone where a person stands."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "low", _vector("low", self.low, 3))
        object.__setattr__(self, "high", _vector("high", self.high, 3))
        if not isinstance(self.name, str):
            raise SpecError("name", f"expected a string, got {self.name!r}")
        _lower_below_upper(self.low, self.high, strict=True)


@dataclass(frozen=True)
class ActionLayout:
    """Where the parts of an action vector are and what range each entry has."""

    low: tuple[float, ...]
    """Lowest valid value of each action entry (action units). Its length is the action size D."""
    high: tuple[float, ...]
    """Highest valid value of each action entry."""
    translation_dims: tuple[int, int, int]
    """Indices of the end-effector x, y, z delta inside the action."""
    translation_scale_m: float
    """Metres the end effector is commanded to move per action unit per control period.

    A finite entry outside [low, high] is saturation, not a fault: the layer clips it (and says so).
    Only a non-numeric, wrongly shaped or non-finite action is held."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "low", _vector("low", self.low))
        object.__setattr__(self, "high", _vector("high", self.high, len(self.low)))
        if len(self.low) < 3:
            raise SpecError("low", f"an action needs at least the 3 translation entries, got {len(self.low)}")
        _lower_below_upper(self.low, self.high, strict=True)
        object.__setattr__(self, "translation_dims", _indices("translation_dims", self.translation_dims, 3))
        for i, d in enumerate(self.translation_dims):
            if d >= len(self.low):
                raise SpecError(f"translation_dims[{i}]", f"index {d} is outside an action of size {len(self.low)}")
        object.__setattr__(self, "translation_scale_m", _positive("translation_scale_m", self.translation_scale_m))

    @property
    def dim(self) -> int:
        return len(self.low)


@dataclass(frozen=True)
class MotionLimits:
    """Limits on the commanded end-effector motion (Euclidean norms of 3-d vectors)."""

    max_speed_m_s: float
    """Highest commanded speed, m/s."""
    max_accel_m_s2: float
    """Highest change of commanded velocity per second, m/s^2."""
    max_jerk_m_s3: float
    """Highest change of commanded acceleration per second, m/s^3."""

    def __post_init__(self) -> None:
        for name in ("max_speed_m_s", "max_accel_m_s2", "max_jerk_m_s3"):
            object.__setattr__(self, name, _positive(name, getattr(self, name)))


@dataclass(frozen=True)
class GripperLimits:
    """The gripper entry of the action and the grip-force limit driven by the touch reading."""

    action_index: int
    """Index of the gripper command inside the action."""
    close_sign: int
    """+1 if a larger command closes the gripper (Meta-World), -1 if a smaller one does."""
    max_force_n: float
    """Largest contact force allowed on any finger, newtons."""
    backoff_per_n: float
    """Above the force limit, the closing command drops by this many action units per newton of excess, each step."""
    initial_command: float
    """Gripper command assumed before the first allowed action (what a hold at the start sends)."""
    require_touch: bool
    """If true, a missing or non-finite touch reading freezes the gripper command (fail closed)."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "action_index", _index("action_index", self.action_index))
        if self.close_sign not in (1, -1) or isinstance(self.close_sign, bool):
            raise SpecError("close_sign", f"must be 1 or -1, got {self.close_sign!r}")
        object.__setattr__(self, "max_force_n", _positive("max_force_n", self.max_force_n))
        object.__setattr__(self, "backoff_per_n", _non_negative("backoff_per_n", self.backoff_per_n))
        object.__setattr__(self, "initial_command", _number("initial_command", self.initial_command))
        if not isinstance(self.require_touch, bool):
            raise SpecError("require_touch", f"expected true or false, got {self.require_touch!r}")


#: Names of a box's faces: axis and side (``-`` the low face, ``+`` the high one).
FACES = ("x-", "x+", "y-", "y+", "z-", "z+")


@dataclass(frozen=True)
class ContactLimits:
    """The limit on the contact force the arm applies to its surroundings (power and force limiting).

    The reading is the net contact force the surroundings apply to the arm (N, world frame, 3
    numbers; ``Observation.arm_contact``). Above ``max_force_n`` the layer removes every part of
    the commanded motion that goes into the contact (against that force) and adds a motion away
    from it, so the force can only fall. With no reading the check is skipped.
    """

    max_force_n: float
    """Largest net contact force on the arm, newtons, before motion into the contact is stopped."""
    backoff_m_s_per_n: float
    """Above the limit, the arm is moved away from the contact at this many m/s per newton of excess."""
    max_backoff_m_s: float
    """Fastest back-off, m/s (the motion limits still apply on top)."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "max_force_n", _positive("max_force_n", self.max_force_n))
        object.__setattr__(self, "backoff_m_s_per_n", _non_negative("backoff_m_s_per_n", self.backoff_m_s_per_n))
        object.__setattr__(self, "max_backoff_m_s", _non_negative("max_backoff_m_s", self.max_backoff_m_s))


@dataclass(frozen=True)
class TargetTracking:
    """How the arm's controller turns deltas into motion, for reasoning about where the arm will *end up*.

    A delta-action controller (Meta-World's mocap, an impedance controller's set point) moves a
    target by each commanded delta, from where the *target* is, and the hand follows the target
    with a lag (Meta-World: up to 3.4 cm at full speed). Stopping the command therefore stops the
    target, not the hand: the hand still travels to the target. With tracking, the layer integrates
    its own estimate of the target from the actions it sent (starting at the first measured
    position of the episode) and keeps that estimate, swept over the step, ``margin_m`` away from
    every keep-out box (and, with ``workspace``, ``margin_m`` inside the workspace), in addition to
    the rules on the measured position. If the controller clips its target to a box that is not exactly known (it
    differs between Meta-World tasks), give the tightest and the loosest box it may use: the
    estimate is then an interval per axis that surely holds the real target.
    """

    margin_m: float
    """Stopping distance, metres: how far beyond its estimated target the measured hand may end up
    (the estimate's error at the start of an episode plus the hand's overshoot of its target)."""
    clip_inner: Box | None = None
    """The tightest box the controller may clip its target to (measured-position frame, metres); None: no clipping."""
    clip_outer: Box | None = None
    """The loosest such box; it must contain ``clip_inner``. Both or neither."""
    workspace: bool = True
    """Also keep the target ``margin_m`` inside the workspace (not only away from keep-out boxes).
    Off where demonstrators press the target past a wall on purpose (into a table) to make contact force."""
    overshoot_s: float = 0.0
    """How long the hand keeps going at its measured speed past a target that stops, seconds: the
    stopping margin on each axis is ``margin_m + overshoot_s * |hand velocity on that axis|``."""
    max_lead_m: float | None = None
    """Furthest the target may run ahead of the measured hand (Euclidean), metres; None: no limit.
    Motion that would take the target further is scaled down (a speed limit that follows the hand).
    Why: ``margin_m`` holds only while the hand follows its target; a target far ahead (an arm that
    cannot keep up, or pressed into an object) lets the arm swing off its path by centimetres."""

    slow_within_m: float = 0.0
    """Speed and separation: closer than this (metres) to a face named in ``slow_faces`` (the
    measured hand or the target), the commanded speed is capped, linearly from the full speed limit
    at this distance down to ``slow_speed_m_s`` at the face; 0: no such cap. Why: a fast motion near
    the edge of an arm's reach swings the hand centimetres off its target's path. A motion that
    clearly leaves a face (``geometry.LEAVING_FRACTION``) is not capped for that face."""
    slow_speed_m_s: float = 0.0
    """Speed cap at a face named in ``slow_faces``, m/s (with ``slow_within_m`` > 0, must be positive)."""
    slow_faces: tuple[str, ...] = ()
    """Workspace faces the speed cap applies to: any of ``x-``, ``x+``, ``y-``, ``y+``, ``z-``, ``z+``."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "margin_m", _non_negative("margin_m", self.margin_m))
        object.__setattr__(self, "overshoot_s", _non_negative("overshoot_s", self.overshoot_s))
        object.__setattr__(self, "slow_within_m", _non_negative("slow_within_m", self.slow_within_m))
        object.__setattr__(self, "slow_speed_m_s", _non_negative("slow_speed_m_s", self.slow_speed_m_s))
        if self.slow_within_m > 0 and self.slow_speed_m_s <= 0:
            raise SpecError("slow_speed_m_s", "must be positive when slow_within_m is (the arm could never reach a face)")
        if isinstance(self.slow_faces, str) or not all(f in FACES for f in self.slow_faces):
            raise SpecError("slow_faces", f"expected a list of faces out of {list(FACES)}, got {self.slow_faces!r}")
        object.__setattr__(self, "slow_faces", tuple(self.slow_faces))
        if self.max_lead_m is not None:
            object.__setattr__(self, "max_lead_m", _positive("max_lead_m", self.max_lead_m))
        if not isinstance(self.workspace, bool):
            raise SpecError("workspace", f"expected true or false, got {self.workspace!r}")
        if (self.clip_inner is None) != (self.clip_outer is None):
            raise SpecError("clip_outer" if self.clip_outer is None else "clip_inner", "give both clip_inner and clip_outer, or neither")
        for name in ("clip_inner", "clip_outer"):
            box = getattr(self, name)
            if box is not None and not isinstance(box, Box):
                raise SpecError(name, f"expected a Box or null, got {type(box).__name__}")
        if self.clip_inner is not None:
            for i in range(3):
                if self.clip_outer.low[i] > self.clip_inner.low[i] or self.clip_outer.high[i] < self.clip_inner.high[i]:
                    raise SpecError(
                        f"clip_outer.low[{i}]",
                        f"the outer box {self.clip_outer.low}..{self.clip_outer.high} "
                        f"must contain the inner one {self.clip_inner.low}..{self.clip_inner.high}",
                    )


@dataclass(frozen=True)
class SafetySpec:
    """Everything the safety layer enforces for one embodiment."""

    name: str
    """Embodiment name, e.g. ``metaworld_sawyer``."""
    control_period_s: float
    """Seconds between two actions (Meta-World: 1/80)."""
    state_position_dims: tuple[int, int, int]
    """Indices of the end-effector x, y, z (metres, world frame) inside the state vector."""
    action: ActionLayout
    """Layout and valid range of the action vector."""
    workspace: Box
    """The end effector's predicted next position must stay inside this box."""
    motion: MotionLimits
    """Speed, acceleration and jerk limits on the commanded motion."""
    gripper: GripperLimits | None
    """Gripper limits; ``None`` for an embodiment without a gripper (must be given explicitly)."""
    watchdog_s: float
    """With no fresh action for longer than this many seconds the layer holds; before that it repeats the last allowed one."""
    keep_out: tuple[Box, ...] = ()
    """Boxes the end effector's path must never enter (e.g. where a person stands)."""
    tracking: TargetTracking | None = None
    """How the controller follows commanded deltas (see :class:`TargetTracking`); None: judge by the measured position only."""
    contact: ContactLimits | None = None
    """Limit on the contact force the arm applies (see :class:`ContactLimits`); None: no such limit."""

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise SpecError("name", f"expected a non-empty string, got {self.name!r}")
        object.__setattr__(self, "control_period_s", _positive("control_period_s", self.control_period_s))
        object.__setattr__(self, "state_position_dims", _indices("state_position_dims", self.state_position_dims, 3))
        object.__setattr__(self, "watchdog_s", _non_negative("watchdog_s", self.watchdog_s))
        for field, value, cls in (
            ("action", self.action, ActionLayout),
            ("workspace", self.workspace, Box),
            ("motion", self.motion, MotionLimits),
        ):
            if not isinstance(value, cls):
                raise SpecError(field, f"expected a {cls.__name__}, got {type(value).__name__}")
        if self.gripper is not None and not isinstance(self.gripper, GripperLimits):
            raise SpecError("gripper", f"expected a GripperLimits or null, got {type(self.gripper).__name__}")
        object.__setattr__(self, "keep_out", tuple(self.keep_out))
        for i, box in enumerate(self.keep_out):
            if not isinstance(box, Box):
                raise SpecError(f"keep_out[{i}]", f"expected a Box, got {type(box).__name__}")
        if self.contact is not None and not isinstance(self.contact, ContactLimits):
            raise SpecError("contact", f"expected a ContactLimits or null, got {type(self.contact).__name__}")
        if self.tracking is not None:
            if not isinstance(self.tracking, TargetTracking):
                raise SpecError("tracking", f"expected a TargetTracking or null, got {type(self.tracking).__name__}")
            w = self.workspace
            room = min(h - lo for lo, h in zip(w.low, w.high)) / 2
            if self.tracking.margin_m >= room:
                raise SpecError(
                    "tracking.margin_m",
                    f"{self.tracking.margin_m} m leaves no room inside the workspace (its narrowest half-width is {room} m)",
                )
        self._check_action_layout()

    def _check_action_layout(self) -> None:
        layout = self.action
        if self.gripper is not None:
            g = self.gripper.action_index
            if g >= layout.dim:
                raise SpecError("gripper.action_index", f"index {g} is outside an action of size {layout.dim}")
            if g in layout.translation_dims:
                raise SpecError("gripper.action_index", f"index {g} is also a translation dimension")
            if not layout.low[g] <= self.gripper.initial_command <= layout.high[g]:
                raise SpecError(
                    "gripper.initial_command",
                    f"{self.gripper.initial_command} is outside the action range [{layout.low[g]}, {layout.high[g]}]",
                )
        for i in range(layout.dim):  # the hold sends 0 on every entry except the gripper, so 0 must be valid
            if (self.gripper is None or i != self.gripper.action_index) and not layout.low[i] <= 0.0 <= layout.high[i]:
                raise SpecError(f"action.low[{i}]", f"the range [{layout.low[i]}, {layout.high[i]}] must contain 0 (the hold)")

    @property
    def stop_within_limits(self) -> bool:
        """True if a hold (zero motion) from any allowed motion respects the acceleration and jerk limits.

        A hold stops the commanded motion within one control period. That is within the limits when
        ``max_accel * dt >= max_speed`` and ``max_jerk * dt**2 >= max_speed + max_accel * dt``; then
        every action that leaves the layer is inside every limit. With tighter limits a hold (or a
        wall) can still stop the arm, and the decision reports by how much it exceeded them.
        """
        dt, m, slack = self.control_period_s, self.motion, 1.0 + 1e-9  # slack: rounding of specs written as V/dt
        return (
            m.max_accel_m_s2 * dt * slack >= m.max_speed_m_s
            and m.max_jerk_m_s3 * dt * dt * slack >= m.max_speed_m_s + m.max_accel_m_s2 * dt
        )
