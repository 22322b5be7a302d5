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


@dataclass
class ActionChunk:
    """A policy's answer: H future actions for each of B observations."""

    actions: np.ndarray
    """float32 [B, H, D], environment units (already un-normalised)."""
    inference_ms: float = 0.0
    """Wall-clock milliseconds the policy took to produce the chunk."""
    info: dict = field(default_factory=dict)
    """Anything the policy wants to report (repaired token sequences, reasoning text, ...)."""

    def __post_init__(self) -> None:
        if self.actions.ndim != 3:
            raise ValueError(f"ActionChunk.actions must be [B, H, D], got shape {self.actions.shape}")

    @property
    def horizon(self) -> int:
        return self.actions.shape[1]
