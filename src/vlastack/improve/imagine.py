"""RL in the world model (``vlastack improve --method rl-wm``): rl-sim's self-imitation with imagined rollouts.

A round gathers no environment step. It takes real start frames from the demonstrations (``frames_per_task``
per task, a seeded sample of every frame of the task's episodes), and at each frame asks the current policy for
its chunk and makes ``candidates`` alternatives around it (:func:`make_candidates`: rl-sim's Ornstein-Uhlenbeck
exploration noise over the chunk, or the planner's shifted chunks). The world model (a ``vlastack wm guardrail``
directory: its encoder, dynamics model, reward and safety heads and fitted thresholds, and optionally a ``vlastack
wm progress`` head) embeds the frame with its own encoder, rolls every candidate out step by step over the first
``h`` = min(guardrail horizon, policy horizon) steps (the guardrail's rollout), and scores it
(:func:`candidate_scores`)::

    success_bonus * max_j P(success at j) + progress_weight * mean_j progress(j) - unsafe_penalty * flagged

``flagged``: the guardrail's verdict (an unsafe event at or above its fitted threshold at some step, events already
seen in the start frame left out when the guardrail was fitted with ``new_only``). The score plays the part of
rl-sim's episode score; the advantage of a candidate is its score minus the policy's own chunk's
(:func:`choose`). A frame is kept when the best candidate beats the policy's chunk by more than ``margin``; its
label is that candidate, entered ``copies`` times into the fine-tuning set, weighted by the advantage as rl-sim
weights episodes (:func:`frame_copies`). Fine-tuning is the other methods' (the demonstrations as the anchor plus
the kept frames of every round so far), and validation runs in the real simulator as theirs does.

Labels. The policy regresses a whole chunk from each frame, and ``WindowDataset`` builds that target from the
action column at t..t+H-1, which cannot hold two overlapping chunks at neighbouring kept frames. So the labels are
not written into a dataset: ``round_<r>/labels.safetensors`` holds (episode, frame, chunk, scored steps, copies),
and :class:`ImaginedLabels` serves the demonstrations' own sample of each kept frame (the same observation, frame
cache and trunk-map cache as the anchor) with its ``action`` replaced by the chosen chunk. Only the ``h`` steps the
world model scored are targets; any later steps of the chunk are padding (``action_is_pad``), so nothing
unverified is taught.

Why the world model's own encoder, not the policy's: the dynamics model and heads were trained on the embeddings
of the encoder recorded in ``guardrail.json``; a fine-tuned policy's image features drift away from those. So the
start frames are embedded by that encoder whatever the current policy is, and what must match the policy is the
action space (the dynamics model's action width), the cameras the encoder reads (in the demonstrations) and the
units of the heads (the progress head must come from the same dynamics run); :func:`check_world_model` says which
field is wrong before anything runs.

Why one chunk deep: the policy acts on images and proprioception, the world model lives in embedding space, so the
policy cannot act again from an imagined state; each imagined rollout is one chunk from a real frame. The start
frames are the demonstrator's states, not the policy's, so the failures the policy reaches by itself (off the
demonstrations) are not where it is taught; rl-sim's explored episodes are.

Where imagination misleads (reward hacking of the model): the dynamics model and heads were fitted on the
demonstrations' actions; noisy candidates are off that distribution, and a candidate can score well because the
model is wrong about it. Each round records, per task (``improve.json``'s ``imagination``): ``promised``, the mean
predicted gain over the round's start frames if the policy took every kept label (0 for frames not kept);
``imagined``, how much the world model's score of the fine-tuned policy's own chunks rose on those same frames
(``round_<r>/imagined_after.json``); and ``real``, the change of the task's validation success in the simulator.
A model being exploited shows as ``imagined`` > 0 with ``real`` <= 0.

Untested at scale: no experiment has run this method; the defaults are guesses by analogy with rl-sim (same noise,
same weighting), and whether the world model ranks candidate chunks well enough to teach anything is exactly what
a run would measure. Not done: executing chosen chunks in the simulator from the start frames' states (the
demonstrations record Meta-World's 39-d observation state, not the full MuJoCo state a reset could restore).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from vlastack import keys
from vlastack.errors import ConfigError, DatasetError
from vlastack.improve.explore import explore_action, ou_noise

if TYPE_CHECKING:
    from vlastack.improve.rounds import ImproveConfig

ALTERNATIVES = ("noise", "shift")
LABELS_FILE = "labels.safetensors"
SCORED_FILE = "scored.json"
AFTER_FILE = "imagined_after.json"
_SALT = 0x1A61


@dataclass(frozen=True)
class ImagineConfig:
    """Start frames, candidate chunks and their scores of ``rl-wm`` rounds (``--set imagine.FIELD=VALUE``)."""

    frames_per_task: int = 256
    """Start frames per task and round, sampled (seeded by the round) from every frame of the task's demonstrations.
    Each costs one encoder and one policy pass and ``candidates + 1`` imagined rollouts (MLP calls, cheap)."""
    candidates: int = 8
    """Alternative chunks scored beside the policy's own at each start frame."""
    alternatives: str = "noise"
    """How the alternatives are made: ``noise``, the policy's chunk plus rl-sim's exploration noise (an
    Ornstein-Uhlenbeck process over the chunk's steps, ``noise_std``, ``noise_steps``; clipped as rl-sim clips);
    or ``shift``, the planner's (``world_model.planner.alternatives``: half speed, then constant offsets of size
    ``spread`` in random directions of the translation)."""
    noise_std: float = 0.1
    """``noise``: stationary std of the noise, action units (rl-sim's default)."""
    noise_steps: float = 20.0
    """``noise``: correlation time of the noise, environment steps."""
    spread: float = 0.3
    """``shift``: size of the translation offset, action units (the planner's default)."""
    success_bonus: float = 1.0
    """Score of the highest predicted success probability over a candidate's steps (in [0, 1])."""
    progress_weight: float = 1.0
    """Score of the mean predicted progress over a candidate's steps (in [0, 1]; needs ``improve.progress_head``,
    else this term is 0 and only success and safety score: far from success every candidate then ties)."""
    unsafe_penalty: float = 1.0
    """Taken off the score of a candidate the guardrail flags (1.0 with the default weights ranks a flagged
    candidate below a safe one unless the safe one is far worse)."""
    margin: float = 0.05
    """Score units: a frame is kept when its best candidate beats the policy's own chunk by more than this (model
    noise alone should not make labels)."""
    temperature: float = 0.1
    """Score units: a kept frame's weight is exp((gain - the task's largest gain) / temperature), normalised to
    mean 1 over the task's kept frames of the round and capped at ``max_weight``."""
    max_weight: float = 3.0
    """Cap on a kept frame's weight; its copies are ``max(1, round(new_data_weight * weight))``."""
    batch: int = 64
    """Start frames per encoder and policy pass."""

    def __post_init__(self) -> None:
        for name in ("frames_per_task", "batch"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ConfigError(f"ImagineConfig.{name} must be an integer >= 1, got {v!r}")
        if isinstance(self.candidates, bool) or not isinstance(self.candidates, int) or self.candidates < 1:
            raise ConfigError(
                f"ImagineConfig.candidates must be an integer >= 1 (alternatives beside the policy's chunk), got {self.candidates!r}"
            )
        if self.alternatives not in ALTERNATIVES:
            raise ConfigError(f"ImagineConfig.alternatives must be one of {ALTERNATIVES}, got {self.alternatives!r}")
        for name in ("noise_std", "success_bonus", "progress_weight", "unsafe_penalty", "margin"):
            if not getattr(self, name) >= 0:
                raise ConfigError(f"ImagineConfig.{name} must be >= 0, got {getattr(self, name)!r}")
        for name in ("noise_steps", "temperature"):
            if not getattr(self, name) > 0:
                raise ConfigError(f"ImagineConfig.{name} must be > 0, got {getattr(self, name)!r}")
        if not 0 < self.spread <= 2:
            raise ConfigError(f"ImagineConfig.spread must be in (0, 2] action units, got {self.spread!r}")
        if not self.max_weight >= 1:
            raise ConfigError(f"ImagineConfig.max_weight must be >= 1, got {self.max_weight!r}")


# ---- scores, choice, copies (pure) ----------------------------------------------------------------------
def candidate_scores(success: np.ndarray, progress: np.ndarray | None, flagged: np.ndarray, config: ImagineConfig) -> np.ndarray:
    """float64 [K]: the score of each of K candidates from their predicted success probabilities [K, h], predicted
    progress [K, h] (None: no progress head) and guardrail flags [K] (see the module docstring)."""
    s = config.success_bonus * np.asarray(success, np.float64).max(axis=1)
    if progress is not None:
        s = s + config.progress_weight * np.asarray(progress, np.float64).mean(axis=1)
    return s - config.unsafe_penalty * np.asarray(flagged, np.float64)


def choose(scores: np.ndarray) -> tuple[int, float]:
    """(index of the best candidate, its advantage over candidate 0, the policy's own chunk); the first of equal
    maxima wins, so the policy's own chunk wins ties and its advantage is then 0."""
    s = np.asarray(scores, np.float64)
    best = int(np.argmax(s))
    return best, float(s[best] - s[0])


def frame_copies(gains: list[float], margin: float, new_data_weight: int, config: ImagineConfig) -> list[int]:
    """One task's copies per start frame of a round (0: not kept): frames whose gain exceeds ``margin`` are kept,
    weighted by exp((gain - the largest gain) / temperature) normalised to mean 1 over the kept ones and capped at
    ``max_weight``; copies ``max(1, round(new_data_weight * weight))``."""
    g = np.asarray(gains, np.float64)
    kept = g > margin
    out = [0] * len(g)
    if not kept.any():
        return out
    w = np.exp((g[kept] - g[kept].max()) / config.temperature)
    w = np.minimum(w / w.mean(), config.max_weight)
    for i, x in zip(np.flatnonzero(kept), w, strict=True):
        out[int(i)] = max(1, int(np.floor(new_data_weight * x + 0.5)))
    return out


def make_candidates(chunk: np.ndarray, config: ImagineConfig, key: tuple[int, ...]) -> np.ndarray:
    """float32 [1 + candidates, H, D]: the policy's ``chunk`` [H, D] first, then its alternatives, drawn from ``key``
    (the round, episode and frame: the same frame of the same round always gets the same candidates)."""
    chunk = np.asarray(chunk, np.float32)
    h, d = chunk.shape
    if config.alternatives == "shift":
        from vlastack.world_model.planner import alternatives

        others = alternatives(chunk, config.candidates, np.random.default_rng([_SALT, *key]), config.spread)
    else:
        seeds = np.random.SeedSequence([_SALT, *key]).generate_state(config.candidates)
        others = np.stack([explore_action(chunk, ou_noise(h, d, config.noise_std, config.noise_steps, int(s))) for s in seeds])
    return np.concatenate([chunk[None], others]).astype(np.float32)


def sample_frames(lengths: dict[int, int], n: int, rng: np.random.Generator) -> list[tuple[int, int]]:
    """``n`` distinct (episode, frame) pairs drawn uniformly from every frame of the episodes ``lengths`` (episode ->
    frames), all of them when there are fewer; sorted."""
    pairs = [(e, t) for e, m in sorted(lengths.items()) for t in range(m)]
    pick = rng.choice(len(pairs), size=min(n, len(pairs)), replace=False)
    return sorted(pairs[int(i)] for i in pick)


# ---- the world model ----------------------------------------------------------------------------------------
class Imagination:
    """A guardrail directory's encoder, dynamics model, heads and thresholds, and an optional progress head."""

    def __init__(self, shield: Any, progress: Any | None, record: dict[str, Any]) -> None:
        self.shield, self.progress, self.record = shield, progress, record

    @classmethod
    def load(cls, world_model: Path, progress_head: Path | None = None) -> Imagination:
        from vlastack.world_model.checkpoint import load_kind
        from vlastack.world_model.shield import WorldModelShield

        record = _guardrail_record(world_model)
        shield = WorldModelShield.load(world_model)
        head = None
        if progress_head is not None:
            ckpt, head, _ = load_kind(progress_head, "progress", "vlastack wm progress")
            record = {**record, "progress_head": str(Path(ckpt).resolve())}
        record.pop("fitted_on", None)
        return cls(shield, head, {**record, "guardrail": str(Path(world_model).resolve())})

    @property
    def encoder(self) -> Any:
        return self.shield.encoder

    @torch.no_grad()
    def embed(self, batch: Any) -> torch.Tensor:
        """z [B, F] (encoder units) of a collated batch of the encoder's windows."""
        with torch.inference_mode():
            z = self.encoder.image_features(batch).float().clone()
        width = self.shield.guard.dynamics.embed_dim
        if z.shape[1] != width:
            raise ConfigError(
                f"improve.world_model: its encoder {self.record['encoder']} gives {z.shape[1]}-d embeddings, its dynamics model "
                f"takes {width}-d ones (guardrail.json names another encoder than the one the world model was trained on)"
            )
        return z

    @torch.no_grad()
    def score(self, z: torch.Tensor, chunks: np.ndarray, config: ImagineConfig) -> dict[str, np.ndarray]:
        """K candidate chunks [K, H, D] from one start embedding z [F]: per candidate the score [K], the highest
        predicted success [K], the mean predicted progress [K] (NaN without a progress head) and the flag [K], over
        the first h = min(guardrail horizon, H) steps."""
        from vlastack.world_model.guardrail import rollout_every_step
        from vlastack.world_model.heads import EVENTS

        guard = self.shield.guard
        h = min(self.shield.config.horizon, chunks.shape[1])
        actions = torch.as_tensor(np.asarray(chunks[:, :h], np.float32))
        start = guard.dynamics.norm.normalize(z.reshape(1, -1).float()).expand(len(actions), -1)
        pred = rollout_every_step(guard.dynamics, start, actions)  # [K, h, F] normalised
        p = guard.heads.probabilities(pred)  # [K, h, E]
        success = p[..., EVENTS.index("success")].numpy()
        progress = self.progress.progress(pred).numpy() if self.progress is not None else None
        flagged = np.array([v.flag for v in guard.verdicts(z.float(), guard.unsafe(p), self.shield.config.new_only)], bool)
        return {
            "score": candidate_scores(success, progress, flagged, config),
            "success": success.max(axis=1),
            "progress": progress.mean(axis=1) if progress is not None else np.full(len(actions), np.nan),
            "flagged": flagged,
            "steps": np.full(len(actions), h),
        }


def _guardrail_record(world_model: Path) -> dict[str, Any]:
    from vlastack.world_model.shield import GUARDRAIL_FILE

    path = Path(world_model) / GUARDRAIL_FILE
    if not path.is_file():
        raise ConfigError(
            f"improve.world_model: {world_model} has no {GUARDRAIL_FILE}; make one with `vlastack wm guardrail --heads RUN --out DIR`"
        )
    return json.loads(path.read_text())


def check_world_model(config: ImproveConfig) -> dict[str, Any]:
    """The world model and progress head of ``config`` against the policy, the demonstrations and each other, from
    their records alone (no model is run): a ConfigError names the field at fault. Returns the guardrail's record."""
    from vlastack.checkpoint import read_policy_meta, resolve_checkpoint
    from vlastack.episodes.reader import DatasetReader
    from vlastack.world_model.checkpoint import load_kind, read_config

    record = _guardrail_record(config.world_model)
    dyn = read_config(_checkpoint_of(record["dynamics"]))
    heads = read_config(_checkpoint_of(record["heads"]))
    policy = read_policy_meta(config.checkpoint)["config"]
    where = f"improve.world_model ({config.world_model})"
    if dyn["kind"] != "dynamics" or heads["kind"] != "heads":
        raise ConfigError(f"{where}: guardrail.json's dynamics and heads are {dyn['kind']} and {heads['kind']} checkpoints")
    if int(dyn["meta"]["action_dim"]) != int(policy["action_dim"]):
        raise ConfigError(
            f"{where}: its dynamics model takes {dyn['meta']['action_dim']}-d actions, the policy {config.checkpoint} acts in "
            f"{policy['action_dim']}-d ones (train the world model on this robot's actions)"
        )
    if int(heads["meta"]["embed_dim"]) != int(dyn["meta"]["embed_dim"]):
        raise ConfigError(
            f"{where}: its heads read {heads['meta']['embed_dim']}-d embeddings, its dynamics model {dyn['meta']['embed_dim']}-d ones"
        )
    trained_on = dyn["meta"].get("encoder")
    if trained_on is not None and Path(trained_on).resolve() != Path(record["encoder"]).resolve():
        raise ConfigError(
            f"{where}: guardrail.json names the encoder {record['encoder']}, but its dynamics model was trained on the embeddings "
            f"of {trained_on}; the two must be the same policy"
        )
    encoder = read_policy_meta(resolve_checkpoint(Path(record["encoder"])))["config"]
    demos = DatasetReader(config.demos)
    missing = [c for c in encoder.get("cameras", ()) if keys.image_key(c) not in demos.features]
    if missing:
        raise ConfigError(f"{where}: its encoder {record['encoder']} reads cameras {missing} that the demonstrations {config.demos} lack")
    if config.progress_head is not None:
        ckpt, _, meta = load_kind(config.progress_head, "progress", "vlastack wm progress")
        if Path(meta.get("dynamics", "")).resolve() != _checkpoint_of(record["dynamics"]).resolve():
            raise ConfigError(
                f"improve.progress_head ({ckpt}): trained with the dynamics model {meta.get('dynamics')}, the world model's is "
                f"{record['dynamics']} (its inputs would be in another model's units)"
            )
    return record


def _checkpoint_of(path: str | Path) -> Path:
    from vlastack.checkpoint import CONFIG_FILE, latest_checkpoint

    path = Path(path)
    ckpt = path if (path / CONFIG_FILE).is_file() else latest_checkpoint(path)
    if ckpt is None:
        raise ConfigError(f"improve.world_model: {path} (named in guardrail.json) holds no checkpoint")
    return ckpt


# ---- a round ------------------------------------------------------------------------------------------------
def task_frames(reader: Any, tasks: tuple[str, ...]) -> dict[str, dict[int, int]]:
    """Per task, its demonstration episodes -> their lengths; a task without any is an error."""
    out: dict[str, dict[int, int]] = {t: {} for t in tasks}
    for e in range(reader.num_episodes):
        task = str(reader.episode_meta(e).get("vlastack/env_task"))
        if task in out:
            out[task][e] = reader.length(e)
    empty = [t for t, v in out.items() if not v]
    if empty:
        raise ConfigError(f"tasks: {empty} have no episode in the demonstrations {reader.root} (rl-wm starts from their frames)")
    return out


def round_frames(config: ImproveConfig, round_: int) -> dict[str, list[tuple[int, int]]]:
    """Per task, the (episode, frame) start frames of round ``round_`` (a seeded sample, the same on every re-run)."""
    from vlastack.episodes.reader import DatasetReader

    lengths = task_frames(DatasetReader(config.demos), config.tasks)
    return {
        t: sample_frames(lengths[t], config.imagine.frames_per_task, np.random.default_rng([_SALT, round_, i]))
        for i, t in enumerate(config.tasks)
    }


def imagine_frames(
    config: ImproveConfig, checkpoint: Path, wm: Imagination, frames: list[tuple[int, int]], key: int, alternatives: bool, progress: bool
) -> tuple[list[dict[str, Any]], list[np.ndarray]]:
    """Score the policy's chunk (and, with ``alternatives``, its candidates) at each (episode, frame) of the
    demonstrations in the world model: per frame a record and the chunk chosen (the policy's own when no candidate
    beats it), [H, D]. ``key`` (the round) seeds the candidates."""
    from tqdm import tqdm

    from vlastack.data.windows import WindowDataset, collate
    from vlastack.episodes.reader import DatasetReader
    from vlastack.policies import load_policy
    from vlastack.world_model.embeddings import encoder_windows

    # An in-process validation (workers=1) left torch at one thread; imagine on what the user set, as fine-tuning does.
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS") or os.cpu_count() or 1))
    reader = DatasetReader(config.demos)
    policy = load_policy(checkpoint).pack_for_inference()
    c = policy.config
    episodes = sorted({e for e, _ in frames})
    acting = WindowDataset(
        reader,
        obs_history=c.obs_history,
        action_horizon=c.horizon,
        image_keys=[keys.image_key(cam) for cam in c.cameras],
        touch=c.use_touch,
        depth=c.use_depth,
        episodes=episodes,
        frames=config.frames,
    )
    seeing = encoder_windows(wm.encoder, reader, episodes, frames=config.frames)
    records, chosen = [], []
    bar = tqdm(total=len(frames), desc="imagined frames", unit="frame", disable=not progress)
    for start in range(0, len(frames), config.imagine.batch):
        part = frames[start : start + config.imagine.batch]
        with torch.inference_mode():
            chunks = policy.sample_actions(collate([acting[acting.sample_index(e, t)] for e, t in part])).actions
        chunks = np.asarray(chunks, np.float32)
        z = wm.embed(collate([seeing[seeing.sample_index(e, t)] for e, t in part]))
        for (e, t), chunk, zi in zip(part, chunks, z, strict=True):
            candidates = make_candidates(chunk, config.imagine, (key, e, t)) if alternatives else chunk[None]
            s = wm.score(zi, candidates, config.imagine)
            best, gain = choose(s["score"])
            records.append(
                {
                    "episode": e,
                    "frame": t,
                    "own_score": float(s["score"][0]),
                    "own_success": float(s["success"][0]),
                    "own_progress": float(s["progress"][0]),
                    "own_flagged": bool(s["flagged"][0]),
                    "best": best,
                    "best_score": float(s["score"][best]),
                    "best_flagged": bool(s["flagged"][best]),
                    "gain": gain,
                    "steps": int(s["steps"][0]),
                }
            )
            chosen.append(candidates[best])
        bar.update(len(part))
    bar.close()
    return records, chosen


def gather_imagined(config: ImproveConfig, checkpoint: Path, round_: int, progress: bool) -> tuple[dict[str, Any], list[dict], dict]:
    """One rl-wm round's gathering: (summary for the round table, per-frame records, label lists for
    :func:`label_tensors`). No environment step is taken."""
    import time

    cpu0, t0 = time.process_time(), time.perf_counter()
    wm = Imagination.load(config.world_model, config.progress_head)
    per_task = round_frames(config, round_)
    frames = [(task, e, t) for task in config.tasks for e, t in per_task[task]]
    records, chosen = imagine_frames(config, checkpoint, wm, [(e, t) for _, e, t in frames], round_, True, progress)
    stats: dict[str, dict[str, Any]] = {}
    labels: dict[str, list] = {"episode": [], "frame": [], "chunk": [], "steps": [], "copies": []}
    for (task, _, _), r in zip(frames, records, strict=True):
        r["task"] = task
    for task in config.tasks:
        mine = [(r, c) for r, c in zip(records, chosen, strict=True) if r["task"] == task]
        copies = frame_copies([r["gain"] for r, _ in mine], config.imagine.margin, config.new_data_weight, config.imagine)
        for (r, chunk), n in zip(mine, copies, strict=True):
            r["copies"] = n
            if n:
                for k, v in (("episode", r["episode"]), ("frame", r["frame"]), ("chunk", chunk), ("steps", r["steps"]), ("copies", n)):
                    labels[k].append(v)
        n, kept = len(mine), [r for r, _ in mine if r["copies"]]
        own = [r["own_score"] for r, _ in mine]
        stats[task] = {
            "frames": 0,  # environment steps: none (the round table sums "frames" as the steps gathered)
            "start_frames": n,
            "imagined_rollouts": n * (config.imagine.candidates + 1),
            "kept": len(kept),
            "copies": sum(r["copies"] for r in kept),
            "mean_gain_kept": float(np.mean([r["gain"] for r in kept])) if kept else float("nan"),
            "promised": float(sum(r["gain"] for r in kept) / n) if n else float("nan"),
            "mean_own_score": float(np.mean(own)) if n else float("nan"),
            "mean_own_success": float(np.mean([r["own_success"] for r, _ in mine])) if n else float("nan"),
            "own_flagged": sum(int(r["own_flagged"]) for r, _ in mine),
            "kept_flagged": sum(int(r["best_flagged"]) for r in kept),
        }
    summary = {
        "gathered": stats,
        "gather_wall_s": time.perf_counter() - t0,
        "gather_cpu_s": time.process_time() - cpu0,
        "world_model": {**wm.record, "encoder_is_start_policy": _same(wm.record["encoder"], config.checkpoint)},
    }
    return summary, records, labels


def _same(a: str | Path, b: str | Path) -> bool:
    return Path(a).resolve() == Path(b).resolve()


def label_tensors(labels: dict[str, list], horizon: int, action_dim: int) -> dict[str, torch.Tensor]:
    """The lists of :func:`gather_imagined` as the tensors of ``labels.safetensors`` (empty ones when none was kept)."""
    chunk = np.stack(labels["chunk"]).astype(np.float32) if labels["chunk"] else np.zeros((0, horizon, action_dim), np.float32)
    out = {k: torch.tensor(labels[k], dtype=torch.long) for k in ("episode", "frame", "steps", "copies")}
    return {**out, "chunk": torch.from_numpy(chunk)}


def score_after(config: ImproveConfig, checkpoint: Path, round_: int, progress: bool) -> dict[str, Any]:
    """The world model's score of ``checkpoint``'s own chunks at round ``round_``'s start frames (after fine-tuning on
    its labels), per task beside the score of the policy that gathered them: ``imagined`` = the mean rise."""
    wm = Imagination.load(config.world_model, config.progress_head)
    before = json.loads((config.out / f"round_{round_}" / SCORED_FILE).read_text())
    after, _ = imagine_frames(config, checkpoint, wm, [(r["episode"], r["frame"]) for r in before], round_, False, progress)
    per_task = {}
    for task in config.tasks:
        pairs = [(b["own_score"], a["own_score"]) for b, a in zip(before, after, strict=True) if b["task"] == task]
        was = float(np.mean([b for b, _ in pairs])) if pairs else float("nan")
        now = float(np.mean([a for _, a in pairs])) if pairs else float("nan")
        per_task[task] = {"own_score_before": was, "own_score_after": now, "imagined": now - was}
    return per_task


def imagination_vs_reality(gathered: dict[str, Any], after: dict[str, Any], success_before: dict, success_after: dict) -> dict[str, Any]:
    """Per task: ``promised`` (mean predicted gain of the round's labels over its start frames), ``imagined`` (the
    world model's rise of the fine-tuned policy's own score there) and ``real`` (its validation success change)."""
    return {
        t: {
            "promised": gathered[t]["promised"],
            "imagined": after[t]["imagined"],
            "real": float(success_after[t]) - float(success_before[t]),
        }
        for t in gathered
    }


# ---- fine-tuning --------------------------------------------------------------------------------------------
class ImaginedLabels(torch.utils.data.Dataset):
    """The kept frames as training samples: ``base``'s own sample of each (episode, frame) (a ``WindowDataset`` over
    the demonstrations, without ``label_key``) with ``action`` [H, D] replaced by the chosen chunk; steps past the
    scored ``steps`` are padding (``action_is_pad`` True, values repeating the last scored one). Each label appears
    ``copies`` times."""

    def __init__(self, base: Any, labels: dict[str, torch.Tensor]) -> None:
        self.base = base
        self.chunk, self.steps = labels["chunk"].float(), labels["steps"].long()
        self.positions = [base.sample_index(int(e), int(t)) for e, t in zip(labels["episode"], labels["frame"], strict=True)]
        self.rows = np.repeat(np.arange(len(self.positions)), labels["copies"].numpy().astype(int))

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, i: int) -> dict:
        row = int(self.rows[i])
        sample = dict(self.base[self.positions[row]])
        horizon = sample[keys.ACTION].shape[0]
        chunk = self.chunk[row]
        if chunk.shape != sample[keys.ACTION].shape:
            raise DatasetError(
                f"imagined label {row} is a {list(chunk.shape)} chunk; the policy's targets are {list(sample[keys.ACTION].shape)}"
            )
        h = int(min(self.steps[row], horizon))
        pad = torch.arange(horizon) >= h
        sample[keys.ACTION] = torch.where(pad.unsqueeze(1), chunk[h - 1], chunk)
        sample[keys.ACTION + keys.PAD_SUFFIX] = pad
        return sample


def imagined_labels(config: ImproveConfig, round_: int) -> dict[str, torch.Tensor]:
    """The labels of every round up to ``round_``, joined."""
    from vlastack.checkpoint import load_safetensors

    parts = [load_safetensors(config.out / f"round_{r}" / LABELS_FILE) for r in range(1, round_ + 1)]
    return {k: torch.cat([p[k] for p in parts]) for k in ("episode", "frame", "chunk", "steps", "copies")}
