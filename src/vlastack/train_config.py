"""Training hyper-parameters: a frozen dataclass, one docstring per field, checked on creation.

It sits at the top of the package, beside the other shared configs, because presets (under
``policies``) carry training defaults and the training loop (under ``training``) builds policies:
kept inside either package, it would tie the two into an import cycle.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

from vlastack.errors import ConfigError

MIXED_PRECISION = ("auto", "no", "bf16")


@dataclass(frozen=True)
class TrainConfig:
    """How to train (the policy's architecture lives in its own config)."""

    steps: int = 20_000
    """Optimizer steps in all; the learning-rate schedule ends here."""
    batch_size: int = 64
    """Samples per step on each process (global batch = batch_size x processes)."""
    lr: float = 3e-4
    """Peak learning rate of AdamW, reached after the warm-up."""
    min_lr_ratio: float = 0.1
    """The cosine schedule decays to lr x min_lr_ratio at the last step."""
    warmup_steps: int = 500
    """Linear warm-up from 0 to lr over this many steps."""
    weight_decay: float = 0.01
    """AdamW decoupled weight decay, applied to matrices and conv kernels only (not biases, norms, embeddings' positions)."""
    betas: tuple[float, float] = (0.9, 0.95)
    """AdamW (beta1, beta2)."""
    grad_clip: float = 1.0
    """Clip the global gradient norm to this (0 = no clipping)."""
    ema_decay: float = 0.999
    """Decay of the exponential moving average of the weights (0 = no EMA); checkpoints act with the EMA weights."""
    save_every: int = 1_000
    """Write a checkpoint every this many steps (and always at the last step)."""
    keep_checkpoints: int = 3
    """Keep this many most recent checkpoints (older ones are deleted); 0 keeps all."""
    log_every: int = 50
    """Append a metrics row to metrics.jsonl every this many steps."""
    seed: int = 0
    """Seeds torch, numpy and python's random, and the data order."""
    num_workers: int = 0
    """DataLoader worker processes (0 = load in the training process; deterministic either way)."""
    mixed_precision: str = "auto"
    """``auto`` (bf16 autocast on a GPU that supports it, else fp32), ``no`` or ``bf16``."""
    cpu: bool = False
    """Train on the CPU even when a GPU is present."""
    tensorboard: bool = False
    """Also write TensorBoard event files (needs the ``tensorboard`` package)."""
    tokenizer_max_chunks: int = 20_000
    """At most this many action chunks (evenly subsampled) to fit the action tokenizer on."""
    episodes_per_task: int | None = None
    """Train on only the first N episodes of each task (in episode-index order; data/subset.py), with the
    normalisation statistics and the action tokenizer fitted on those episodes alone; None = all episodes."""
    tasks: tuple[str, ...] | None = None
    """Train on the episodes of these tasks only (each episode's simulator task, e.g. ``rs-lift-panda``; data/subset.py),
    with the normalisation statistics and the action tokenizer fitted on them alone; with ``episodes_per_task``, the
    first N of each of them. On the command line a JSON list or one comma-separated string
    (``--set train.tasks=rs-lift-panda,rs-lift-sawyer``). None = every task of the dataset."""
    feature_cache: bool = False
    """Train on the policy's frozen image trunk's maps, computed once per frame into an on-disk cache beside the
    frame cache (data/feature_cache.py) and read instead of running the trunk every step; the shift augmentation
    then moves the maps. Needs a policy with a frozen trunk (``Policy.feature_cache_encoder``, e.g. l1-effnet).
    Acting, export and evaluation are unchanged: the policy runs its trunk on the real frame."""
    feature_cache_shifts: int = 1
    """With ``feature_cache``: pixel shifts per axis cached per frame (odd). 1: the unshifted frame only, and the
    shift augmentation translates the cached map instead (bilinear, sub-cell; cheap but approximate: at stride 16
    it reproduces a small part of what a pixel shift does to the map). 3: the 9 exact shifts (-a, 0, +a)^2 pixels,
    a = the policy's ``augment_shift``, one drawn per sample (9x the cache's size and build time)."""
    init_partial: bool = False
    """With a start policy (``vlastack train --init-from DIR``): build the policy fresh for this run's config and data
    (normalisation statistics, fitted inputs), then load every tensor of the start policy whose name and shape match
    (training/checkpoint.py ``load_matching``; the action's normalisation always stays fresh), recording the tensors
    kept fresh in run.json; refused when the matches hold under half of the parameter values. For a start policy with
    another action space, e.g. latent-action pretraining then alignment to the robot's actions (world_model/
    latent_labels.py). False: the start policy's config must equal this run's, and everything of it is loaded."""
    trainable: tuple[str, ...] = ()
    """Names of the only parameters this run trains, as prefixes of the policy's parameter names (``done_head`` matches
    ``done_head.0.weight`` and the rest of that module); every other parameter keeps its start value, and a parameter
    the policy freezes itself (a frozen pretrained trunk) stays frozen. Empty: all.
    For example ``["done_head", "plan_head"]`` fine-tunes a hierarchical policy's high level alone on its own
    rollouts, whose actions are the policy's and not an expert's (the plan labels come from the recorded state)."""

    def __post_init__(self) -> None:
        def bad(field: str, why: str) -> ConfigError:
            return ConfigError(f"TrainConfig.{field}: {why}, got {getattr(self, field)!r}")

        for f in ("steps", "batch_size", "save_every", "log_every"):
            if getattr(self, f) < 1:
                raise bad(f, "must be >= 1")
        for f in ("warmup_steps", "keep_checkpoints", "num_workers", "tokenizer_max_chunks"):
            if getattr(self, f) < 0:
                raise bad(f, "must be >= 0")
        if self.lr <= 0:
            raise bad("lr", "must be > 0")
        if not 0.0 <= self.min_lr_ratio <= 1.0:
            raise bad("min_lr_ratio", "must be in [0, 1]")
        if not 0.0 <= self.ema_decay < 1.0:
            raise bad("ema_decay", "must be in [0, 1)")
        if self.grad_clip < 0 or self.weight_decay < 0:
            raise bad("grad_clip" if self.grad_clip < 0 else "weight_decay", "must be >= 0")
        if len(self.betas) != 2 or not all(0.0 <= b < 1.0 for b in self.betas):
            raise bad("betas", "must be two numbers in [0, 1)")
        if self.episodes_per_task is not None and (
            isinstance(self.episodes_per_task, bool) or not isinstance(self.episodes_per_task, int) or self.episodes_per_task < 1
        ):
            raise bad("episodes_per_task", "must be an integer >= 1 or None (all episodes)")
        if self.tasks is not None:
            tasks = self.tasks.split(",") if isinstance(self.tasks, str) else self.tasks
            if not isinstance(tasks, (list, tuple)) or not all(isinstance(t, str) for t in tasks):
                raise bad("tasks", "must be a list of task names, one comma-separated string of them, or None (every task)")
            tasks = tuple(t.strip() for t in tasks)
            if not tasks or not all(tasks) or len(set(tasks)) != len(tasks):
                raise bad("tasks", "must name at least one task, each once, none empty")
            object.__setattr__(self, "tasks", tasks)  # frozen: the normalised form, a tuple as from_dict gives
        if isinstance(self.feature_cache_shifts, bool) or not isinstance(self.feature_cache_shifts, int) or self.feature_cache_shifts < 1:
            raise bad("feature_cache_shifts", "must be an odd integer >= 1")
        if self.feature_cache_shifts % 2 == 0:
            raise bad("feature_cache_shifts", "must be odd (the centre of the shift grid is the unshifted frame)")
        if self.mixed_precision not in MIXED_PRECISION:
            raise bad("mixed_precision", f"must be one of {', '.join(MIXED_PRECISION)}")
        trainable = [self.trainable] if isinstance(self.trainable, str) else self.trainable
        if not isinstance(trainable, (list, tuple)) or not all(isinstance(t, str) and t.strip() for t in trainable):
            raise bad("trainable", "must be a list of parameter-name prefixes, none empty (empty list: train every parameter)")
        object.__setattr__(self, "trainable", tuple(t.strip() for t in trainable))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(f"TrainConfig: unknown fields {unknown}")
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in data.items()})
