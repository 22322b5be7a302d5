"""The L1 chunk-regression policy: a FiLM-conditioned conv net with spatial-softmax keypoints and an MLP.

It follows the recipe of ACT's L1 chunk head and of the 0.9 M-parameter CPU floor of our Meta-World
protocol: find where things are (keypoints), condition on the task, regress the next H actions in
one shot. Deterministic, so ``sample_actions`` ignores ``noise``; one forward pass per chunk.
"""

from __future__ import annotations

import math
import time
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from vlastack import keys
from vlastack.errors import DatasetError
from vlastack.policies.base import Policy
from vlastack.policies.components.frames import stack_frames
from vlastack.policies.components.frozen_features import (
    TrunkFeatureEncoder,
    augment_cached_maps,
    grid_offsets,
    grid_side,
    stack_cached_maps,
    trunk_cache_encoder,
)
from vlastack.policies.components.text import build_text_encoder
from vlastack.policies.components.vision import random_shift, shift_offsets
from vlastack.policies.l1.config import L1Config
from vlastack.policies.l1.pretrained_encoder import FrozenTrunkKeypointEncoder
from vlastack.policies.normalize import Normalizer, normalizer_for
from vlastack.policies.registry import POLICIES
from vlastack.types import ActionChunk, Batch


class SpatialSoftmax(nn.Module):
    """Feature maps [N, K, h, w] -> expected (x, y) per map [N, K, 2], coordinates in [-1, 1] (x right, y down)."""

    def __init__(self) -> None:
        super().__init__()
        self.log_temperature = nn.Parameter(torch.zeros(()))  # learned sharpness of the soft arg-max

    def forward(self, f: torch.Tensor) -> torch.Tensor:
        n, k, h, w = f.shape
        attn = torch.softmax(f.flatten(2) * torch.exp(-self.log_temperature), dim=-1).view(n, k, h, w)
        ys = torch.linspace(-1.0, 1.0, h, device=f.device, dtype=f.dtype)
        xs = torch.linspace(-1.0, 1.0, w, device=f.device, dtype=f.dtype)
        return torch.stack([(attn.sum(2) * xs).sum(-1), (attn.sum(3) * ys).sum(-1)], dim=-1)


class KeypointEncoder(nn.Module):
    """Images [N, C, Hi, Wi] in [0, 1] and a task vector [N, task_dim] -> keypoints [N, 2K] (+ pooled features).

    Every conv stage is modulated by the task (FiLM: ``h * (1 + gamma) + beta``), so the keypoints can
    follow the object the instruction is about.
    """

    def __init__(self, in_channels: int, channels: tuple[int, ...], keypoints: int, task_dim: int, pool: bool) -> None:
        super().__init__()
        convs, prev = [], in_channels
        for i, ch in enumerate(channels):
            kernel, stride = (5, 2) if i == 0 else (3, 2 if i == 1 else 1)
            convs.append(nn.Conv2d(prev, ch, kernel, stride=stride, padding=kernel // 2, bias=False))
            prev = ch
        self.convs = nn.ModuleList(convs)
        self.norms = nn.ModuleList(nn.GroupNorm(min(8, ch), ch, affine=False) for ch in channels)
        self.film = nn.Linear(task_dim, 2 * sum(channels))
        nn.init.zeros_(self.film.weight)
        nn.init.zeros_(self.film.bias)  # starts as plain GroupNorm + ReLU
        self.to_keypoints = nn.Conv2d(prev, keypoints, 1)
        self.softmax = SpatialSoftmax()
        self.channels, self.pool = tuple(channels), pool
        self.out_dim = 2 * keypoints + (prev if pool else 0)

    def forward(self, x: torch.Tensor, task: torch.Tensor) -> torch.Tensor:
        gammas_betas = self.film(task).split([c for ch in self.channels for c in (ch, ch)], dim=-1)
        h = x * 2.0 - 1.0  # [0, 1] -> roughly zero-centred
        for i, (conv, norm) in enumerate(zip(self.convs, self.norms)):
            gamma, beta = gammas_betas[2 * i], gammas_betas[2 * i + 1]
            h = F.relu(norm(conv(h)) * (1.0 + gamma[:, :, None, None]) + beta[:, :, None, None])
        out = self.softmax(self.to_keypoints(h)).flatten(1)
        if self.pool:
            out = torch.cat([out, h.mean(dim=(2, 3))], dim=1)
        return out


@POLICIES.register("l1")
class L1Policy(Policy):
    """Keypoints of every camera and frame, the task vector, the state (and touch) -> MLP -> H x D actions."""

    policy_name = "l1"
    config_class = L1Config

    def __init__(self, config: L1Config, stats: dict | None = None, pretrained_weights: bool = True) -> None:
        """``pretrained_weights``: with ``vision="effnet_lite0"``, load the frozen trunk's ImageNet weights (a new
        policy); False when a checkpoint's weights follow (``from_pretrained``), so no weights package is needed."""
        super().__init__()
        c = self.config = config
        self.normalizer = normalizer_for(c, stats)
        self.text = build_text_encoder(c.text_encoder, c.text_options)
        self.task, self.encoder, self.head = self._member_modules(pretrained_weights, with_trunk=True)
        # Further members of an ensemble (config.members): the same trainable modules, initialised apart. The first
        # member stays in the attributes above, so a checkpoint of a single policy is a one-member ensemble.
        self.ensemble = nn.ModuleList(_Member(*self._member_modules(False, with_trunk=False)) for _ in range(c.members - 1))
        if c.aux_state_weight > 0:  # training-only readout of privileged state from the image features
            self.aux_norm = Normalizer({keys.ENV_STATE: (c.aux_state_dim, "mean_std")})
            if stats is not None:
                self.aux_norm.set_stats(stats)
                # constant entries (std 0) would divide by zero; 1 cm / 0.01 is below anything we read out
                self.aux_norm.scale(keys.ENV_STATE).clamp_(min=0.01)
            feat = len(c.cameras) * c.obs_history * self.encoder.out_dim + c.task_dim
            self.aux_head = nn.Sequential(nn.Linear(feat, 256), nn.ReLU(), nn.Linear(256, c.aux_state_dim))
        if c.future_weight > 0:  # training-only: the image features future_offset frames ahead
            # It reads the MLP's last hidden layer: there the image features are already mixed with the state
            # and the instruction, and the action chunk is a linear readout of it, so foreseeing the scene
            # shapes the very representation the actions are decided from; predicting from the trunk's
            # features alone would shape only the trunk, and not what the task and state make of them.
            ahead = len(c.future_frame_offsets) * len(c.cameras) * self.encoder.out_dim
            self.future_head = nn.Sequential(nn.Linear(c.hidden, 256), nn.ReLU(), nn.Linear(256, ahead))

    def _member_modules(self, pretrained_weights: bool, with_trunk: bool) -> tuple[nn.Module, nn.Module, nn.Sequential]:
        """One member's trainable modules: the instruction's projection, the vision encoder (``with_trunk`` False:
        without the frozen trunk, whose maps the first member computes for all), the MLP head."""
        c = self.config
        task = nn.Sequential(nn.Linear(self.text.dim, c.task_dim), nn.ReLU())
        in_ch = 3 + (1 if c.use_depth else 0) + (2 if c.coord_channels else 0)
        if c.vision == "cnn":
            encoder: nn.Module = KeypointEncoder(in_ch, tuple(c.channels), c.keypoints, c.task_dim, c.pool_features)
        else:
            encoder = FrozenTrunkKeypointEncoder(
                c.vision_stride,
                c.vision_width,
                c.keypoints,
                c.task_dim,
                c.pool_features,
                c.vision_grid,
                pretrained_weights,
                with_trunk,
                c.vision_tune_blocks,
            )
        frames = len(c.cameras) * c.obs_history
        vectors = (c.state_dim if c.use_state else 0) + (c.touch_dim if c.use_touch else 0)
        width = frames * encoder.out_dim + c.obs_history * vectors + c.task_dim
        mlp: list[nn.Module] = []
        for _ in range(c.layers):
            mlp += [nn.Linear(width, c.hidden), nn.LayerNorm(c.hidden), nn.ReLU()]
            width = c.hidden
        return task, encoder, nn.Sequential(*mlp, nn.Linear(width, c.horizon * c.action_dim))

    def _members(self) -> list[Any]:
        """Every member (``task``, ``encoder``, ``head``): this policy's own modules first, then the ensemble's."""
        return [self, *self.ensemble]

    @classmethod
    def _load_inputs(cls, directory, config: L1Config) -> dict:
        # the checkpoint holds the frozen trunk's weights: do not read them from the weights package first
        return {} if config.vision == "cnn" else {"pretrained_weights": False}

    # ---- the feature cache (training on the frozen trunk's maps computed once per frame) ----------
    @classmethod
    def feature_cache_encoder(cls, config: L1Config, shifts: int = 1) -> Any | None:
        """With a frozen trunk (``vision="effnet_lite0"``): the trunk, with the ImageNet weights a new policy
        gets, as the feature cache's encoder (``shifts`` > 1: also the maps of the frame shifted on a grid of
        ``shifts`` x ``shifts`` crop offsets of ``augment_shift``); None for the conv trunk trained from scratch."""
        if config.vision == "cnn":
            return None
        from vlastack.policies.components.effnet_lite import FrozenEffNetTrunk
        from vlastack.policies.components.effnet_weights import load_effnet_lite0_weights

        trunk = FrozenEffNetTrunk(config.vision_stride, load_effnet_lite0_weights(), config.vision_tune_blocks)
        return cls._cache_encoder(config, trunk, shifts)

    def trunk_feature_encoder(self, shifts: int = 1) -> TrunkFeatureEncoder:
        """This policy's own frozen trunk as a feature-cache encoder (its identity hashes these very weights)."""
        if self.config.vision == "cnn":
            raise DatasetError(f"{self.config.label} trains its conv trunk: it has no frozen trunk whose maps could be cached")
        return self._cache_encoder(self.config, self.encoder.trunk, shifts)

    @staticmethod
    def _cache_encoder(config: L1Config, trunk: nn.Module, shifts: int) -> TrunkFeatureEncoder:
        # with tuned blocks the frozen part ends earlier: its block count names the cache (a map of another depth)
        name = config.vision + (f"-b{len(trunk.net.blocks)}" if config.vision_tune_blocks else "")
        return trunk_cache_encoder(trunk, name, config, shifts)

    def lr_scale(self, name: str) -> float:
        """Learning-rate factor of parameter ``name`` (``training.optim``): the tuned trunk blocks take smaller steps."""
        return self.config.vision_tune_lr_scale if name.startswith("encoder.tuned.") else 1.0

    def _cached_maps(self, batch: Batch, frames: int, future: bool) -> torch.Tensor | None:
        """The frozen trunk's maps the batch carries from the feature cache (``keys.cached_key``), stacked like
        ``stack_frames`` stacks images [C*B*frames, C_trunk, h, w] (a shift-grid cache: [C*B*frames, K, C_trunk, h, w],
        K maps of shifted copies); None when the batch carries images instead."""
        c = self.config
        names = [keys.cached_key(keys.image_key(cam)) for cam in c.cameras]
        names = [keys.future_key(k) for k in names] if future else names
        if names[0] not in batch.features:
            return None
        if c.vision == "cnn":
            raise DatasetError(f"batch carries cached trunk maps ({names[0]!r}) but {c.label} has no frozen trunk (vision='cnn')")
        stride, (h, w) = self.encoder.trunk.output_stride, c.image_size  # where the frozen part ends (vision_tune_blocks)
        want = (self.encoder.trunk.out_channels, math.ceil(h / stride), math.ceil(w / stride))
        return stack_cached_maps(lambda name: self._feature(batch, name), names, frames, want, c.label, c.image_size, stride)

    # ---- the forward pass -------------------------------------------------------------------------
    def _feature(self, batch: Batch, key: str) -> torch.Tensor:
        if key not in batch.features:
            raise DatasetError(f"batch has no feature {key!r} needed by {self.config.label}; it has {sorted(batch.features)}")
        return batch.features[key].to(self.device, torch.float32)

    def image_features(self, batch: Batch) -> torch.Tensor:
        """The first member's image features (an ensemble's others see the same frames through their own heads)."""
        task = self.task(self.text(batch.instruction, self.device))
        return self._image_features(batch, task, augment=False)

    def _image_features(
        self,
        batch: Batch,
        task: torch.Tensor,
        augment: bool,
        shifts: tuple[torch.Tensor, torch.Tensor] | None = None,
        cached: bool = True,
        seen: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """The first member's keypoints (and pooled features) of every camera and frame [B, C*T*out_dim] (see ``_seen``;
        ``seen``: its output when the caller already has it)."""
        t = self.config.obs_history
        seen = self._seen(batch, t, augment, shifts, cached) if seen is None else seen
        return self._features(self.encoder, seen, task, batch.size, t)

    def _predict(
        self,
        batch: Batch,
        augment: bool,
        shifts: tuple[torch.Tensor, torch.Tensor] | None = None,
        cached: bool = True,
        seen: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """Normalised action chunks of every member [M, B, H, D], and the first member's image features, task vector
        and last hidden layer of the MLP [B, hidden] its chunk was predicted from. ``shifts``: the augmentation's crop
        offsets (see ``_seen``); ``cached``: whether cached trunk maps in the batch may stand in for the images (False
        when acting); ``seen``: ``_seen``'s output when the caller already has it (acting). The frames (and the frozen
        trunk's maps of them) are prepared once for all members."""
        c, b, t = self.config, batch.size, self.config.obs_history
        text = self.text(batch.instruction, self.device)
        if augment and c.text_noise > 0:
            text = text + torch.randn_like(text) * c.text_noise
        seen = self._seen(batch, t, augment, shifts, cached) if seen is None else seen
        vectors = []  # after the image features and before the task vector, in the order checkpoints' first layer expects
        if c.use_state:
            state = self.normalizer.normalize(keys.STATE, self._feature(batch, keys.STATE))
            if augment and c.state_noise > 0:
                state = state + torch.randn_like(state) * c.state_noise
            vectors.append(state.flatten(1))
        touch = [self.normalizer.normalize(keys.TOUCH, self._feature(batch, keys.TOUCH)).flatten(1)] if c.use_touch else []
        chunks, first = [], None
        for member in self._members():
            task = member.task(text)  # [B, task_dim]
            feats = self._features(member.encoder, seen, task, b, t)
            hidden = member.head[:-1](torch.cat([feats, *vectors, task, *touch], dim=1))  # the head's layers but its last
            chunks.append(member.head[-1](hidden).view(b, c.horizon, c.action_dim))
            first = first or (feats, task, hidden)
        return torch.stack(chunks), *first

    def _seen(
        self,
        batch: Batch,
        t: int,
        augment: bool,
        shifts: tuple[torch.Tensor, torch.Tensor] | None = None,
        cached: bool = True,
        future: bool = False,
    ) -> torch.Tensor:
        """What every member's vision encoder reads, rows ordered (camera, sample, frame), ``t`` frames per sample:
        the frozen trunk's maps [C*B*t, C_trunk, h, w] (``effnet_lite0``; computed here once, or read from the feature
        cache when ``cached`` and the batch carries it) or the images [C*B*t, ch, h, w] (``cnn``). With ``augment``,
        shifted by ``shifts`` (crop offsets [C*B*t] each) or fresh ones. ``future``: the frames ahead instead."""
        c = self.config
        maps = self._cached_maps(batch, t, future) if cached else None
        if maps is not None:  # training on the feature cache: the trunk is not run
            return self._shift_maps(maps, augment, shifts)
        name = keys.future_key if future else (lambda key: key)
        x = stack_frames(lambda key: self._feature(batch, name(key)), c, frames=t)  # [C*B*t, ch, h, w]
        if augment and c.augment_shift > 0:
            x = random_shift(x, c.augment_shift, shifts)
        if c.coord_channels:
            h, w = x.shape[-2:]
            ys = torch.linspace(-1, 1, h, device=x.device).view(1, 1, h, 1).expand(x.shape[0], 1, h, w)
            xs = torch.linspace(-1, 1, w, device=x.device).view(1, 1, 1, w).expand(x.shape[0], 1, h, w)
            x = torch.cat([x, xs, ys], dim=1)
        return x if c.vision == "cnn" else self.encoder.trunk(x)

    def _features(self, encoder: nn.Module, seen: torch.Tensor, task: torch.Tensor, b: int, t: int) -> torch.Tensor:
        """One member's keypoints (and pooled features) of every camera and frame [B, C*t*out_dim] from ``_seen``'s output."""
        c = self.config
        rows = task.repeat_interleave(t, 0).repeat(len(c.cameras), 1)  # each row gets its sample's task vector
        feats = encoder(seen, rows) if c.vision == "cnn" else encoder.from_maps(seen, rows)
        return feats.view(len(c.cameras), b, t, -1).permute(1, 0, 2, 3).reshape(b, -1)

    def _shift_maps(self, maps: torch.Tensor, augment: bool, shifts: tuple[torch.Tensor, torch.Tensor] | None) -> torch.Tensor:
        """Cached trunk maps [C*B*t, C_trunk, h, w] -> the same, moved by the image shift the augmentation stands for
        (``shift_maps``). A shift-grid cache ([C*B*t, K, ...]) holds the maps of K exactly shifted copies: augmentation
        picks the one of each row's offsets (``shifts``, on the grid, or freshly drawn from it), no augmentation the
        centre one, the unshifted frame."""
        c = self.config
        return augment_cached_maps(maps, c.augment_shift, self.encoder.trunk.output_stride, augment, shifts)

    def _future_loss(
        self, batch: Batch, task: torch.Tensor, hidden: torch.Tensor, shifts: tuple[torch.Tensor, torch.Tensor] | None
    ) -> torch.Tensor:
        """Per-sample MSE [B] between the image features predicted from ``hidden`` and those of the frames ahead.

        The target goes through the same trunk, under no_grad (stop-gradient): the action loss keeps the
        features informative, and without the stop the trunk could satisfy this loss by making the current
        and the future frame's features alike (or constant) instead of making ``hidden`` foresee the
        scene. An EMA copy of the trunk as target encoder (BYOL, SPR) would be the alternative; it costs
        a second set of weights. The frames ahead get the crop offsets of their sample's current frame, so
        a shift is never what the predictor has to guess.
        """
        c, b, f = self.config, batch.size, len(self.config.future_frame_offsets)
        cams = len(c.cameras)
        with torch.no_grad():
            if shifts is not None:  # the current frame's offsets: row (camera, sample, T-1) of the observation
                shifts = tuple(o.view(cams, b, c.obs_history)[:, :, -1:].expand(cams, b, f).reshape(-1) for o in shifts)
            # the frames ahead (from the feature cache when training on it), through the first member's encoder
            seen = self._seen(batch, f, shifts is not None, shifts, future=True)
            target = self._features(self.encoder, seen, task, b, f)  # [B, C*F*out_dim], cameras outermost
            target = target.view(b, cams, f, -1).transpose(1, 2).reshape(b, -1)  # per offset, cameras side by side
            # Per-dimension standardisation over the batch: keypoints (in [-1, 1]) and pooled activations have
            # different scales, and a per-sample (layer) norm would let the widest dimensions dominate the
            # loss; the floor keeps near-constant dimensions (e.g. a dead channel) from turning into noise.
            target = (target - target.mean(0)) / target.std(0, unbiased=False).clamp(min=1e-2)
        return (self.future_head(hidden) - target).pow(2).mean(-1)

    def compute_loss(self, batch: Batch) -> torch.Tensor:
        c = self.config
        action = self._feature(batch, keys.ACTION)
        if tuple(action.shape[1:]) != (c.horizon, c.action_dim):
            raise DatasetError(f"batch action has shape {list(action.shape)}; {c.label} expects [B, {c.horizon}, {c.action_dim}]")
        pad_key = keys.ACTION + keys.PAD_SUFFIX
        real = (
            (~batch.features[pad_key].to(self.device)).float()
            if pad_key in batch.features
            else torch.ones(action.shape[:2], device=self.device)
        )
        augment = self.training
        shifts = None
        if augment and c.augment_shift > 0 and c.future_weight > 0:  # drawn here: the frames ahead reuse them
            n = len(c.cameras) * batch.size * c.obs_history
            grid = batch.features.get(keys.cached_key(keys.image_key(c.cameras[0])))
            if grid is not None and grid.dim() == 6:  # a shift-grid cache: offsets it holds maps of
                shifts = grid_offsets(n, c.augment_shift, grid_side(grid.shape[2]), self.device)
            else:
                shifts = shift_offsets(n, c.augment_shift, self.device)
        preds, feats, task, hidden = self._predict(batch, augment, shifts)
        err = (preds - self.normalizer.normalize(keys.ACTION, action)).abs().mean(-1).mean(0)  # [B, H]: members' mean
        loss = (err * real).sum(1) / real.sum(1).clamp(min=1.0)  # mean over the real steps of each sample
        self.last_terms["loss_l1"] = float(loss.detach().mean())
        if c.aux_state_weight > 0:
            target = self.aux_norm.normalize(keys.ENV_STATE, self._feature(batch, keys.ENV_STATE))
            aux = (self.aux_head(torch.cat([feats, task], dim=1)) - target).abs().mean(-1)
            self.last_terms["loss_aux"] = float(aux.detach().mean())
            loss = loss + c.aux_state_weight * aux
        if c.future_weight > 0:
            future = self._future_loss(batch, task, hidden, shifts)
            self.last_terms["loss_future"] = float(future.detach().mean())
            loss = loss + c.future_weight * future
        return loss

    @torch.inference_mode()
    def sample_actions(self, batch: Batch, noise: torch.Tensor | None = None) -> ActionChunk:
        """Actions [B, H, D] in environment units, clipped to [action_low, action_high]; ``noise`` is ignored."""
        start = time.perf_counter()
        was_training = self.training
        if was_training:  # augmentation off; an eval-mode policy is not touched (thread-safe serving)
            self.eval()
        try:
            actions, info = self._act(batch, self._acting_seen(batch))
        finally:
            if was_training:
                self.train()
        return ActionChunk(actions=actions, inference_ms=(time.perf_counter() - start) * 1e3, info=info)

    def _acting_seen(self, batch: Batch) -> torch.Tensor:
        """``_seen`` for acting: cached=False, so the trunk always runs on the real frame, never on maps a batch might
        carry. The maps do not depend on the instruction, so one pass serves every instruction a call conditions on
        (the grounding's scene vector here, the subtask head's inputs in the hierarchical policy)."""
        return self._seen(batch, self.config.obs_history, augment=False, cached=False)

    def _act(self, batch: Batch, seen: torch.Tensor) -> tuple[Any, dict[str, Any]]:
        """Actions [B, H, D] (numpy, environment units, clipped) and the chunk's info, from ``_acting_seen``'s output."""
        c = self.config
        batch, readings = self._ground_for_acting(batch, seen)
        chunk = self._predict(batch, augment=False, cached=False, seen=seen)[0].mean(0)  # an ensemble: the mean of its members
        actions = self.normalizer.unnormalize(keys.ACTION, chunk).clamp(c.action_low, c.action_high).float().cpu().numpy()
        info: dict[str, Any] = {"policy": "l1"}
        if readings[0] is not None:  # what the first row's instruction was taken to mean (one row when acting)
            info.update(readings[0].info())
        return actions, info

    def _ground_for_acting(self, batch: Batch, seen: torch.Tensor) -> tuple[Batch, list]:
        """``ground_batch`` with the scene vectors of this call's trunk pass: new words -> a trained phrasing."""
        return self.ground_batch(batch, lambda: self._scene_of(seen, batch.size))

    def scene_vector(self, batch: Batch) -> torch.Tensor | None:
        """The frozen trunk's maps of each camera's latest frame, averaged over the image, cameras side by side
        [B, C*C_trunk]: what is in view, not where (the grounding's scene term). None for the conv trunk, which is
        trained with the task and has no task-independent features."""
        if self.config.vision == "cnn":
            return None
        with torch.inference_mode():
            return self._scene_of(self._seen(batch, self.config.obs_history, augment=False, cached=False), batch.size)

    def _scene_of(self, seen: torch.Tensor, b: int) -> torch.Tensor | None:
        """``scene_vector`` from ``_seen``'s output [C*B*t, C_trunk, h, w] (None for the conv trunk: those are images)."""
        c = self.config
        if c.vision == "cnn":
            return None
        pooled = seen.mean((2, 3)).view(len(c.cameras), b, c.obs_history, -1)[:, :, -1]  # [C, B, C_trunk]
        return pooled.permute(1, 0, 2).reshape(b, -1).float()


class _Member(nn.Module):
    """A further member of an ensemble (``L1Config.members``): its own instruction projection, vision part and MLP."""

    def __init__(self, task: nn.Module, encoder: nn.Module, head: nn.Sequential) -> None:
        super().__init__()
        self.task, self.encoder, self.head = task, encoder, head
