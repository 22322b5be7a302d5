"""Property tests: whatever is proposed, from whatever state, what leaves the layer is inside every limit.

Random specs (any action size and layout, workspaces, keep-out boxes, limits) meet random and
adversarial sequences: NaN, inf, huge values, wrong shapes, non-numbers, missing actions, states
outside the workspace or inside keep-out boxes, unreadable states, wild touch readings, time gaps,
and clocks that freeze or go back.
"""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from vlastack.safety import SafetyLayer
from vlastack.safety.faults import with_keep_out
from vlastack.safety.interventions import EXCEEDED
from vlastack.safety.presets import METAWORLD_SAWYER
from vlastack.safety.spec import ActionLayout, Box, GripperLimits, MotionLimits, SafetySpec, TargetTracking

SETTINGS = settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
finite = st.floats(-1e3, 1e3, allow_nan=False)


@st.composite
def boxes(draw, center_scale: float = 1.0, min_half: float = 1e-3, max_half: float = 0.5) -> Box:
    c = np.array([draw(st.floats(-center_scale, center_scale)) for _ in range(3)])
    h = np.array([draw(st.floats(min_half, max_half)) for _ in range(3)])
    return Box(tuple(c - h), tuple(c + h), name=draw(st.sampled_from(["", "person", "fixture"])))


@st.composite
def specs(draw, stop_within_limits: bool = True) -> SafetySpec:
    dim = draw(st.integers(3, 7))
    order = draw(st.permutations(list(range(dim))))
    translation = tuple(order[:3])
    grip_index = order[3] if dim > 3 and draw(st.booleans()) else None
    low = [-draw(st.floats(0.05, 3.0)) for _ in range(dim)]
    high = [draw(st.floats(0.05, 3.0)) for _ in range(dim)]
    dt = draw(st.floats(1e-3, 0.1))
    speed = draw(st.floats(1e-3, 3.0))
    if stop_within_limits:
        accel = speed / dt * draw(st.floats(1.0, 4.0))
        jerk = (speed + accel * dt) / dt**2 * draw(st.floats(1.0, 4.0))
    else:
        accel, jerk = draw(st.floats(1e-2, 1e3)), draw(st.floats(1e-1, 1e5))
    gripper = None
    if grip_index is not None:
        gripper = GripperLimits(
            action_index=grip_index,
            close_sign=draw(st.sampled_from([1, -1])),
            max_force_n=draw(st.floats(0.1, 100.0)),
            backoff_per_n=draw(st.floats(0.0, 0.1)),
            initial_command=draw(st.floats(low[grip_index], high[grip_index])),
            require_touch=draw(st.booleans()),
        )
    tracking = None
    if draw(st.booleans()):
        clip = None
        if draw(st.booleans()):
            inner = draw(boxes(0.3, 0.05, 0.6))
            grow = np.array([draw(st.floats(0.0, 0.2)) for _ in range(3)])
            clip = (inner, Box(tuple(np.subtract(inner.low, grow)), tuple(np.add(inner.high, grow))))
        tracking = TargetTracking(
            margin_m=draw(st.floats(0.0, 0.02)), clip_inner=clip and clip[0], clip_outer=clip and clip[1], workspace=draw(st.booleans())
        )
    return SafetySpec(
        name="random",
        tracking=tracking,
        control_period_s=dt,
        state_position_dims=tuple(draw(st.permutations(list(range(5))))[:3]),
        action=ActionLayout(tuple(low), tuple(high), translation, draw(st.floats(1e-3, 0.2))),
        workspace=draw(boxes(0.3, 0.05, 0.6)),
        motion=MotionLimits(speed, accel, jerk),
        gripper=gripper,
        watchdog_s=draw(st.floats(0.0, 0.2)),
        keep_out=tuple(draw(st.lists(boxes(0.5, 0.01, 0.2), max_size=3))),
    )


@st.composite
def proposals(draw, spec: SafetySpec):
    kind = draw(st.sampled_from(["normal"] * 6 + ["huge", "nan", "inf", "none", "none", "shape", "junk"]))
    dim = spec.action.dim
    if kind == "none":
        return None
    if kind == "shape":
        return np.zeros(draw(st.sampled_from([0, dim - 1, dim + 1])), dtype=np.float32)
    if kind == "junk":
        return draw(st.sampled_from(["stop", [1, "a"], {"x": 1}, object()]))
    slack = 0.5  # mostly in range, sometimes just or well outside (saturation: clipped, never passed on)
    low, high = np.array(spec.action.low) - slack, np.array(spec.action.high) + slack
    a = np.array([draw(st.floats(lo, hi)) for lo, hi in zip(low, high)], dtype=np.float32)
    if kind == "huge":
        a[draw(st.integers(0, dim - 1))] = draw(st.sampled_from([1e6, -1e6, 3.4e38]))
    if kind in ("nan", "inf"):
        a[draw(st.integers(0, dim - 1))] = np.nan if kind == "nan" else draw(st.sampled_from([np.inf, -np.inf]))
    return a


def _near(data, low: np.ndarray, high: np.ndarray, reach: float) -> np.ndarray:
    """A point within ``reach`` of a random face of the box (inside or outside)."""
    p = low + (high - low) * np.array([data.draw(st.floats(0, 1)) for _ in range(3)])
    axis, side = data.draw(st.integers(0, 2)), data.draw(st.booleans())
    p[axis] = (high if side else low)[axis] + data.draw(st.floats(-reach, reach))
    return p


def run_sequence(oracle, data, spec: SafetySpec, steps: int, motion_excess_allowed_if_flagged: bool = False) -> None:
    layer, mem = SafetyLayer(spec), oracle.OracleMemory(spec)
    pos_dims = list(spec.state_position_dims)
    reach = 2 * max(map(abs, spec.action.low + spec.action.high)) * spec.action.translation_scale_m
    wlow, whigh = np.array(spec.workspace.low), np.array(spec.workspace.high)
    p = _near(data, wlow, whigh, reach)
    now, latest = 0.0, None
    for _ in range(steps):
        proposal = data.draw(proposals(spec))
        state_kind = data.draw(st.sampled_from(["ok"] * 5 + ["jump", "wall", "box", "nan", "none"]))
        if state_kind == "jump":
            p = p + np.array([data.draw(st.floats(-0.3, 0.3)) for _ in range(3)])
        elif state_kind == "wall" or (state_kind == "box" and not spec.keep_out):
            p = _near(data, wlow, whigh, reach)
        elif state_kind == "box":
            box = spec.keep_out[data.draw(st.integers(0, len(spec.keep_out) - 1))]
            p = _near(data, np.array(box.low), np.array(box.high), reach)
        state = np.zeros(5, dtype=np.float32)
        state[pos_dims] = p
        if state_kind == "nan":
            state[pos_dims[data.draw(st.integers(0, 2))]] = np.nan
        readable = None if state_kind in ("nan", "none") else state[pos_dims].astype(np.float64)
        touch = data.draw(st.sampled_from([None, "small", "big", "nan"]))
        touch = {None: None, "nan": np.array([np.nan, 1.0])}.get(
            touch,
            np.array(
                [
                    data.draw(st.floats(0, 2 * (spec.gripper.max_force_n if spec.gripper else 10) * (4 if touch == "big" else 0.5)))
                    for _ in range(2)
                ]
            ),
        )
        now += spec.control_period_s * data.draw(st.sampled_from([1, 1, 1, 0.5, 3, 20, 0, -2]))
        decision = layer.filter(proposal, None if state_kind == "none" else state, touch, now)
        clock_ok = latest is None or now > latest
        latest = now if latest is None else max(latest, now)
        out = decision.action
        flagged = any(i.effect == EXCEEDED for i in decision.interventions)
        for item in decision.interventions:
            event(f"{item.check}: {item.effect}")
        oracle.assert_inside_limits(spec, out, readable, touch, mem, motion_excess_allowed=motion_excess_allowed_if_flagged and flagged)
        if not clock_ok:  # a frozen or backwards clock is a stall: nothing moves
            assert np.all(out[list(spec.action.translation_dims)] == 0), "moved on a clock that did not advance"
            assert decision.held and any(i.limit == "clock" for i in decision.interventions)
        if proposal is None:  # the watchdog: past the deadline nothing moves
            age = np.inf if mem.last_fresh is None else now - mem.last_fresh
            if age > spec.watchdog_s:
                assert np.all(out[list(spec.action.translation_dims)] == 0), "watchdog did not hold"
                assert decision.held
        oracle.remember(spec, mem, out, proposal is not None and clock_ok, now, readable)
        if readable is not None:  # the arm follows what was sent, with some tracking error
            p = readable + (mem.v1 * spec.control_period_s) * data.draw(st.floats(0.5, 1.5))


@SETTINGS
@given(data=st.data(), spec=specs(), steps=st.integers(1, 25))
def test_everything_that_leaves_is_inside_every_limit(oracle, data, spec, steps):
    assert spec.stop_within_limits
    run_sequence(oracle, data, spec, steps)


@SETTINGS
@given(data=st.data(), spec=specs(stop_within_limits=False), steps=st.integers(1, 25))
def test_tight_motion_limits_hard_limits_hold_and_any_motion_excess_is_reported(oracle, data, spec, steps):
    run_sequence(oracle, data, spec, steps, motion_excess_allowed_if_flagged=True)


@SETTINGS
@given(data=st.data(), keep_out=st.lists(boxes(0.1, 0.005, 0.05), max_size=2), steps=st.integers(1, 30))
def test_metaworld_preset_with_adversarial_sequences(oracle, data, keep_out, steps):
    shifted = [Box(tuple(np.add(b.low, (0, 0.6, 0.2))), tuple(np.add(b.high, (0, 0.6, 0.2))), b.name) for b in keep_out]
    run_sequence(oracle, data, with_keep_out(METAWORLD_SAWYER, *shifted), steps)


@SETTINGS
@given(
    actions=st.lists(st.lists(st.floats(allow_nan=True, allow_infinity=True, width=32), min_size=4, max_size=4), min_size=1, max_size=30)
)
def test_nan_and_inf_never_pass(actions):
    layer = SafetyLayer(METAWORLD_SAWYER)
    state = np.array([0.0, 0.6, 0.2, 1.0], dtype=np.float32)
    for i, a in enumerate(actions):
        proposal = np.array(a, dtype=np.float32)
        d = layer.filter(proposal, state, None, i * 0.0125)
        assert np.all(np.isfinite(d.action))
        if not np.all(np.isfinite(proposal)):
            assert d.held and any(r.limit == "action.finite" for r in d.interventions)


@SETTINGS
@given(actions=st.lists(st.lists(st.floats(-1.0, 1.0, width=32), min_size=4, max_size=4), min_size=1, max_size=25))
def test_valid_motion_is_only_ever_shortened_never_lengthened_or_reversed(actions):
    spec = METAWORLD_SAWYER
    layer = SafetyLayer(spec)
    p = np.array([0.0, 0.6, 0.2])
    for i, a in enumerate(actions):
        proposal = np.array(a, dtype=np.float32)
        out = layer.filter(proposal, np.r_[p, 1.0].astype(np.float32), None, i * 0.0125).action
        assert np.all(np.abs(out[:3]) <= np.abs(proposal[:3]) + 1e-7)
        assert np.all(out[:3] * proposal[:3] >= 0)
        p = p + out[:3].astype(np.float64) * spec.action.translation_scale_m
