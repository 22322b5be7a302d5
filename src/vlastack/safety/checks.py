"""The chain of checks. Each is a class with one method, ``apply(command, context) -> interventions``,
that may change ``command.action`` in place and says what it changed.

Shaping rules, so that the checks cannot undo each other: after the action is validated, a check
only ever *shortens* the commanded motion, per axis (workspace, keep-out) or as a whole (speed,
acceleration, jerk), towards zero, never lengthening or reversing it. Zero motion satisfies the
workspace and keep-out rules from any position, so shortening for one never breaks another; and
the motion check comes last, scaling the whole vector, which keeps the geometric rules. A learned
check (e.g. a world-model shield) implements the same ``Check`` protocol and runs before the hard
limits, so whatever it does, the hard limits still hold.

Three corrections add motion, each bounded to a fraction of the speed limit and each moving the
controller's target *away* from what it guards, because with a delta-action controller the hand
follows its target and stopping the command does not move a hand that drifts: the contact check's
back-off (first, so the geometric checks still shorten it), the workspace's pull-in of a target
whose hand sits beyond it near a wall, and the keep-out push-off of a target whose hand drifts
towards a box face. Whatever they add, the final check in the layer still judges the result.
"""

from __future__ import annotations

import numpy as np

from vlastack.safety import geometry as geo
from vlastack.safety import interventions as iv
from vlastack.safety.contact import ContactForce, ContactKept
from vlastack.safety.context import Check, Command, Context
from vlastack.safety.context import hold_with_reason as _hold
from vlastack.safety.interventions import Intervention
from vlastack.safety.verify import max_touch


class Watchdog:
    """Time: the clock must advance, and a missing action is repeated only while it is fresh.

    The layer's time comes from its caller (simulated time in evaluation, a real clock on a
    robot), so the watchdog does not take it on trust: a time that is not later than the latest
    one seen this episode means the clock froze or went back, and with it the deadline below
    means nothing. That counts as a stall: the layer holds, fresh action or not, until the clock
    passes the latest time it showed. (A real controller should pass ``time.monotonic()``.)

    No fresh action: repeat the last allowed one while it is younger than ``watchdog_s``, then hold.
    """

    name = "watchdog"

    def apply(self, command: Command, ctx: Context) -> list[Intervention]:
        if ctx.latest_s is not None and not ctx.now_s > ctx.latest_s:
            how = "did not advance" if ctx.now_s == ctx.latest_s else f"went back by {ctx.latest_s - ctx.now_s:.4g} s"
            return _hold(
                command,
                ctx,
                self.name,
                "clock",
                f"the clock {how} (now {ctx.now_s:.6g} s, latest seen {ctx.latest_s:.6g} s): "
                "a frozen or backwards clock is a stall, the action's age cannot be known",
                value=ctx.now_s,
                bound=ctx.latest_s,
                unit="s",
            )
        if command.action is not None:
            return []
        age = float("inf") if ctx.last_fresh_s is None else ctx.now_s - ctx.last_fresh_s
        deadline = ctx.spec.watchdog_s
        if ctx.last_action is not None and age <= deadline:
            command.action = ctx.last_action.copy()
            return [
                Intervention(
                    self.name,
                    "watchdog_s",
                    iv.REPEATED,
                    f"no fresh action for {age:.3f} s (deadline {deadline} s); repeating the last allowed one",
                    value=age,
                    bound=deadline,
                    unit="s",
                )
            ]
        return _hold(
            command,
            ctx,
            self.name,
            "watchdog_s",
            f"no fresh action for {age:.3f} s, past the {deadline} s deadline",
            value=age,
            bound=deadline,
            unit="s",
        )


class ActionValidity:
    """Shape, NaN/inf and range. Only an *invalid* action (not numeric, wrong shape, non-finite)
    becomes the hold; a finite entry outside its range is saturation and is clipped to the bound.

    Why clip rather than hold: a learned policy's output is not bounded by construction (a flow
    head's gripper effort of 1.2, a first reach step of dy 1.035), and the simulator and the robot
    saturate such entries anyway. Holding the whole step for it costs success while nothing
    unsafe happens; clipping sends exactly what the actuator would do, and says so.
    """

    name = "validity"

    def apply(self, command: Command, ctx: Context) -> list[Intervention]:
        if command.held:
            return []
        layout = ctx.spec.action
        try:
            a = np.array(command.action, dtype=np.float64)
        except (TypeError, ValueError, OverflowError):
            return _hold(command, ctx, self.name, "action.shape", f"the action {command.action!r:.60} is not numeric")
        if a.shape != (layout.dim,):
            return _hold(command, ctx, self.name, "action.shape", f"the action has shape {a.shape}, expected ({layout.dim},)")
        bad = np.flatnonzero(~np.isfinite(a))
        if bad.size:
            return _hold(
                command, ctx, self.name, "action.finite", f"the action has non-finite entries at {bad.tolist()} ({a[bad].tolist()})"
            )
        low, high = np.asarray(layout.low), np.asarray(layout.high)
        out: list[Intervention] = []
        for i in np.flatnonzero((a < low) | (a > high)):
            side, bound = ("low", low[i]) if a[i] < low[i] else ("high", high[i])
            out.append(
                Intervention(
                    self.name,
                    f"action.{side}[{i}]",
                    iv.CLIPPED,
                    f"action[{i}] = {a[i]:.4g} is outside [{low[i]}, {high[i]}] by {abs(a[i] - bound):.4g}; "
                    f"clipped to {bound} (saturation)",
                    value=float(a[i]),
                    bound=float(bound),
                    unit="action units",
                )
            )
        command.action = np.clip(a, low, high)
        return out


#: How fast (fraction of the speed limit) the layer moves a target back inside when the hand sits
#: further out than the target and the stopping margin allow (defined with the geometry, which the
#: final check shares).
CORRECTION_SPEED_FRACTION = geo.CORRECTION_SPEED_FRACTION
#: A hand this close to its target (m) counts as on it: no correction for rounding-sized offsets.
OFFSET_NOISE_M = 0.001
#: A hand slower than this on an axis (m/s) has settled there: its offset from the target is static.
SETTLED_M_S = 0.05
#: A hand this far (m) beyond a target being pulled in from a wall no longer follows it: sideways motion waits.
RIDING_M = 0.02


class Workspace:
    """The predicted next position stays in the workspace box (shortens the motion per axis)."""

    name = "workspace"

    def apply(self, command: Command, ctx: Context) -> list[Intervention]:
        spec, p, dt = ctx.spec, ctx.position, ctx.spec.control_period_s
        v = geo.velocity_of(spec, command.action)
        if p is None:
            if np.any(v != 0.0):
                return _hold(command, ctx, self.name, "state", "the end-effector position cannot be read (missing or NaN)")
            return []
        low, high = np.asarray(spec.workspace.low), np.asarray(spec.workspace.high)
        lo, hi = geo.workspace_interval(p, low, high, dt)
        clipped = np.clip(v, lo, hi)
        out = []
        for i in np.flatnonzero(clipped != v):
            q = p[i] + v[i] * dt
            side, bound = ("low", low[i]) if v[i] < lo[i] else ("high", high[i])
            where = "outside the workspace already, " if not low[i] <= p[i] <= high[i] else ""
            out.append(
                Intervention(
                    self.name,
                    f"workspace.{side}[{i}]",
                    iv.SHORTENED,
                    f"{where}predicted {geo.AXES[i]} = {q:.4f} m is beyond the workspace {side} "
                    f"{bound} m by {abs(q - bound):.4f} m; {geo.AXES[i]} motion shortened",
                    value=float(q),
                    bound=float(bound),
                    unit="m",
                )
            )
        mem = ctx.memory
        if spec.tracking is not None and spec.tracking.workspace and mem.target_lo is not None:  # where the hand will end up
            m = mem.stopping_margin(spec)
            # Where the hand sits beyond its target (near the edge of its reach it rides 1-3 cm above it,
            # and drifts further out while the target moves sideways), the target must stay that much
            # further in, and is moved in to get there. Only for an offset the hand is not closing (at
            # rest on that axis, or moving further out), not for a lag it is closing; never for a hold.
            vh = mem.hand_velocity if mem.hand_velocity is not None else np.zeros(3)
            # A reading that jumps faster than twice the speed limit is a glitch (or a test), not motion.
            known = (mem.hand_velocity is not None) & (not command.held) & (np.abs(vh) <= 2.0 * spec.motion.max_speed_m_s)
            open_lo = known & (vh < SETTLED_M_S)  # not moving up (inwards, m/s) off the low side
            open_hi = known & (vh > -SETTLED_M_S)  # not moving down (inwards) off the high side
            m_lo = m + np.where(open_lo, np.maximum(0.0, mem.target_lo - p), 0.0)
            m_hi = m + np.where(open_hi, np.maximum(0.0, p - mem.target_hi), 0.0)
            tlo = geo.workspace_interval(mem.target_lo, low + m_lo, high - m_hi, dt)[0]
            thi = geo.workspace_interval(mem.target_hi, low + m_lo, high - m_hi, dt)[1]
            back = CORRECTION_SPEED_FRACTION * spec.motion.max_speed_m_s
            pull_hi = open_hi & (mem.target_hi > high - m_hi) & (p > mem.target_hi + OFFSET_NOISE_M)
            pull_lo = open_lo & (mem.target_lo < low + m_lo) & (p < mem.target_lo - OFFSET_NOISE_M)
            thi = np.where(pull_hi, -np.minimum(back, (mem.target_hi - high + m_hi) / dt), thi)
            tlo = np.where(pull_lo, np.minimum(back, (low + m_lo - mem.target_lo) / dt), tlo)
            tlo, thi = np.minimum(tlo, thi), np.maximum(tlo, thi)  # a workspace too narrow for both: no preference
            before = clipped
            clipped = np.clip(clipped, tlo, thi)
            m = np.where(before < tlo, m_lo, m_hi)
            for i in np.flatnonzero(clipped != before):
                side, bound = ("low", low[i] + m[i]) if before[i] < tlo[i] else ("high", high[i] - m[i])
                q = (mem.target_lo if side == "low" else mem.target_hi)[i] + v[i] * dt
                out.append(
                    Intervention(
                        self.name,
                        f"workspace.{side}[{i}]",
                        iv.SHORTENED,
                        f"the controller's target would reach {geo.AXES[i]} = {q:.4f} m, beyond the "
                        f"workspace {side} less the {m[i]:.4f} m stopping margin ({bound:.4f} m) by "
                        f"{abs(q - bound):.4f} m, and the hand follows its target; "
                        f"{geo.AXES[i]} motion shortened",
                        value=float(q),
                        bound=float(bound),
                        unit="m",
                    )
                )
            # A hand riding more than RIDING_M beyond a target that is being pulled in has stopped
            # following it on that axis; sideways motion is what carries it further out (fuzz seed 3,
            # pick-place: moving +x at 0.3-0.4 m/s just below the top wall, the hand rose 2.8 mm past
            # it while its target was pulled 4 cm below). Until it is back within RIDING_M, only the
            # pull-in moves.
            offset = np.where(pull_hi, p - mem.target_hi, np.where(pull_lo, mem.target_lo - p, 0.0))
            riding = offset > RIDING_M
            if np.any(riding) and np.any(clipped[~riding] != 0.0):
                clipped = np.where(riding, clipped, 0.0)
                axis = int(np.argmax(offset))
                out.append(
                    Intervention(
                        self.name,
                        f"workspace.{'high' if pull_hi[axis] else 'low'}[{axis}]",
                        iv.SHORTENED,
                        f"the hand rides {offset[axis]:.4f} m beyond its target on {geo.AXES[axis]} near the workspace "
                        f"{'high' if pull_hi[axis] else 'low'} face while the target is pulled in; sideways motion "
                        f"stopped until it is within {RIDING_M} m",
                        value=float(offset[axis]),
                        bound=RIDING_M,
                        unit="m",
                    )
                )
        slow = spec.tracking
        if slow is not None and slow.slow_within_m > 0 and slow.slow_faces:
            cap, face, gap = geo.separation_speed_cap(spec, p, mem.target_lo, mem.target_hi, clipped)
            speed = float(np.linalg.norm(clipped))
            if gap < slow.slow_within_m and speed > cap:  # further off, the motion limits alone apply
                clipped = clipped * (cap / speed)
                out.append(
                    Intervention(
                        self.name,
                        "tracking.slow_within_m",
                        iv.SHORTENED,
                        f"{gap:.3f} m from the workspace face {face}: speed {speed:.3f} m/s capped at {cap:.3f} m/s",
                        value=speed,
                        bound=cap,
                        unit="m/s",
                    )
                )
        if out:
            command.action = geo.with_velocity(spec, command.action, clipped)
        return out


class KeepOut:
    """The path to the predicted next position never touches a keep-out box; inside one, only backing out.

    The motion along the axis of the face it would cross is shortened to stop just short of it,
    so the end effector slides along the box instead of stopping dead. Inside a box (the arm was
    pushed in, or a box was declared around it) only the motion straight out through the nearest
    face is kept, so the penetration can only shrink and the arm is never trapped. A hand drifting
    towards a face within its stopping margin has its target pushed off that face (:meth:`_hand_drift`).
    """

    name = "keep_out"
    max_passes = 4

    def apply(self, command: Command, ctx: Context) -> list[Intervention]:
        spec, p, dt = ctx.spec, ctx.position, ctx.spec.control_period_s
        if not spec.keep_out:
            return []
        v = geo.velocity_of(spec, command.action)
        if p is None:
            if np.any(v != 0.0):
                return _hold(command, ctx, self.name, "state", "the end-effector position cannot be read (missing or NaN)")
            return []
        out: list[Intervention] = []
        if spec.tracking is not None and ctx.memory.hand_velocity is not None and not command.held:
            v, out = self._hand_drift(spec, ctx.memory, p, v, dt)
        # (point, grow the box by, the buffer around the box within the grown one (m, per axis), what)
        anchors = [(p, 0.0, np.zeros(3), "the end effector")]
        if spec.tracking is not None and ctx.memory.target_lo is not None:
            center, half = geo.target_box(ctx.memory)
            # The buffer: the stopping margin (growing with the hand's speed), and, because the hand
            # trails its target and could cut a corner the target goes round, how far it lags (per axis).
            buffer = ctx.memory.stopping_margin(spec) + np.abs(p - center)
            anchors.append((center, half + buffer, buffer, "the controller's target (the hand follows it)"))
        for _ in range(self.max_passes):
            changed = False
            for k, box in enumerate(spec.keep_out):
                for a, grow, buffer, what in anchors:
                    low, high = np.asarray(box.low) - grow, np.asarray(box.high) + grow
                    item, v_new = self._one(k, box, a, v, low, high, buffer, what, dt)
                    if item is not None:
                        out.append(item)
                        v, changed = v_new, True
            if not changed:
                if out:
                    command.action = geo.with_velocity(spec, command.action, v)
                return out
        return out + _hold(command, ctx, self.name, "keep_out", "no path around the keep-out boxes found")

    def _hand_drift(self, spec, memory, p: np.ndarray, v: np.ndarray, dt: float) -> tuple[np.ndarray, list[Intervention]]:
        """The hand within its stopping margin of a box face and not moving away from it: the target is
        pushed out through that face until the hand is a margin off it (``v`` m/s, with the push added).

        Why: a hand moving fast along a face drifts sideways off its target, towards the box (1-2 cm
        at 0.6 m/s, measured in Meta-World), while its target slides along outside the margin; only a
        target moved away pulls the hand back out. The push is bounded like the workspace's pull-in
        (a fraction of the speed limit) and kept inside the workspace less the margin."""
        m = memory.stopping_margin(spec)
        vh = memory.hand_velocity
        back = CORRECTION_SPEED_FRACTION * spec.motion.max_speed_m_s
        wlo = np.asarray(spec.workspace.low) + m
        whi = np.asarray(spec.workspace.high) - m
        out: list[Intervention] = []
        for k, box in enumerate(spec.keep_out):
            low, high = np.asarray(box.low), np.asarray(box.high)
            gap = geo.slab_gap(p, low, high)  # per axis, m outside the box's slab (0 inside it)
            if not np.any(gap > 0.0) or np.any(gap > m):  # inside the box (the anchors' job) or clear of its margin
                continue
            v = v.copy()
            for axis in np.flatnonzero(gap > 0.0):
                sign = 1.0 if p[axis] > high[axis] else -1.0  # outwards through this face
                if sign * vh[axis] >= SETTLED_M_S or abs(vh[axis]) > 2.0 * spec.motion.max_speed_m_s:
                    continue  # already moving away (a lag being closed), or a glitch in the reading
                push = min(back, (m[axis] - gap[axis]) / dt)
                room = ((whi - memory.target_hi) if sign > 0 else (memory.target_lo - wlo))[axis] / dt
                push = min(push, max(0.0, room))
                if sign * v[axis] >= push:
                    continue
                v[axis] = sign * push
                out.append(
                    Intervention(
                        self.name,
                        f"keep_out[{k}]",
                        iv.BACKED_OFF,
                        f"the end effector is {gap[axis]:.4f} m off the {'+' if sign > 0 else '-'}{geo.AXES[axis]} face of "
                        f"keep-out box {box.name or f'#{k}'!r}, within its {m[axis]:.4f} m stopping margin, and not moving "
                        f"away; {geo.AXES[axis]} motion set to {sign * push:.3f} m/s away from it (the target leads it out)",
                        value=float(gap[axis]),
                        bound=float(m[axis]),
                        unit="m",
                    )
                )
        return v, out

    def _one(
        self, k: int, box, p: np.ndarray, v: np.ndarray, low: np.ndarray, high: np.ndarray, buffer: np.ndarray, what: str, dt: float
    ) -> tuple[Intervention | None, np.ndarray]:
        """One box against one moving point: the change to ``v`` (m/s) and why, or (None, v)."""
        axis = geo.segment_entry(p, p + v * dt, low, high)
        if axis is None:
            return None, v
        label = box.name or f"#{k}"
        near = " (within its stopping margin)" if np.any(buffer) else ""
        if axis < 0:
            depth = geo.exit_depth(p, low, high)
            in_margin = depth <= buffer[geo.exit_face(p, low, high)[0]]  # in the buffer around the box, not in the box
            backed = (geo.not_deeper if in_margin else geo.backing_out)(p, v, low, high)
            if np.array_equal(backed, v):
                return None, v
            exit_axis, sign = geo.exit_face(p, low, high)
            kept = "the motion deeper through that face is removed" if in_margin else "only the motion out through that face is kept"
            return Intervention(
                self.name,
                f"keep_out[{k}]",
                iv.SHORTENED,
                f"{what} is inside keep-out box {label!r}{near} at {np.round(p, 4).tolist()} m, "
                f"{depth:.4f} m from its nearest ({'+' if sign > 0 else '-'}{geo.AXES[exit_axis]}) face; {kept}",
                value=depth,
                bound=0.0,
                unit="m",
            ), backed
        face = low[axis] - geo.FACE_MARGIN_M if v[axis] > 0 else high[axis] + geo.FACE_MARGIN_M
        allowed = (face - p[axis]) / dt
        out = v.copy()
        out[axis] = max(0.0, min(v[axis], allowed)) if v[axis] > 0 else min(0.0, max(v[axis], allowed))
        q = p[axis] + v[axis] * dt
        return Intervention(
            self.name,
            f"keep_out[{k}]",
            iv.SHORTENED,
            f"the path of {what} would enter keep-out box {label!r}{near} through its "
            f"{'-' if v[axis] > 0 else '+'}{geo.AXES[axis]} face, {abs(q - face):.4f} m deep; "
            f"{geo.AXES[axis]} motion shortened",
            value=float(q),
            bound=float(face),
            unit="m",
        ), out


class TargetLead:
    """With ``tracking.max_lead_m``: the target may not run further than that ahead of the hand.

    The motion is scaled down, except on the axes where it is one of the corrections above (a
    target pulled in from a wall, or pushed off a keep-out face, that the hand sits within its
    stopping margin of: :func:`geometry.correction_axes`). Why the exception: the corrections move
    the target away from the hand on purpose, and scaling them away let the hand creep past the
    wall it was meant to keep off (measured: 3.2 mm past a wall, 2.3 mm into a box in 100,000
    fuzzed steps). They can only move the target away from the wall or box the hand is near.
    """

    name = "target_lead"

    def apply(self, command: Command, ctx: Context) -> list[Intervention]:
        spec, mem, p, dt = ctx.spec, ctx.memory, ctx.position, ctx.spec.control_period_s
        t = spec.tracking
        if t is None or t.max_lead_m is None or mem.target_lo is None or p is None or command.held:
            return []
        v = geo.velocity_of(spec, command.action)
        exempt = geo.correction_axes(spec, v, p, mem.target_lo, mem.target_hi, mem.stopping_margin(spec))
        rest = np.where(exempt, 0.0, v)
        scale, ahead = geo.lead_scale(p, mem.target_lo, mem.target_hi, rest, t.max_lead_m, dt)
        if scale >= 1.0:
            return []
        command.action = geo.with_velocity(spec, command.action, np.where(exempt, v, v * scale))
        kept = f" (the correction on {', '.join(geo.AXES[i] for i in np.flatnonzero(exempt))} kept)" if np.any(exempt) else ""
        return [
            Intervention(
                self.name,
                "tracking.max_lead_m",
                iv.SHORTENED,
                f"the controller's target would run {ahead:.4f} m ahead of the hand, more than {t.max_lead_m} m "
                f"(the hand no longer follows it closely); motion scaled by {scale:.3f}{kept}",
                value=ahead,
                bound=float(t.max_lead_m),
                unit="m",
            )
        ]


class MotionLimit:
    """Speed, acceleration and jerk: scale the whole motion down to the largest fraction inside all three.

    If no fraction in [0, 1] is (only possible when ``spec.stop_within_limits`` is false), the
    geometric result is kept and the excess is reported with effect ``exceeded``.
    """

    name = "motion"

    def apply(self, command: Command, ctx: Context) -> list[Intervention]:
        spec, mem = ctx.spec, ctx.memory
        v = geo.velocity_of(spec, command.action)
        lo, hi = 0.0, 1.0
        for _, center, radius in geo.motion_balls(spec, mem.v1, mem.v2, shrink=geo.RADIUS_SHRINK):
            interval = geo.ball_scale_interval(v, center, radius)
            if interval is None:
                lo, hi = 1.0, 0.0
                break
            lo, hi = max(lo, interval[0]), min(hi, interval[1])
        before = geo.motion_values(spec, v, mem.v1, mem.v2)
        bounds = geo.motion_bounds(spec)
        if lo > hi:
            return [
                Intervention(
                    self.name,
                    name,
                    iv.EXCEEDED,
                    f"{geo.MOTION_WORDS[name]} {before[name]:.4g} {geo.MOTION_UNITS[name]} exceeds the limit "
                    f"{bounds[name]} by {before[name] - bounds[name]:.4g}: shortening cannot meet it "
                    "(these limits cannot stop the arm within one control period)",
                    value=before[name],
                    bound=bounds[name],
                    unit=geo.MOTION_UNITS[name],
                )
                for name in before
                if before[name] > bounds[name]
            ]
        if hi >= 1.0:
            return []
        command.action = geo.with_velocity(spec, command.action, v * hi)
        return [
            Intervention(
                self.name,
                name,
                iv.SHORTENED,
                f"commanded {geo.MOTION_WORDS[name]} {before[name]:.4g} {geo.MOTION_UNITS[name]} exceeds "
                f"the {bounds[name]} limit by {before[name] - bounds[name]:.4g}; motion scaled by {hi:.3f}",
                value=before[name],
                bound=bounds[name],
                unit=geo.MOTION_UNITS[name],
            )
            for name in before
            if before[name] > bounds[name]
        ]  # a scale of ~1 - 1e-6 is float margin, not news


class GripForce:
    """Above the force limit the gripper may not close further and backs off in proportion to the excess.

    With ``require_touch`` and no valid reading, the gripper command is frozen (fail closed).
    """

    name = "grip_force"

    def apply(self, command: Command, ctx: Context) -> list[Intervention]:
        g = ctx.spec.gripper
        if g is None:
            return []
        last = ctx.memory.last_grip if ctx.memory.last_grip is not None else g.initial_command
        a = command.action
        force = max_touch(ctx.touch)
        if force is None:
            if g.require_touch and a[g.action_index] != last:
                a[g.action_index] = last
                return [
                    Intervention(
                        self.name,
                        "gripper.require_touch",
                        iv.BACKED_OFF,
                        "no valid touch reading; gripper command frozen at the last allowed value",
                    )
                ]
            return []
        if force <= g.max_force_n:
            return []
        low, high = ctx.spec.action.low[g.action_index], ctx.spec.action.high[g.action_index]
        closing_cap = g.close_sign * last - g.backoff_per_n * (force - g.max_force_n)
        closing = min(g.close_sign * a[g.action_index], closing_cap)
        new = float(np.clip(g.close_sign * closing, low, high))
        if g.close_sign * (new - last) > 0:  # clipping at the open end must still not close further
            new = last
        if new == a[g.action_index]:
            return []
        a[g.action_index] = new
        return [
            Intervention(
                self.name,
                "gripper.max_force_n",
                iv.BACKED_OFF,
                f"finger force {force:.1f} N exceeds the {g.max_force_n} N limit by {force - g.max_force_n:.1f} N; "
                f"gripper command {a[g.action_index]:.3f} (was {last:.3f} last step)",
                value=force,
                bound=g.max_force_n,
                unit="N",
            )
        ]


def hard_checks() -> list[Check]:
    """The geometric, motion and grip checks, in the order they must run (after validation)."""
    return [ContactForce(), Workspace(), KeepOut(), ContactKept(), TargetLead(), MotionLimit(), GripForce()]
