"""The policy config contract: what training, evaluation, serving and the CLI may read of any policy.

Every policy's config is a frozen dataclass that subclasses :class:`PolicyConfig`. The fields
declared here are the whole contract (inputs, outputs, horizon, normalisation); everything else a
variant needs (widths, heads, tokenizers) lives in its own subclass and is read by nobody but its
model. ``policy_type`` names the registered policy class that the config builds
(``vlastack.policies.make_policy(config)``).

Shapes (letters as in :mod:`vlastack.types`)::

    observation.images.<cam>  B,T,3,Hi,Wi   RGB in [0, 1]
    observation.depth.<cam>   B,T,1,Hi,Wi   metres (when use_depth)
    observation.state         B,T,S
    observation.touch         B,T,F         newtons (when use_touch)
    instruction               B strings
    action                    B,H,D         environment units (what the policy predicts)

This module imports no torch: the CLI reads configs before anything heavy is loaded.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields
from typing import Any, ClassVar

from vlastack import keys
from vlastack.errors import ConfigError, DatasetError

NORM_MODES = ("quantile", "min_max", "mean_std")


@dataclass(frozen=True)
class PolicyConfig:
    """Inputs, outputs and horizon shared by every policy (subclasses add their architecture)."""

    policy_type: ClassVar[str] = ""
    """Registered name of the policy class this config builds (``POLICIES.get(policy_type)``)."""

    name: str = "custom"
    """Preset name this config came from (reported in errors and checkpoints)."""
    cameras: tuple[str, ...] = ("corner2",)
    """RGB cameras read from ``observation.images.<camera>``."""
    image_size: tuple[int, int] = (96, 96)
    """(height, width) in pixels the encoder sees; other sizes are bilinearly resized on the way in."""
    use_depth: bool = False
    """Also read ``observation.depth.<camera>`` (metres) as a 4th input channel of each camera."""
    depth_max_m: float = 2.0
    """Depth is clipped to [0, depth_max_m] metres and divided by it."""
    use_touch: bool = False
    """Read ``observation.touch`` (newtons, one value per finger)."""
    touch_dim: int = 2
    """F, number of touch sensors (Meta-World: 2 fingers)."""
    state_dim: int = 4
    """S of the dataset (Meta-World: end-effector xyz in metres + gripper opening)."""
    action_dim: int = 4
    """D of the dataset (Meta-World: end-effector xyz delta + gripper effort, each in [-1, 1])."""
    obs_history: int = 1
    """T, frames of observation per sample."""
    horizon: int = 16
    """H, actions per chunk."""
    execute_steps: int | None = None
    """Actions of each chunk a synchronous executor runs before it asks the policy again (receding horizon);
    None runs the whole chunk. Evaluation, the demo and serving clients read it from the checkpoint."""
    action_norm: str = "quantile"
    """``quantile`` (q01..q99 -> -1..1), ``min_max`` or ``mean_std`` for actions."""
    state_norm: str = "mean_std"
    """Same choices, for state and touch."""

    def __post_init__(self) -> None:
        if not self.cameras:
            raise self.bad("cameras", "need at least one camera")
        if len(set(self.cameras)) != len(self.cameras):
            raise self.bad("cameras", "camera names must be distinct")
        if len(self.image_size) != 2 or min(self.image_size) < 16:
            raise self.bad("image_size", "must be (height, width), each >= 16")
        for f in ("state_dim", "action_dim", "obs_history", "horizon", "touch_dim"):
            if getattr(self, f) < 1:
                raise self.bad(f, "must be >= 1")
        if self.execute_steps is not None and not 1 <= self.execute_steps <= self.horizon:
            raise self.bad("execute_steps", f"must be None or in [1, horizon={self.horizon}]")
        for f in ("action_norm", "state_norm"):
            if getattr(self, f) not in NORM_MODES:
                raise self.bad(f, f"must be one of {', '.join(NORM_MODES)}")
        if self.depth_max_m <= 0:
            raise self.bad("depth_max_m", "must be > 0")

    def bad(self, field: str, why: str) -> ConfigError:
        """A ConfigError naming this config, the field, what was expected and what it got."""
        return ConfigError(f"{type(self).__name__}({self.name!r}).{field}: {why}, got {getattr(self, field)!r}")

    @property
    def label(self) -> str:
        """How errors name this config: the preset and, where the family has several, the variant."""
        return f"preset {self.name!r}"

    # ---- features ---------------------------------------------------------------------------------
    @property
    def training_targets(self) -> dict[str, int]:
        """Vector features (name -> dimension) a policy reads only inside ``compute_loss`` as extra
        supervision (for example privileged simulator state), never as an input: training loads them
        at the current frame, inference never supplies them. None by default."""
        return {}

    @property
    def future_frame_offsets(self) -> tuple[int, ...]:
        """Frames ahead of the current one (each >= 1, in frames) whose camera images (and depth, with
        ``use_depth``) a policy reads only inside ``compute_loss``, e.g. as the target of a
        future-prediction loss: training serves them under ``keys.future_key(<stream>)`` as [F, ch, Hi, Wi],
        one row per offset in this order, clamped at the episode's last frame (``WindowDataset(future_offsets=...)``);
        inference never supplies them. None by default."""
        return ()

    @property
    def subtask_vocabulary(self) -> tuple[str, ...] | None:
        """A hierarchical policy's closed set of subtask texts: training then gives every sample its plan
        labels over this vocabulary (``WindowDataset(subtasks=...)``, ``Batch.subtask``). None (the
        default): the policy reads no subtasks."""
        return None

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
        who = self.label
        cams = sorted(keys.camera_of(k) for k in features if k.startswith(keys.IMAGES_PREFIX))
        for cam in self.cameras:
            if keys.image_key(cam) not in features:
                raise DatasetError(f"{where} has no camera {cam!r} needed by {who}; its cameras: {cams or 'none'}")
            if self.use_depth and keys.depth_key(cam) not in features:
                raise DatasetError(f"{where} has no depth stream {keys.depth_key(cam)!r} needed by {who} (use_depth=True)")
        # The contract's own size fields: a mismatch says which --set gives the dataset's size (robosuite's two-arm
        # data: state 16, action 14, touch 12, where every preset is sized for Meta-World's 4, 4 and 2).
        sized = {keys.STATE: "state_dim", keys.ACTION: "action_dim", keys.TOUCH: "touch_dim"}
        for key, want in (
            ((keys.STATE, self.state_dim), (keys.ACTION, self.action_dim))
            + (((keys.TOUCH, self.touch_dim),) if self.use_touch else ())
            + tuple(self.training_targets.items())
        ):
            if key not in features:
                raise DatasetError(f"{where} has no feature {key!r} needed by {who}")
            got = tuple(features[key].get("shape", ()))
            if got[-1:] != (want,):
                hint = f": train it with --set policy.{sized[key]}={got[-1]}" if key in sized and got else ""
                raise DatasetError(f"{where}: feature {key!r} has shape {list(got)} but {who} expects [{want}]{hint}")

    # ---- dict round trip --------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PolicyConfig:
        """The config from ``to_dict()``'s output (JSON lists become tuples); unknown fields are named."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(f"{cls.__name__}: unknown fields {unknown}")
        return cls(**{k: _tuples(v) for k, v in data.items()})

    def diff(self, other: PolicyConfig) -> dict[str, tuple[Any, Any]]:
        """Fields that differ: name -> (self's value, other's value)."""
        # Compared as JSON (what checkpoints hold), so a tuple and the list it was saved as are equal.
        a, b = json.loads(json.dumps(self.to_dict())), json.loads(json.dumps(other.to_dict()))
        return {k: (a.get(k), b.get(k)) for k in a.keys() | b.keys() if a.get(k) != b.get(k)}


def _tuples(value: Any) -> Any:
    """JSON lists back to the tuples the frozen configs use (dicts, e.g. encoder options, stay dicts)."""
    if isinstance(value, list):
        return tuple(_tuples(v) for v in value)
    return value


def parse_value(text: str) -> Any:
    """A command-line value: JSON when it parses (numbers, true/false, null, lists, dicts), else the string."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text
