"""RL in the simulator (``vlastack improve --method rl-sim``): reward-weighted self-imitation with exploration.

Each round, per task, the current policy runs ``episodes`` episodes behind the safety layer with
temporally correlated Gaussian noise added to the actions it executes; every episode is scored
by its outcome in the simulator, and the policy is fine-tuned to imitate what it executed in the
better episodes, weighted by how much better (ReST / reward-weighted regression / filtered
behaviour cloning), mixed with the original demonstrations as the behaviour-cloning anchor.

Why this and not PPO or GRPO: the shipped policy (``l1``) is a deterministic regressor of an
action chunk. A policy gradient needs the log-likelihood of what was executed, which a regressor
has only through an assumed Gaussian around its output, and its variance would then have to be
learned or scheduled; PPO also needs a value function and many small on-policy batches, each
costing fresh simulation, where 2 CPU cores give a few hundred rendered environment steps per
second at best. Reward-weighted imitation needs neither: the exploration noise is outside the
policy, the update is the same L1 regression the policy was trained with (the same
``training/loop.py``, the same data pipeline, resumable), and episodes are used whole, so one
round costs N episodes per task plus one fine-tuning run. It works for any policy that trains by
imitation (flow and hybrid ones too), and the demonstrations in the mix keep what works.

For a policy with a flow-matching expert (VLA ``flow`` and ``hybrid``) there is a second update rule,
``update="fpo"`` (Flow Policy Optimization, ``improve/fpo.py``): PPO's clipped objective with the likelihood
ratio replaced by the exponentiated difference of the old and new policy's conditional flow-matching losses,
which a flow policy has and a regressor does not. Every explored episode of the round enters once with its
group-normalised advantage (:func:`fpo_advantages`), so failures are pushed away (negative advantage) rather
than only left out, and the clip keeps each round's update within a trust region of the policy that explored.

Noise: an Ornstein-Uhlenbeck (discretised AR(1)) process per action dimension, indexed by
environment step, with stationary standard deviation ``noise_std`` and correlation time
``noise_steps``. Meta-World's actions move the hand's target, so independent per-step noise
integrates into a small random walk that barely changes where the hand goes, and noise fixed per
chunk is nearly that too (only ``execute_steps`` = 4 of each chunk's actions run, 50 ms at 80 Hz).
Correlated noise moves the hand coherently for tens of steps, far enough to change an outcome,
and being smooth it trips the safety layer's acceleration and jerk limits less than white noise
of the same size. Indexing it by environment step (not by chunk) makes it independent of how
many actions of each chunk are executed. Each episode's noise is drawn from its own seed, so an
episode is reproducible. The noisy action is clipped to [-1, 1] (or to the policy's own action
where that is already outside): exploration adds no out-of-range actions for the layer to clip.

Finding small targets (a measured run with std 0.2 solved 37 % of its exploring episodes against
the policy's 72 % without noise, breaking tasks it never fails, while reach, push and pick-place got
0-2 lucky successes per round), two options, both off by default:

- ``adaptive_noise``: each task's std is ``noise_std * max(min_noise_scale, 1 - s)``, s the task's
  success in the validation of the policy that explores (``start_validation.json`` for round 1, the
  previous round's ``validation.json`` after; noise-free, behind the layer, always there before a
  round gathers): a solved task explores at the floor, an unsolved one at the full std
  (:func:`adaptive_std`).
- ``noise_until="first_contact"``: noise only until the first step whose observation has either
  finger's touch above ``contact_n`` newtons (or the task solved); from there the policy acts alone.
  Meta-World's small-target failures are at the approach (the hand stops short or misses the
  grasp), and noise after a grasp mostly drops the object.

Score of an episode (:func:`episode_score`)::

    success_bonus * solved + held_return / (10 * max_steps) - safety_penalty * changed_steps

``held_return`` is Meta-World's dense reward summed over the episode, with the reward of the
last step held to the step limit (an episode stops at its first success, so a raw sum would
rank a quick success below a slow one); 10 is Meta-World's largest reward per step, so that term
is in [0, 1]. ``changed_steps`` are the steps whose action the safety layer changed (issue 15,
item 5: safety interventions are penalised and counted).

Weights (:func:`episode_copies`): per task and round, advantage = score - the mean score of that
task's episodes of the round, weight = exp(advantage / temperature) normalised to mean 1 over
them and capped at ``max_weight``; an episode enters the fine-tuning set ``round(new_data_weight
* weight)`` times (0: not kept). Labels are the actions sent into the safety layer (the policy's
plus the noise): what led to the outcome (``label="applied"``: what the layer let through).

With ``update="fpo"`` the weights and copies are not used: each episode's advantage is its score
normalised over that task's episodes of the round, (score - mean) / (std + 1e-6) (GRPO-style; 0 where they all
scored the same), recorded as ``advantage`` in the round's ``scored``.

Seeds: rl-sim episodes reset from :data:`RL_SIM_SEED_OFFSET` up, disjoint from demonstrations
(0+), evaluation (100000+), validation (200000+), assisted episodes (400000+) and expert-demos
(900000+).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from vlastack import keys
from vlastack.errors import ConfigError
from vlastack.improve.interventions import POLICY_ACTION, policy_and_env, run_episode_jobs
from vlastack.types import Episode

#: Per-frame float32 [D]: the action sent into the safety layer (the policy's plus the exploration
#: noise, clipped); the fine-tuning label of rl-sim episodes.
EXPLORE_ACTION = "explore.action"
RL_SIM_SEED_OFFSET = 600_000
#: Meta-World's largest dense reward per step.
REWARD_SCALE = 10.0
_NOISE_SALT = 0x5EED
LABELS = ("sent", "applied")
NOISE_UNTIL = ("always", "first_contact")
UPDATES = ("weighted", "fpo")


@dataclass(frozen=True)
class ExploreConfig:
    """Exploration and scoring of ``rl-sim`` episodes (``--set explore.FIELD=VALUE``)."""

    noise_std: float = 0.1
    """Stationary standard deviation of the exploration noise, action units (Meta-World's actions are
    in [-1, 1]), the same for every action dimension; 0 runs the policy as it is. The shipped policy's
    largest translation per step is about 0.16 on average on reach-v3, and a smoke run with 0.3 taught
    it actions twice that size (the kept episodes' noise is imitated too), hence the smaller default."""
    noise_steps: float = 20.0
    """Correlation time of the noise, environment steps (80 per second in Meta-World): the
    correlation between the noise of two steps k apart is exp(-k / noise_steps)."""
    success_bonus: float = 1.0
    """Score of solving the task, added to the dense term (which is in [0, 1])."""
    safety_penalty: float = 0.002
    """Score taken off for every step whose action the safety layer changed. The shipped policy has
    about 175 such steps in a 500-step reach-v3 episode (the workspace check, mostly), so the default
    makes a typical episode's penalty about a third of a success's bonus."""
    temperature: float = 0.25
    """Score units: the weight of an episode is exp((score - the task's mean score) / temperature)
    (smaller: closer to keeping only the best episodes)."""
    max_weight: float = 3.0
    """Cap on an episode's weight (the weights' mean over a task's episodes is 1 before the cap), so one
    lucky episode does not fill the fine-tuning set."""
    success_only: bool = False
    """Keep only successful episodes (filtered behaviour cloning); their weights still follow the score."""
    label: str = "sent"
    """The fine-tuning label: ``sent``, the action sent into the safety layer (the policy's plus the
    noise: what the policy should have proposed); or ``applied``, what the layer let through (also
    teaches the policy to stay inside the layer's limits, at the cost of imitating its clipping)."""

    adaptive_noise: bool = False
    """Scale each task's std by how often the exploring policy fails it: ``noise_std * max(min_noise_scale,
    1 - s)``, s the task's success in the validation of that policy (round 1: the start's; recorded per
    task in the round's ``gathered``, as ``noise_std`` and ``noise_success``)."""
    min_noise_scale: float = 0.1
    """With ``adaptive_noise``: the smallest fraction of ``noise_std`` a task explores with (a task the
    policy always solves still explores a little)."""
    noise_until: str = "always"
    """``always``; or ``first_contact``: noise only until the first step at which either finger's touch
    reading exceeds ``contact_n`` (or the task is solved), the policy alone after that."""
    contact_n: float = 1.0
    """With ``noise_until=first_contact``: the touch reading (newtons, per finger) that counts as contact."""
    balance_tasks: bool = False
    """Rebalance the kept set across tasks (:func:`balanced_copies`): a task's kept episodes together enter the
    fine-tuning set about ``new_data_weight * episodes * (1 - s)`` times, s the task's validation success of the
    exploring policy (as ``adaptive_noise`` reads it), split among them by their weights. Without it every task
    keeps copies in proportion to how often it succeeds, so the kept set is mostly tasks the policy already
    solves (measured: 72 of 74 kept MT10 episodes); with it a solved task adds nothing the demonstrations do
    not already anchor, and a rarely solved one gets the most copies of its few successes."""
    balance_max_copies: int = 8
    """With ``balance_tasks``: the most copies of one episode, so that a task's one lucky success does not fill
    the fine-tuning set (8 copies of a 300-step episode is about half of one task's 50 demonstrations)."""

    update: str = "weighted"
    """How the round's explored episodes update the policy: ``weighted``, reward-weighted self-imitation (each
    episode's copies, above); or ``fpo``, Flow Policy Optimization (``improve/fpo.py``; a policy with a
    flow-matching expert only, VLA ``flow`` or ``hybrid``): every episode of the round once, with its
    group-normalised advantage, in a PPO-clip objective against the round's starting policy. With ``fpo``,
    ``temperature``, ``max_weight``, ``success_only`` and ``balance_tasks`` are not used (the last two are refused)."""
    fpo_clip: float = 0.2
    """With ``update=fpo``: PPO's clip range eps, in (0, 1): a sample's ratio counts only within [1 - eps, 1 + eps]
    in the direction its advantage pushes (the trust region around the round's starting policy)."""
    fpo_draws: int = 4
    """With ``update=fpo``: (noise, time) draws per sample over which the flow-matching losses of the old and new
    policy are averaged before their difference is exponentiated (more: a less noisy ratio, that many more forward
    passes of both policies per step)."""

    def __post_init__(self) -> None:
        if self.update not in UPDATES:
            raise ConfigError(f"ExploreConfig.update must be one of {UPDATES}, got {self.update!r}")
        if isinstance(self.fpo_clip, bool) or not isinstance(self.fpo_clip, int | float) or not 0 < self.fpo_clip < 1:
            raise ConfigError(f"ExploreConfig.fpo_clip must be in (0, 1) (a ratio's distance from 1), got {self.fpo_clip!r}")
        if isinstance(self.fpo_draws, bool) or not isinstance(self.fpo_draws, int) or self.fpo_draws < 1:
            raise ConfigError(f"ExploreConfig.fpo_draws must be an integer >= 1, got {self.fpo_draws!r}")
        if not isinstance(self.adaptive_noise, bool):
            raise ConfigError(f"ExploreConfig.adaptive_noise must be true or false, got {self.adaptive_noise!r}")
        if self.noise_until not in NOISE_UNTIL:
            raise ConfigError(f"ExploreConfig.noise_until must be one of {NOISE_UNTIL}, got {self.noise_until!r}")
        if not 0 <= self.min_noise_scale <= 1:
            raise ConfigError(f"ExploreConfig.min_noise_scale must be in [0, 1], got {self.min_noise_scale}")
        for name in ("noise_std", "safety_penalty", "success_bonus", "contact_n"):
            if not getattr(self, name) >= 0:
                raise ConfigError(f"ExploreConfig.{name} must be >= 0, got {getattr(self, name)}")
        for name in ("noise_steps", "temperature"):
            if not getattr(self, name) > 0:
                raise ConfigError(f"ExploreConfig.{name} must be > 0, got {getattr(self, name)}")
        if self.label not in LABELS:
            raise ConfigError(f"ExploreConfig.label must be one of {LABELS}, got {self.label!r}")
        if not self.max_weight >= 1:
            raise ConfigError(f"ExploreConfig.max_weight must be >= 1, got {self.max_weight}")
        if not isinstance(self.balance_tasks, bool):
            raise ConfigError(f"ExploreConfig.balance_tasks must be true or false, got {self.balance_tasks!r}")
        if isinstance(self.balance_max_copies, bool) or not isinstance(self.balance_max_copies, int) or self.balance_max_copies < 1:
            raise ConfigError(f"ExploreConfig.balance_max_copies must be an integer >= 1, got {self.balance_max_copies!r}")


# ---- noise, score, weights --------------------------------------------------------------------------
def ou_noise(steps: int, dim: int, std: float, correlation_steps: float, seed: int) -> np.ndarray:
    """float32 [steps, dim]: a stationary Ornstein-Uhlenbeck process (AR(1): x' = a x + sqrt(1 - a^2) std e,
    a = exp(-1 / correlation_steps)), started from its stationary distribution, drawn from ``seed``."""
    rng = np.random.default_rng((_NOISE_SALT, int(seed)))
    a = float(np.exp(-1.0 / correlation_steps))
    e = rng.standard_normal((steps, dim))
    x = np.empty((steps, dim))
    if steps:
        x[0] = std * e[0]
    for t in range(1, steps):
        x[t] = a * x[t - 1] + np.sqrt(1.0 - a * a) * std * e[t]
    return x.astype(np.float32)


def adaptive_std(noise_std: float, success: float, min_scale: float) -> float:
    """The std a task explores with when the policy solves it at rate ``success``: ``noise_std * max(min_scale,
    1 - success)``."""
    return float(noise_std) * max(float(min_scale), 1.0 - float(success))


def explore_action(proposed: np.ndarray, noise: np.ndarray) -> np.ndarray:
    """``proposed + noise`` clipped to [-1, 1], widened to ``proposed`` where it is already outside."""
    p = np.asarray(proposed, np.float32)
    return np.clip(p + noise, np.minimum(p, -1.0), np.maximum(p, 1.0)).astype(np.float32)


def held_return(rewards: np.ndarray, max_steps: int) -> float:
    """The dense return with the last reward held up to ``max_steps`` (an episode that stopped at its
    first success is credited as if it had stayed there)."""
    r = np.asarray(rewards, np.float64).reshape(-1)
    if len(r) == 0:
        return 0.0
    return float(r.sum() + max(0, max_steps - len(r)) * r[-1])


def episode_score(success: bool, rewards: np.ndarray, changed_steps: int, max_steps: int, config: ExploreConfig) -> float:
    """The score an episode is weighted by (see the module docstring)."""
    dense = held_return(rewards, max_steps) / (REWARD_SCALE * max_steps)
    return config.success_bonus * float(success) + dense - config.safety_penalty * changed_steps


def episode_weights(scores: list[float], config: ExploreConfig) -> np.ndarray:
    """exp(advantage / temperature) over one task's episodes of a round, mean 1, capped at ``max_weight``."""
    s = np.asarray(scores, np.float64)
    if len(s) == 0:
        return s
    z = (s - s.mean()) / config.temperature
    w = np.exp(z - z.max())  # stable; the normalisation below removes the shift
    w = w / w.mean()
    return np.minimum(w, config.max_weight)


def fpo_advantages(scores: list[float]) -> np.ndarray:
    """``update=fpo``: one task's episodes of a round, (score - mean) / (std + 1e-6) (population std); all 0 where
    every episode scored the same (and for a single episode)."""
    s = np.asarray(scores, np.float64)
    if len(s) == 0 or np.ptp(s) == 0:
        return np.zeros(len(s))
    return (s - s.mean()) / (s.std() + 1e-6)


def episode_copies(scores: list[float], successes: list[bool], new_data_weight: int, config: ExploreConfig) -> list[int]:
    """How many times each episode enters the fine-tuning set (0: not kept)."""
    w = episode_weights(scores, config)
    copies = [int(np.floor(new_data_weight * x + 0.5)) for x in w]
    return [c if (ok or not config.success_only) else 0 for c, ok in zip(copies, successes, strict=True)]


def balanced_copies(copies: list[int], weights: np.ndarray, success: float, new_data_weight: int, config: ExploreConfig) -> list[int]:
    """``balance_tasks``: one task's copies of a round (``copies`` from :func:`episode_copies`, 0 = not kept)
    rescaled so that the kept ones total about ``new_data_weight * len(copies) * (1 - success)``, in proportion
    to their ``weights``, each at most ``balance_max_copies``; the same episodes stay kept (at least 1 copy
    each) unless the task is always solved (success 1: nothing kept)."""
    kept = [i for i, c in enumerate(copies) if c > 0]
    total = new_data_weight * len(copies) * max(0.0, 1.0 - float(success))
    if not kept or total <= 0:
        return [0] * len(copies)
    w = np.asarray([float(weights[i]) for i in kept])
    share = total * w / w.sum()
    out = [0] * len(copies)
    for i, x in zip(kept, share, strict=True):
        out[i] = int(min(config.balance_max_copies, max(1, np.floor(x + 0.5))))
    return out


# ---- one episode -------------------------------------------------------------------------------------
@dataclass
class ExploredResult:
    """One rl-sim episode."""

    task: str
    seed: int
    episode: Episode
    success: bool
    steps: int
    """Environment steps taken."""
    safety_interventions: int
    """Steps whose action the safety layer changed."""
    cpu_s: float
    """CPU seconds the episode took in its process (policy, simulator, rendering)."""
    noisy_steps: int
    """Steps whose action had the exploration noise added (all of them unless ``noise_until`` stopped it)."""


def run_explored(
    env: Any,
    policy: Callable[[Any], Any],
    noise: np.ndarray,
    seed: int,
    safety: str | None,
    execute_steps: int | None,
    contact_n: float | None = None,
) -> ExploredResult:
    """One episode of ``policy`` (observation -> chunk) through the executor, with ``noise[t]`` added to the
    action of step t, behind the safety layer ``safety``. Records the proposal (:data:`POLICY_ACTION`) and
    what was sent into the layer (:data:`EXPLORE_ACTION`) beside what any episode holds. With ``contact_n``,
    no noise from the first step whose observation has a finger's touch above ``contact_n`` newtons, or
    whose info says solved (``noise_until=first_contact``)."""
    from vlastack.envs.metaworld import FPS
    from vlastack.envs.rollout import SAFETY_INTERVENTIONS, rollout
    from vlastack.execution import FakeClock, make_executor
    from vlastack.safety import SafeActuator

    cpu0 = time.process_time()
    clock = FakeClock()
    executor = make_executor("sync", policy, clock=clock, **({"k": execute_steps} if execute_steps else {}))
    executor.reset()
    action_dim = int(env.action_space.shape[0])
    proposals: list[np.ndarray] = []
    sent: list[np.ndarray] = []
    noisy = [0, True]  # steps with noise; whether noise is still on

    def act(observation, info):
        if noisy[1] and contact_n is not None:
            if observation.touch is None:
                raise ConfigError("explore.noise_until=first_contact needs touch readings; the environment has touch off")
            noisy[1] = not (float(np.max(observation.touch)) > contact_n or info.get("success", False))
        proposed = executor.step(observation, clock())
        clock.advance(1.0 / FPS)
        t = len(sent)
        if proposed is None:  # nothing fresh: the layer's watchdog decides; no label to learn from
            proposals.append(np.zeros(action_dim, np.float32))
            sent.append(np.zeros(action_dim, np.float32))
            return None
        p = np.asarray(proposed, np.float32)
        action = explore_action(p, noise[min(t, len(noise) - 1)]) if noisy[1] else p
        noisy[0] += int(noisy[1])
        proposals.append(p)
        sent.append(action)
        return action

    stepped = env if safety is None else SafeActuator(env, safety, clock=clock)
    result = rollout(stepped, act, seed=seed, record=True)
    episode = result.episode
    episode.frames[POLICY_ACTION] = np.stack(proposals)
    episode.frames[EXPLORE_ACTION] = np.stack(sent)
    changed = int(np.count_nonzero(episode.frames[SAFETY_INTERVENTIONS])) if SAFETY_INTERVENTIONS in episode.frames else 0
    cpu_s = time.process_time() - cpu0
    return ExploredResult(env.config.task, seed, episode, result.success, result.steps, changed, cpu_s, noisy[0])


def explored_feature_names() -> dict[str, list[str]]:
    """Names of the vector features of an rl-sim episode, for ``DatasetWriter(feature_names=...)``."""
    from vlastack.envs.collect import episode_feature_names

    names = episode_feature_names()
    return {**names, POLICY_ACTION: names[keys.ACTION], EXPLORE_ACTION: names[keys.ACTION]}


# ---- many episodes -----------------------------------------------------------------------------------
def _explored_job(
    checkpoint: str,
    task: str,
    seed: int,
    explore: ExploreConfig,
    safety: str | None,
    execute_steps: int | None,
    max_steps: int,
    task_std: dict[str, float] | None,
) -> ExploredResult:
    policy, env = policy_and_env(checkpoint, task, seed, max_steps)
    std = explore.noise_std if task_std is None else task_std[task]
    noise = ou_noise(max_steps, int(env.action_space.shape[0]), std, explore.noise_steps, seed)
    contact_n = explore.contact_n if explore.noise_until == "first_contact" else None
    return run_explored(env, policy, noise, seed, safety, execute_steps or policy.execute_steps, contact_n)


def collect_explored(
    checkpoint: Path,
    jobs: list[tuple[str, int]],
    explore: ExploreConfig,
    safety: str | None,
    execute_steps: int | None,
    workers: int,
    done: Callable[[ExploredResult], None],
    max_steps: int = 500,
    task_std: dict[str, float] | None = None,
) -> None:
    """Run ``jobs`` ((task, seed) pairs) and call ``done`` with each result in the main process as it finishes;
    ``task_std``: each task's noise std (``adaptive_noise``), else ``explore.noise_std`` for all."""
    run_episode_jobs(_explored_job, checkpoint, jobs, (explore, safety, execute_steps, max_steps, task_std), workers, done)
