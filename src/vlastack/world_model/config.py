"""Configs of the world model's two parts. Frozen, one docstring per field, checked on construction."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

from vlastack.errors import ConfigError


def _positive(obj, *names: str) -> None:
    for name in names:
        v = getattr(obj, name)
        if not v > 0:
            raise ConfigError(f"{type(obj).__name__}.{name} must be > 0, got {v!r}")


@dataclass(frozen=True)
class _Optimisation:
    """How either part is trained (fields shared by both configs)."""

    steps: int = 3000
    """Optimizer steps in all."""
    batch_size: int = 256
    """Training samples per step (rollouts for the predictor, frame pairs for latent actions)."""
    lr: float = 1e-3
    """AdamW learning rate (cosine decay to 10% over ``steps``)."""
    weight_decay: float = 1e-4
    """AdamW weight decay."""
    save_every: int = 1000
    """Checkpoint every this many steps (and at the end)."""
    seed: int = 0
    """Seed of initialisation and sampling."""

    def __post_init__(self) -> None:
        _positive(self, "steps", "batch_size", "lr", "save_every")
        if self.weight_decay < 0:
            raise ConfigError(f"{type(self).__name__}.weight_decay must be >= 0, got {self.weight_decay!r}")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict):
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - names)
        if unknown:
            raise ConfigError(f"{cls.__name__} has no fields {unknown}; its fields are {sorted(names)}")
        return cls(**d)


@dataclass(frozen=True)
class DynamicsConfig(_Optimisation):
    """The chunk predictor z(t+m) = f(z(t), a(t..t+m-1)), m <= chunk, rolled out chunk by chunk."""

    chunk: int = 8
    """Most environment steps one predictor call advances (the l1 policy executes 8 of its 16 actions)."""
    hidden: int = 512
    """Width of the predictor MLP."""
    layers: int = 3
    """Hidden layers of the predictor MLP."""
    rollout_chunks: int = 4
    """Chunks rolled out per training sample, with the loss on every one (backpropagation through the
    rollout teaches the predictor to correct its own drift, which one-step training does not)."""
    partial_prob: float = 0.5
    """Probability that a training chunk is shorter than ``chunk`` (uniform 1..chunk steps), so the
    predictor also answers horizons that are not multiples of ``chunk``."""

    def __post_init__(self) -> None:
        super().__post_init__()
        _positive(self, "chunk", "hidden", "layers", "rollout_chunks")
        if not 0.0 <= self.partial_prob <= 1.0:
            raise ConfigError(f"DynamicsConfig.partial_prob must be in [0, 1], got {self.partial_prob!r}")


@dataclass(frozen=True)
class LatentActionConfig(_Optimisation):
    """Inverse dynamics (z(t), z(t+k)) -> FSQ code, and the forward model z(t+k) = g(z(t), code).

    FSQ (finite scalar quantisation: each latent dimension rounded to one of a few levels) rather than
    VQ: it has no codebook to learn, so no codebook collapse to guard against with restarts or losses.
    """

    gap: int = 8
    """k: steps between the two frames a latent action explains (one executed chunk of the l1 policy)."""
    levels: tuple[int, ...] = (5, 5, 5)
    """FSQ levels per latent dimension (odd, so 0 is a level); the codebook size is their product (125 by default)."""
    idm_context: bool = True
    """Whether the inverse-dynamics model sees z(t) beside the change z(t+k) - z(t). False makes a code
    a function of the change alone, so one code means one kind of change in every scene."""
    hidden: int = 512
    """Width of the inverse-dynamics and forward MLPs."""
    layers: int = 3
    """Hidden layers of each MLP."""

    def __post_init__(self) -> None:
        super().__post_init__()
        _positive(self, "gap", "hidden", "layers")
        object.__setattr__(self, "levels", tuple(int(v) for v in self.levels))
        if not self.levels or any(v < 3 or v % 2 == 0 for v in self.levels):
            raise ConfigError(f"LatentActionConfig.levels must be a non-empty tuple of odd integers >= 3, got {self.levels!r}")

    @property
    def codebook_size(self) -> int:
        n = 1
        for v in self.levels:
            n *= v
        return n


@dataclass(frozen=True)
class HeadsConfig(_Optimisation):
    """Reward and safety heads on embeddings: an MLP from one normalised embedding to one logit per
    event of ``vlastack.world_model.heads.EVENTS``, and the definitions of the unsafe events it learns.

    The events are defined on recorded data (privileged simulator state, finger and arm contact forces),
    never on the model's input: Meta-World's 39-d state holds the hand xyz at [0:3] and the first
    object's xyz at [4:7], in metres, world frame (the table top is at z = 0).
    """

    hidden: int = 256
    """Width of the heads' MLP."""
    layers: int = 2
    """Hidden layers of the heads' MLP."""
    predicted_prob: float = 0.5
    """Probability that a training input is the dynamics model's rolled-out prediction of the frame's
    embedding (from 1..``max_rollout`` steps earlier, with the recorded actions) rather than the true
    embedding, so the heads see the predictor's errors in training as they will when asked about the future."""
    max_rollout: int = 16
    """Most steps a predicted training input is rolled out over."""
    max_pos_weight: float = 20.0
    """Cap on the positive-class weight of the loss (negatives / positives per event over the training frames)."""
    keep_out_low: tuple[float, float, float] = (0.10, 0.55, 0.05)
    """Keep-out box, lower corner (m): the hand inside it is the ``keep_out`` event."""
    keep_out_high: tuple[float, float, float] = (0.30, 0.75, 0.15)
    """Keep-out box, upper corner (m)."""
    finger_force_n: float = 1500.0
    """``over_force``: either finger's contact force (N) above this (the metaworld_sawyer safety spec's grip limit)."""
    arm_force_n: float = 900.0
    """``over_force``: the net contact force on the arm (N) above this, where recorded (the spec's contact limit)."""
    drop_m: float = 0.02
    """``object_lost`` (dropped): the object fell more than this (m) over the last ``drop_steps`` steps ..."""
    drop_steps: int = 8
    """... steps (0.1 s at 80 Hz) ..."""
    lifted_m: float = 0.02
    """... having been at least this (m) above its height at the episode's first frame (so pressed buttons
    and lowered fixtures do not count) ..."""
    free_touch_n: float = 1.0
    """... with neither finger touching anything (both contact forces below this, N)."""
    off_table_z_m: float = 0.0
    """``object_lost`` (knocked off): the object's centre below this height (m; the table top is 0)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        _positive(self, "hidden", "layers", "max_rollout", "max_pos_weight", "finger_force_n", "arm_force_n", "drop_m", "drop_steps")
        if not 0.0 <= self.predicted_prob <= 1.0:
            raise ConfigError(f"HeadsConfig.predicted_prob must be in [0, 1], got {self.predicted_prob!r}")
        for name in ("keep_out_low", "keep_out_high"):
            v = tuple(float(x) for x in getattr(self, name))
            if len(v) != 3:
                raise ConfigError(f"HeadsConfig.{name} must have 3 values (x, y, z in metres), got {v!r}")
            object.__setattr__(self, name, v)
        if any(lo >= hi for lo, hi in zip(self.keep_out_low, self.keep_out_high, strict=True)):
            raise ConfigError(
                f"HeadsConfig.keep_out_low {self.keep_out_low} must be below keep_out_high {self.keep_out_high} on every axis"
            )


@dataclass(frozen=True)
class ProgressConfig(_Optimisation):
    """The progress head: an MLP from one normalised embedding (the dynamics model's normalisation) to the task's
    dense reward at that frame, scaled to [0, 1] (a reward head in the sense of issue 14; the success head of
    :class:`HeadsConfig` says only whether a frame is solved, which gives no signal far from success).

    Target of frame t: the dataset's ``next.reward`` of step t-1 (the reward of arriving at frame t; Meta-World
    computes it from the state after the step) divided by ``reward_scale`` and clipped to [0, 1]; frame 0 takes
    step 0's. Trained with binary cross-entropy on these soft targets (a sigmoid output stays in [0, 1])."""

    hidden: int = 256
    """Width of the head's MLP."""
    layers: int = 2
    """Hidden layers of the head's MLP."""
    predicted_prob: float = 0.5
    """Probability that a training input is the dynamics model's rolled-out prediction of the frame's embedding
    (as :attr:`HeadsConfig.predicted_prob`), so the head also reads the predictor's outputs in training."""
    max_rollout: int = 16
    """Most steps a predicted training input is rolled out over."""
    reward_scale: float = 10.0
    """Dense reward that counts as full progress (Meta-World's largest reward per step is 10)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        _positive(self, "hidden", "layers", "max_rollout", "reward_scale")
        if not 0.0 <= self.predicted_prob <= 1.0:
            raise ConfigError(f"ProgressConfig.predicted_prob must be in [0, 1], got {self.predicted_prob!r}")


PREVIEW_LOSSES = ("l1", "mse")
FRAME_STORES = ("memmap", "memory")


@dataclass(frozen=True)
class PreviewConfig(_Optimisation):
    """The preview decoder: a small conv net from one normalised embedding (the dynamics model's
    normalisation) to a low-resolution RGB frame, so a rolled-out prediction can be looked at.

    Layout: a linear layer to a ``channels[0]`` x s x s map (s = ``image_size`` / 8), then three stages of
    x2 nearest upsampling + 3x3 conv + GroupNorm + GELU (widths ``channels[1:]``), then a 3x3 conv to RGB and a
    sigmoid (pixels in [0, 1]). Targets: the dataset's frames of the encoder's camera, area-averaged down.
    """

    batch_size: int = 64
    """Frames per step."""
    save_every: int = 500
    """Checkpoint every this many steps (and at the end)."""
    image_size: int = 32
    """Side of the decoded square frames (px), a multiple of 8; the dataset's frames (128 px for MT10) are
    area-averaged down to it. 32 keeps the arm, the objects and the goal visible at a CPU-sized cost."""
    channels: tuple[int, int, int, int] = (128, 64, 32, 16)
    """Conv widths at image_size / 8, / 4, / 2 and the full size."""
    loss: str = "l1"
    """Pixel loss on [0, 1] images: ``l1`` (less blur than ``mse``) or ``mse``."""
    predicted_prob: float = 0.5
    """Probability that a training input is the dynamics model's rolled-out prediction of the frame's
    embedding (from 1..``max_rollout`` steps earlier, with the recorded actions) rather than the true
    embedding, so the decoder learns to draw the predictor's outputs too (as the heads do)."""
    max_rollout: int = 32
    """Most steps a predicted training input is rolled out over."""
    frames: str = "memmap"
    """Where the frames are read from: ``memmap`` (the dataset's frame cache, built first if missing; it
    covers every episode) or ``memory`` (decode the run's episodes' videos)."""
    camera: str | None = None
    """Camera whose frames are decoded; None: the encoder policy's first camera."""

    def __post_init__(self) -> None:
        super().__post_init__()
        _positive(self, "image_size", "max_rollout")
        if self.image_size % 8:
            raise ConfigError(f"PreviewConfig.image_size must be a multiple of 8 (three x2 stages), got {self.image_size!r}")
        channels = tuple(int(c) for c in self.channels)
        if len(channels) != 4 or min(channels) < 1:
            raise ConfigError(f"PreviewConfig.channels must be 4 positive widths, got {self.channels!r}")
        object.__setattr__(self, "channels", channels)
        if self.loss not in PREVIEW_LOSSES:
            raise ConfigError(f"PreviewConfig.loss must be one of {PREVIEW_LOSSES}, got {self.loss!r}")
        if not 0.0 <= self.predicted_prob <= 1.0:
            raise ConfigError(f"PreviewConfig.predicted_prob must be in [0, 1], got {self.predicted_prob!r}")
        if self.frames not in FRAME_STORES:
            raise ConfigError(f"PreviewConfig.frames must be one of {FRAME_STORES}, got {self.frames!r}")


IDM_LOSSES = ("l1", "mse")


@dataclass(frozen=True)
class PseudoLabelConfig:
    """The inverse-dynamics model (IDM) of ``vlastack wm pseudo-label``: an MLP from the proprioceptive
    state around frame t to the action a(t), trained on the labelled episodes only.

    Its input for frame t: the state s(t+o) for every offset o in ``offsets`` (clamped at the episode's
    ends), the differences between consecutive ones, and one flag per offset saying it was clamped; all
    standardised by the fitting episodes' mean and std. Actions are standardised the same way.
    """

    steps: int = 3000
    """Most optimizer steps (the best step on the validation episodes is kept). The IDM trains in
    seconds, so it is not checkpointed: a rerun repeats it exactly."""
    batch_size: int = 256
    """Frames per step."""
    lr: float = 1e-3
    """AdamW learning rate (constant: early stopping picks the step, and a refit repeats it)."""
    weight_decay: float = 1e-4
    """AdamW weight decay."""
    seed: int = 0
    """Seed of initialisation and batch sampling."""
    offsets: tuple[int, ...] = (-1, 0, 1, 2)
    """Frames around t whose state the IDM sees (a(t) acts between s(t) and s(t+1), and the gripper
    responds over the next steps; so 0 and 1 must be in it)."""
    hidden: int = 256
    """Width of the IDM's MLP."""
    layers: int = 3
    """Hidden layers of the IDM's MLP."""
    loss: str = "l1"
    """``l1`` or ``mse`` on standardised actions (L1 suits the experts' saturated, often +-1 actions)."""
    eval_every: int = 100
    """Measure the validation error every this many steps (early stopping keeps the best)."""
    refit: bool = True
    """After early stopping, train a fresh IDM on every labelled episode (the validation ones included)
    for the best number of steps, and label with that one: with 5 demonstrations per task, leaving one
    out of the final model would waste a fifth of the labels."""
    clip: tuple[float, float] | None = (-1.0, 1.0)
    """Bounds of the action space the pseudo-labels are clipped to (Meta-World: [-1, 1]); None = no clipping."""

    def __post_init__(self) -> None:
        _positive(self, "steps", "batch_size", "lr", "hidden", "layers", "eval_every")
        if self.weight_decay < 0:
            raise ConfigError(f"PseudoLabelConfig.weight_decay must be >= 0, got {self.weight_decay!r}")
        offsets = tuple(int(o) for o in self.offsets)
        if len(set(offsets)) != len(offsets) or 0 not in offsets or 1 not in offsets:
            raise ConfigError(f"PseudoLabelConfig.offsets must be distinct and include 0 and 1, got {self.offsets!r}")
        object.__setattr__(self, "offsets", tuple(sorted(offsets)))
        if self.loss not in IDM_LOSSES:
            raise ConfigError(f"PseudoLabelConfig.loss must be one of {IDM_LOSSES}, got {self.loss!r}")
        if self.clip is not None:
            clip = tuple(float(v) for v in self.clip)
            if len(clip) != 2 or not clip[0] < clip[1]:
                raise ConfigError(f"PseudoLabelConfig.clip must be (low, high) with low < high, or None, got {self.clip!r}")
            object.__setattr__(self, "clip", clip)

    def to_dict(self) -> dict:
        return asdict(self)
