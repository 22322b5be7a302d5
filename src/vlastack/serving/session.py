"""Per-connection state on the server: the runner's dict, counters, and the safety pre-filter.

Server-side safety (:class:`ChunkSafety`) runs the project's :class:`vlastack.safety.SafetyLayer`
over every action of a chunk, in order, before the chunk is sent. The layer needs the arm's
position at each step; the server only sees it at the first, so later steps use a nominal
prediction: the position moves by ``action[translation_dims] * translation_scale_m`` per step
(Meta-World's mocap rule, read from the spec). Its motion memory (last velocities, gripper)
carries over from one request to the next, which is exact when the client executes each chunk in
full before asking again (openpi's ``ActionChunkBroker`` does) and approximate otherwise. So this
is a pre-filter that reports what it changed; the robot side must still step through its own
``SafeActuator`` (the layer that sees the real state at every step), as ``vlastack.execution`` does.

A two-arm spec (:class:`vlastack.safety.TwoArmSpec`, e.g. ``robosuite_twoarmlift_panda``) runs the two-arm
layer over the joint action instead, and the prediction moves each hand by its own slice of the action
(turned into the world frame as the spec's ``command_yaw_rad`` says), so the mutual keep-out is judged
on both predicted hands.

The arm's contact force (:data:`vlastack.keys.ARM_CONTACT`, ``Observation.arm_contact``), when the observation
carries it, goes to the layer's contact-force check at every step of the chunk: the server cannot
see a contact released, so a reading over the limit is taken to hold for the whole chunk (no step
moves into it), the conservative choice.
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from vlastack import keys

_ids = itertools.count(1)
#: At most this many interventions are listed in one reply (all are counted).
MAX_LISTED = 16


@dataclass(frozen=True)
class _Hand:
    """Where one arm's hand sits in the joint vectors, for the nominal prediction of its position."""

    state_at: list[int]
    """Indices of its position (x, y, z, world frame, m) in the joint state."""
    action_at: list[int]
    """Indices of its translation command in the joint action."""
    to_world: np.ndarray
    """[3, 3] rotation from the command frame to the world frame (identity for a single arm)."""
    scale_m: float
    """Metres the hand moves per action unit (the spec's ``translation_scale_m``)."""


class ChunkSafety:
    """One connection's safety layer, applied to whole chunks (see the module docstring)."""

    def __init__(self, spec: Any) -> None:
        from vlastack.embodiments.embodiment import yaw_matrix
        from vlastack.safety import TwoArmSpec, make_layer

        self.layer = make_layer(spec)
        self.spec = self.layer.spec
        if isinstance(self.spec, TwoArmSpec):
            slots = [(s.spec, s.state_slice[0], s.action_slice[0], yaw_matrix(s.command_yaw_rad)) for s in self.spec.arms]
        else:
            slots = [(self.spec, 0, 0, np.eye(3))]
        self._hands = [
            _Hand(
                state_at=[state0 + d for d in arm.state_position_dims],
                action_at=[action0 + d for d in arm.action.translation_dims],
                to_world=rotation,
                scale_m=arm.action.translation_scale_m,
            )
            for arm, state0, action0, rotation in slots
        ]
        self.now_s = 0.0

    def reset(self) -> None:
        self.layer.reset()
        self.now_s = 0.0

    def filter_chunk(self, actions: np.ndarray, obs: dict[str, Any]) -> tuple[np.ndarray, dict[str, Any]]:
        """(allowed float32 [H, D], report) for the proposed chunk from the observed state."""
        spec = self.spec
        state = np.array(obs[keys.STATE], dtype=np.float64).reshape(-1)
        touch = obs.get(keys.TOUCH)
        contact = obs.get(keys.ARM_CONTACT)  # None (no reading) when the observation does not carry it
        out = np.empty_like(actions, dtype=np.float32)
        listed: list[dict[str, Any]] = []
        changed = held = count = 0
        for i, proposed in enumerate(actions):
            decision = self.layer.filter(proposed, state.copy(), touch, self.now_s, contact)
            self.now_s += spec.control_period_s
            out[i] = decision.action
            allowed = np.asarray(decision.action, dtype=np.float64)
            for hand in self._hands:
                state[hand.state_at] += hand.to_world @ allowed[hand.action_at] * hand.scale_m
            if decision.interventions:
                changed += 1
                held += int(decision.held)
                count += len(decision.interventions)
                for item in decision.interventions:
                    if len(listed) < MAX_LISTED:
                        listed.append({"chunk_step": i, **item.to_dict()})
        self.layer.log.clear()  # reported here; the layer's own log would grow without bound
        report = {
            "spec": spec.name,
            "steps": len(actions),
            "steps_changed": changed,
            "steps_held": held,
            "interventions": count,
            "listed": listed,
        }
        return out, report

    def check_fits(self, action_dim: int, state_dim: int | None) -> None:
        """ValueError when this spec cannot judge the runner's actions (sizes differ)."""
        from vlastack.safety.two_arm_loading import action_dim as spec_action_dim

        name = self.spec.name
        if spec_action_dim(self.spec) != action_dim:
            raise ValueError(f"safety spec {name!r} is for {spec_action_dim(self.spec)}-d actions, the policy makes {action_dim}-d ones")
        if state_dim is None:
            raise ValueError(f"safety spec {name!r} needs {keys.STATE!r} in the observation, the policy reads none")
        read = sorted(i for hand in self._hands for i in hand.state_at)
        if read[-1] >= state_dim:
            raise ValueError(f"safety spec {name!r} reads state entries {read}, the state has {state_dim}")


@dataclass
class Session:
    """One client connection."""

    peer: str
    """Remote address, for the log."""
    safety: ChunkSafety | None = None
    id: int = field(default_factory=lambda: next(_ids))
    state: dict[str, Any] = field(default_factory=dict)
    """The runner's per-connection dict."""
    requests: int = 0
    errors: int = 0
    opened_s: float = field(default_factory=time.monotonic)

    def reset(self) -> None:
        """A new episode: the runner's state and the safety memory start over."""
        self.state.clear()
        if self.safety is not None:
            self.safety.reset()
