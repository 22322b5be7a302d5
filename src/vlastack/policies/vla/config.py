"""Configuration of the VLA policy family: one model, four variants.

    variant   backbone head                 action expert              actions at run time
    -------   ---------------------------   ------------------------   ------------------------------
    bins      autoregressive 256-bin tokens  none                       decoded tokens (OpenVLA-style)
    fast      autoregressive FAST tokens     none                       decoded tokens (pi0-FAST-style)
    flow      none                           flow matching, end to end  Euler-integrated expert (pi0-style)
    hybrid    autoregressive FAST tokens     flow matching behind a     Euler-integrated expert
                                             stop-gradient (knowledge insulation, pi0.5-KI-style)

Shapes (diffusion_policy-style table; letters as in :mod:`vlastack.types`):

    observation.images.<cam>  B,T,3,Hi,Wi  ->  image tokens   B, C*T*G*G, d_model
    observation.state         B,T,S        ->  state tokens   B, T, d_model  (padded to max_state_dim)
    instruction               B strings    ->  text tokens    B, text_tokens, d_model
    action                    B,H,D        <-  expert         B, H, max_action_dim  (first D kept)

This module imports no torch: it is read by the CLI before anything heavy is loaded.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

from vlastack import keys
from vlastack.errors import ConfigError, DatasetError

VARIANTS = ("bins", "fast", "flow", "hybrid")
_TOKENIZER_OF_VARIANT = {"bins": "bins", "fast": "fast", "flow": None, "hybrid": "fast"}


@dataclass(frozen=True)
class VLAConfig:
    """Everything that fixes the architecture of a :class:`~vlastack.policies.vla.model.VLAPolicy`."""

    name: str = "custom"
    """Preset name this config came from (reported in errors and checkpoints)."""
    variant: str = "hybrid"
    """One of ``bins``, ``fast``, ``flow``, ``hybrid`` (table above)."""

    # ---- inputs ---------------------------------------------------------------------------------
    cameras: tuple[str, ...] = ("corner2",)
    """RGB cameras read from ``observation.images.<camera>``; one shared encoder, a learned embedding per camera."""
    image_size: tuple[int, int] = (96, 96)
    """(height, width) in pixels the encoder sees; other sizes are bilinearly resized on the way in."""
    use_depth: bool = False
    """Also read ``observation.depth.<camera>`` (metres) as a 4th input channel of each camera."""
    depth_max_m: float = 2.0
    """Depth is clipped to [0, depth_max_m] metres and divided by it."""
    use_touch: bool = False
    """Read ``observation.touch`` (newtons, one value per finger) as one extra token per frame."""
    touch_dim: int = 2
    """F, number of touch sensors (Meta-World: 2 fingers)."""
    state_dim: int = 4
    """S of the dataset (Meta-World: end-effector xyz in metres + gripper opening)."""
    action_dim: int = 4
    """D of the dataset (Meta-World: end-effector xyz delta + gripper effort, each in [-1, 1])."""
    max_state_dim: int = 8
    """States are zero-padded to this size so robots with other S can share the weights."""
    max_action_dim: int = 8
    """The flow expert works in this padded action size; padded dims are masked out of the loss."""
    num_embodiments: int = 1
    """Size of the embodiment-id table (``Batch.embodiment_id``; None means id 0)."""
    obs_history: int = 1
    """T, frames of observation per sample."""
    horizon: int = 16
    """H, actions per chunk."""

    # ---- encoders -------------------------------------------------------------------------------
    vision_encoder: str = "cnn"
    """``cnn`` (small conv net trained from scratch) or ``pretrained`` (a local Hugging Face vision model)."""
    vision_channels: tuple[int, ...] = (32, 64, 128)
    """Channels of the ``cnn`` encoder: the patchify stem, then one stride-2 3x3 conv per further entry."""
    vision_patch: int = 6
    """Patch size (and stride) of the ``cnn`` stem: 96 px / 6 = 16x16, then 8x8, then 4x4."""
    vision_grid: int = 4
    """The ``cnn`` feature map is average-pooled to vision_grid x vision_grid tokens per camera and frame
    (4: 16 tokens per 96 px image; more tokens see small targets better but cost backbone time)."""
    vision_path: str | None = None
    """Directory of a pretrained vision model (``vision_encoder='pretrained'``), loaded offline."""
    freeze_vision: bool = False
    """Keep the vision encoder fixed: all of ``cnn``; the trunk of ``pretrained`` (its projection to d_model still trains)."""
    augment_shift: int = 4
    """Training-time random shift of images by up to this many pixels (0 = off); never at inference."""
    text_encoder: str = "minilm"
    """``minilm`` (frozen all-MiniLM-L6-v2 sentence embeddings, cached per instruction) or ``hash`` (learned word-hash bag)."""
    text_tokens: int = 2
    """The sentence embedding is projected to this many backbone tokens."""
    hash_buckets: int = 4096
    """Vocabulary of the ``hash`` text encoder (words are hashed into this many learned vectors)."""
    hash_dim: int = 64
    """Width of the ``hash`` text encoder's word vectors."""

    # ---- backbone -------------------------------------------------------------------------------
    d_model: int = 192
    """Width of the backbone transformer."""
    depth: int = 4
    """Number of backbone blocks."""
    heads: int = 3
    """Attention heads; head_dim = d_model // heads is shared with the action expert."""
    mlp_ratio: int = 4
    """Hidden size of every MLP as a multiple of its block width."""
    dropout: float = 0.0
    """Dropout in attention and MLPs (0 keeps training deterministic and cheap)."""

    # ---- token head -----------------------------------------------------------------------------
    tokenizer: str | None = None
    """Action tokenizer kind (``bins`` or ``fast``); None picks the variant's own (flow has none)."""
    text_vocab_size: int = 0
    """Text token ids reserved before the action ids (room for subtask/reasoning text later)."""
    max_action_tokens: int = 80
    """Longest action-token sequence; longer encodings are truncated (and counted)."""
    token_loss_weight: float = 1.0
    """Weight of the token cross-entropy in the total loss."""

    # ---- flow-matching expert -------------------------------------------------------------------
    expert_width: int = 96
    """Width of the action expert (smaller than the backbone; it reads the backbone's keys/values)."""
    expert_depth: int = 2
    """Expert blocks; block j reads the keys/values of backbone block round((j+1)*depth/expert_depth)-1."""
    num_inference_steps: int = 10
    """Euler steps from noise (t=1) to actions (t=0) at run time."""
    time_beta: tuple[float, float] = (1.5, 1.0)
    """(alpha, beta) of the Beta distribution of training times; alpha > beta skews toward t=1 (noise)."""
    time_min: float = 0.001
    """Training times are mapped to [time_min, 1] so t=0 (clean data) is never the input."""
    flow_loss_weight: float = 1.0
    """Weight of the flow-matching loss in the total loss."""

    # ---- normalisation --------------------------------------------------------------------------
    action_norm: str = "quantile"
    """``quantile`` (q01..q99 -> -1..1), ``min_max`` or ``mean_std`` for actions."""
    state_norm: str = "mean_std"
    """Same choices, for state and touch."""

    def __post_init__(self) -> None:
        def bad(field: str, why: str) -> ConfigError:
            return ConfigError(f"VLAConfig({self.name!r}).{field}: {why}, got {getattr(self, field)!r}")

        if self.variant not in VARIANTS:
            raise bad("variant", f"must be one of {', '.join(VARIANTS)}")
        if not self.cameras:
            raise bad("cameras", "need at least one camera")
        if len(set(self.cameras)) != len(self.cameras):
            raise bad("cameras", "camera names must be distinct")
        if len(self.image_size) != 2 or min(self.image_size) < 16:
            raise bad("image_size", "must be (height, width), each >= 16")
        for f in ("state_dim", "action_dim", "obs_history", "horizon", "d_model", "depth", "heads",
                  "mlp_ratio", "expert_width", "expert_depth", "num_inference_steps", "text_tokens",
                  "num_embodiments", "vision_grid", "vision_patch", "max_action_tokens", "touch_dim"):
            if getattr(self, f) < 1:
                raise bad(f, "must be >= 1")
        if self.max_state_dim < self.state_dim:
            raise bad("max_state_dim", f"must be >= state_dim={self.state_dim}")
        if self.max_action_dim < self.action_dim:
            raise bad("max_action_dim", f"must be >= action_dim={self.action_dim}")
        if self.d_model % self.heads:
            raise bad("d_model", f"must be divisible by heads={self.heads}")
        if self.expert_depth > self.depth:
            raise bad("expert_depth", f"must be <= depth={self.depth}")
        if self.vision_encoder not in ("cnn", "pretrained"):
            raise bad("vision_encoder", "must be 'cnn' or 'pretrained'")
        if self.vision_encoder == "pretrained" and not self.vision_path:
            raise bad("vision_path", "is required with vision_encoder='pretrained'")
        if self.vision_encoder == "pretrained" and self.use_depth:
            raise bad("use_depth", "is not supported by the pretrained (RGB) encoder")
        if self.text_encoder not in ("minilm", "hash"):
            raise bad("text_encoder", "must be 'minilm' or 'hash'")
        if self.tokenizer not in (None, "bins", "fast"):
            raise bad("tokenizer", "must be None, 'bins' or 'fast'")
        if self.variant == "flow" and self.tokenizer is not None:
            raise bad("tokenizer", "the flow variant has no token head; leave it None")
        if self.action_norm not in ("quantile", "min_max", "mean_std"):
            raise bad("action_norm", "must be quantile, min_max or mean_std")
        if self.state_norm not in ("quantile", "min_max", "mean_std"):
            raise bad("state_norm", "must be quantile, min_max or mean_std")
        if len(self.time_beta) != 2 or min(self.time_beta) <= 0:
            raise bad("time_beta", "must be two positive numbers (alpha, beta)")
        if not 0.0 <= self.time_min < 1.0:
            raise bad("time_min", "must be in [0, 1)")
        if not 0.0 <= self.dropout < 1.0:
            raise bad("dropout", "must be in [0, 1)")

    # ---- what the variant implies -----------------------------------------------------------------
    @property
    def tokenizer_kind(self) -> str | None:
        """The action tokenizer this config trains with (None for ``flow``)."""
        return self.tokenizer or _TOKENIZER_OF_VARIANT[self.variant]

    @property
    def uses_tokens(self) -> bool:
        """Whether the backbone has an autoregressive action-token head (and a token loss)."""
        return self.tokenizer_kind is not None

    @property
    def uses_flow(self) -> bool:
        """Whether there is a flow-matching action expert."""
        return self.variant in ("flow", "hybrid")

    @property
    def insulated(self) -> bool:
        """Knowledge insulation: the expert reads the backbone through a stop-gradient."""
        return self.variant == "hybrid"

    @property
    def acts_with(self) -> str:
        """Which head produces actions at run time: ``tokens`` or ``flow``."""
        return "flow" if self.uses_flow else "tokens"

    @property
    def head_dim(self) -> int:
        return self.d_model // self.heads

    # ---- features ---------------------------------------------------------------------------------
    def feature_shapes(self, batch_size: int) -> dict[str, tuple[int, ...]]:
        """Batch feature name -> shape this config reads (and ``action`` it predicts)."""
        b, t, (h, w) = batch_size, self.obs_history, self.image_size
        shapes: dict[str, tuple[int, ...]] = {keys.image_key(c): (b, t, 3, h, w) for c in self.cameras}
        if self.use_depth:
            shapes.update({keys.depth_key(c): (b, t, 1, h, w) for c in self.cameras})
        shapes[keys.STATE] = (b, t, self.state_dim)
        if self.use_touch:
            shapes[keys.TOUCH] = (b, t, self.touch_dim)
        shapes[keys.ACTION] = (b, self.horizon, self.action_dim)
        return shapes

    def check_dataset_features(self, features: dict[str, dict[str, Any]], where: str = "dataset") -> None:
        """Raise DatasetError naming the first mismatch between a dataset's features and this config.

        ``features`` is the reader's table: name -> {"dtype", "shape", "names"}; per-frame shapes
        (images [Hi, Wi, 3], depth [Hi, Wi], vectors [n]).
        """
        preset = f"preset {self.name!r} (variant {self.variant})"
        cams = sorted(keys.camera_of(k) for k in features if k.startswith(keys.IMAGES_PREFIX))
        for cam in self.cameras:
            if keys.image_key(cam) not in features:
                raise DatasetError(f"{where} has no camera {cam!r} needed by {preset}; its cameras: {cams or 'none'}")
            if self.use_depth and keys.depth_key(cam) not in features:
                raise DatasetError(f"{where} has no depth stream {keys.depth_key(cam)!r} needed by {preset} (use_depth=True)")
        for key, want in ((keys.STATE, self.state_dim), (keys.ACTION, self.action_dim)) + (
            ((keys.TOUCH, self.touch_dim),) if self.use_touch else ()
        ):
            if key not in features:
                raise DatasetError(f"{where} has no feature {key!r} needed by {preset}")
            got = tuple(features[key].get("shape", ()))
            if got[-1:] != (want,):
                raise DatasetError(f"{where}: feature {key!r} has shape {list(got)} but {preset} expects [{want}]")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "VLAConfig":
        known = {f.name: f for f in fields(cls)}
        unknown = sorted(set(data) - set(known))
        if unknown:
            raise ConfigError(f"VLAConfig: unknown fields {unknown}")
        values = {k: tuple(v) if isinstance(v, list) else v for k, v in data.items()}
        return cls(**values)

    def diff(self, other: "VLAConfig") -> dict[str, tuple[Any, Any]]:
        """Fields that differ: name -> (self's value, other's value)."""
        a, b = self.to_dict(), other.to_dict()
        return {k: (a[k], b[k]) for k in a if a[k] != b[k]}
