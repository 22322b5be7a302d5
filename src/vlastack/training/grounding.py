"""Fitting a policy's instruction grounding (policies/components/grounding.py) after training.

The words: each trained task's training phrasings (envs/instructions.py ``train_instructions``) and their sentence
vectors from the policy's own text cache, so the grounding compares new words with exactly what the policy was
trained on. The scene: the policy's :meth:`~vlastack.policies.base.Policy.scene_vector` of each task's first
frame at the demonstration seeds (``vlastack collect`` starts at seed 0), rendered as evaluation renders them.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import torch

from vlastack.errors import ConfigError
from vlastack.policies.base import Policy
from vlastack.policies.components.grounding import GROUNDING_FILE, InstructionGrounding


def fit_grounding(policy: Policy, tasks: Sequence[str], starts: int = 10, scene: bool = True) -> InstructionGrounding:
    """The grounding of ``policy`` over ``tasks`` (each must be one the policy was trained on), its scene term fitted
    on ``starts`` demonstration starts per task (``scene`` False, or a family without scene vectors: words only)."""
    from vlastack.envs.instructions import train_instructions

    caches = policy._text_caches()
    if not caches:
        raise ConfigError(
            f"{policy.config.label} reads instructions without a sentence encoder (text_encoder='minilm' needed to ground new words)"
        )
    known = caches[0].cache
    texts, labels = [], []
    for task in tasks:
        phrasings = train_instructions(task)
        missing = [p for p in phrasings if p not in known]
        if missing:
            raise ConfigError(
                f"task {task!r}: the policy was not trained on its phrasing(s) {missing}; ground only the tasks it was trained on"
            )
        texts += phrasings
        labels += [task] * len(phrasings)
    vectors = caches[0].encode(texts)
    scenes = _scene_vectors(policy, tasks, starts) if scene else None
    return InstructionGrounding.fit(texts, labels, vectors, scenes)


def _scene_vectors(policy: Policy, tasks: Sequence[str], starts: int) -> dict[str, torch.Tensor] | None:
    from vlastack.envs.metaworld import make_env
    from vlastack.policies import batch_from_observation

    if starts < 2:
        raise ConfigError(f"starts must be >= 2 (a task's spread needs two starts), got {starts}")
    c = policy.config
    out: dict[str, torch.Tensor] = {}
    for task in tasks:
        env = make_env(task, cameras=tuple(c.cameras), image_size=int(policy.recorded_image_size[0]), depth=bool(c.use_depth), touch=True)
        try:
            rows = []
            for seed in range(starts):
                observation, _ = env.reset(seed=seed)
                vector = policy.scene_vector(batch_from_observation([observation] * int(getattr(c, "obs_history", 1))))
                if vector is None:
                    return None  # this family has no scene vectors: the words alone
                rows.append(vector[0])
            out[task] = torch.stack(rows)
        finally:
            env.close()
    return out


def save_grounding(grounding: InstructionGrounding, directory: str | Path) -> Path:
    """Write ``grounding.safetensors`` into a policy directory atomically (a crash leaves the old file or none)."""
    directory = Path(directory)
    tmp = directory / ".grounding.tmp"
    tmp.mkdir(exist_ok=True)
    try:
        path = grounding.save(tmp)
        os.replace(path, directory / GROUNDING_FILE)
    finally:
        for leftover in tmp.iterdir():
            leftover.unlink()
        tmp.rmdir()
    return directory / GROUNDING_FILE
