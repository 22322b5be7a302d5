"""The two-arm safety spec: each arm's own :class:`SafetySpec` applied to its slice of the joint vectors,
plus a mutual keep-out between the two end effectors (issue 17, item 4).

Frames. Every check of the two-arm layer works in the *world* frame: the state's hand positions are
world-frame metres, and each arm's action slice is turned into the world frame before its checks run
(``ArmSlot.command_yaw_rad``) and back afterwards. vlastack's robosuite adapter already takes
world-aligned arm deltas and turns each arm's into its mount's frame itself (envs/robosuite_env.py), so
its presets use yaw 0 for both arms; a caller whose commands are in each robot's base frame (robosuite's
own convention: the two arms of the "opposed" layout are turned +90 and -90 degrees) gives those turns.

Units: metres, radians, seconds. Errors are :class:`SpecError` naming the field by its path, e.g.
``arms[1].action_slice`` or ``keep_out.min_distance_m``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from vlastack.safety.spec import SafetySpec, SpecError, _indices, _positive

#: How far (radians) a quarter-turn yaw may be off a multiple of pi/2 (rounding of a number written in degrees).
QUARTER_TURN_TOLERANCE_RAD = 1e-9


def _slice(field: str, value: object, length: int | None) -> tuple[int, int]:
    """A (start, stop) pair of non-negative indices, stop > start, of ``length`` entries when given."""
    if isinstance(value, (str, bytes)) or not hasattr(value, "__len__") or len(value) != 2:
        raise SpecError(field, f"expected [start, stop] indices, got {value!r}")
    start, stop = value
    for name, x in (("start", start), ("stop", stop)):
        if isinstance(x, bool) or not isinstance(x, int) or x < 0:
            raise SpecError(field, f"{name} must be a non-negative integer, got {x!r}")
    if stop <= start:
        raise SpecError(field, f"stop {stop} must be above start {start}")
    if length is not None and stop - start != length:
        raise SpecError(field, f"the arm's spec needs {length} entries here, the slice holds {stop - start}")
    return (start, stop)


@dataclass(frozen=True)
class ArmSlot:
    """One arm: its own single-arm spec and where its entries sit in the joint action, state and touch."""

    spec: SafetySpec
    """The arm's own limits (its make's spec: workspace box in world metres, step size, speed, gripper ...),
    applied to its slice of the action exactly as the single-arm layer applies them."""
    action_slice: tuple[int, int]
    """[start, stop) of this arm's entries in the joint action; stop - start == ``spec.action.dim``."""
    state_slice: tuple[int, int]
    """[start, stop) of this arm's entries in the joint state; ``spec.state_position_dims`` index into it."""
    touch_slice: tuple[int, int] | None
    """[start, stop) of this arm's touch reading (N) in the joint touch vector; None: the arm has none."""
    rotation_dims: tuple[int, int, int] | None = None
    """Indices (inside the arm's slice) of its rotation command (axis-angle x, y, z), turned into the world
    frame with the translation; None: the arm takes no rotation command."""
    command_yaw_rad: float = 0.0
    """Turn about world z (radians) from the frame the arm's commands arrive in to the world frame:
    ``world = Rz(yaw) @ command``. Must be a multiple of pi/2, which maps the action's range box onto
    itself (x and y entries must then share one symmetric range). 0 for vlastack's robosuite env."""

    def __post_init__(self) -> None:
        if not isinstance(self.spec, SafetySpec):
            raise SpecError("spec", f"expected a SafetySpec, got {type(self.spec).__name__}")
        object.__setattr__(self, "action_slice", _slice("action_slice", self.action_slice, self.spec.action.dim))
        object.__setattr__(self, "state_slice", _slice("state_slice", self.state_slice, None))
        need = max(self.spec.state_position_dims) + 1
        if self.state_slice[1] - self.state_slice[0] < need:
            raise SpecError("state_slice", f"holds {self.state_slice[1] - self.state_slice[0]} entries, the spec reads index {need - 1}")
        if self.touch_slice is not None:
            object.__setattr__(self, "touch_slice", _slice("touch_slice", self.touch_slice, None))
        if self.rotation_dims is not None:
            object.__setattr__(self, "rotation_dims", _indices("rotation_dims", self.rotation_dims, 3))
            taken = set(self.spec.action.translation_dims)
            if self.spec.gripper is not None:
                taken.add(self.spec.gripper.action_index)
            for i, d in enumerate(self.rotation_dims):
                if d >= self.spec.action.dim or d in taken:
                    raise SpecError(f"rotation_dims[{i}]", f"index {d} is outside the arm's action or used by translation/gripper")
        yaw = self.command_yaw_rad
        if isinstance(yaw, bool) or not isinstance(yaw, (int, float)) or not math.isfinite(yaw):
            raise SpecError("command_yaw_rad", f"expected a finite number of radians, got {yaw!r}")
        quarters = yaw / (math.pi / 2)
        if abs(quarters - round(quarters)) * (math.pi / 2) > QUARTER_TURN_TOLERANCE_RAD:
            raise SpecError("command_yaw_rad", f"must be a multiple of pi/2 (a quarter turn keeps the action's range box), got {yaw!r}")
        object.__setattr__(self, "command_yaw_rad", float(yaw))
        if round(quarters) % 4:
            self._check_turnable()

    def _check_turnable(self) -> None:
        """A turned arm's x and y entries must share one symmetric range, or turning could leave it."""
        layout = self.spec.action
        for group, dims in (("translation_dims", layout.translation_dims), ("rotation_dims", self.rotation_dims)):
            if dims is None:
                continue
            ranges = {(layout.low[d], layout.high[d]) for d in dims[:2]}
            low, high = next(iter(ranges))
            if len(ranges) > 1 or low != -high:
                raise SpecError(
                    "command_yaw_rad",
                    f"a turned arm needs one symmetric range for its x and y {group} entries, got {sorted(ranges)}",
                )


@dataclass(frozen=True)
class MutualKeepOut:
    """How close the two end effectors may come (the points ``spec.state_position_dims`` read, world frame).

    Rule, per arm and step: the arm's commanded motion (its controller's goal, hand plus
    ``translation_scale_m`` per action unit) may approach the other hand, along the line between the two
    hands, by at most half the slack ``distance - min_distance_m`` (nothing once inside). With both arms
    held to half, the goals end at least ``min_distance_m`` apart (the distance is at least its
    projection on that line), and inside it they can only separate. Halves, not a split by need, so that
    each arm's check needs only the two positions and its own action.
    """

    min_distance_m: float
    """Smallest allowed distance between the two end-effector points, metres (two gripper bounding
    spheres of radius r: 2 r)."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "min_distance_m", _positive("min_distance_m", self.min_distance_m))


@dataclass(frozen=True)
class TwoArmSpec:
    """Everything the two-arm layer enforces: both arms' own specs and the keep-out between them."""

    name: str
    """Preset name, e.g. ``robosuite_twoarmlift_panda``."""
    action_dim: int
    """Entries of the joint action (both arms, and anything else, e.g. 14 for two robosuite arms)."""
    arms: tuple[ArmSlot, ArmSlot]
    """Arm 0 and arm 1, in the order of the joint vectors."""
    keep_out: MutualKeepOut
    """The mutual keep-out between the two end effectors."""

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise SpecError("name", f"expected a non-empty string, got {self.name!r}")
        if isinstance(self.action_dim, bool) or not isinstance(self.action_dim, int) or self.action_dim < 1:
            raise SpecError("action_dim", f"expected a positive integer, got {self.action_dim!r}")
        arms = tuple(self.arms) if isinstance(self.arms, (list, tuple)) else None
        if arms is None or len(arms) != 2:
            raise SpecError("arms", f"expected exactly 2 arms, got {self.arms!r:.80}")
        object.__setattr__(self, "arms", arms)
        for i, arm in enumerate(arms):
            if not isinstance(arm, ArmSlot):
                raise SpecError(f"arms[{i}]", f"expected an ArmSlot, got {type(arm).__name__}")
            if arm.action_slice[1] > self.action_dim:
                raise SpecError(f"arms[{i}].action_slice", f"stop {arm.action_slice[1]} is beyond the joint action of {self.action_dim}")
            if arm.spec.contact is not None:  # the joint observation has no per-arm contact reading to slice yet
                raise SpecError(f"arms[{i}].spec.contact", "contact limits are not supported by the two-arm layer yet; use null")
        for what in ("action_slice", "state_slice", "touch_slice"):
            a, b = getattr(arms[0], what), getattr(arms[1], what)
            if a is not None and b is not None and a[0] < b[1] and b[0] < a[1]:
                raise SpecError(f"arms[1].{what}", f"{list(b)} overlaps arm 0's {list(a)}")
        covered = sorted((range(*arm.action_slice) for arm in arms), key=lambda r: r.start)
        if [i for r in covered for i in r] != list(range(self.action_dim)):
            # An entry no arm owns would reach the robot unchecked.
            raise SpecError("action_dim", f"the arms' action slices must cover the joint action 0..{self.action_dim} exactly")
        periods = [arm.spec.control_period_s for arm in arms]
        if periods[0] != periods[1]:
            raise SpecError("arms[1].spec.control_period_s", f"both arms must share one control period, got {periods}")
        if not isinstance(self.keep_out, MutualKeepOut):
            raise SpecError("keep_out", f"expected a MutualKeepOut, got {type(self.keep_out).__name__}")

    @property
    def control_period_s(self) -> float:
        """Seconds between two joint actions (both arms share it)."""
        return self.arms[0].spec.control_period_s
