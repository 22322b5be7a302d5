"""The typed hand-offs between stages (see DESIGN.md):

    envs --Observation/Episode--> episodes --Episode--> data --Batch--> policies
         --ActionChunk--> execution --Action--> safety --Action--> envs

Shapes are written in the docstrings with these letters:

    B  batch             T  observation history (frames fed to the policy per sample)
    H  action horizon    D  action dimension      S  state dimension
    Hi, Wi  image height and width in pixels      F  number of touch sensors (fingers)
    N  number of frames in an episode

Conventions: images are RGB uint8, upright (row 0 is the top of the picture); depth is float32 in
metres; touch is float32 in newtons; actions are in the environment's own units (Meta-World:
end-effector xyz delta and gripper effort, each in [-1, 1]) unless a name says "normalised".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # torch is heavy; the env and dataset side of the package never needs it.
    import torch

#: One step's action: float32 [D], environment units.
Action = np.ndarray


@dataclass
class Observation:
    """What the robot senses at one time step, unbatched, as an environment returns it.

    Privileged simulator state is *not* here: environments return it separately (``info``), so a
    policy cannot read it by accident.
    """

    images: dict[str, np.ndarray]
    """camera name -> uint8 [Hi, Wi, 3] RGB, upright."""
    state: np.ndarray
    """float32 [S] proprioception. Meta-World: end-effector xyz (m, world frame), gripper opening in [0, 1] (1 = open)."""
    instruction: str
    """The task in plain words, as given to the policy."""
    depth: dict[str, np.ndarray] = field(default_factory=dict)
    """camera name -> float32 [Hi, Wi], metres along the optical axis; empty when depth is off."""
    touch: np.ndarray | None = None
    """float32 [F] normal contact force on each gripper finger, newtons (robosuite: the wrist force-torque
    reading per arm, N and N m, world frame); None when touch is off."""
    arm_contact: np.ndarray | None = None
    """float32 [3] net contact force the surroundings apply to the arm (every moving link, fingers
    included), newtons, world frame; None when touch is off. For the safety layer (not a policy input)."""


@dataclass
class Episode:
    """One recorded episode, ready for the dataset writer.

    ``frames`` maps a feature name from :mod:`vlastack.keys` to an array whose first axis is the
    N time steps: images uint8 [N, Hi, Wi, 3], state float32 [N, S], action float32 [N, D], ...
    Row i holds the observation at step i and the action taken from it. An episode may have no
    ``action`` feature (video-only data for latent-action models).
    """

    task: str
    """The instruction recorded as this episode's LeRobot task string."""
    frames: dict[str, np.ndarray]
    """feature name -> [N, ...] array, all with the same N."""
    fps: int
    """Control frequency in Hz; timestamps are frame_index / fps seconds."""
    success: bool = False
    """Whether the task was solved at any step."""
    seed: int | None = None
    """Reset seed that produced the episode (None for real-robot data)."""
    env_task: str | None = None
    """Simulator task name, e.g. ``reach-v3``."""

    def __post_init__(self) -> None:
        lengths = {k: len(v) for k, v in self.frames.items()}
        if not lengths:
            raise ValueError("Episode.frames is empty: an episode needs at least one feature")
        if len(set(lengths.values())) != 1:
            raise ValueError(f"Episode.frames: every feature needs the same number of steps, got {lengths}")
        if self.fps <= 0:
            raise ValueError(f"Episode.fps must be positive, got {self.fps}")

    def __len__(self) -> int:
        return len(next(iter(self.frames.values())))


@dataclass
class Batch:
    """A batch of training windows (or of observations at inference), as torch tensors.

    Feature tensors are keyed by the names of :mod:`vlastack.keys`:
      - ``observation.images.<cam>``: float32 [B, T, 3, Hi, Wi] in [0, 1]
      - ``observation.depth.<cam>``: float32 [B, T, 1, Hi, Wi], metres
      - ``observation.state``: float32 [B, T, S]
      - ``observation.touch``: float32 [B, T, F], newtons
      - ``action``: float32 [B, H, D] (absent at inference)
    and padding masks ``<name>_is_pad``: bool [B, T] or [B, H], True where a window ran past the
    start or end of its episode and the value was copied from the nearest real step.
    """

    features: dict[str, torch.Tensor]
    """feature name -> tensor, shapes as above; values un-normalised (environment units)."""
    instruction: list[str]
    """B instructions in words."""
    subtask: list[str] | None = None
    """B per-step subtask descriptions, for hierarchical policies; None when the data has none."""
    embodiment_id: torch.Tensor | None = None
    """int64 [B] robot type, so that several robots can share one policy; None means all 0."""

    @property
    def size(self) -> int:
        return len(self.instruction)


#: ``ActionChunk.info`` key under which a policy that explains itself puts one :class:`Explanation` per
#: batch row (a tuple); kept in ``info`` so every wrapper that copies a chunk's info carries it along.
EXPLANATIONS = "explanations"


@dataclass(frozen=True)
class Explanation:
    """What a policy says about a chunk when it re-plans: the subtask it works on and why, in words.

    Built from the policy's own outputs at run time (its subtask choice, the probabilities behind it,
    the motion its chunk commands), never from privileged simulator state. A policy without a high
    level gives none (``ActionChunk.explanations`` is None).
    """

    subtask: str
    """The subtask the chunk was made for, in words (one of the policy's subtask texts)."""
    reason: str
    """One or two short sentences: why this subtask now and what the chunk does about it."""
    plan: tuple[str, ...] = ()
    """The subtasks in the order the policy expects them: those it judged done, the current one, and
    those it predicts next (empty when the policy cannot say)."""
    plan_index: int = -1
    """Index of ``subtask`` in ``plan`` (-1 when ``plan`` is empty)."""
    confidence: float | None = None
    """The policy's probability of ``subtask`` (its classifier's softmax), or None when it has none."""
    hand_motion_m: tuple[float, float, float] | None = None
    """End-effector displacement (x right, y away from the robot, z up; metres) the chunk's executed
    steps command, as the reason words it; None when the action layout is unknown."""

    def __post_init__(self) -> None:
        if not isinstance(self.subtask, str) or not self.subtask:
            raise ValueError(f"Explanation.subtask must be non-empty text, got {self.subtask!r}")
        if not isinstance(self.reason, str) or not self.reason:
            raise ValueError(f"Explanation.reason must be non-empty text, got {self.reason!r}")
        if not all(isinstance(s, str) for s in self.plan):
            raise ValueError(f"Explanation.plan must be a tuple of subtask texts, got {self.plan!r}")
        if self.plan and not (0 <= self.plan_index < len(self.plan) and self.plan[self.plan_index] == self.subtask):
            raise ValueError(f"Explanation.plan_index must point at {self.subtask!r} in plan {self.plan}, got {self.plan_index}")
        if self.confidence is not None and not 0.0 <= self.confidence <= 1.0:
            raise ValueError(f"Explanation.confidence must be a probability in [0, 1] or None, got {self.confidence!r}")
        if self.hand_motion_m is not None and len(self.hand_motion_m) != 3:
            raise ValueError(f"Explanation.hand_motion_m must be (x, y, z) metres or None, got {self.hand_motion_m!r}")

    def to_dict(self) -> dict:
        """JSON- and msgpack-safe: plain str, float, int and lists (no numpy)."""
        return {
            "subtask": self.subtask,
            "reason": self.reason,
            "plan": list(self.plan),
            "plan_index": int(self.plan_index),
            "confidence": None if self.confidence is None else float(self.confidence),
            "hand_motion_m": None if self.hand_motion_m is None else [float(v) for v in self.hand_motion_m],
        }

    @classmethod
    def from_dict(cls, d: dict) -> Explanation:
        """The inverse of :meth:`to_dict`; a ValueError names the field that is missing or wrong."""
        if not isinstance(d, dict) or "subtask" not in d or "reason" not in d:
            raise ValueError(f"an explanation needs 'subtask' and 'reason', got {d!r}"[:300])
        motion, confidence, plan = d.get("hand_motion_m"), d.get("confidence"), d.get("plan") or ()
        plan_index = d.get("plan_index", -1)
        if not isinstance(plan, (list, tuple)):
            raise ValueError(f"Explanation.plan must be a list of subtask texts, got {plan!r}"[:300])
        if isinstance(plan_index, bool) or not isinstance(plan_index, (int, np.integer)):
            raise ValueError(f"Explanation.plan_index must be an integer, got {plan_index!r}"[:300])
        if confidence is not None and (isinstance(confidence, bool) or not isinstance(confidence, (int, float, np.number))):
            raise ValueError(f"Explanation.confidence must be a number in [0, 1] or None, got {confidence!r}"[:300])
        if motion is not None and not (
            isinstance(motion, (list, tuple, np.ndarray))
            and len(motion) == 3
            and all(isinstance(v, (int, float, np.number)) and not isinstance(v, bool) for v in motion)
        ):
            raise ValueError(f"Explanation.hand_motion_m must be 3 numbers (x, y, z metres) or None, got {motion!r}"[:300])
        return cls(
            subtask=d["subtask"],
            reason=d["reason"],
            plan=tuple(plan),
            plan_index=int(plan_index),
            confidence=None if confidence is None else float(confidence),
            hand_motion_m=None if motion is None else tuple(float(v) for v in motion),
        )


@dataclass
class ActionChunk:
    """A policy's answer: H future actions for each of B observations."""

    actions: np.ndarray
    """float32 [B, H, D], environment units (already un-normalised)."""
    inference_ms: float = 0.0
    """Wall-clock milliseconds the policy took to produce the chunk."""
    info: dict = field(default_factory=dict)
    """Anything the policy wants to report (repaired token sequences, ...); a policy that explains itself
    puts its :class:`Explanation` per row under :data:`EXPLANATIONS` (read it with ``explanations``)."""

    def __post_init__(self) -> None:
        if self.actions.ndim != 3:
            raise ValueError(f"ActionChunk.actions must be [B, H, D], got shape {self.actions.shape}")

    @property
    def horizon(self) -> int:
        return self.actions.shape[1]

    @property
    def explanations(self) -> tuple[Explanation, ...] | None:
        """One :class:`Explanation` per batch row when the policy explains itself (a hierarchical policy, at
        every re-plan), else None."""
        found = self.info.get(EXPLANATIONS)
        return tuple(found) if found else None
