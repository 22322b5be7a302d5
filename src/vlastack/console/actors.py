"""What proposes a console session's actions: the scripted expert, or a policy behind an executor."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np


class ExpertActor:
    """The scripted expert of the task: reads the privileged state, not the words."""

    describes = "scripted expert (reads the simulator's privileged state; it does not read instructions)"
    reads_words = False
    explanation = None  # the expert says nothing of its own: the page shows its phase rules instead

    def __init__(self, task: str) -> None:
        self.task = task
        self.reset(0)

    def reset(self, seed: int) -> None:
        from vlastack.envs.experts import expert_for

        self._expert = expert_for(self.task)  # fresh: the chained expert remembers stages within an episode

    def resume(self) -> None:
        pass

    def __call__(self, observation: Any, info: dict, now_s: float) -> np.ndarray | None:
        return self._expert.act(observation, info)


class PolicyActor:
    """A checkpoint behind an executor; sees only its own cameras and the operator's instruction.

    ``explanation`` is the policy's latest :class:`~vlastack.types.Explanation` (set at each re-plan, that
    is each chunk it makes), None for a policy that gives none or before its first chunk of an episode.
    """

    reads_words = True

    def __init__(self, checkpoint: Path, executor: str, clock: Any) -> None:
        import torch

        from vlastack.execution import make_executor
        from vlastack.policies import batch_from_observation, load_policy

        self._torch, self._batch = torch, batch_from_observation
        self.policy = load_policy(checkpoint).pack_for_inference()
        c = self.policy.config
        self.cameras = tuple(c.cameras)
        self.image_size = int(self.policy.recorded_image_size[0])
        self.depth = bool(c.use_depth)
        from vlastack.assets import DEMO_POLICY

        where = "the shipped demo policy" if Path(checkpoint).resolve() == Path(DEMO_POLICY).resolve() else str(checkpoint)
        self.describes = f"policy {c.name}, {where}, {executor} executor"
        k = getattr(c, "execute_steps", None)
        self.executor = make_executor(executor, self._sample, clock=clock, **({"k": k} if executor == "sync" and k else {}))
        self.explanation = None

    def _sample(self, observation: Any) -> Any:
        with self._torch.inference_mode():
            chunk = self.policy.sample_actions(self._batch(observation))
        explanations = chunk.explanations
        self.explanation = explanations[0] if explanations else None  # one reference swap: any thread may read it
        return chunk

    def reset(self, seed: int) -> None:
        self._torch.manual_seed(seed)  # the episode's noise depends on its seed only, as in evaluation
        self.executor.reset()
        self.policy.reset()  # a hierarchical policy's plan is the episode's: the next one plans afresh
        self.explanation = None

    def resume(self) -> None:
        # A chunk planned before the stop is stale: ask the policy again from what it sees now.
        self.executor.reset()

    def __call__(self, observation: Any, info: dict, now_s: float) -> np.ndarray | None:
        images = {k: v for k, v in observation.images.items() if k in self.cameras}
        depth = {k: v for k, v in observation.depth.items() if k in self.cameras}
        return self.executor.step(dataclasses.replace(observation, images=images, depth=depth), now_s)
