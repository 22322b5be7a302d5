"""Small geometry for the checks: boxes, segments, balls; float64 numpy, metres and m/s.

Conventions: a box is *closed* (touching a keep-out face counts as entering it); a motion over
one control period is the straight segment from the current position ``p`` to ``p + v * dt``.
"""

from __future__ import annotations

import math

import numpy as np

from vlastack.safety.spec import SafetySpec

#: Distance (m) kept from a workspace or keep-out face when the layer shortens a motion to it, so
#: that float rounding (the action is sent as float32) cannot land exactly on the face.
FACE_MARGIN_M = 1e-6
#: Relative shrink of speed/acceleration/jerk radii for the same reason.
RADIUS_SHRINK = 1e-6

AXES = "xyz"
#: A motion whose component away from a workspace face is at least this fraction of its speed (within
#: 60 degrees of straight away from it) leaves that face: the speed cap near it does not apply.
LEAVING_FRACTION = 0.5
#: Fastest (fraction of the speed limit) the layer itself moves the controller's target to correct
#: where the hand sits: pulled in from a wall, pushed off a keep-out face.
CORRECTION_SPEED_FRACTION = 0.25


def to_float32(action: np.ndarray, low: tuple[float, ...], high: tuple[float, ...]) -> np.ndarray:
    """``action`` as float32, rounded so that it stays inside [low, high] (bounds need not be float32 numbers)."""
    out = np.asarray(action, dtype=np.float64).astype(np.float32)
    lo, hi = np.asarray(low), np.asarray(high)
    out = np.where(out.astype(np.float64) > hi, np.nextafter(out, np.float32(-np.inf)), out)
    out = np.where(out.astype(np.float64) < lo, np.nextafter(out, np.float32(np.inf)), out)
    return out.astype(np.float32)


def velocity_of(spec: SafetySpec, action: np.ndarray) -> np.ndarray:
    """Commanded end-effector velocity (m/s, float64 [3]) of an action."""
    dims = list(spec.action.translation_dims)
    return np.asarray(action, dtype=np.float64)[dims] * (spec.action.translation_scale_m / spec.control_period_s)


def with_velocity(spec: SafetySpec, action: np.ndarray, velocity: np.ndarray) -> np.ndarray:
    """A copy of ``action`` (float64) whose translation entries command ``velocity`` (m/s)."""
    out = np.array(action, dtype=np.float64)
    out[list(spec.action.translation_dims)] = velocity * (spec.control_period_s / spec.action.translation_scale_m)
    return out


def position_of(spec: SafetySpec, state: object) -> np.ndarray | None:
    """End-effector position (float64 [3], m) from a state vector; None if it cannot be read."""
    try:
        s = np.asarray(state, dtype=np.float64).reshape(-1)
        p = s[list(spec.state_position_dims)]
    except (TypeError, ValueError, IndexError):
        return None
    return p if np.all(np.isfinite(p)) else None


def inside_closed(p: np.ndarray, low: np.ndarray, high: np.ndarray) -> bool:
    return bool(np.all(p >= low) and np.all(p <= high))


def segment_entry(p: np.ndarray, q: np.ndarray, low: np.ndarray, high: np.ndarray) -> int | None:
    """Does the segment p -> q touch the closed box? None if not; else the axis of the face it
    enters through (-1 when p itself is inside). Slab method."""
    d = q - p
    t_in, t_out, axis = 0.0, 1.0, -1
    for i in range(3):
        if d[i] == 0.0:
            if p[i] < low[i] or p[i] > high[i]:
                return None
            continue
        ta, tb = (low[i] - p[i]) / d[i], (high[i] - p[i]) / d[i]
        if ta > tb:
            ta, tb = tb, ta
        if ta > t_in:
            t_in, axis = ta, i
        t_out = min(t_out, tb)
        if t_in > t_out:
            return None
    return axis


def slab_gap(p: np.ndarray, low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """Per axis, how far (m) ``p`` lies outside the box's slab on that axis (0 inside it)."""
    return np.maximum(0.0, np.maximum(low - p, p - high))


def exit_face(p: np.ndarray, low: np.ndarray, high: np.ndarray) -> tuple[int, int]:
    """The face of the box nearest to ``p`` (inside it): (axis, +1 for the high face / -1 for the low one).

    Ties go to the lower axis, then the low face, so the layer and its final check agree."""
    gaps = np.stack([p - low, high - p])  # [side, axis] distance to each face, metres
    side, axis = np.unravel_index(int(np.argmin(gaps.T.reshape(-1))), (3, 2))[::-1]
    return int(axis), (-1 if side == 0 else 1)


def exit_depth(p: np.ndarray, low: np.ndarray, high: np.ndarray) -> float:
    """Distance (m) from ``p`` inside the box to its nearest face."""
    return float(np.min(np.minimum(p - low, high - p)))


def not_deeper(p: np.ndarray, v: np.ndarray, low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """Of velocity ``v`` from ``p`` inside the box, all but the part going deeper through its nearest face.

    For a point inside only the *margin* around a box: moving along that face keeps its distance
    to the box itself, so it may slide along (the margin is a buffer, not the box)."""
    axis, sign = exit_face(p, low, high)
    out = np.array(v, dtype=np.float64)
    if sign * out[axis] < 0:
        out[axis] = 0.0
    return out


def backing_out(p: np.ndarray, v: np.ndarray, low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """Of velocity ``v`` (m/s) from ``p`` inside the box, only the part straight out through the nearest face.

    Moving only along that face's axis, towards it, shrinks the distance to it and grows the
    distance to the opposite face, so the penetration depth (distance to the nearest face) never grows."""
    axis, sign = exit_face(p, low, high)
    out = np.zeros(3)
    if sign * v[axis] > 0:
        out[axis] = v[axis]
    return out


def advance_target(spec: SafetySpec, lo: np.ndarray, hi: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The controller's target interval after commanding ``v`` (m/s) for one period.

    The target moves by the commanded delta and is clipped to the controller's box. Clipping is
    monotone in the position and in the box bounds, so integrating the lower end with the lowest
    bounds the box may have (outer low, inner high) and the upper end with the highest (inner low,
    outer high) keeps the real target inside [lo, hi] whatever box the controller really uses."""
    t = spec.tracking
    d = v * spec.control_period_s
    lo, hi = lo + d, hi + d
    if t is not None and t.clip_inner is not None and t.clip_outer is not None:
        lo = np.clip(lo, t.clip_outer.low, t.clip_inner.high)
        hi = np.clip(hi, t.clip_inner.low, t.clip_outer.high)
    return lo, hi


def target_box(memory: object) -> tuple[np.ndarray, np.ndarray]:
    """Centre and half-size (m) of the target interval kept in a ``MotionMemory``."""
    lo, hi = memory.target_lo, memory.target_hi  # type: ignore[attr-defined]
    return (lo + hi) / 2.0, (hi - lo) / 2.0


def workspace_interval(p: np.ndarray, low: np.ndarray, high: np.ndarray, dt: float) -> tuple[np.ndarray, np.ndarray]:
    """Per-axis velocity interval [lo, hi] (m/s) that keeps the next position inside the box, or,
    on an axis where ``p`` is already outside, that does not move further out. Always contains 0."""
    lo = np.minimum(0.0, (low + FACE_MARGIN_M - p) / dt)
    hi = np.maximum(0.0, (high - FACE_MARGIN_M - p) / dt)
    return lo, hi


def nearest_in(p: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """The point of the box [lo, hi] nearest to ``p``."""
    return np.clip(p, lo, hi)


def lead_scale(p: np.ndarray, lo: np.ndarray, hi: np.ndarray, v: np.ndarray, lead: float, dt: float) -> tuple[float, float]:
    """The largest s in [0, 1] such that commanding ``s * v`` (m/s) leaves the nearest point of the
    target interval [lo, hi] within ``lead`` metres of the hand ``p`` (or, if it is further already,
    no further than it is); and how far ahead ``v`` itself would take it (m).

    The nearest point: an interval widened by uncertain clipping (pressed into the table) must not
    count as a target running away."""
    gap = nearest_in(p, lo, hi) - p
    ahead = float(np.linalg.norm(gap + v * dt))
    radius = max(lead, float(np.linalg.norm(gap))) * (1.0 - RADIUS_SHRINK)
    interval = ball_scale_interval(v * dt, -gap, radius)
    if not np.any(v) or (interval is not None and interval[1] >= 1.0):
        return 1.0, ahead
    if interval is None:  # further off than the bound already and moving across: only standing still keeps it
        return 0.0, ahead
    return max(0.0, interval[1]), ahead


def correction_axes(spec: SafetySpec, v: np.ndarray, p: np.ndarray, lo: np.ndarray, hi: np.ndarray, margin: np.ndarray) -> np.ndarray:
    """Per axis (bool [3]): is the motion ``v`` (m/s) there a correction the target-lead bound must not undo?

    That is: it takes the target (interval [lo, hi]) further from the hand ``p`` on that axis, no
    faster than the correction speed, and away from a workspace face, or a keep-out face, that the
    hand is within its stopping ``margin`` (m, per axis) of. Such a motion can only wind the target
    up on the safe side of what the hand is near."""
    gap = nearest_in(p, lo, hi) - p
    back = CORRECTION_SPEED_FRACTION * spec.motion.max_speed_m_s * (1.0 + 1e-9)
    away = (v != 0.0) & (np.sign(v) == np.sign(gap)) & (np.abs(v) <= back)
    low, high = np.asarray(spec.workspace.low), np.asarray(spec.workspace.high)
    near = np.where(v < 0.0, high - p, p - low) <= margin  # the face the motion leaves behind
    for box in spec.keep_out:
        b_low, b_high = np.asarray(box.low), np.asarray(box.high)
        box_gap = slab_gap(p, b_low, b_high)
        if not np.any(box_gap > 0.0) or np.any(box_gap > margin):  # inside the box, or clear of its margin
            continue
        outward = np.where(p > b_high, 1.0, np.where(p < b_low, -1.0, 0.0))
        near |= (box_gap > 0.0) & (np.sign(v) == outward)
    return away & near


def separation_speed_cap(
    spec: SafetySpec, p: np.ndarray, lo: np.ndarray | None, hi: np.ndarray | None, v: np.ndarray | None = None
) -> tuple[float, str, float]:
    """The speed cap (m/s) of ``tracking.slow_*`` for the hand at ``p`` and the target in [lo, hi]:
    the cap, the face nearest to either, and its distance (m).

    With the motion ``v`` (m/s): a face the motion clearly leaves (its component away from the face
    at least :data:`LEAVING_FRACTION` of its speed) does not count. Why: the cap is there because a
    fast hand swings off its path near the edge of its reach; heading away from the edge it cannot
    cross it, and capping the first fast move out of a start position near a wall changed what the
    policy did next (window-open, issue 18: 2 of 10 episodes failed behind the layer that succeed
    without it, both succeed without the cap)."""
    t = spec.tracking
    low, high = np.asarray(spec.workspace.low), np.asarray(spec.workspace.high)
    points = [p] if lo is None else [p, lo, hi]
    speed = 0.0 if v is None else float(np.linalg.norm(v))
    best, face = math.inf, ""
    for name in t.slow_faces:
        axis, side = AXES.index(name[0]), name[1]
        away = 0.0 if v is None else float(v[axis] if side == "-" else -v[axis])
        if speed > 0.0 and away >= LEAVING_FRACTION * speed:
            continue
        for q in points:
            gap = float(q[axis] - low[axis]) if side == "-" else float(high[axis] - q[axis])
            if gap < best:
                best, face = gap, name
    full = spec.motion.max_speed_m_s
    frac = min(1.0, max(0.0, best) / t.slow_within_m)
    return t.slow_speed_m_s + (full - t.slow_speed_m_s) * frac, face, best


def ball_scale_interval(v: np.ndarray, center: np.ndarray, radius: float) -> tuple[float, float] | None:
    """The interval of s with ``|s * v - center| <= radius`` (None if empty)."""
    vv = float(v @ v)
    cc = float(center @ center) - radius * radius
    if vv == 0.0:
        return (-math.inf, math.inf) if cc <= 0.0 else None
    b = float(v @ center)
    disc = b * b - vv * cc
    if disc < 0.0:
        return None
    root = math.sqrt(disc)
    return (b - root) / vv, (b + root) / vv


def motion_balls(spec: SafetySpec, v1: np.ndarray, v2: np.ndarray, shrink: float = 0.0) -> list[tuple[str, np.ndarray, float]]:
    """The three balls the next commanded velocity must lie in: (limit name, center, radius m/s).

    speed: ``|v| <= V``; acceleration: ``|v - v1| / dt <= A``; jerk: ``|v - 2 v1 + v2| / dt^2 <= J``,
    where v1, v2 are the last two commanded velocities.
    """
    dt, m = spec.control_period_s, spec.motion
    k = 1.0 - shrink
    return [
        ("motion.max_speed_m_s", np.zeros(3), m.max_speed_m_s * k),
        ("motion.max_accel_m_s2", v1, m.max_accel_m_s2 * dt * k),
        ("motion.max_jerk_m_s3", 2.0 * v1 - v2, m.max_jerk_m_s3 * dt * dt * k),
    ]


def motion_values(spec: SafetySpec, v: np.ndarray, v1: np.ndarray, v2: np.ndarray) -> dict[str, float]:
    """Speed (m/s), acceleration (m/s^2) and jerk (m/s^3) of commanding ``v`` after v1, v2."""
    dt = spec.control_period_s
    return {
        "motion.max_speed_m_s": float(np.linalg.norm(v)),
        "motion.max_accel_m_s2": float(np.linalg.norm(v - v1)) / dt,
        "motion.max_jerk_m_s3": float(np.linalg.norm(v - 2.0 * v1 + v2)) / (dt * dt),
    }


def motion_bounds(spec: SafetySpec) -> dict[str, float]:
    m = spec.motion
    return {"motion.max_speed_m_s": m.max_speed_m_s, "motion.max_accel_m_s2": m.max_accel_m_s2, "motion.max_jerk_m_s3": m.max_jerk_m_s3}


MOTION_WORDS = {"motion.max_speed_m_s": "speed", "motion.max_accel_m_s2": "acceleration", "motion.max_jerk_m_s3": "jerk"}
MOTION_UNITS = {"motion.max_speed_m_s": "m/s", "motion.max_accel_m_s2": "m/s^2", "motion.max_jerk_m_s3": "m/s^3"}
