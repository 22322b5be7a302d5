"""Shared by the safety tests: an independent statement of the limits (the ``oracle`` fixture).

Written without the layer's own helpers.

The keep-out test uses the separating-axis theorem (the layer uses the slab method), the rest is
plain numpy on the spec's numbers.
"""

from __future__ import annotations

import types

import numpy as np
import pytest

from vlastack.safety.spec import SafetySpec

REL = 1e-7  # float32 actions: relative slack of the motion checks
ABS_M = 1e-9  # metres of slack for the geometric checks


class OracleMemory:
    def __init__(self, spec: SafetySpec) -> None:
        self.v1 = np.zeros(3)
        self.v2 = np.zeros(3)
        self.grip = float(np.float32(spec.gripper.initial_command)) if spec.gripper else None
        self.last_fresh = None
        self.last_action = None
        self.target_lo = None  # with spec.tracking: where the controller's target may be, per axis (m)
        self.target_hi = None


def velocity(spec: SafetySpec, action: np.ndarray) -> np.ndarray:
    a = np.asarray(action, dtype=np.float64)
    return a[list(spec.action.translation_dims)] * spec.action.translation_scale_m / spec.control_period_s


def segment_touches_box(p: np.ndarray, q: np.ndarray, low: np.ndarray, high: np.ndarray) -> bool:
    """Separating-axis test of a segment against a closed axis-aligned box."""
    center, half, d = (low + high) / 2, (high - low) / 2, q - p
    axes = [np.eye(3)[i] for i in range(3)] + [np.cross(d, np.eye(3)[i]) for i in range(3)]
    for n in axes:
        if np.linalg.norm(n) < 1e-15:
            continue
        r = float(np.abs(n) @ half)
        c = float(n @ center)
        lo_s, hi_s = sorted((float(n @ p), float(n @ q)))
        if hi_s < c - r - 1e-15 or lo_s > c + r + 1e-15:
            return False
    return True


def depth_inside(p: np.ndarray, low: np.ndarray, high: np.ndarray) -> float:
    """How far (m) ``p`` is inside the closed box: distance to the nearest face, 0 outside."""
    if np.any(p < low) or np.any(p > high):
        return 0.0
    return float(min(np.min(p - low), np.min(high - p)))


def assert_inside_limits(
    spec: SafetySpec, out: np.ndarray, p: np.ndarray | None, touch, mem: OracleMemory, motion_excess_allowed: bool = False
) -> None:
    """Every limit, stated directly; raises AssertionError naming the broken one."""
    layout, dt = spec.action, spec.control_period_s
    assert isinstance(out, np.ndarray) and out.dtype == np.float32 and out.shape == (layout.dim,), out
    assert np.all(np.isfinite(out)), f"non-finite action {out}"
    a = out.astype(np.float64)
    assert np.all(a >= np.array(layout.low)) and np.all(a <= np.array(layout.high)), f"out of range {a}"
    v = velocity(spec, a)
    if not motion_excess_allowed:
        m = spec.motion
        assert np.linalg.norm(v) <= m.max_speed_m_s * (1 + REL), ("speed", np.linalg.norm(v))
        assert np.linalg.norm(v - mem.v1) / dt <= m.max_accel_m_s2 * (1 + REL), ("accel", np.linalg.norm(v - mem.v1) / dt)
        jerk = np.linalg.norm(v - 2 * mem.v1 + mem.v2) / dt**2
        assert jerk <= m.max_jerk_m_s3 * (1 + REL), ("jerk", jerk)
    if p is None:
        assert np.all(v == 0), f"moving with an unreadable position: {v}"
    else:
        q = p + v * dt
        lo, hi = np.array(spec.workspace.low), np.array(spec.workspace.high)
        for i in range(3):
            floor, ceiling = min(lo[i], p[i]), max(hi[i], p[i])
            assert floor - ABS_M <= q[i] <= ceiling + ABS_M, ("workspace", i, p[i], q[i], lo[i], hi[i])
        for box in spec.keep_out:
            blo, bhi = np.array(box.low), np.array(box.high)
            if np.all(p >= blo) and np.all(p <= bhi):  # inside: the penetration may only shrink
                assert depth_inside(q, blo, bhi) <= depth_inside(p, blo, bhi) + ABS_M, ("deeper into a keep-out box", p, q)
            else:
                assert not segment_touches_box(p, q, blo, bhi), ("keep-out", p, q, box)
    if spec.tracking is not None and mem.target_lo is None and p is not None:  # the first readable position
        mem.target_lo, mem.target_hi = p.astype(np.float64).copy(), p.astype(np.float64).copy()
    if spec.tracking is not None and mem.target_lo is not None:
        assert_target_inside(spec, v, mem)
    g = spec.gripper
    if g is not None:
        cmd = float(a[g.action_index])
        t = None if touch is None else np.asarray(touch, dtype=np.float64).reshape(-1)
        valid = t is not None and t.size > 0 and bool(np.all(np.isfinite(t)))
        if not valid and g.require_touch:
            assert abs(cmd - mem.grip) <= 1e-7 * max(1.0, abs(mem.grip)), "gripper moved without a touch reading"
        if valid and np.max(np.abs(t)) > g.max_force_n:
            # At float32 resolution, as the check above: the layer's output is float32, and a held command at a range
            # bound that float32 cannot hold (e.g. -1/3) comes out one step inside the range (found by hypothesis).
            assert g.close_sign * (cmd - mem.grip) <= 1e-7 * max(1.0, abs(mem.grip)), "gripper closed further above the force limit"


def assert_target_inside(spec: SafetySpec, v: np.ndarray, mem: OracleMemory) -> None:
    """The controller's target interval, moved by the step, keeps the margin inside the workspace
    (or does not move further out) and away from keep-out boxes (or gets no deeper)."""
    m, dt = spec.tracking.margin_m, spec.control_period_s
    lo, hi = mem.target_lo, mem.target_hi
    wlo, whi = np.array(spec.workspace.low) + m, np.array(spec.workspace.high) - m
    for i in range(3 if spec.tracking.workspace else 0):
        assert lo[i] + v[i] * dt >= min(wlo[i], lo[i]) - ABS_M, ("target workspace", i, lo[i], v[i])
        assert hi[i] + v[i] * dt <= max(whi[i], hi[i]) + ABS_M, ("target workspace", i, hi[i], v[i])
    center, half = (lo + hi) / 2, (hi - lo) / 2
    for box in spec.keep_out:  # the swept interval box touches a box iff its centre's path touches the box grown by its half-size
        blo, bhi = np.array(box.low) - half - m, np.array(box.high) + half + m
        if np.all(center >= blo) and np.all(center <= bhi):
            assert depth_inside(center + v * dt, blo, bhi) <= depth_inside(center, blo, bhi) + ABS_M, "target deeper in"
        else:
            assert not segment_touches_box(center, center + v * dt, blo, bhi), ("target keep-out", center, v, box)


def remember(spec: SafetySpec, mem: OracleMemory, out: np.ndarray, fresh: bool, now: float, position: np.ndarray | None = None) -> None:
    """After ``out`` was sent; ``position`` (the one it was judged at) starts the target estimate."""
    t = spec.tracking
    if t is not None and mem.target_lo is None and position is not None:
        mem.target_lo, mem.target_hi = position.astype(np.float64).copy(), position.astype(np.float64).copy()
    if t is not None and mem.target_lo is not None:
        d = velocity(spec, out) * spec.control_period_s
        lo, hi = mem.target_lo + d, mem.target_hi + d
        if t.clip_inner is not None:  # each end clipped by the bounds that push it furthest its way
            lo = np.minimum(np.maximum(lo, t.clip_outer.low), t.clip_inner.high)
            hi = np.minimum(np.maximum(hi, t.clip_inner.low), t.clip_outer.high)
        mem.target_lo, mem.target_hi = lo, hi
    mem.v2, mem.v1 = mem.v1, velocity(spec, out)
    if spec.gripper is not None:
        mem.grip = float(out[spec.gripper.action_index])
    mem.last_action = out.astype(np.float64)
    if fresh:
        mem.last_fresh = now


@pytest.fixture(scope="session")
def oracle() -> types.SimpleNamespace:
    """The oracle's functions (tests run with --import-mode=importlib, so helpers come as fixtures)."""
    return types.SimpleNamespace(
        OracleMemory=OracleMemory,
        assert_inside_limits=assert_inside_limits,
        remember=remember,
        segment_touches_box=segment_touches_box,
        velocity=velocity,
    )
