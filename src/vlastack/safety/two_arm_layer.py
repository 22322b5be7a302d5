"""The two-arm safety layer: one single-arm :class:`SafetyLayer` per arm, on its slice, plus the mutual keep-out.

Per step: the joint proposal is cut into each arm's slice and turned into the world frame
(``ArmSlot.command_yaw_rad``, with the embodiments' :func:`yaw_matrix`: a quarter turn, exact); each arm's
layer runs its own chain (watchdog, validity, workspace, motion, grip) with the keep-out checks of
:mod:`vlastack.safety.mutual_keep_out` added, reading the other hand's world position; each result is
turned back into the arm's command frame and the two are joined. Every reason names its arm (``arm0.``
in front of the limit, ``arm 0:`` in front of the message), so a joint log says which arm and which rule.

Each arm's slice is judged on its own: a NaN in arm 1's half holds arm 1, and arm 0 goes on (its own
action is valid and keeps the keep-out on its own). A joint proposal of the wrong size holds both.
"""

from __future__ import annotations

import numpy as np

from vlastack.embodiments.embodiment import yaw_matrix
from vlastack.safety import geometry as geo
from vlastack.safety import interventions as iv
from vlastack.safety.interventions import Intervention, SafetyDecision, summarize
from vlastack.safety.layer import SafetyLayer
from vlastack.safety.mutual_keep_out import KeepOutScale, KeepOutSlide, Partner
from vlastack.safety.two_arm_spec import ArmSlot, TwoArmSpec

#: ``Intervention.check`` of the two-arm layer's own reasons (the joint action's shape, its own failure).
CHECK_NAME = "two_arm"


class TwoArmSafetyLayer:
    """Filters a joint two-arm action; the same interface as :class:`SafetyLayer` (``reset``, ``filter``,
    ``log``, ``summary``, ``steps``, ``spec.control_period_s``), so :class:`SafeActuator` takes either."""

    def __init__(self, spec: TwoArmSpec) -> None:
        if not isinstance(spec, TwoArmSpec):
            raise TypeError(f"expected a TwoArmSpec, got {type(spec).__name__}")
        self.spec = spec
        self.partners = [Partner(arm=i, min_distance_m=spec.keep_out.min_distance_m) for i in range(2)]
        self.arms = [
            SafetyLayer(slot.spec, extra_checks=(KeepOutSlide(p),), final_checks=(KeepOutScale(p),))
            for slot, p in zip(spec.arms, self.partners)
        ]
        # Command frame -> world frame, per arm (Rz(yaw); its transpose turns back).
        self._to_world = [yaw_matrix(slot.command_yaw_rad) for slot in spec.arms]
        self.reset()

    def reset(self) -> None:
        """Start a new episode for both arms; the joint log is cleared."""
        for layer in self.arms:
            layer.reset()
        self.steps = 0
        self.log: list[dict] = []
        """One JSON-ready entry (``SafetyDecision.to_dict``) per step on which something changed, either arm."""

    def filter(
        self, proposed: object, state: object, touch: object = None, now_s: float | None = None, contact: object = None
    ) -> SafetyDecision:
        """The joint action to send for ``proposed`` (a joint action, or None) and every reason, arm by arm.

        ``state`` and ``touch`` are the joint vectors (each arm's entries at its slice); ``contact`` is not
        used (the spec refuses arms with contact limits)."""
        if now_s is None:
            now_s = self.steps * self.spec.control_period_s
        try:
            decision = self._filter(proposed, state, touch, now_s)
        except Exception as e:  # the slicing or joining failed: never pass the proposal on
            decision = SafetyDecision(
                self._emergency_action(),
                [
                    Intervention(
                        CHECK_NAME,
                        "evaluation",
                        iv.HELD,
                        f"the two-arm layer could not decide ({type(e).__name__}: {e}); zero motion, grippers unchanged",
                    )
                ],
                True,
                self.steps,
                float(now_s) if isinstance(now_s, (int, float)) else float("nan"),
                None,
            )
        if decision.interventions:
            self.log.append(decision.to_dict())
        self.steps += 1
        return decision

    def summary(self) -> dict:
        """Episode totals (as :meth:`SafetyLayer.summary`); ``by_check["mutual_keep_out"]`` counts the keep-out's changes."""
        return summarize(self.log, self.steps)

    # ---- one step ------------------------------------------------------------------------------------
    def _filter(self, proposed: object, state: object, touch: object, now_s: float) -> SafetyDecision:
        reasons: list[Intervention] = []
        parts: list[object] = [None, None]
        bad_shape = False
        if proposed is not None:
            joint = _numeric(proposed)
            if joint is None or joint.shape != (self.spec.action_dim,):
                shape = "not numeric" if joint is None else f"of shape {joint.shape}"
                reasons.append(
                    Intervention(
                        CHECK_NAME,
                        "action.shape",
                        iv.HELD,
                        f"the joint action is {shape}, expected ({self.spec.action_dim},); both arms hold",
                    )
                )
                # Each arm gets a proposal its validity check must refuse (NaN: held, gripper kept; None would make the
                # watchdog repeat the last action). Not the proposal itself: one arm's worth of entries would pass
                # each arm's check and drive both arms in lockstep.
                parts = [np.full(slot.spec.action.dim, np.nan) for slot in self.spec.arms]
                bad_shape = True
            else:
                parts = [self._arm_to_world(i, joint[slice(*slot.action_slice)]) for i, slot in enumerate(self.spec.arms)]
        states = [_cut(state, slot.state_slice) for slot in self.spec.arms]
        # World-frame hand positions (the state's frame), for the keep-out of each arm.
        positions = [geo.position_of(slot.spec, s) for slot, s in zip(self.spec.arms, states)]
        for i in range(2):
            self.partners[i].other_position = positions[1 - i]
        out = np.zeros(self.spec.action_dim, dtype=np.float32)
        held = bad_shape
        for i, (slot, layer) in enumerate(zip(self.spec.arms, self.arms)):
            arm_touch = None if touch is None or slot.touch_slice is None else _cut(touch, slot.touch_slice)
            d = layer.filter(parts[i], states[i], arm_touch, now_s)
            out[slice(*slot.action_slice)] = self._arm_from_world(i, d.action)
            held = held or d.held
            reasons += [_for_arm(i, slot, r) for r in d.interventions]
        return SafetyDecision(out, reasons, held, self.steps, float(now_s), None if proposed is None else _copy(proposed))

    def _arm_to_world(self, i: int, action: np.ndarray) -> np.ndarray:
        return _turn(self.spec.arms[i], action, self._to_world[i])

    def _arm_from_world(self, i: int, action: np.ndarray) -> np.ndarray:
        return _turn(self.spec.arms[i], action, self._to_world[i].T).astype(np.float32)

    def _emergency_action(self) -> np.ndarray:
        out = np.zeros(self.spec.action_dim, dtype=np.float32)
        for slot, layer in zip(self.spec.arms, self.arms):
            g = slot.spec.gripper
            if g is not None:
                last = layer._memory.last_grip
                out[slot.action_slice[0] + g.action_index] = last if last is not None and np.isfinite(last) else g.initial_command
        return out


def _turn(slot: ArmSlot, action: np.ndarray, rotation: np.ndarray) -> np.ndarray:
    """``action`` (float64 copy) with its translation and rotation vectors turned by ``rotation`` [3, 3]."""
    out = np.array(action, dtype=np.float64)
    for dims in (slot.spec.action.translation_dims, slot.rotation_dims):
        if dims is not None:
            out[list(dims)] = rotation @ out[list(dims)]
    return out


def _for_arm(i: int, slot: ArmSlot, r: Intervention) -> Intervention:
    """The arm's reason with its arm named (limit ``arm<i>.<limit>``, message ``arm <i>: ...``)."""
    message = r.message if r.message.startswith(f"arm {i}:") else f"arm {i}: {r.message}"
    if slot.command_yaw_rad != 0.0 and r.limit.startswith("action."):
        message += " (entry index in the world-turned arm action)"
    return Intervention(r.check, f"arm{i}.{r.limit}", r.effect, message, r.value, r.bound, r.unit)


def _numeric(x: object) -> np.ndarray | None:
    try:
        return np.array(x, dtype=np.float64).reshape(np.shape(x))
    except (TypeError, ValueError, OverflowError):
        return None


def _cut(x: object, where: tuple[int, int]) -> object:
    """Entries ``where`` of a joint vector; the input as it is if it cannot be read (the arm's checks then fail closed)."""
    try:
        v = np.asarray(x, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError):
        return x
    return v[where[0] : where[1]] if v.size >= where[1] else None


def _copy(x: object) -> object:
    try:
        return np.array(x, copy=True)
    except Exception:
        return repr(x)
