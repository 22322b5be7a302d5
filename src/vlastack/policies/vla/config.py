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
    cached.observation.images.<cam>  B,T,Ct,h,w float16 (vision_encoder="effnet_lite0", training with
                              train.feature_cache only; B,T,K,Ct,h,w for a grid of K shifted copies) -> the frozen
                              trunk's maps, read instead of computed -> the trainable 1x1 conv -> image tokens
    observation.state         B,T,S        ->  state tokens   B, T, d_model  (padded to max_state_dim)
    instruction               B strings    ->  text tokens    B, text_tokens, d_model
    action                    B,H,D        <-  expert         B, H, max_action_dim  (first D kept)

This module imports no torch: it is read by the CLI before anything heavy is loaded.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any, ClassVar

from vlastack.policies.config import PolicyConfig

VARIANTS = ("bins", "fast", "flow", "hybrid")
_TOKENIZER_OF_VARIANT = {"bins": "bins", "fast": "fast", "flow": None, "hybrid": "fast"}
#: Fields of checkpoints written before encoder settings moved into per-encoder dicts (config.json of
#: format 1 without ``vision_options``): old field -> (encoder it belonged to, option name).
_LEGACY_VISION = {
    "vision_channels": ("cnn", "channels"),
    "vision_patch": ("cnn", "patch"),
    "vision_grid": ("cnn", "grid"),
    "vision_path": ("pretrained", "path"),
}
_LEGACY_TEXT = {"hash_buckets": ("hash", "buckets"), "hash_dim": ("hash", "dim")}


@dataclass(frozen=True)
class VLAConfig(PolicyConfig):
    """Everything that fixes the architecture of a :class:`~vlastack.policies.vla.model.VLAPolicy`.

    Inputs, outputs and horizon are the shared fields of :class:`~vlastack.policies.config.PolicyConfig`.
    """

    policy_type: ClassVar[str] = "vla"

    variant: str = "hybrid"
    """One of ``bins``, ``fast``, ``flow``, ``hybrid`` (table above)."""
    max_state_dim: int = 8
    """States are zero-padded to this size so robots with other S can share the weights."""
    max_action_dim: int = 8
    """The flow expert works in this padded action size; padded dims are masked out of the loss."""
    num_embodiments: int = 1
    """Size of the embodiment-id table (``Batch.embodiment_id``; None means id 0)."""

    # ---- encoders (chosen by registered name; validated when the model is built) ---------------------
    vision_encoder: str = "cnn"
    """A name registered in ``VISION_ENCODERS``: ``cnn`` (small conv net trained from scratch), ``pretrained``
    (a local Hugging Face vision model), ``effnet_lite0`` (the frozen ImageNet EfficientNet-Lite0 trunk and a
    trainable 1x1 conv; its maps can be cached for training, ``train.feature_cache``), or one a user registered."""
    vision_options: dict[str, Any] = field(default_factory=dict)
    """Keyword settings of the chosen vision encoder's builder (``cnn``: channels, patch, grid; ``pretrained``:
    path; ``effnet_lite0``: stride (output stride in pixels: 8, 16 or 32; default 16), grid (token cells per side;
    default 4)); unknown keys are refused, naming the ones the builder takes."""
    freeze_vision: bool = False
    """Keep the vision encoder fixed: all of ``cnn``; the trunk of ``pretrained`` (its projection to d_model still
    trains); nothing more of ``effnet_lite0``, whose trunk is always frozen and whose projection always trains."""
    augment_shift: int = 4
    """Training-time random shift of images by up to this many pixels (0 = off); never at inference."""
    text_encoder: str = "minilm"
    """A name registered in ``TEXT_ENCODERS``: ``minilm`` (frozen all-MiniLM-L6-v2 sentence embeddings, cached per
    instruction) or ``hash`` (learned word-hash bag)."""
    text_options: dict[str, Any] = field(default_factory=dict)
    """Keyword settings of the chosen text encoder's builder (``hash``: buckets, dim)."""
    text_tokens: int = 2
    """The sentence embedding is projected to this many backbone tokens."""

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
        super().__post_init__()
        bad = self.bad
        if self.variant not in VARIANTS:
            raise bad("variant", f"must be one of {', '.join(VARIANTS)}")
        for f in (
            "d_model",
            "depth",
            "heads",
            "mlp_ratio",
            "expert_width",
            "expert_depth",
            "num_inference_steps",
            "text_tokens",
            "num_embodiments",
            "max_action_tokens",
        ):
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
        for f in ("vision_encoder", "text_encoder"):
            if not isinstance(getattr(self, f), str) or not getattr(self, f):
                raise bad(f, "must be a registered encoder name")
        for f in ("vision_options", "text_options"):
            if not isinstance(getattr(self, f), dict):
                raise bad(f, "must be a dict of the encoder's keyword settings")
        if self.tokenizer not in (None, "bins", "fast"):
            raise bad("tokenizer", "must be None, 'bins' or 'fast'")
        if self.variant == "flow" and self.tokenizer is not None:
            raise bad("tokenizer", "the flow variant has no token head; leave it None")
        if len(self.time_beta) != 2 or min(self.time_beta) <= 0:
            raise bad("time_beta", "must be two positive numbers (alpha, beta)")
        if not 0.0 <= self.time_min < 1.0:
            raise bad("time_min", "must be in [0, 1)")
        if not 0.0 <= self.dropout < 1.0:
            raise bad("dropout", "must be in [0, 1)")

    @property
    def label(self) -> str:
        return f"preset {self.name!r} (variant {self.variant})"

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

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> VLAConfig:
        """As :meth:`PolicyConfig.from_dict`; also reads configs saved before per-encoder option dicts."""
        data = dict(data)
        for legacy, name_field, options_field in (
            (_LEGACY_VISION, "vision_encoder", "vision_options"),
            (_LEGACY_TEXT, "text_encoder", "text_options"),
        ):
            options = dict(data.get(options_field) or {})
            encoder = data.get(name_field, {f.name: f.default for f in fields(cls)}[name_field])
            for old, (owner, option) in legacy.items():
                if old in data:
                    value = data.pop(old)
                    if owner == encoder and value is not None:
                        options.setdefault(option, value)
            data[options_field] = options
        return super().from_dict(data)  # type: ignore[return-value]
