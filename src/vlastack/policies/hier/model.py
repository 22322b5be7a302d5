"""The hierarchical policy (pi0.5 / Hi Robot style, on the l1 backbone): say the subtask, then act on it.

At every call of ``sample_actions`` (one re-plan per executed chunk) the high level reads the images
(through the l1 conv trunk, FiLM-conditioned on the overall instruction), the state, the instruction
and which subtasks the episode has done so far, and picks the current subtask from a closed set of
strings (classification, not free text). Two designs (``HierConfig.head``):

- ``joint``: one classifier over the vocabulary; a pick other than the subtask in progress means that
  one is done and joins the done list (the plan moves on).
- ``factored``: a done-detector says whether the subtask in progress is done; only then does it join
  the done list, and a plan head, reading the instruction and the done counts (with ``plan_sees_scene``
  also the images and state), names the next.

The low level is the l1 action policy, conditioned on the chosen subtask's text instead of the
instruction. Training (``compute_loss``): the l1 loss with each frame's true subtask as the
instruction, plus the high level's loss on two readings of every frame: with the done list in step
with the expert, and, from the second stage on, one subtask behind (the previous stage counts as done
once ``switch_delay`` frames of the current one have passed). The second reading teaches the high
level to notice from what it sees that a stage is done.

Every chunk carries an :class:`~vlastack.types.Explanation` per row (``chunk.explanations``): the
subtask, the plan (done, current, and with the factored head the next ones it predicts), and a reason
built from this re-plan's own numbers and the chunk's commanded motion (explain.py).
"""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from vlastack import keys
from vlastack.checkpoint import read_policy_meta
from vlastack.errors import CheckpointError, DatasetError
from vlastack.policies.base import Policy
from vlastack.policies.hier.config import HierConfig, low_prompt
from vlastack.policies.hier.explain import MAX_PLAN_STEPS, MIN_LOOKAHEAD_P, explanation
from vlastack.policies.l1.config import L1Config
from vlastack.policies.l1.model import L1Policy
from vlastack.policies.registry import POLICIES
from vlastack.types import EXPLANATIONS, ActionChunk, Batch


def _mlp(width: int, hidden: int, out: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Linear(width, hidden), nn.LayerNorm(hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(), nn.Linear(hidden, out)
    )


#: Plan-label features a training batch must carry (keys.py; data/windows.py ``subtasks=``).
PLAN_FEATURES = (keys.SUBTASK_TARGET, keys.SUBTASK_HISTORY, keys.SUBTASK_PREVIOUS, keys.SUBTASK_SINCE)


def lagged_labels(
    target: torch.Tensor, history: torch.Tensor, previous: torch.Tensor, since: torch.Tensor, switch_delay: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The "one subtask behind" reading of each sample: done counts [B, V] without the previous stage's
    subtask, its label [B] (the current stage's subtask once ``since >= switch_delay`` frames of it have
    passed, the previous stage's before), and which samples have such a reading [B] (not the first stage)."""
    behind = previous >= 0
    prev = previous.clamp(min=0)
    lag_history = history - F.one_hot(prev, history.shape[1]).to(history) * behind[:, None].to(history)
    return lag_history, torch.where(since >= switch_delay, target, prev), behind


@POLICIES.register("hier")
class HierPolicy(L1Policy):
    """An l1 policy (its weights keep their names, so an l1 checkpoint fine-tunes into it) plus a subtask head."""

    policy_name = "hier"
    config_class = HierConfig

    def __init__(self, config: HierConfig, stats: dict | None = None, pretrained_weights: bool = True) -> None:
        """``pretrained_weights``: as for :class:`L1Policy` (a frozen ImageNet trunk; False when loading a checkpoint)."""
        super().__init__(config, stats, pretrained_weights)
        c = self.config
        frames = len(c.cameras) * c.obs_history
        v = len(c.subtasks)
        width = frames * self.encoder.out_dim + (c.obs_history * c.state_dim if c.use_state else 0) + c.task_dim + v
        if c.head == "joint":
            self.high = _mlp(width, c.high_hidden, v)
        else:  # factored: the plan from words and counts (and the scene if asked); completion from what is seen
            self.plan_head = _mlp(width if c.plan_sees_scene else c.task_dim + v, c.high_hidden, v)  # width counts the done counts
            motion = 2 * c.state_dim if c.done_sees_motion else 0  # see HierConfig.done_sees_motion
            self.done_head = _mlp(width + motion + v, c.high_hidden, 1)
        self._plans: list[dict[str, Any]] = []  # per batch row during an episode: instruction, current, done
        self.last_plan: list[dict[str, Any]] = []
        """Per batch row, what the last ``sample_actions`` decided: subtask, done subtasks, probabilities,
        the subtask in progress before (``previous``), whether this re-plan judged it done (``finished``) and,
        factored head, the predicted next ones (``ahead``)."""

    # ---- the high level --------------------------------------------------------------------------
    def subtask_logits(self, batch: Batch, history: torch.Tensor, augment: bool = False, seen: torch.Tensor | None = None) -> torch.Tensor:
        """Subtask logits [B, V] from the observation, the instruction and done-subtask counts [B, V] (``seen``: the
        acting trunk pass, when there is one)."""
        return self._high(self._high_inputs(batch, augment, seen), history)

    def _high_inputs(self, batch: Batch, augment: bool, seen: torch.Tensor | None = None) -> torch.Tensor:
        """Image features (trunk conditioned on the instruction), normalised state and instruction vector [B, F];
        the instruction vector is the last ``task_dim`` columns. ``seen``: the acting trunk pass, when there is one."""
        task = self.task(self.text(batch.instruction, self.device))
        parts = [self._image_features(batch, task, augment, seen=seen)]
        if self.config.use_state:
            parts.append(self.normalizer.normalize(keys.STATE, self._feature(batch, keys.STATE)).flatten(1))
        return torch.cat([*parts, task], dim=1)

    def plan_logits(self, inputs: torch.Tensor, history: torch.Tensor) -> torch.Tensor:
        """Factored head: logits [B, V] of the next subtask from the instruction vector (with ``plan_sees_scene``, all
        of ``inputs``) and done counts [B, V]."""
        read = inputs if self.config.plan_sees_scene else inputs[:, -self.config.task_dim :]
        return self.plan_head(torch.cat([read, history.to(inputs)], dim=1))

    def done_logit(self, inputs: torch.Tensor, current: torch.Tensor, history: torch.Tensor) -> torch.Tensor:
        """Factored head: logit [B] that subtask ``current`` (vocabulary index [B]) is done. ``inputs``: the high
        level's inputs, with ``done_sees_motion`` followed by :meth:`motion_features`."""
        onehot = F.one_hot(current, len(self.config.subtasks)).to(inputs)
        return self.done_head(torch.cat([inputs, history.to(inputs), onehot], dim=1))[:, 0]

    def motion_features(self, batch: Batch, extremes: torch.Tensor) -> torch.Tensor:
        """[B, 2S]: the highest and lowest state since the subtask began (``extremes`` [B, 2, S], environment units)
        minus the current state, and the current state minus the lowest, in the state normaliser's units (>= 0)."""
        now = self._feature(batch, keys.STATE)[:, -1].to(self.device)
        scale = self.normalizer.scale(keys.STATE)
        extremes = extremes.to(now)
        return torch.cat([(extremes[:, 0] - now) / scale, (now - extremes[:, 1]) / scale], dim=1)

    def _high(self, inputs: torch.Tensor, history: torch.Tensor) -> torch.Tensor:
        return self.high(torch.cat([inputs, history.to(inputs)], dim=1))

    # ---- training ---------------------------------------------------------------------------------
    def compute_loss(self, batch: Batch) -> torch.Tensor:
        c = self.config
        missing = [k for k in PLAN_FEATURES if k not in batch.features]
        if batch.subtask is None or missing:
            raise DatasetError(
                f"{c.label} trains on plan labels (Batch.subtask and {list(PLAN_FEATURES)}); this batch lacks "
                f"{missing or ['subtask']}: build the WindowDataset with subtasks=config.subtask_vocabulary"
            )
        low = super().compute_loss(replace(batch, instruction=c.low_prompts(batch.instruction, batch.subtask)))
        f = {k: batch.features[k].to(self.device) for k in PLAN_FEATURES}
        target, history, previous, since = (
            f[keys.SUBTASK_TARGET].long(),
            f[keys.SUBTASK_HISTORY].float(),
            f[keys.SUBTASK_PREVIOUS].long(),
            f[keys.SUBTASK_SINCE],
        )
        inputs = self._high_inputs(batch, augment=self.training)
        if c.head == "factored":
            motion = None
            if c.done_sees_motion:
                lacking = [k for k in (keys.SUBTASK_MOTION, keys.SUBTASK_MOTION_LAG) if k not in batch.features]
                if lacking:
                    raise DatasetError(
                        f"{c.label} has done_sees_motion: the batch lacks {lacking} (data/windows.py makes them from {keys.STATE!r})"
                    )
                motion = (
                    self.motion_features(batch, batch.features[keys.SUBTASK_MOTION]),
                    self.motion_features(batch, batch.features[keys.SUBTASK_MOTION_LAG]),
                )
            return low + c.high_weight * self._factored_loss(inputs, target, history, previous, since, motion)
        logits = self._high(inputs, history)  # the done list in step with the expert
        in_step = F.cross_entropy(logits, target, reduction="none")
        lag_history, lag_target, behind = lagged_labels(target, history, previous, since, c.switch_delay)
        lag_logits = self._high(inputs, lag_history)
        lagged = F.cross_entropy(lag_logits, lag_target, reduction="none") * behind.float()
        high = (in_step + lagged) / (1.0 + behind.float())  # mean over the readings each sample has
        with torch.no_grad():
            self.last_terms["loss_subtask"] = float(high.mean())
            self.last_terms["subtask_acc"] = float((logits.argmax(1) == target).float().mean())
            if behind.any():
                self.last_terms["switch_acc"] = float((lag_logits.argmax(1) == lag_target)[behind].float().mean())
        return low + c.high_weight * high

    def _factored_loss(
        self,
        inputs: torch.Tensor,
        target: torch.Tensor,
        history: torch.Tensor,
        previous: torch.Tensor,
        since: torch.Tensor,
        motion: tuple[torch.Tensor, torch.Tensor] | None = None,
    ) -> torch.Tensor:
        """Plan cross-entropy (the done list in step) plus the done-detector's binary cross-entropy on both
        readings: in step (the current stage is not done) and one behind (the previous stage is done once
        ``switch_delay`` frames of the current one have passed; with ``done_window`` only for that many frames).
        ``motion``: with ``done_sees_motion``, the detector's motion features [B, 2S] for the in-step reading (since
        the current stage began) and the one-behind reading (since the previous stage began)."""
        plan = self.plan_logits(inputs, history)
        plan_loss = F.cross_entropy(plan, target, reduction="none")
        lag_history, lag_target, behind = lagged_labels(target, history, previous, since, self.config.switch_delay)
        in_inputs, lag_inputs = (inputs, inputs) if motion is None else (torch.cat([inputs, m], dim=1) for m in motion)
        in_step = self.done_logit(in_inputs, target, history)
        lagged = self.done_logit(lag_inputs, previous.clamp(min=0), lag_history)
        done_label = (lag_target == target).float()  # behind and past the delay: the previous stage is done
        bce_in = F.binary_cross_entropy_with_logits(in_step, torch.zeros_like(in_step), reduction="none")
        if self.config.repeat_refractory > 0:  # not asked at acting time there either (see HierConfig.repeat_refractory)
            bce_in = bce_in * ~((previous == target) & (since < self.config.repeat_refractory))
        if self.config.done_window > 0:  # "done" taught on the event, not on the rest of the next stage
            behind = behind & (since < self.config.switch_delay + self.config.done_window)
        bce_lag = F.binary_cross_entropy_with_logits(lagged, done_label, reduction="none") * behind.float()
        with torch.no_grad():
            self.last_terms["loss_plan"] = float(plan_loss.mean())
            self.last_terms["subtask_acc"] = float((plan.argmax(1) == target).float().mean())
            right = torch.cat([(in_step < 0), ((lagged > 0) == (done_label > 0.5))[behind]])
            self.last_terms["done_acc"] = float(right.float().mean())
        return plan_loss + (bce_in + bce_lag) / (1.0 + behind.float())

    # ---- acting -----------------------------------------------------------------------------------
    def reset(self) -> None:
        """A new episode: forget the plan (the done subtasks and the one in progress) and the grounding's readings."""
        super().reset()
        self._plans = []
        self.last_plan = []

    def episode_memory(self) -> dict[str, Any]:
        """The plan of each row (the done subtasks, the one in progress), the last re-plan's decision and the
        grounding's readings."""
        return {"plans": self._plans, "last_plan": self.last_plan, "grounded": super().episode_memory()}

    def restore_episode_memory(self, memory: dict[str, Any] | None) -> None:
        if memory is None:
            self.reset()
        else:
            self._plans, self.last_plan = memory["plans"], memory["last_plan"]
            super().restore_episode_memory(memory.get("grounded") or {})

    @torch.inference_mode()
    def sample_actions(self, batch: Batch, noise: torch.Tensor | None = None) -> ActionChunk:
        """Re-plan (pick each row's subtask), then the l1 chunk [B, H, D] conditioned on it; ``noise`` is ignored."""
        start = time.perf_counter()
        c, b = self.config, batch.size
        if len(self._plans) != b:
            self._plans = [{} for _ in range(b)]
        for plan, instruction in zip(self._plans, batch.instruction):
            if plan.get("instruction") != instruction:  # another task: start its plan afresh
                plan.clear()
                plan.update(instruction=instruction, current=None, done=[])
        was_training = self.training
        if was_training:
            self.eval()
        try:
            seen = self._acting_seen(batch)  # one trunk pass for the re-plan and the chunk (the maps ignore the words)
            # New words of the overall instruction -> a trained phrasing (with a grounding, once per episode): the
            # high level reads it. The low level's prompts are built from it and the subtask, never re-grounded.
            batch, readings = super()._ground_for_acting(batch, seen)  # l1's grounding; this class's own hook is a no-op
            if c.head == "factored":
                self._replan_factored(batch, seen)
            else:
                self._replan_joint(batch, seen)
            prompts = c.low_prompts(batch.instruction, [p["current"] for p in self._plans])
            actions, _ = self._act(replace(batch, instruction=prompts), seen)
        finally:
            if was_training:
                self.train()
        executed = actions[:, : c.execute_steps or c.horizon]  # what runs before the next re-plan
        info = {
            "policy": "hier",
            "subtask": [p["subtask"] for p in self.last_plan],
            EXPLANATIONS: tuple(explanation(entry, rows) for entry, rows in zip(self.last_plan, executed)),
        }
        if readings[0] is not None:  # what the first row's instruction was taken to mean (one row when acting)
            info.update(readings[0].info())
        return ActionChunk(actions=actions, inference_ms=(time.perf_counter() - start) * 1e3, info=info)

    def _ground_for_acting(self, batch: Batch, seen: torch.Tensor) -> tuple[Batch, list]:
        """The low level's prompts as they are: subtask texts (or built from the instruction ``sample_actions``
        already grounded), which a grounding fitted on the overall instructions does not know and would reroute."""
        return batch, [None] * batch.size

    def _replan_factored(self, batch: Batch, seen: torch.Tensor) -> None:
        """Ask the done-detector about each row's subtask in progress; where it fires (p > 0.5), or at the
        start, the plan head names the next subtask given the done list. ``seen``: the acting trunk pass."""
        c = self.config
        inputs = self._high_inputs(batch, augment=False, seen=seen)
        history = torch.stack([self._counts(p["done"]) for p in self._plans])
        started = [p["current"] is not None for p in self._plans]
        previous = [p["current"] for p in self._plans]
        current = torch.tensor([c.subtasks.index(p["current"]) if p["current"] else 0 for p in self._plans])
        now = self._feature(batch, keys.STATE)[:, -1].float().cpu() if c.done_sees_motion else None
        done_inputs = inputs
        if now is not None:  # widen each row's extremes by this re-plan's state (a fresh subtask: the state alone)
            for plan, state in zip(self._plans, now):
                high, low = torch.tensor(plan.get("high", state.tolist())), torch.tensor(plan.get("low", state.tolist()))
                plan["high"], plan["low"] = torch.maximum(high, state).tolist(), torch.minimum(low, state).tolist()
            extremes = torch.tensor([[p["high"], p["low"]] for p in self._plans])
            done_inputs = torch.cat([inputs, self.motion_features(batch, extremes)], dim=1)
        done = torch.sigmoid(self.done_logit(done_inputs, current.to(self.device), history)).float().cpu()
        finished = [
            bool(was_started and p_done > 0.5 and not self._refractory(p)) for was_started, p_done, p in zip(started, done, self._plans)
        ]
        for plan, moves_on in zip(self._plans, finished):
            if moves_on:
                plan["done"].append(plan["current"])  # predicted done: the plan moves on
        history = torch.stack([self._counts(p["done"]) for p in self._plans])
        probs = torch.softmax(self.plan_logits(inputs, history), dim=1).float().cpu()
        self.last_plan = []
        states = now.tolist() if now is not None else [None] * len(self._plans)
        for plan, p_next, p_done, before, moved_on, was_started, state in zip(
            self._plans, probs, done, previous, finished, started, states
        ):
            if moved_on or not was_started:  # the plan is asked only then: a plan that reads the scene would otherwise
                plan["current"] = c.subtasks[int(p_next.argmax())]  # switch away from a subtask in progress as the scene changes
                if state is not None:  # the new subtask's motion starts here
                    plan["high"], plan["low"] = list(state), list(state)
            # control steps the subtask in progress will have run by the next re-plan (this chunk's included)
            plan["age"] = (0 if moved_on or before is None else plan.get("age", 0)) + (c.execute_steps or c.horizon)
            self.last_plan.append(
                {
                    "subtask": plan["current"],
                    "done": list(plan["done"]),
                    "probability": float(p_next[c.subtasks.index(plan["current"])]),  # the plan head's, for the subtask kept
                    "done_probability": float(p_done),
                    "previous": before,
                    "finished": moved_on,
                }
            )
        for entry, ahead in zip(self.last_plan, self._look_ahead(inputs)):
            entry["ahead"] = ahead

    def _refractory(self, plan: dict[str, Any]) -> bool:
        """Whether the subtask in progress repeats the one just done and has run under ``repeat_refractory`` steps."""
        repeats = bool(plan["done"]) and plan["done"][-1] == plan["current"]
        return repeats and plan.get("age", 0) < self.config.repeat_refractory

    def _look_ahead(self, inputs: torch.Tensor) -> list[list[str]]:
        """Per row, the subtasks the plan head predicts after the current one: it reads the instruction and the
        done list (with ``plan_sees_scene`` also the current scene, held fixed), so it can be asked "and then?" by
        counting the current subtask as done. Stops at ``MAX_PLAN_STEPS`` in all, at a pick under
        ``MIN_LOOKAHEAD_P``, or at the subtask just named (two stages in a row never share one)."""
        sequences = [[*p["done"], p["current"]] for p in self._plans]
        ahead: list[list[str]] = [[] for _ in self._plans]
        going = [len(s) < MAX_PLAN_STEPS for s in sequences]
        while any(going):
            history = torch.stack([self._counts(s) for s in sequences])
            probs = torch.softmax(self.plan_logits(inputs, history), dim=1).float().cpu()
            for i, p in enumerate(probs):
                if not going[i]:
                    continue
                pick = self.config.subtasks[int(p.argmax())]
                if float(p.max()) < MIN_LOOKAHEAD_P or pick == sequences[i][-1]:
                    going[i] = False
                    continue
                sequences[i].append(pick)
                ahead[i].append(pick)
                going[i] = len(sequences[i]) < MAX_PLAN_STEPS
        return ahead

    def _replan_joint(self, batch: Batch, seen: torch.Tensor) -> None:
        """The joint head picks each row's subtask; a pick other than the one in progress marks that one done."""
        c = self.config
        history = torch.stack([self._counts(p["done"]) for p in self._plans])
        probs = torch.softmax(self.subtask_logits(batch, history, seen=seen), dim=1).float().cpu()
        self.last_plan = []
        for plan, p in zip(self._plans, probs):
            choice, before = c.subtasks[int(p.argmax())], plan["current"]
            moved_on = before is not None and choice != before
            if moved_on:
                plan["done"].append(before)  # predicted done: the plan moves on
            plan["current"] = choice
            entry = {"subtask": choice, "done": list(plan["done"]), "probability": float(p.max()), "previous": before, "finished": moved_on}
            self.last_plan.append(entry)  # no look-ahead: this head reads the images, which show only now

    def _counts(self, done: list[str]) -> torch.Tensor:
        counts = torch.zeros(len(self.config.subtasks))
        for s in done:
            counts[self.config.subtasks.index(s)] += 1.0
        return counts

    def prepare_instructions(self, instructions) -> None:
        """The dataset's instructions and every low-level prompt (the subtask texts, or with ``low_prompt="both"``
        each instruction with each subtask) go into the cache."""
        c = self.config
        prompts = c.subtasks if c.low_prompt == "subtask" else [low_prompt(i, s) for i in instructions for s in c.subtasks]
        super().prepare_instructions([*instructions, *prompts])

    # ---- fine-tuning from a flat l1 checkpoint ------------------------------------------------------
    @classmethod
    def from_pretrained(cls, directory: str | Path, expect: Any = None) -> Policy:
        """A hier checkpoint as usual; an ``l1`` checkpoint (with ``expect``, a HierConfig whose l1 fields equal
        the checkpoint's) gives the hierarchical policy with those weights and a fresh subtask head."""
        path = Path(directory)
        if read_policy_meta(path)["policy"] != L1Policy.policy_name:
            return super().from_pretrained(path, expect=expect)
        if not isinstance(expect, HierConfig):
            raise CheckpointError(f"{path} holds an l1 policy: pass the HierConfig to build around it as expect")
        flat = L1Policy.from_pretrained(path, expect=L1Config(**expect.l1_fields()))  # refuses other l1 settings
        policy = cls(expect)
        state = {**policy.state_dict(), **flat.state_dict()}  # the l1 weights and stats; the head stays fresh
        policy.load_state_dict_checked(state, str(path))
        policy.data_info = dict(flat.data_info)
        for encoder in policy._text_caches():
            encoder.load_cache(path)
        return policy
