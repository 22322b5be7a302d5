"""Is an action inside every limit? The rules the layer guarantees, written once, without fixing anything.

Used three ways: as the layer's last gate (an action that fails here is replaced by the hold), by
the benchmark to count violations of a run *without* the layer, and as documentation of exactly
what "inside every limit" means:

- the action is a finite vector of the spec's size, each entry inside ``action.low/high`` (the layer
  clips a finite out-of-range proposal: saturation is not a fault);
- the commanded speed, acceleration and jerk (from the last two commanded velocities) are within
  ``motion``;
- the predicted next position ``p + v * dt`` is inside the workspace; on an axis where ``p`` is
  already outside, the motion does not go further out;
- the segment from ``p`` to the predicted position does not touch any keep-out box; if ``p`` is
  inside one, the only motion is straight out through its nearest face (the penetration only
  shrinks); if the position cannot be read, there is no motion;
- with ``tracking``: the same keep-out rule (and with ``tracking.workspace`` the workspace rule)
  for the controller's estimated target (an interval per axis), swept over the step, with the
  keep-out boxes grown and the workspace shrunk by ``tracking.margin_m`` (the stopping distance);
  a target inside only that margin (not the box) may slide along the face, never deeper;
- with ``tracking.max_lead_m``: the nearest point of the target's interval ends no further than
  that from the measured hand (or, where it is further already, gets no further), not counting the
  axes where the motion is a correction (``geometry.correction_axes``: away from the hand, at most
  the correction speed, away from a wall or keep-out face the hand is within its stopping margin of);
- while the net contact force on the arm exceeds ``contact.max_force_n``, no part of the commanded
  motion goes into the contact (``v . f >= 0``);
- while a finger's contact force exceeds ``gripper.max_force_n`` the gripper does not close further
  than the last allowed command; with ``require_touch`` and no valid touch reading it does not move.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vlastack.safety import geometry as geo
from vlastack.safety.spec import SafetySpec

# Relative and absolute slack of the comparisons (float64 arithmetic on float32 actions).
_REL = 1e-9
_ABS_M = 1e-12


@dataclass(frozen=True)
class Violation:
    """One limit an action breaks: the limit's spec path, the value, the bound, the unit."""

    limit: str
    value: float
    bound: float
    unit: str
    message: str


@dataclass
class MotionMemory:
    """What the rules need to remember between steps."""

    v1: np.ndarray
    """Commanded velocity (m/s, [3]) of the previous step; zero at the start of an episode."""
    v2: np.ndarray
    """Commanded velocity of the step before that."""
    last_grip: float | None
    """Last gripper command allowed (action units); None without a gripper."""
    target_lo: np.ndarray | None = None
    """With ``spec.tracking``: per-axis lower bound (m, [3]) of where the controller's target is, in
    the measured-position frame; None until the first readable position of the episode."""
    target_hi: np.ndarray | None = None
    """The matching upper bound (equal to ``target_lo`` unless the controller's clipping is uncertain)."""

    hand_velocity: np.ndarray | None = None
    """Measured hand velocity (m/s, [3]) from the last two readable positions; None until there are two."""
    last_position: np.ndarray | None = None
    """The last readable measured position (m, [3]) and the step it was read at (``last_position_step``)."""
    last_position_step: int = -1

    def start_tracking(self, spec: SafetySpec, position: np.ndarray | None, step: int = 0) -> None:
        """At the first readable position of an episode, take the target to be there (the arm at rest);
        on every step, update the measured hand velocity (zero when a step's position was unreadable)."""
        if position is None:
            self.hand_velocity, self.last_position = None, None
            return
        if self.last_position is not None and step == self.last_position_step + 1:
            self.hand_velocity = (position - self.last_position) / spec.control_period_s
        self.last_position, self.last_position_step = position.copy(), step
        if spec.tracking is not None and self.target_lo is None:
            self.target_lo, self.target_hi = position.copy(), position.copy()

    def stopping_margin(self, spec: SafetySpec) -> np.ndarray:
        """Per axis (m): ``tracking.margin_m`` plus how far the hand coasts past a stopped target at its speed."""
        t = spec.tracking
        assert t is not None
        speed = np.zeros(3) if self.hand_velocity is None else np.abs(self.hand_velocity)
        # A jump faster than twice the speed limit is a glitch in the reading (or a test), not motion.
        speed = np.minimum(speed, 2.0 * spec.motion.max_speed_m_s)
        return t.margin_m + t.overshoot_s * speed

    @classmethod
    def at_rest(cls, spec: SafetySpec) -> MotionMemory:
        grip = None
        if spec.gripper is not None:  # the value a float32 action can carry
            i = spec.gripper.action_index
            grip = float(geo.to_float32(np.array([spec.gripper.initial_command]), (spec.action.low[i],), (spec.action.high[i],))[0])
        return cls(np.zeros(3), np.zeros(3), grip)

    def advance(self, spec: SafetySpec, action: np.ndarray) -> None:
        """Remember ``action`` as the one that was sent."""
        self.v2, self.v1 = self.v1, geo.velocity_of(spec, action)
        if spec.tracking is not None and self.target_lo is not None:
            self.target_lo, self.target_hi = geo.advance_target(spec, self.target_lo, self.target_hi, self.v1)
        if spec.gripper is not None:
            self.last_grip = float(np.asarray(action, dtype=np.float64)[spec.gripper.action_index])


def max_touch(touch: object) -> float | None:
    """Largest finger force (N) of a touch reading; None if missing, empty or not finite."""
    if touch is None:
        return None
    try:
        t = np.asarray(touch, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError):
        return None
    if t.size == 0 or not np.all(np.isfinite(t)):
        return None
    return float(np.max(np.abs(t)))


def violations(
    spec: SafetySpec, action: object, state: object, touch: object, memory: MotionMemory, contact: object = None
) -> list[Violation]:
    """Every limit ``action`` breaks when sent from ``state`` after ``memory``; empty if none."""
    try:
        a = np.asarray(action, dtype=np.float64)
    except (TypeError, ValueError):
        return [Violation("action.shape", float("nan"), float("nan"), "", f"action {action!r} is not numeric")]
    if a.shape != (spec.action.dim,):
        return [
            Violation(
                "action.shape",
                float(a.size),
                float(spec.action.dim),
                "entries",
                f"action has shape {a.shape}, expected ({spec.action.dim},)",
            )
        ]
    if not np.all(np.isfinite(a)):
        return [Violation("action.finite", float("nan"), float("nan"), "", "action has NaN or infinite entries")]
    out: list[Violation] = []
    low, high = np.asarray(spec.action.low), np.asarray(spec.action.high)
    for i in np.flatnonzero((a < low) | (a > high)):
        bound = low[i] if a[i] < low[i] else high[i]
        out.append(
            Violation(
                f"action.{'low' if a[i] < low[i] else 'high'}[{i}]",
                a[i],
                bound,
                "action units",
                f"action[{i}] = {a[i]:.6g} is outside [{low[i]}, {high[i]}]",
            )
        )
    v = geo.velocity_of(spec, a)
    bounds = geo.motion_bounds(spec)
    for name, value in geo.motion_values(spec, v, memory.v1, memory.v2).items():
        if value > bounds[name] * (1 + _REL) + _ABS_M:
            out.append(
                Violation(
                    name,
                    value,
                    bounds[name],
                    geo.MOTION_UNITS[name],
                    f"{geo.MOTION_WORDS[name]}: {value:.6g} {geo.MOTION_UNITS[name]} > {bounds[name]:.6g}",
                )
            )
    out += _geometry_violations(spec, v, geo.position_of(spec, state))
    out += _target_violations(spec, v, memory)
    out += _lead_violations(spec, v, geo.position_of(spec, state), memory)
    out += _grip_violations(spec, a, touch, memory)
    out += _contact_violations(spec, v, contact)
    return out


def _geometry_violations(spec: SafetySpec, v: np.ndarray, p: np.ndarray | None) -> list[Violation]:
    moving = bool(np.any(v != 0.0))
    if p is None:
        return [Violation("state", float("nan"), 0.0, "m/s", "moving although the position cannot be read")] if moving else []
    q = p + v * spec.control_period_s
    out = []
    lo, hi = np.asarray(spec.workspace.low), np.asarray(spec.workspace.high)
    for i in range(3):
        floor = min(lo[i], p[i]) - _ABS_M - _REL * abs(lo[i])
        ceiling = max(hi[i], p[i]) + _ABS_M + _REL * abs(hi[i])
        if q[i] < floor or q[i] > ceiling:
            side, bound = ("low", lo[i]) if q[i] < floor else ("high", hi[i])
            out.append(
                Violation(
                    f"workspace.{side}[{i}]",
                    q[i],
                    bound,
                    "m",
                    f"predicted {geo.AXES[i]} = {q[i]:.6g} m is outside the workspace [{lo[i]}, {hi[i]}]",
                )
            )
    for k, box in enumerate(spec.keep_out):
        low, high = np.asarray(box.low), np.asarray(box.high)
        entry = geo.segment_entry(p, q, low, high)
        if entry is not None and entry >= 0:
            out.append(Violation(f"keep_out[{k}]", float(entry), float("nan"), "", f"path enters keep-out box {box.name or k!r}"))
        elif entry is not None and moving and not np.array_equal(geo.backing_out(p, v, low, high), v):
            out.append(
                Violation(
                    f"keep_out[{k}]",
                    geo.exit_depth(p, low, high),
                    0.0,
                    "m",
                    f"inside keep-out box {box.name or k!r}, moving other than straight out through its nearest face",
                )
            )
    return out


def _target_violations(spec: SafetySpec, v: np.ndarray, memory: MotionMemory) -> list[Violation]:
    """With tracking: the controller's target, swept over the step, keeps ``margin_m`` inside the
    workspace and away from every keep-out box (it may always move back towards the inside)."""
    if spec.tracking is None or memory.target_lo is None:
        return []
    m, dt = spec.tracking.margin_m, spec.control_period_s
    lo_t, hi_t = memory.target_lo + v * dt, memory.target_hi + v * dt
    out = []
    wlo, whi = np.asarray(spec.workspace.low) + m, np.asarray(spec.workspace.high) - m
    for i in range(3 if spec.tracking.workspace else 0):
        floor = min(wlo[i], memory.target_lo[i]) - _ABS_M - _REL * abs(wlo[i])
        ceiling = max(whi[i], memory.target_hi[i]) + _ABS_M + _REL * abs(whi[i])
        if lo_t[i] < floor or hi_t[i] > ceiling:
            side, bound, q = ("low", wlo[i], lo_t[i]) if lo_t[i] < floor else ("high", whi[i], hi_t[i])
            out.append(
                Violation(
                    f"workspace.{side}[{i}]",
                    q,
                    bound,
                    "m",
                    f"the controller's target would reach {geo.AXES[i]} = {q:.6g} m, beyond {bound:.6g} m "
                    f"(the workspace less the {m} m stopping margin)",
                )
            )
    center, half = geo.target_box(memory)
    for k, box in enumerate(spec.keep_out):
        low, high = np.asarray(box.low) - half - m, np.asarray(box.high) + half + m
        entry = geo.segment_entry(center, center + v * dt, low, high)
        moving = bool(np.any(v != 0.0))
        if entry is not None and entry >= 0:
            out.append(
                Violation(
                    f"keep_out[{k}]",
                    float(entry),
                    float("nan"),
                    "",
                    f"the controller's target would come within {m} m of keep-out box {box.name or k!r}",
                )
            )
        elif entry is not None and moving and not np.array_equal(_allowed_inside(center, v, low, high, m), v):
            out.append(
                Violation(
                    f"keep_out[{k}]",
                    geo.exit_depth(center, low, high),
                    0.0,
                    "m",
                    f"the controller's target is within {m} m of keep-out box {box.name or k!r} and moves other than straight away from it",
                )
            )
    return out


def _allowed_inside(center: np.ndarray, v: np.ndarray, low: np.ndarray, high: np.ndarray, m: float) -> np.ndarray:
    """What may remain of ``v`` for a target inside a keep-out box grown by the margin ``m``: within
    the margin (not in the box), anything that goes no deeper; deeper in, only straight out."""
    if geo.exit_depth(center, low, high) <= m:
        return geo.not_deeper(center, v, low, high)
    return geo.backing_out(center, v, low, high)


def _lead_violations(spec: SafetySpec, v: np.ndarray, p: np.ndarray | None, memory: MotionMemory) -> list[Violation]:
    """With ``tracking.max_lead_m``: the nearest point of the target interval ends no further than that
    from the hand, unless it was further already and gets no further."""
    t = spec.tracking
    if t is None or t.max_lead_m is None or memory.target_lo is None or p is None:
        return []
    gap = geo.nearest_in(p, memory.target_lo, memory.target_hi) - p
    exempt = geo.correction_axes(spec, v, p, memory.target_lo, memory.target_hi, memory.stopping_margin(spec))
    ahead = float(np.linalg.norm(gap + np.where(exempt, 0.0, v) * spec.control_period_s))
    bound = max(t.max_lead_m, float(np.linalg.norm(gap)))
    if ahead > bound * (1 + _REL) + _ABS_M:
        return [
            Violation("tracking.max_lead_m", ahead, t.max_lead_m, "m", f"the controller's target would run {ahead:.6g} m ahead of the hand")
        ]
    return []


def _contact_violations(spec: SafetySpec, v: np.ndarray, contact: object) -> list[Violation]:
    """Above ``contact.max_force_n``, no part of the motion goes into the contact (against the force)."""
    if spec.contact is None or contact is None:
        return []
    try:
        f = np.asarray(contact, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError):
        return []
    if f.shape != (3,) or not np.all(np.isfinite(f)):
        return []
    size = float(np.linalg.norm(f))
    if size <= spec.contact.max_force_n:
        return []
    into = -float(v @ f) / size
    if into > _ABS_M + _REL * float(np.linalg.norm(v)):
        return [
            Violation("contact.max_force_n", size, spec.contact.max_force_n, "N", f"moving at {into:.6g} m/s into a {size:.1f} N contact")
        ]
    return []


def _grip_violations(spec: SafetySpec, a: np.ndarray, touch: object, memory: MotionMemory) -> list[Violation]:
    g = spec.gripper
    if g is None or memory.last_grip is None:
        return []
    force = max_touch(touch)
    cmd, last = float(a[g.action_index]), memory.last_grip
    if force is None and g.require_touch and cmd != last:
        return [Violation("gripper.require_touch", cmd, last, "action units", "gripper moved without a valid touch reading")]
    if force is not None and force > g.max_force_n and g.close_sign * (cmd - last) > _ABS_M:
        return [Violation("gripper.max_force_n", force, g.max_force_n, "N", f"gripper closes further at {force:.1f} N > {g.max_force_n} N")]
    return []
