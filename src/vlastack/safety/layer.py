"""The safety layer: ``(proposed action, state, touch, time) -> (allowed action, reasons)``.

It runs the chain of :mod:`vlastack.safety.checks` and then a last gate, :func:`verify.violations`,
on the exact float32 action it is about to return. Nothing about it fails open:

- a check that raises is reported and replaced by the hold, and the remaining checks still run;
- an action that fails the gate is replaced by the hold;
- if even building the hold raises, a zero action with the spec's initial gripper command goes out.

There is no switch to turn it off: extra checks (a learned shield) can be added with
``extra_checks``, which run before the hard limits, but the hard limits cannot be removed.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from vlastack.safety import geometry as geo
from vlastack.safety import interventions as iv
from vlastack.safety.checks import ActionValidity, Watchdog, hard_checks
from vlastack.safety.chunk_review import ChunkGuard, ChunkReview, review, summarize_reviews
from vlastack.safety.context import Check, Command, Context
from vlastack.safety.interventions import Intervention, SafetyDecision, summarize
from vlastack.safety.loading import load_spec
from vlastack.safety.spec import SafetySpec
from vlastack.safety.verify import MotionMemory, violations


class SafetyLayer:
    """Filters every action on its way to the actuator; keeps a per-episode log of what it changed.

    Call :meth:`reset` at the start of each episode, then :meth:`filter` once per control step with
    the proposal (None when the executor has nothing fresh), the current state and touch reading,
    and the time in seconds. The time must advance from call to call (a frozen or backwards clock
    is treated as a stall and held); without one, the layer counts simulated time itself.
    """

    def __init__(
        self,
        spec: SafetySpec | str,
        extra_checks: Sequence[Check] = (),
        final_checks: Sequence[Check] = (),
        chunk_guard: ChunkGuard | None = None,
    ) -> None:
        """``extra_checks`` run before the hard limits; ``final_checks`` after them, and may only scale the
        translation towards zero (the two-arm keep-out: safety/mutual_keep_out.py). Either way the final
        check judges the result against every limit of ``spec``. ``chunk_guard``: a learned look-ahead
        asked about every chunk before it runs (:meth:`review_chunk`); it adds to the hard limits."""
        self.spec = load_spec(spec)
        self.checks: tuple[Check, ...] = (Watchdog(), ActionValidity(), *extra_checks, *hard_checks(), *final_checks)
        self.chunk_guard = chunk_guard
        self.reset()

    def reset(self) -> None:
        """Start a new episode: the arm is assumed at rest, and the log is cleared."""
        self._memory = MotionMemory.at_rest(self.spec)
        self._last_action: np.ndarray | None = None
        self._last_fresh_s: float | None = None
        self._latest_s: float | None = None  # latest time seen this episode (the watchdog's clock check)
        self.steps = 0
        self.log: list[dict] = []
        """One JSON-ready entry (``SafetyDecision.to_dict``) per step on which something changed."""
        self.chunk_log: list[dict] = []
        """One JSON-ready entry (``ChunkReview.to_dict``) per chunk the ``chunk_guard`` reviewed."""

    def filter(
        self, proposed: object, state: object, touch: object = None, now_s: float | None = None, contact: object = None
    ) -> SafetyDecision:
        """The action to send for ``proposed`` (an action, or None), and the reasons for any change.

        ``now_s``: the time in seconds, from a clock that must advance between calls; None means
        simulated time, one control period per call since :meth:`reset`. ``contact``: the net contact
        force on the arm (N, world frame, [3]), for ``spec.contact``; None: no reading.
        """
        if now_s is None:
            now_s = self.steps * self.spec.control_period_s
        try:
            return self._filter(proposed, state, touch, now_s, contact)
        except Exception as e:  # bookkeeping failed (bad time, unloggable proposal): still never pass it on
            action = _emergency_action(self.spec, self._memory.last_grip)
            reason = Intervention(
                "layer",
                "evaluation",
                iv.HELD,
                f"the layer could not decide ({type(e).__name__}: {e}); sending zero motion with the gripper unchanged",
            )
            decision = SafetyDecision(action, [reason], True, self.steps, _float_or_nan(now_s), None)
            self._memory.advance(self.spec, action)
            self._last_action = action.astype(np.float64)
            self.log.append(decision.to_dict())
            self.steps += 1
            return decision

    def _filter(self, proposed: object, state: object, touch: object, now_s: float, contact: object) -> SafetyDecision:
        now_s = float(now_s)
        if not np.isfinite(now_s):
            raise ValueError(f"now_s must be a finite time in seconds, got {now_s}")
        position = geo.position_of(self.spec, state)
        self._memory.start_tracking(self.spec, position, self.steps)
        ctx = Context(self.spec, position, touch, now_s, self._memory, self._last_action, self._last_fresh_s, self._latest_s, contact)
        command = Command(action=proposed)
        reasons: list[Intervention] = []
        for check in self.checks:
            try:
                reasons += check.apply(command, ctx)
            except Exception as e:  # fail closed: a check that cannot evaluate means hold
                reasons.append(self._hold_for_error(command, ctx, check.name, e))
        action = self._gate(command, ctx, state, touch, reasons, contact)
        decision = SafetyDecision(action, reasons, command.held, self.steps, now_s, None if proposed is None else _copy(proposed))
        entry = decision.to_dict() if reasons else None
        clock_ok = self._latest_s is None or now_s > self._latest_s
        self._remember(action, proposed is not None and clock_ok, now_s)
        if entry is not None:
            self.log.append(entry)
        self.steps += 1
        return decision

    def review_chunk(self, observation: object, proposal: object, alternatives: object = None) -> ChunkReview:
        """Ask the ``chunk_guard`` about the chunk ``proposal`` [H, D] about to start from ``observation``;
        if it is flagged, about ``alternatives`` [K, H, D] (best first; or a function returning them, called only
        then). Returns the chunk to execute (the
        proposal, the first alternative predicted safe, or the hold) and why; logged in ``chunk_log``.
        Without a guard the proposal passes unreviewed. Each action still goes through :meth:`filter`."""
        proposal = np.asarray(proposal, dtype=np.float32)
        if self.chunk_guard is None:
            return ChunkReview(proposal, 0, None, (), 0.0)
        hold = _emergency_action(self.spec, self._memory.last_grip)
        out = review(self.chunk_guard, observation, proposal, alternatives, hold)
        self.chunk_log.append(out.to_dict(self.steps))
        return out

    def summary(self) -> dict:
        """Episode totals for the evaluation report: steps changed and held, counts per check and limit
        (and, with a ``chunk_guard``, chunks reviewed, replaced and held)."""
        out = summarize(self.log, self.steps)
        if self.chunk_guard is not None:
            out["chunk_review"] = summarize_reviews(self.chunk_log)
        return out

    def _hold_for_error(self, command: Command, ctx: Context, name: str, error: Exception) -> Intervention:
        command.action, command.held = ctx.hold(), True
        return Intervention(
            name, "evaluation", iv.HELD, f"the {name} check could not evaluate the action ({type(error).__name__}: {error}); holding"
        )

    def _gate(
        self, command: Command, ctx: Context, state: object, touch: object, reasons: list[Intervention], contact: object
    ) -> np.ndarray:
        """The float32 action to send: the chain's result if it passes every rule, else the hold."""
        try:
            low, high = self.spec.action.low, self.spec.action.high
            action = geo.to_float32(command.action, low, high)
            broken = violations(self.spec, action, state, touch, self._memory, contact)
            if not broken:
                return action
            reasons.append(
                Intervention(
                    "verify",
                    broken[0].limit,
                    iv.HELD,
                    "final check failed (" + "; ".join(v.message for v in broken) + "); holding",
                    value=broken[0].value,
                    bound=broken[0].bound,
                    unit=broken[0].unit,
                )
            )
            command.action, command.held = ctx.hold(), True
            action = geo.to_float32(command.action, low, high)
            for v in violations(self.spec, action, state, touch, self._memory, contact):  # only possible for motion limits
                reasons.append(
                    Intervention(
                        "verify",
                        v.limit,
                        iv.EXCEEDED,
                        f"the hold itself exceeds a limit: {v.message}",
                        value=v.value,
                        bound=v.bound,
                        unit=v.unit,
                    )
                )
            return action
        except Exception as e:  # last resort: still never pass the proposal on
            reasons.append(
                Intervention(
                    "verify", "evaluation", iv.HELD, f"the final check could not run ({type(e).__name__}: {e}); sending zero motion"
                )
            )
            command.held = True
            return _emergency_action(self.spec, self._memory.last_grip)

    def _remember(self, action: np.ndarray, fresh: bool, now_s: float) -> None:
        self._memory.advance(self.spec, action)
        self._last_action = action.astype(np.float64)
        if fresh:
            self._last_fresh_s = now_s
        self._latest_s = now_s if self._latest_s is None else max(self._latest_s, now_s)


def _emergency_action(spec: SafetySpec, last_grip: float | None) -> np.ndarray:
    out = np.zeros(spec.action.dim, dtype=np.float32)
    if spec.gripper is not None:
        grip = last_grip if last_grip is not None and np.isfinite(last_grip) else spec.gripper.initial_command
        out[spec.gripper.action_index] = grip
    return out


def _copy(x: object) -> object:
    try:
        return np.array(x, copy=True)
    except Exception:
        return repr(x)


def _float_or_nan(x: object) -> float:
    try:
        return float(x)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return float("nan")
