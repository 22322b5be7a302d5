"""The VLA policy: one model, four variants (see :mod:`vlastack.policies.vla.config` for the table).

Data flow (letters as in :mod:`vlastack.types`; P = prefix length, L = action tokens)::

    images [B,T,3,Hi,Wi] (+depth) --vision--> [B, C*T*G*G, d] -+
    instruction --text (frozen, cached)--> [B, k, d] ------------+--> prefix [B, P, d]
    state [B,T,S] (+touch, embodiment) --> [B, T, d] ------------+
                                                                  |
    backbone (prefix bidirectional; action tokens causal after it, when the variant has them)
        |-- token head: next action token (bins / fast / hybrid)     -> cross-entropy
        '-- keys/values of the prefix, every block
                |  (detached in hybrid: knowledge insulation)
                v
            flow expert (flow / hybrid): v(x_t, t) over [B, H, max_action_dim] -> flow-matching MSE

With ``vision_encoder="effnet_lite0"`` the vision step is a frozen ImageNet trunk and a trainable 1x1 conv; training
may then read the trunk's maps of each frame from the feature cache (``keys.cached_key``, ``TrainConfig.feature_cache``)
instead of running it, and acting always runs it on the real frames.

At run time the backbone runs once per observation; its prefix keys/values are reused by every
Euler step of the expert (flow, hybrid) or serve as the KV cache of greedy decoding (bins, fast).
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from vlastack import keys
from vlastack.errors import ConfigError, DatasetError
from vlastack.policies.base import Policy
from vlastack.policies.components.effnet_tokens import NAME as EFFNET_NAME
from vlastack.policies.components.effnet_tokens import EffNetTokenEncoder
from vlastack.policies.components.flow_head import FlowExpert, Guide
from vlastack.policies.components.frames import stack_frames
from vlastack.policies.components.frozen_features import TrunkFeatureEncoder, augment_cached_maps, stack_cached_maps, trunk_cache_encoder
from vlastack.policies.components.text import build_text_encoder
from vlastack.policies.components.token_head import TokenHead, TokenVocab, step_of_tokens
from vlastack.policies.components.transformer import KV, Transformer, init_weights, prefix_lm_mask
from vlastack.policies.components.vision import build_vision_encoder, random_shift
from vlastack.policies.normalize import normalizer_for
from vlastack.policies.registry import POLICIES
from vlastack.policies.vla.config import VLAConfig
from vlastack.types import ActionChunk, Batch

TOKENIZER_DIR = "tokenizer"


@POLICIES.register("vla")
class VLAPolicy(Policy):
    """Vision encoder + frozen text encoder + transformer backbone + token head and/or flow expert."""

    policy_name = "vla"
    config_class = VLAConfig

    def __init__(self, config: VLAConfig, tokenizer=None, stats: dict | None = None, pretrained_weights: bool = True) -> None:
        """``pretrained_weights``: load the weights of a vision encoder that has them outside the checkpoint
        (``effnet_lite0``: the ImageNet file) for a new policy; False when a checkpoint's weights follow
        (``from_pretrained``), so loading never needs the weights package. Other encoders ignore it."""
        super().__init__()
        c = self.config = config
        d = c.d_model
        self.normalizer = normalizer_for(c, stats)

        self.vision = build_vision_encoder(c.vision_encoder, c.vision_options, 4 if c.use_depth else 3, d, freeze=c.freeze_vision)
        if isinstance(self.vision, EffNetTokenEncoder):
            self.vision.check_image_size(tuple(c.image_size))
            if pretrained_weights:
                self.vision.load_pretrained_weights()
        self.camera_emb = nn.Parameter(torch.zeros(len(c.cameras), 1, d))
        self.frame_emb = nn.Parameter(torch.zeros(c.obs_history, 1, d))
        self.text = build_text_encoder(c.text_encoder, c.text_options)
        self.text_proj = nn.Linear(self.text.dim, c.text_tokens * d)
        self.text_pos = nn.Parameter(torch.zeros(c.text_tokens, d))
        self.state_proj = nn.Linear(c.max_state_dim, d)
        self.touch_proj = nn.Linear(c.touch_dim, d) if c.use_touch else None
        self.embodiment = nn.Embedding(c.num_embodiments, d)
        self.backbone = Transformer(d, c.depth, c.heads, c.head_dim, c.mlp_ratio, c.dropout)

        self.tokenizer = tokenizer
        self.token_head: TokenHead | None = None
        if c.uses_tokens:
            self._check_tokenizer(tokenizer)
            self.token_head = TokenHead(TokenVocab(c.text_vocab_size, tokenizer.vocab_size), d, c.max_action_tokens)
        self.expert: FlowExpert | None = None
        if c.uses_flow:
            self.expert = FlowExpert(
                c.max_action_dim, c.horizon, c.expert_width, c.expert_depth, c.heads, c.head_dim, c.mlp_ratio, c.dropout
            )
            # Expert block j reads backbone block expert_layers[j] (the last block always feeds the last expert block).
            self.expert_layers = [round((j + 1) * c.depth / c.expert_depth) - 1 for j in range(c.expert_depth)]
        for name, child in self.named_children():
            if name not in ("vision", "text"):
                init_weights(child)

    # ---- the contract's hooks -------------------------------------------------------------------
    @classmethod
    def fit_inputs(cls, config: VLAConfig, episode_actions, max_chunks: int) -> dict:
        """The action tokenizer of the token variants, fitted on up to ``max_chunks`` chunks of the data."""
        if not config.uses_tokens:
            return {}
        from vlastack.policies.components.token_head import make_action_tokenizer
        from vlastack.tokenizers import make_chunks, subsample

        chunks = subsample(make_chunks(list(episode_actions), config.horizon), max_chunks)
        return {"tokenizer": make_action_tokenizer(config.tokenizer_kind, chunks)}

    def noise_shape(self, batch_size: int) -> tuple[int, ...] | None:
        c = self.config
        return (batch_size, c.horizon, c.max_action_dim) if c.acts_with == "flow" else None

    def describe(self) -> dict:
        return {**super().describe(), "variant": self.config.variant, "acts_with": self.config.acts_with}

    def _check_tokenizer(self, tok) -> None:
        c = self.config
        if tok is None:
            raise ConfigError(f"variant {c.variant!r} needs a fitted {c.tokenizer_kind!r} action tokenizer (pass tokenizer=...)")
        if tok.kind != c.tokenizer_kind:
            raise ConfigError(f"variant {c.variant!r} trains with a {c.tokenizer_kind!r} tokenizer, got a {tok.kind!r} one")
        if (tok.horizon, tok.action_dim) != (c.horizon, c.action_dim):
            raise ConfigError(
                f"the action tokenizer was fitted for horizon={tok.horizon}, action_dim={tok.action_dim}; "
                f"the config has horizon={c.horizon}, action_dim={c.action_dim}"
            )

    # ---- the feature cache (training on the frozen trunk's maps computed once per frame) ----------
    @classmethod
    def feature_cache_encoder(cls, config: VLAConfig, shifts: int = 1) -> Any | None:
        """With the frozen trunk (``vision_encoder="effnet_lite0"``): the trunk, with the ImageNet weights a new policy
        gets, as the feature cache's encoder (``shifts`` > 1: also the maps of the frame shifted on a grid of
        ``shifts`` x ``shifts`` crop offsets of ``augment_shift``); None for every other encoder."""
        if config.vision_encoder != EFFNET_NAME:
            return None
        # built through the registry, so the options are checked as the policy's own encoder checks them
        encoder = build_vision_encoder(config.vision_encoder, config.vision_options, 4 if config.use_depth else 3, config.d_model)
        encoder.load_pretrained_weights()
        return cls._cache_encoder(config, encoder.trunk, shifts)

    def trunk_feature_encoder(self, shifts: int = 1) -> TrunkFeatureEncoder:
        """This policy's own frozen trunk as a feature-cache encoder (its identity hashes these very weights)."""
        if not isinstance(self.vision, EffNetTokenEncoder):
            raise DatasetError(
                f"{self.config.label} has vision_encoder={self.config.vision_encoder!r}: no frozen trunk whose maps could be cached"
            )
        return self._cache_encoder(self.config, self.vision.trunk, shifts)

    @staticmethod
    def _cache_encoder(config: VLAConfig, trunk: nn.Module, shifts: int) -> TrunkFeatureEncoder:
        return trunk_cache_encoder(trunk, config.vision_encoder, config, shifts)

    def _cached_maps(self, batch: Batch) -> torch.Tensor | None:
        """The frozen trunk's maps the batch carries from the feature cache (``keys.cached_key``), stacked like
        ``stack_frames`` stacks images [C*B*T, C_trunk, h, w] (a shift-grid cache: [C*B*T, K, C_trunk, h, w]);
        None when the batch carries images instead."""
        c = self.config
        names = [keys.cached_key(keys.image_key(cam)) for cam in c.cameras]
        if names[0] not in batch.features:
            return None
        if not isinstance(self.vision, EffNetTokenEncoder):
            raise DatasetError(
                f"batch carries cached trunk maps ({names[0]!r}) but {c.label} has no frozen trunk (vision_encoder={c.vision_encoder!r})"
            )
        stride, (h, w) = self.vision.stride, c.image_size
        want = (self.vision.trunk.out_channels, math.ceil(h / stride), math.ceil(w / stride))
        return stack_cached_maps(lambda name: self._feature(batch, name), names, c.obs_history, want, c.label, c.image_size, stride)

    # ---- the prefix: images, text, state --------------------------------------------------------
    def _feature(self, batch: Batch, key: str) -> torch.Tensor:
        if key not in batch.features:
            raise DatasetError(f"batch has no feature {key!r} needed by preset {self.config.name!r}; it has {sorted(batch.features)}")
        return batch.features[key].to(self.device, torch.float32)

    def embed_images(self, batch: Batch, augment: bool = False, cached: bool = False) -> torch.Tensor:
        """Image tokens [B, C*T*G, d]: per camera and frame G tokens, with camera and frame embeddings added.

        ``augment``: random shift of the images (before any frozen trunk), or of cached maps as it stands for.
        ``cached``: maps of the frozen trunk that the batch carries (feature cache, training only) may stand in
        for the images; acting leaves it False and always runs the trunk on the frames."""
        c, b, t = self.config, batch.size, self.config.obs_history
        maps = self._cached_maps(batch) if cached else None
        if maps is not None:  # training on the feature cache: the trunk is not run
            img = self.vision.from_maps(augment_cached_maps(maps, c.augment_shift, self.vision.stride, augment))
        else:
            x = stack_frames(lambda key: self._feature(batch, key), c)  # [C*B*T, ch, h, w]: one encoder call for all
            if augment and c.augment_shift > 0:
                x = random_shift(x, c.augment_shift)
            img = self.vision(x)  # [C*B*T, G, d]
        g = img.shape[1]
        img = img.view(len(c.cameras), b, t, g, -1) + self.camera_emb[:, None, None] + self.frame_emb[None, None]
        return img.permute(1, 0, 2, 3, 4).reshape(b, -1, c.d_model)

    def image_features(self, batch: Batch) -> torch.Tensor:
        return self.embed_images(batch, cached=True).flatten(1)

    def embed_prefix(self, batch: Batch, augment: bool = False, cached: bool = False) -> torch.Tensor:
        """Prefix tokens [B, P, d]: per camera and frame G*G image tokens, k text tokens, a state (and touch) token per frame.
        ``augment``, ``cached``: as :meth:`embed_images`."""
        c, b = self.config, batch.size
        img = self.embed_images(batch, augment, cached)

        text = self.text_proj(self.text(batch.instruction, self.device)).view(b, c.text_tokens, -1) + self.text_pos

        state = self.normalizer.normalize(keys.STATE, self._feature(batch, keys.STATE))
        state = F.pad(state, (0, c.max_state_dim - c.state_dim))
        emb_id = batch.embodiment_id if batch.embodiment_id is not None else torch.zeros(b, dtype=torch.long)
        tokens = [img, text, self.state_proj(state) + self.frame_emb[:, 0] + self.embodiment(emb_id.to(self.device))[:, None]]
        if self.touch_proj is not None:
            touch = self.normalizer.normalize(keys.TOUCH, self._feature(batch, keys.TOUCH))
            tokens.append(self.touch_proj(touch) + self.frame_emb[:, 0])
        return torch.cat(tokens, dim=1)

    def _expert_context(self, kvs: list[KV]) -> list[KV]:
        ctx = [kvs[i] for i in self.expert_layers]
        if self.config.insulated:  # knowledge insulation: no flow gradient reaches the backbone
            ctx = [(k.detach(), v.detach()) for k, v in ctx]
        return ctx

    # ---- training ---------------------------------------------------------------------------------
    def loss_terms(self, batch: Batch) -> dict[str, torch.Tensor]:
        """Per-sample loss terms [B]: ``tokens`` (token variants) and ``flow`` (flow variants)."""
        c = self.config
        prefix = self.embed_prefix(batch, augment=self.training, cached=True)
        n_prefix = prefix.shape[1]
        action = self._feature(batch, keys.ACTION)
        if tuple(action.shape[1:]) != (c.horizon, c.action_dim):
            raise DatasetError(f"batch action has shape {list(action.shape)}; preset {c.name!r} expects [B, {c.horizon}, {c.action_dim}]")
        pad_key = keys.ACTION + keys.PAD_SUFFIX
        is_pad = (
            batch.features[pad_key].to(self.device)
            if pad_key in batch.features
            else torch.zeros(action.shape[:2], dtype=torch.bool, device=self.device)
        )
        terms: dict[str, torch.Tensor] = {}
        if self.token_head is not None:
            token_lists = self.tokenizer.encode_batch(action.detach().cpu().double().numpy())
            steps = step_of_tokens(c.tokenizer_kind, [len(t) for t in token_lists], c.action_dim)
            inputs, targets, weights, truncated = self.token_head.targets(token_lists, steps, is_pad.cpu().numpy(), self.device)
            x = torch.cat([prefix, self.token_head.embed_tokens(inputs)], dim=1)
            hidden, kvs = self.backbone(x, prefix_lm_mask(n_prefix, inputs.shape[1], self.device))
            terms["tokens"] = self.token_head.loss(hidden[:, n_prefix:], targets, weights)
            kvs = [(k[:, :, :n_prefix], v[:, :, :n_prefix]) for k, v in kvs]  # the prefix never sees the tokens
            self.last_terms["truncated_token_seqs"] = float(truncated)
            self.last_terms["action_tokens_mean"] = float(np.mean([len(t) for t in token_lists]))
        else:
            _, kvs = self.backbone(prefix)
        if self.expert is not None:
            a = F.pad(self.normalizer.normalize(keys.ACTION, action), (0, c.max_action_dim - c.action_dim))
            dim_mask = (torch.arange(c.max_action_dim, device=self.device) < c.action_dim).float()
            weight = (~is_pad).float()[:, :, None] * dim_mask
            terms["flow"] = self.expert.loss(a, self._expert_context(kvs), weight, c.time_beta, c.time_min)
        return terms

    def compute_loss(self, batch: Batch) -> torch.Tensor:
        return self.weighted_loss(self.loss_terms(batch))

    def weighted_loss(self, terms: dict[str, torch.Tensor]) -> torch.Tensor:
        """The per-sample training loss [B] from :meth:`loss_terms`' terms (each times its ``*_loss_weight``);
        records each term's batch mean in ``last_terms``."""
        weights = {"tokens": self.config.token_loss_weight, "flow": self.config.flow_loss_weight}
        for name, value in terms.items():
            self.last_terms[f"loss_{name}"] = float(value.detach().mean())
        return sum(weights[name] * value for name, value in terms.items())

    # ---- inference --------------------------------------------------------------------------------
    @torch.inference_mode()
    def sample_actions(
        self,
        batch: Batch,
        noise: torch.Tensor | None = None,
        num_steps: int | None = None,
        prefix_actions: np.ndarray | None = None,
        prefix_weights: np.ndarray | None = None,
    ) -> ActionChunk:
        """Actions [B, H, D] (environment units). Flow variants: ``noise`` [B, H, max_action_dim] (or [B, H, D])
        fixes x_1; ``num_steps`` overrides ``config.num_inference_steps`` (more steps: finer integration, slower).

        Real-time chunking (flow variants): ``prefix_actions`` [P, D] (environment units, P <= H) are
        actions already committed for the chunk's first P steps and ``prefix_weights`` [P] in [0, 1]
        how firmly to keep to each; the chunk is inpainted towards them while it is sampled."""
        start = time.perf_counter()
        was_training = self.training
        if was_training:  # dropout and augmentation off; an eval-mode policy is not touched (thread-safe serving)
            self.eval()
        try:
            c = self.config
            prefix = self.embed_prefix(batch)  # cached=False: acting runs the trunk on the real frames
            info: dict = {"variant": c.variant}
            if c.acts_with == "flow":
                _, kvs = self.backbone(prefix)  # once per observation; reused by every Euler step
                shape = (batch.size, c.horizon, c.max_action_dim)
                if noise is None:
                    noise = torch.randn(shape, device=self.device)
                noise = noise.to(self.device, torch.float32)
                if noise.shape[-1] == c.action_dim and c.action_dim < c.max_action_dim:
                    noise = F.pad(noise, (0, c.max_action_dim - c.action_dim))
                if tuple(noise.shape) != shape:
                    raise ConfigError(f"noise has shape {list(noise.shape)}, expected {list(shape)}")
                guide = self._guide(batch.size, prefix_actions, prefix_weights) if prefix_actions is not None else None
                x0 = self.expert.sample(self._expert_context(kvs), noise, num_steps or c.num_inference_steps, guide)
                actions = self.normalizer.unnormalize(keys.ACTION, x0[..., : c.action_dim]).float().cpu().numpy()
            else:
                results = self.tokenizer.decode_batch(self.token_head.to_action_ids(self._generate(prefix)))
                actions = np.stack([r.actions for r in results]).astype(np.float32)
                info["repaired"] = [r.reason for r in results if r.repaired]
        finally:
            if was_training:
                self.train()
        return ActionChunk(actions=actions, inference_ms=(time.perf_counter() - start) * 1e3, info=info)

    def _guide(self, batch_size: int, actions: np.ndarray, weights: np.ndarray | None) -> Guide:
        """The committed actions as an inpainting target in the expert's normalised, padded space."""
        c = self.config
        a = np.asarray(actions, dtype=np.float32)
        if a.ndim != 2 or a.shape[1] != c.action_dim or not 1 <= a.shape[0] <= c.horizon:
            raise ConfigError(f"prefix_actions must be [P <= {c.horizon}, {c.action_dim}], got shape {list(a.shape)}")
        w = np.ones(len(a), dtype=np.float32) if weights is None else np.asarray(weights, dtype=np.float32).reshape(-1)
        if w.shape != (len(a),) or not np.all((w >= 0) & (w <= 1)):
            raise ConfigError(f"prefix_weights must be {len(a)} numbers in [0, 1], got {w.tolist()}")
        target = torch.zeros(batch_size, c.horizon, c.max_action_dim, device=self.device)
        weight = torch.zeros(c.horizon, c.max_action_dim, device=self.device)
        normed = self.normalizer.normalize(keys.ACTION, torch.as_tensor(a, device=self.device))
        target[:, : len(a), : c.action_dim] = normed.float()
        weight[: len(a), : c.action_dim] = torch.as_tensor(w, device=self.device)[:, None]
        return Guide(target, weight)

    def _generate(self, prefix: torch.Tensor) -> torch.Tensor:
        """Greedy decoding of action tokens with a KV cache; ids [B, n] (EOS, then PAD, after the chunk)."""
        head, b, n_prefix = self.token_head, prefix.shape[0], prefix.shape[1]
        vocab = head.vocab
        bos = torch.full((b, 1), vocab.bos, dtype=torch.long, device=self.device)
        x = torch.cat([prefix, head.embed_tokens(bos)], dim=1)
        hidden, cache = self.backbone(x, prefix_lm_mask(n_prefix, 1, self.device))
        banned = ~vocab.allowed_after_bos(self.device)
        done = torch.zeros(b, dtype=torch.bool, device=self.device)
        out = []
        for i in range(head.max_tokens + 1):
            logits = head.logits(hidden[:, -1]).float().masked_fill(banned, float("-inf"))
            nxt = torch.where(done, torch.full_like(done, vocab.pad, dtype=torch.long), logits.argmax(-1))
            out.append(nxt)
            done |= nxt == vocab.eos
            if bool(done.all()) or i == head.max_tokens:
                break
            hidden, cache = self.backbone(head.embed_tokens(nxt[:, None], start=i + 1), None, cache)
        return torch.stack(out, dim=1)

    # ---- checkpoints ------------------------------------------------------------------------------
    def _save_extra(self, directory: Path) -> None:
        super()._save_extra(directory)
        if self.tokenizer is not None:
            self.tokenizer.save(directory / TOKENIZER_DIR)

    @classmethod
    def _load_inputs(cls, directory: Path, config: VLAConfig) -> dict:
        # the checkpoint holds a frozen trunk's weights: do not read them from the weights package first
        inputs: dict[str, Any] = {"pretrained_weights": False}
        if config.uses_tokens:
            from vlastack.tokenizers import load_tokenizer

            inputs["tokenizer"] = load_tokenizer(directory / TOKENIZER_DIR)
        return inputs
