"""Judge an episode by where the arm went and the force it applied, with or without the safety layer.

The safety layer's own log says what it changed; it cannot say whether a run *without* it stayed
inside the limits. :class:`LimitAudit` wraps the environment (under the layer, or alone for
``--safety none``) and reads every observation against a safety spec's limits: the measured hand
beyond the workspace or inside a keep-out box, the contact force on the arm over
``contact.max_force_n``, a finger's contact force over ``gripper.max_force_n``. So a success without
the layer that pushed a door open at 2,000 N is counted as what it is, and "the layer costs success"
can be told apart from "the layer stops the push that succeeded" (issue 18, item 3).

A crossing counts when it exceeds the limit by more than the tolerance below: the same 2 mm the
reached-position bar allows (``benchmarks/safety_reached_fuzz.py``), and no tolerance on force.

Two arms (a :class:`~vlastack.safety.two_arm_spec.TwoArmSpec`): each arm is judged by its own spec on its
slice of the state and touch (its counts named ``arm<i>.<limit>``, the peaks over both arms), and the two
hands closer than the mutual keep-out's ``min_distance_m`` count as ``keep_out.min_distance_m``. Where the
environment counts contacts between its robots (``arm_arm_contacts()``, robosuite's two-arm scenes:
:mod:`vlastack.envs.robot_contacts`), the summary adds them; they are reported, not judged: no spec limits
them, and the keep-out is not a collision model.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from vlastack.safety.contact import contact_force
from vlastack.safety.geometry import position_of, slab_gap
from vlastack.safety.spec import SafetySpec
from vlastack.safety.two_arm_spec import TwoArmSpec
from vlastack.safety.verify import max_touch

POSITION_TOLERANCE_M = 0.002
"""A measured hand this far past a workspace face or into a keep-out box (m) counts as a crossing."""


def beyond_box_m(p: np.ndarray, low: Any, high: Any) -> float:
    """How far (m) the point ``p`` lies outside the box [low, high] past its furthest face; 0 inside."""
    return max(0.0, float(np.max(np.maximum(np.asarray(low) - p, p - np.asarray(high)))))


def inside_box_m(p: np.ndarray, low: Any, high: Any) -> float:
    """How deep (m) ``p`` lies inside the closed box [low, high]: its distance to the nearest face, how far
    it would have to back out; 0 outside."""
    low, high = np.asarray(low), np.asarray(high)
    return 0.0 if np.any(slab_gap(p, low, high) > 0.0) else float(np.min(np.minimum(p - low, high - p)))


class LimitAudit:
    """An environment wrapper that measures, every step, how far the episode went past ``spec``'s limits.

    Passes ``reset``/``step`` and every other attribute through unchanged; :meth:`summary` gives the
    episode's peaks and counts (reset clears them). ``spec``: one arm's spec, a two-arm spec (each arm on its
    slice, plus the distance between the hands), or None: nothing to judge by (the summary is empty)."""

    def __init__(self, env: Any, spec: SafetySpec | TwoArmSpec | None) -> None:
        self._env = env
        self._spec = spec
        counter = getattr(env, "arm_arm_contacts", None)
        self._contacts = counter if callable(counter) else None
        self._clear()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._env, name)

    def reset(self, **kwargs: Any) -> tuple[Any, dict]:
        obs, info = self._env.reset(**kwargs)
        self._clear()
        return obs, info

    def step(self, action: Any) -> tuple[Any, float, bool, bool, dict]:
        out = self._env.step(action)
        self._read(out[0])
        return out

    def summary(self) -> dict[str, Any]:
        """Peaks (N, mm) and the number of steps over each limit; ``within`` is true when no step was. Two arms add
        the closest the hands came (mm); a scene that counts them, its arm-arm contacts (summed over steps) and
        the steps with any. Empty without a spec."""
        if self._spec is None:
            return {}
        over = {k: v for k, v in self._over.items() if v}
        out: dict[str, Any] = {
            "spec": self._spec.name,
            "peak_arm_contact_n": self._peak["arm_contact"],
            "peak_finger_n": self._peak["finger"],
            "max_beyond_workspace_mm": 1000.0 * self._peak["workspace"],
            "max_inside_keep_out_mm": 1000.0 * self._peak["keep_out"],
        }
        if isinstance(self._spec, TwoArmSpec):
            out["min_hand_distance_mm"] = None if self._min_hands_m is None else 1000.0 * self._min_hands_m
        if self._contact_count is not None:
            out["arm_arm_contacts"] = self._contact_count
            out["arm_arm_contact_steps"] = self._contact_steps
        return {**out, "steps_over": over, "within": not over}

    def _clear(self) -> None:
        self._peak = {"arm_contact": 0.0, "finger": 0.0, "workspace": 0.0, "keep_out": 0.0}
        self._over: dict[str, int] = {}
        self._min_hands_m: float | None = None
        self._contact_count: int | None = None  # None: no reading (a one-robot scene's counter says None)
        self._contact_steps = 0

    def _read(self, obs: Any) -> None:
        spec = self._spec
        state, touch = getattr(obs, "state", None), getattr(obs, "touch", None)
        if isinstance(spec, TwoArmSpec):
            positions = []
            for i, slot in enumerate(spec.arms):
                arm_touch = None if slot.touch_slice is None else _cut(touch, slot.touch_slice)
                self._read_arm(slot.spec, _cut(state, slot.state_slice), arm_touch, None, f"arm{i}.")
                positions.append(position_of(slot.spec, _cut(state, slot.state_slice)))
            if positions[0] is not None and positions[1] is not None:
                distance = float(np.linalg.norm(positions[0] - positions[1]))
                self._min_hands_m = distance if self._min_hands_m is None else min(self._min_hands_m, distance)
                if distance < spec.keep_out.min_distance_m - POSITION_TOLERANCE_M:
                    self._count("keep_out.min_distance_m")
        elif spec is not None:
            self._read_arm(spec, state, touch, getattr(obs, "arm_contact", None), "")
        n = None if self._contacts is None else self._contacts()
        if n is not None:
            self._contact_count = (self._contact_count or 0) + int(n)
            self._contact_steps += int(n) > 0

    def _read_arm(self, spec: SafetySpec, state: Any, touch: Any, arm_contact: Any, prefix: str) -> None:
        """One arm against its own spec; its counts named ``prefix + limit``."""
        p = position_of(spec, state)
        if p is not None:
            self._note("workspace", prefix + "workspace", beyond_box_m(p, spec.workspace.low, spec.workspace.high), POSITION_TOLERANCE_M)
            for box in spec.keep_out:
                self._note("keep_out", prefix + "keep_out", inside_box_m(p, box.low, box.high), POSITION_TOLERANCE_M)
        force = contact_force(arm_contact)
        if force is not None and spec.contact is not None:
            self._note("arm_contact", prefix + "contact.max_force_n", float(np.linalg.norm(force)), spec.contact.max_force_n)
        if touch is not None and spec.gripper is not None:
            finger = max_touch(touch)
            if finger is not None:
                self._note("finger", prefix + "gripper.max_force_n", float(finger), spec.gripper.max_force_n)

    def _note(self, peak: str, limit: str, value: float, bound: float) -> None:
        self._peak[peak] = max(self._peak[peak], value)
        if value > bound:
            self._count(limit)

    def _count(self, limit: str) -> None:
        self._over[limit] = self._over.get(limit, 0) + 1


def _cut(x: Any, where: tuple[int, int]) -> np.ndarray | None:
    """Entries ``where`` of a joint vector (float64), None when it is missing or too short to hold them."""
    if x is None:
        return None
    v = np.asarray(x, dtype=np.float64).reshape(-1)
    return v[where[0] : where[1]] if v.size >= where[1] else None
