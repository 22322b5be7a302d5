"""Grounding an instruction in words the policy never saw onto the skills it was trained on.

A policy trained on three phrasings per task has seen three points per task in the sentence-embedding
space. A new wording lands somewhere else, and the policy reads it as no task in particular (MT10 91 ->
82 %, MT50 57 -> 22 % with the unseen wording: BENCHMARKS.md). The grounding decides which trained skill
the words ask for and hands the policy that skill's own trained phrasing instead.

It scores every trained task by two things, as SayCan (Ahn et al. 2022) multiplies a language model's
score of a skill by the skill's value in the current scene:

* **what the words say**: the best cosine between the instruction's MiniLM vector and the task's trained
  phrasings' vectors;
* **what the camera sees**: how far the first frame's scene vector (the frozen image trunk's maps,
  averaged over the image, per camera) lies from the task's centroid, in units of that task's own
  spread. The centroids are fitted on the starts of the demonstration episodes (``vlastack ground``).

``score = cosine - scene_weight * distance / radius``; the top task wins. In Meta-World the scene alone
tells most tasks apart (a nearest centroid picks the right one of 50 in 94 % of validation starts); the
words decide between tasks that share a scene (reach, push and pick-place; a faucet to open or close).
``margin`` is the lead of the winner over the runner-up: below :data:`AMBIGUOUS_MARGIN` the reading is
flagged as ambiguous, which a console can turn into a question. An instruction that is one of the trained
phrasings is never re-grounded.

The scene term is not capped: a start that lies many radii from every centroid but one makes that one task win
whatever the words say (ask to open a drawer that is already open, and it is read as closing it). Such a reading
keeps the words' own pick in ``words_task``, so a caller can see that the scene overruled them and ask.

Settings were chosen on the dev wording (``instruction_variant`` 5) and validation starts, never on the
unseen wording: ``scene_weight`` 0.2 picks the right task for 236 of 250 MT50 (task, start) pairs, against
175 with the words alone (docs/experiments/2026-12-grounding.md).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import torch

from vlastack.errors import CheckpointError, ConfigError

GROUNDING_FILE = "grounding.safetensors"
#: Weight of the scene distance (in units of a task's own radius) against the words' cosine; chosen on the dev wording.
SCENE_WEIGHT = 0.2
#: A winner that leads the runner-up by less than this is flagged ambiguous (cosine units).
AMBIGUOUS_MARGIN = 0.02


@dataclass(frozen=True)
class Grounded:
    """What an instruction was taken to mean."""

    instruction: str
    """What the policy is given: a trained phrasing of ``task`` (or the input itself when it is one)."""
    task: str
    """The trained task chosen."""
    margin: float
    """Lead of ``task``'s score over the runner-up's (cosine units); 0 for a single-task grounding."""
    used_scene: bool
    """Whether the scene took part (False: the words alone)."""
    words_task: str
    """The task the words alone point to; where it is not ``task``, the scene overruled the words (see the module)."""

    @property
    def ambiguous(self) -> bool:
        return self.margin < AMBIGUOUS_MARGIN

    def info(self) -> dict:
        """JSON-safe facts for a chunk's ``info``."""
        return {
            "grounded_instruction": self.instruction,
            "grounded_task": self.task,
            "grounding_margin": round(self.margin, 4),
            "grounding_words_task": self.words_task,
        }


class InstructionGrounding:
    """Trained phrasings with their tasks and sentence vectors, and (optionally) one scene centroid per task."""

    def __init__(
        self,
        texts: list[str],
        tasks: list[str],
        text_vectors: torch.Tensor,
        scene: dict[str, torch.Tensor] | None = None,
        scene_weight: float = SCENE_WEIGHT,
    ) -> None:
        """``texts``/``tasks``: the trained phrasings and the task of each; ``text_vectors`` [N, D] their unit sentence
        vectors; ``scene``: ``mean``, ``scale`` [F] (standardisation), ``centroids`` [T, F] and ``radius`` [T] per
        task in the order of ``task_names``, or None (words only)."""
        if len(texts) != len(tasks) or len(texts) != len(text_vectors) or not texts:
            raise ConfigError(
                f"grounding needs one task and one vector per phrasing; got {len(texts)} texts, {len(tasks)} tasks, {len(text_vectors)} vectors"
            )
        self.texts, self.tasks = list(texts), list(tasks)
        self.task_names = sorted(set(tasks))
        self.text_vectors = text_vectors.float()
        self._task_index = torch.tensor([self.task_names.index(t) for t in tasks])
        self.scene = scene
        self.scene_weight = float(scene_weight)
        if scene is not None and scene["centroids"].shape[0] != len(self.task_names):
            raise ConfigError(f"grounding has {scene['centroids'].shape[0]} scene centroids for {len(self.task_names)} tasks")
        self._known = set(texts)

    def knows(self, text: str) -> bool:
        return text in self._known

    @property
    def scene_dim(self) -> int | None:
        return None if self.scene is None else int(self.scene["centroids"].shape[1])

    def word_scores(self, text_vector: torch.Tensor) -> torch.Tensor:
        """Per task (``task_names`` order) [T]: the best cosine between the words and the task's trained phrasings."""
        cos = self.text_vectors @ text_vector.float()
        return torch.full((len(self.task_names),), -2.0).scatter_reduce(0, self._task_index, cos, "amax")

    def scene_distances(self, scene_vector: torch.Tensor) -> torch.Tensor:
        """Per task [T]: the scene vector's distance from the task's centroid, in units of the task's radius."""
        z = (scene_vector.float() - self.scene["mean"]) / self.scene["scale"]
        return (self.scene["centroids"] - z).norm(dim=1) / self.scene["radius"]

    def scores(
        self, text_vector: torch.Tensor, scene_vector: torch.Tensor | None = None, scene_weight: float | None = None
    ) -> torch.Tensor:
        """Per task [T]: :meth:`word_scores` less ``scene_weight`` (default: the fitted one) x :meth:`scene_distances`."""
        return self._combine(self.word_scores(text_vector), scene_vector, scene_weight)

    def _combine(self, words: torch.Tensor, scene_vector: torch.Tensor | None, scene_weight: float | None = None) -> torch.Tensor:
        if self.scene is None or scene_vector is None:
            return words
        weight = self.scene_weight if scene_weight is None else scene_weight
        return words - weight * self.scene_distances(scene_vector)

    def ground(self, text: str, text_vector: torch.Tensor, scene_vector: torch.Tensor | None = None) -> Grounded:
        """The trained task ``text`` asks for in this scene, and the phrasing of it to give the policy."""
        if text in self._known:
            task = self.tasks[self.texts.index(text)]
            return Grounded(text, task, 1.0, False, task)
        if scene_vector is not None and self.scene is not None and scene_vector.shape[-1] != self.scene_dim:
            raise ConfigError(f"scene vector has {scene_vector.shape[-1]} entries; the grounding's centroids have {self.scene_dim}")
        words = self.word_scores(text_vector)
        scores = self._combine(words, scene_vector)
        top = torch.topk(scores, min(2, len(scores)))
        task = self.task_names[int(top.indices[0])]
        margin = float(top.values[0] - top.values[1]) if len(scores) > 1 else 0.0
        rows = [i for i, t in enumerate(self.tasks) if t == task]  # the task's phrasing nearest the words
        phrasing = self.texts[max(rows, key=lambda i: float(self.text_vectors[i] @ text_vector.float()))]
        words_task = self.task_names[int(words.argmax())]
        return Grounded(phrasing, task, margin, scene_vector is not None and self.scene is not None, words_task)

    # ---- fitting and storage ---------------------------------------------------------------------------
    @classmethod
    def fit(
        cls,
        texts: list[str],
        tasks: list[str],
        text_vectors: torch.Tensor,
        scene_vectors: dict[str, torch.Tensor] | None,
        scene_weight: float = SCENE_WEIGHT,
    ) -> InstructionGrounding:
        """``scene_vectors``: per task, [n, F] scene vectors of demonstration starts (n >= 2), or None (words only).

        Features are standardised over all starts; a task's radius is the largest distance of its own starts from
        its centroid (so a distance of 1 is as far as any start of that task lay)."""
        scene = None
        if scene_vectors is not None:
            names = sorted(set(tasks))
            missing = [t for t in names if t not in scene_vectors or len(scene_vectors[t]) < 2]
            if missing:
                raise ConfigError(f"grounding needs at least 2 scene vectors for every task; none or one for {missing}")
            every = torch.cat([scene_vectors[t].float() for t in names])
            mean, scale = every.mean(0), every.std(0).clamp_min(1e-3)  # floor: constant features would divide by 0
            z = [(scene_vectors[t].float() - mean) / scale for t in names]
            centroids = torch.stack([v.mean(0) for v in z])
            radius = torch.stack([(v - c).norm(dim=1).max() for v, c in zip(z, centroids)]).clamp_min(1e-3)
            scene = {"mean": mean, "scale": scale, "centroids": centroids, "radius": radius}
        return cls(texts, tasks, text_vectors, scene, scene_weight)

    def save(self, directory: str | Path) -> Path:
        from safetensors.torch import save_file

        path = Path(directory) / GROUNDING_FILE
        tensors = {"text_vectors": self.text_vectors.contiguous()}
        if self.scene is not None:
            tensors.update({f"scene_{k}": v.contiguous() for k, v in self.scene.items()})
        meta = {"texts": json.dumps(self.texts), "tasks": json.dumps(self.tasks), "scene_weight": str(self.scene_weight)}
        save_file(tensors, str(path), metadata=meta)
        return path

    @classmethod
    def load(cls, directory: str | Path) -> InstructionGrounding | None:
        """The grounding saved in a checkpoint directory, or None when it has none."""
        path = Path(directory) / GROUNDING_FILE
        if not path.is_file():
            return None
        from safetensors import safe_open

        try:
            with safe_open(str(path), framework="pt") as f:
                meta = f.metadata()
                tensors = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118 - safe_open has no iteration
            texts, tasks, weight = json.loads(meta["texts"]), json.loads(meta["tasks"]), float(meta["scene_weight"])
        except Exception as err:  # safetensors raises several types for damaged files
            raise CheckpointError(f"{path} is corrupt: {err}") from err
        scene = {k[len("scene_") :]: v for k, v in tensors.items() if k.startswith("scene_")} or None
        return cls(texts, tasks, tensors["text_vectors"], scene, weight)
