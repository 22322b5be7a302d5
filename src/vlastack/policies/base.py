"""The policy interface (two methods), saving and loading policy directories, and batch helpers.

    compute_loss(batch)                -> Tensor [B]            per-sample training loss
    sample_actions(batch, noise=None)  -> ActionChunk [B, H, D]  float32, environment units

A policy that says what it is doing (the hierarchical one, at every re-plan) puts one
:class:`~vlastack.types.Explanation` per row in the chunk, read as ``chunk.explanations`` (subtask,
reason, plan, confidence); for every other policy it is None. Evaluation, serving and the console
read it there and nowhere else.

The files of a policy directory are described in :mod:`vlastack.checkpoint`.

"""

from __future__ import annotations

import dataclasses
import json
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn

from vlastack import keys
from vlastack.checkpoint import CONFIG_FILE, FORMAT_VERSION, MODEL_FILE, NORM_FILE, load_safetensors, read_policy_meta, save_safetensors
from vlastack.errors import CheckpointError, ConfigError
from vlastack.policies.components.grounding import Grounded, InstructionGrounding
from vlastack.policies.config import PolicyConfig
from vlastack.types import ActionChunk, Batch, Observation

NORM_PREFIX = "normalizer."
"""State-dict prefix of the normaliser's buffers (saved apart, in ``normalization.safetensors``)."""


class Policy(nn.Module, ABC):
    """Base class of every policy: the contract that training, evaluation, serving and the CLI rely on.

    A subclass sets ``policy_name`` and ``config_class`` (a :class:`~vlastack.policies.config.PolicyConfig`
    subclass), calls ``super().__init__()``, owns a ``normalizer``
    (:class:`~vlastack.policies.normalize.Normalizer`) and implements the two methods. The hooks below
    have defaults that suit a deterministic policy with nothing fitted on the data but statistics.
    ``forward`` is ``compute_loss`` (so DDP wrappers see the training pass).
    """

    #: The name under which the class is registered in :data:`vlastack.policies.registry.POLICIES`.
    policy_name: ClassVar[str]
    #: The config dataclass this policy is built from (its ``policy_type`` is ``policy_name``).
    config_class: ClassVar[type[PolicyConfig]]

    config: Any

    def __init__(self) -> None:
        super().__init__()
        self.data_info: dict = {}
        """What the training data looked like (``image_size``: [h, w] of the recorded camera frames;
        ``embodiments``: ids of the robots its episodes ran, vlastack.embodiments), saved as ``"data"`` in
        config.json so evaluation renders at the resolution the policy was trained on."""
        self.last_terms: dict[str, float] = {}
        """Batch means of each loss term and counters of the last ``compute_loss`` call, for logging."""
        self.grounding: InstructionGrounding | None = None
        """Maps instructions in words the policy never saw onto its trained skills (``vlastack ground`` fits it;
        saved as ``grounding.safetensors``); None: instructions go to the policy as they are."""
        self._grounded: dict[str, Grounded] = {}  # this episode's readings, by instruction (see ground_batch)

    @abstractmethod
    def compute_loss(self, batch: Batch) -> torch.Tensor:
        """Per-sample loss [B]; padded action steps (``action_is_pad``) contribute nothing."""

    @abstractmethod
    def sample_actions(self, batch: Batch, noise: torch.Tensor | None = None) -> ActionChunk:
        """Actions [B, H, D] in environment units; ``noise`` (shaped :meth:`noise_shape`) fixes a stochastic sampler's draw."""

    def forward(self, batch: Batch) -> torch.Tensor:
        return self.compute_loss(batch)

    # ---- hooks with defaults -------------------------------------------------------------------------
    def reset(self) -> None:
        """A new episode begins: forget whatever the policy remembers within one (a hierarchical policy's
        plan, the grounding's readings). Evaluation calls it before every episode."""
        self._grounded = {}

    def episode_memory(self) -> Any:
        """What the policy remembers of the episode in progress (what ``reset`` forgets), or None for a
        policy that remembers nothing. A server that runs several clients' episodes on one policy keeps
        each client's memory and puts it back with :meth:`restore_episode_memory` before each call."""
        return None if self.grounding is None else dict(self._grounded)

    def restore_episode_memory(self, memory: Any) -> None:
        """Put back what :meth:`episode_memory` returned; None starts a new episode (as ``reset``)."""
        if memory is None:
            self.reset()
        else:
            self._grounded = dict(memory)

    def scene_vector(self, batch: Batch) -> torch.Tensor | None:
        """A task-independent summary of what the cameras see [B, F] (the grounding's scene term), or None for a
        family without one (its grounding then reads the words alone)."""
        return None

    def ground_batch(self, batch: Batch, scenes: Callable[[], torch.Tensor | None] | None = None) -> tuple[Batch, list[Grounded | None]]:
        """``batch`` with every instruction the policy was not trained on replaced by the trained phrasing of the
        skill it asks for (:mod:`~vlastack.policies.components.grounding`), and per row what it was taken to mean
        (None: a trained phrasing, or no grounding). An instruction is grounded once per episode, on the first
        frame it comes with, and kept until :meth:`reset`: the scene changes as the task progresses (an opened
        drawer looks like the start of closing it), the request does not. Rows of one batch that share an
        instruction share its reading. A family calls this at the top of ``sample_actions``; ``scenes`` gives the
        scene vectors when it has already run its trunk on these frames (default: :meth:`scene_vector`)."""
        if self.grounding is None or all(self.grounding.knows(t) for t in batch.instruction):
            return batch, [None] * batch.size
        new = sorted({t for t in batch.instruction if not self.grounding.knows(t) and t not in self._grounded})
        if new:
            caches = self._text_caches()
            if not caches:
                raise ConfigError(f"{self.config.label} has a grounding but no sentence encoder to read new instructions with")
            scene = scenes() if scenes is not None else self.scene_vector(batch)
            for text in new:
                row = batch.instruction.index(text)
                vector = caches[0].encode([text])[0]
                self._grounded[text] = self.grounding.ground(text, vector, None if scene is None else scene[row])
        readings = [self._grounded.get(t) for t in batch.instruction]
        texts = [t if r is None else r.instruction for t, r in zip(batch.instruction, readings)]
        return dataclasses.replace(batch, instruction=texts), readings

    @classmethod
    def fit_inputs(cls, config: Any, episode_actions: Sequence[np.ndarray], max_chunks: int) -> dict[str, Any]:
        """Constructor arguments fitted on the training data beyond its statistics (e.g. an action tokenizer).

        ``episode_actions``: one [N_e, D] array per episode, environment units; ``max_chunks`` caps how many
        action chunks a fit may use. The result is passed to ``cls(config, stats=..., **result)``.
        """
        return {}

    @classmethod
    def feature_cache_encoder(cls, config: Any, shifts: int = 1) -> Any | None:
        """A frozen image trunk whose per-frame maps training may read from the feature cache instead of
        computing them (``TrainConfig.feature_cache``; data/feature_cache.py's encoder: ``name``, ``identity``,
        ``frame_shape``, called on uint8 frames). Batches then carry ``keys.cached_key(<image key>)`` (and its
        ``future.`` frames) in place of the images, and ``compute_loss`` must use them without running the
        trunk; acting never sees them. ``shifts``: pixel shifts per axis to cache per frame for the shift
        augmentation (``TrainConfig.feature_cache_shifts``). None (the default): the policy has no frozen trunk."""
        return None

    def noise_shape(self, batch_size: int) -> tuple[int, ...] | None:
        """Shape of the ``noise`` that ``sample_actions`` accepts, or None for a deterministic policy.

        Servers and evaluators draw it from their own seeded generators so a chunk is reproducible."""
        return None

    def image_features(self, batch: Batch) -> torch.Tensor:
        """What the policy sees in its images, as one vector per sample [B, F] (no augmentation).

        For analysis (``benchmarks/probe_positions.py`` reads object and goal positions out of it) and
        for models that reuse the policy's perception; a family without one raises NotImplementedError."""
        raise NotImplementedError(f"the {self.policy_name!r} policy does not expose image features")

    def prepare_instructions(self, instructions: Sequence[str]) -> None:
        """Called with the dataset's instructions before training: every frozen, caching text encoder of the
        policy embeds them now, so each checkpoint's text cache covers the whole dataset."""
        for encoder in self._text_caches():
            encoder.encode(list(instructions))

    def _text_caches(self) -> list[Any]:
        """Submodules that cache sentence embeddings (MiniLM); saved and loaded with the checkpoint."""
        from vlastack.policies.components.text import MiniLMTextEncoder

        return [m for m in self.modules() if isinstance(m, MiniLMTextEncoder)]

    def describe(self) -> dict[str, Any]:
        """JSON-safe facts for logs and a server's metadata (no paths)."""
        return {"policy": self.policy_name, "preset": self.config.name}

    def pack_for_inference(self) -> Policy:
        """Opt in to the CPU inference fast path: eval mode, and every submodule with ``pack_weights``
        (see :class:`~vlastack.policies.components.transformer.Packable`) snapshots its inference weights.

        ``train()``, loading weights or ``.to()`` undo it; call it again after changing weights in place.
        Evaluation and serving call it once after loading; training never does. Returns ``self``."""
        self.eval()
        for module in self.modules():
            if callable(getattr(module, "pack_weights", None)):
                module.pack_weights()
        return self

    @property
    def recorded_image_size(self) -> tuple[int, int]:
        """(height, width) the training frames were recorded at; the encoder's size for checkpoints that
        do not say. Evaluation and serving render at this size and let the policy resize, as in training."""
        return tuple(self.data_info.get("image_size") or self.config.image_size)

    @property
    def embodiments(self) -> tuple[str, ...]:
        """Ids of the embodiments (vlastack.embodiments) the policy was trained on; empty for checkpoints
        that do not say (those from before they were recorded were all trained on ``metaworld_sawyer``)."""
        return tuple(self.data_info.get("embodiments") or ())

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    # ---- checkpoints --------------------------------------------------------------------------
    def save_pretrained(self, directory: str | Path, state_dict: dict[str, torch.Tensor] | None = None) -> Path:
        """Write the policy directory; ``state_dict`` overrides the live weights (e.g. EMA weights)."""
        path = Path(directory)
        path.mkdir(parents=True, exist_ok=True)
        state = self.state_dict() if state_dict is None else state_dict
        weights = {k: v for k, v in state.items() if not k.startswith(NORM_PREFIX)}
        norms = {k[len(NORM_PREFIX) :]: v for k, v in state.items() if k.startswith(NORM_PREFIX)}
        save_safetensors(weights, path / MODEL_FILE)
        save_safetensors(norms, path / NORM_FILE, metadata={"modes": json.dumps(self.normalizer.modes)})
        self._save_extra(path)
        meta = {"policy": self.policy_name, "format_version": FORMAT_VERSION, "config": self.config.to_dict(), "data": self.data_info}
        (path / CONFIG_FILE).write_text(json.dumps(meta, indent=2) + "\n")
        return path

    def _save_extra(self, directory: Path) -> None:
        """Files beyond weights and config: the text cache here; a subclass adds its own (and calls super)."""
        for encoder in self._text_caches():
            encoder.save_cache(directory)
        if self.grounding is not None:
            self.grounding.save(directory)

    @classmethod
    def _load_inputs(cls, directory: Path, config: Any) -> dict[str, Any]:
        """Constructor arguments read from the checkpoint's extra files (the counterpart of :meth:`fit_inputs`)."""
        return {}

    def _load_extra(self, directory: Path) -> None:
        """Read what ``_save_extra`` wrote, after the weights are in place."""
        for encoder in self._text_caches():
            encoder.load_cache(directory)
        self.grounding = InstructionGrounding.load(directory)

    @classmethod
    def from_pretrained(cls, directory: str | Path, expect: Any = None) -> Policy:
        """Load a policy directory. ``expect`` (a config, or a name the config's ``label`` carries) must match it."""
        path = Path(directory)
        meta = read_policy_meta(path)
        if meta["policy"] != cls.policy_name:
            raise CheckpointError(f"{path} holds a {meta['policy']!r} policy, not a {cls.policy_name!r} one")
        try:
            config = cls.config_class.from_dict(meta["config"])
        except (ConfigError, TypeError) as err:
            raise CheckpointError(f"{path}/config.json has an invalid policy config: {err}") from err
        check_expected(path, config, expect)
        policy = cls(config, **cls._load_inputs(path, config))
        policy.load_weights(path)
        policy.data_info = dict(meta.get("data") or {})
        policy._load_extra(path)
        return policy

    def load_weights(self, directory: Path) -> None:
        """Load ``model.safetensors`` and ``normalization.safetensors``; a CheckpointError on any mismatch."""
        state = load_safetensors(directory / MODEL_FILE)
        state.update({NORM_PREFIX + k: v for k, v in load_safetensors(directory / NORM_FILE).items()})
        self.load_state_dict_checked(state, str(directory))

    def load_state_dict_checked(self, state: dict[str, torch.Tensor], where: str) -> None:
        own = self.state_dict()
        missing = sorted(set(own) - set(state))
        unexpected = sorted(set(state) - set(own))
        shapes = [f"{k}: {tuple(state[k].shape)} vs {tuple(v.shape)}" for k, v in own.items() if k in state and state[k].shape != v.shape]
        if missing or unexpected or shapes:
            parts = []
            if missing:
                parts.append(f"missing {len(missing)} tensors (e.g. {missing[:3]})")
            if unexpected:
                parts.append(f"unexpected {len(unexpected)} tensors (e.g. {unexpected[:3]})")
            if shapes:
                parts.append(f"{len(shapes)} shape mismatches (checkpoint vs model, e.g. {shapes[:3]})")
            raise CheckpointError(f"weights in {where} do not fit this {self.config.label} policy: " + "; ".join(parts))
        self.load_state_dict(state)


def check_expected(path: Path, config: Any, expect: Any) -> None:
    """Refuse a checkpoint whose config differs from ``expect`` (a config: every field but ``name``; a string:
    the variant, for families that have them)."""
    if expect is None:
        return
    if isinstance(expect, str):
        variant = getattr(config, "variant", None)
        if expect != variant:
            raise CheckpointError(f"{path} is a {variant!r} checkpoint ({config.label}), expected variant {expect!r}")
        return
    if type(expect) is not type(config):
        raise CheckpointError(f"{path} holds a {type(config).__name__} ({config.label}), expected a {type(expect).__name__}")
    diff = {k: v for k, v in expect.diff(config).items() if k != "name"}
    if diff:
        shown = ", ".join(f"{k}: expected {a!r}, checkpoint has {b!r}" for k, (a, b) in sorted(diff.items())[:4])
        raise CheckpointError(f"{path} was trained with another config ({config.label}): {shown}")


# ---- batches ----------------------------------------------------------------------------------
def batch_from_observation(observations: Observation | Sequence[Observation], embodiment_id: int = 0) -> Batch:
    """A batch of one from one observation (T = 1) or a history of them, oldest first (T = len).

    Images uint8 [Hi, Wi, 3] -> float32 [1, T, 3, Hi, Wi] in [0, 1]; depth [Hi, Wi] -> [1, T, 1, Hi, Wi]
    metres; state [S] -> [1, T, S]; touch [F] -> [1, T, F]. The instruction is the last observation's.
    """
    obs = [observations] if isinstance(observations, Observation) else list(observations)
    if not obs:
        raise ValueError("batch_from_observation needs at least one observation")

    def stack(arrays: list[np.ndarray]) -> torch.Tensor:
        return torch.from_numpy(np.stack(arrays).astype(np.float32, copy=False))[None]

    feats: dict[str, torch.Tensor] = {}
    for cam in obs[-1].images:
        feats[keys.image_key(cam)] = stack([np.ascontiguousarray(o.images[cam]).transpose(2, 0, 1) for o in obs]) / 255.0
    for cam in obs[-1].depth:
        feats[keys.depth_key(cam)] = stack([o.depth[cam][None] for o in obs])
    feats[keys.STATE] = stack([np.asarray(o.state) for o in obs])
    if obs[-1].touch is not None:
        feats[keys.TOUCH] = stack([np.asarray(o.touch) for o in obs])
    feats[keys.STATE + keys.PAD_SUFFIX] = torch.zeros(1, len(obs), dtype=torch.bool)
    return Batch(features=feats, instruction=[obs[-1].instruction], embodiment_id=torch.tensor([embodiment_id]))


FAKE_INSTRUCTIONS = ("reach the red target", "open the drawer", "press the button from the top", "pick up the puck and place it")


def fake_samples(config: Any, n: int, seed: int = 0, with_action: bool = True) -> list[dict[str, Any]]:
    """``n`` random samples in the format of :class:`vlastack.data.windows.WindowDataset` (for tests and benchmarks).

    Every feature ``config.feature_shapes`` names, without the batch axis, and with ``with_action`` the
    config's ``training_targets`` (random vectors, one frame each) and its ``future_frame_offsets``
    (random frames under ``keys.future_key``). Actions are smooth random
    walks squashed into [-1, 1]; every third sample (0, 3, ...) has its last 3 steps padded (copies of
    its last real action, flagged in ``action_is_pad``), as a windowing dataset makes them.
    """
    g = torch.Generator().manual_seed(seed)
    shapes = {k: v[1:] for k, v in config.feature_shapes(1).items()}
    out = []
    for i in range(n):
        s: dict[str, Any] = {"instruction": FAKE_INSTRUCTIONS[i % len(FAKE_INSTRUCTIONS)]}
        for name, shape in shapes.items():
            if name.startswith(keys.IMAGES_PREFIX):
                s[name] = torch.rand(shape, generator=g)
            elif name.startswith(keys.DEPTH_PREFIX):
                s[name] = torch.rand(shape, generator=g) * config.depth_max_m
            elif name == keys.TOUCH:
                s[name] = torch.randn(shape, generator=g).abs() * 5.0
            elif name == keys.ACTION:
                if with_action:
                    walk = torch.randn(shape, generator=g).cumsum(0) * 0.3 + torch.randn(1, shape[1], generator=g)
                    s[name] = torch.tanh(walk)
            else:
                s[name] = torch.randn(shape, generator=g) * 0.2 + 0.5
        s[keys.STATE + keys.PAD_SUFFIX] = torch.zeros(config.obs_history, dtype=torch.bool)
        if with_action:
            pad = torch.zeros(config.horizon, dtype=torch.bool)
            n_pad = min(3, config.horizon - 1) if i % 3 == 0 else 0
            if n_pad:
                pad[-n_pad:] = True
                s[keys.ACTION][-n_pad:] = s[keys.ACTION][-n_pad - 1]
            s[keys.ACTION + keys.PAD_SUFFIX] = pad
            for name, dim in config.training_targets.items():
                s[name] = torch.randn(dim, generator=g)
            for name, shape in shapes.items():  # frames ahead, as data/windows.py serves them: [F, ch, Hi, Wi]
                if config.future_frame_offsets and name.startswith((keys.IMAGES_PREFIX, keys.DEPTH_PREFIX)):
                    ahead = torch.rand((len(config.future_frame_offsets), *shape[1:]), generator=g)
                    s[keys.future_key(name)] = ahead if name.startswith(keys.IMAGES_PREFIX) else ahead * config.depth_max_m
            if config.subtask_vocabulary:  # plan labels as data/windows.py makes them: stage i % 3 of a plan
                s.update(_fake_plan_labels(config.subtask_vocabulary, i, s.get(keys.STATE)))
        out.append(s)
    return out


def _fake_plan_labels(vocabulary: tuple[str, ...], i: int, state: torch.Tensor | None = None) -> dict[str, Any]:
    """Plan labels of sample ``i`` (see data/windows.py): the plan is the first three vocabulary entries
    (fewer if it is shorter), the sample at stage ``i % len(plan)``, ``i`` frames into it; with the sample's
    ``state`` [T, S] also the state's extremes since the stage (and the stage before) began, around its last frame."""
    plan = vocabulary[:3]
    k = i % len(plan)
    history = torch.zeros(len(vocabulary))
    history[:k] = 1.0
    out: dict[str, Any] = {
        "subtask": plan[k],
        keys.SUBTASK_TARGET: torch.tensor(k),
        keys.SUBTASK_HISTORY: history,
        keys.SUBTASK_PREVIOUS: torch.tensor(k - 1),
        keys.SUBTASK_SINCE: torch.tensor(i),
    }
    if state is not None:
        now = state[-1]
        out[keys.SUBTASK_MOTION] = torch.stack([now + 0.05 * (i % 3), now - 0.05 * (i % 2)])
        out[keys.SUBTASK_MOTION_LAG] = torch.stack([now + 0.1 * (i % 3), now - 0.1 * (i % 2)])
    return out


def stack_samples(samples: list[dict[str, Any]]) -> Batch:
    """Samples (dicts of unbatched tensors plus ``instruction``) -> a Batch, like ``vlastack.data.windows.collate``."""
    feats = {k: torch.stack([s[k] for s in samples]) for k, v in samples[0].items() if isinstance(v, torch.Tensor)}
    subtask = [s["subtask"] for s in samples] if "subtask" in samples[0] else None
    return Batch(
        features=feats,
        instruction=[s["instruction"] for s in samples],
        subtask=subtask,
        embodiment_id=torch.zeros(len(samples), dtype=torch.long),
    )


def fake_batch(config: Any, batch_size: int = 2, seed: int = 0, with_action: bool = True) -> Batch:
    """A random Batch of ``batch_size`` :func:`fake_samples` (sample 0 has padded action steps)."""
    return stack_samples(fake_samples(config, batch_size, seed, with_action))
