"""Closed-loop evaluation of a checkpoint: policy -> executor -> safety layer -> simulator (Meta-World or robosuite).

Episodes run in worker processes (each loads the checkpoint once and keeps one environment per
task). A worker that crashes costs only the episodes it was running: they are reported as
failures with the error, a new worker is started, and the remaining episodes still run.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from concurrent.futures import FIRST_COMPLETED, Future, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from vlastack.envs.collect import EMBODIMENT_SAFETY  # "embodiment": each task its own spec, as collection does
from vlastack.envs.env_cache import EnvCache
from vlastack.errors import ConfigError
from vlastack.evaluation.protocol import EVAL_SEED_OFFSET, EpisodeResult, eval_seed
from vlastack.workers import spawn_pool, terminate_workers


@dataclass(frozen=True)
class EvalConfig:
    """How a checkpoint is evaluated."""

    checkpoint: Path | None
    """Policy checkpoint directory (``model.safetensors``, ``config.json``, ...); None with ``server``."""
    tasks: tuple[str, ...]
    """Task names: Meta-World ones, robosuite ones (``rs-...``, two-arm ones too) or Fetch ones (``fetch-...``)."""
    episodes: int = 10
    """Episodes per task (the protocol uses 10)."""
    max_steps: int = 500
    """Step limit per episode (the protocol uses 500); a robosuite or Fetch task stops at its own limit if that is
    lower (250 control steps at 20 Hz: ``RobosuiteTask.max_steps``; Fetch 100 at 25 Hz: ``FetchTask.max_steps``)."""
    executor: str = "sync"
    """Executor name: sync, ensemble or async."""
    instruction_variant: int = 0
    """Phrasing of the instruction: 0-2 were seen in training, 3 is held out."""
    workers: int = 1
    """Simulator processes; 1 runs in this process."""
    video_tasks: int = 3
    """Record the first episode of this many tasks for the report."""
    image_size: int | None = None
    """Rendered image side; None: the checkpoint's training resolution."""
    safety_spec: str = EMBODIMENT_SAFETY  # also DEFAULT_SPEC below
    """Safety spec applied between executor and simulator (on by default, as users run it): ``embodiment``
    gives each task the spec collection gives it (its robot's own, ``metaworld_sawyer`` for Meta-World; a
    two-arm task its two-arm spec: ``vlastack.envs.collect.default_safety_spec``); a preset name or JSON path
    applies to every task. ``none`` steps the simulator directly, as published benchmark rows were measured;
    reports say which."""
    server: str | None = None
    """``ws://host:port`` of a ``vlastack serve`` policy server to evaluate instead of a local checkpoint."""
    token: str | None = None
    """Shared token for the server, if it asks for one."""
    seed_offset: int = EVAL_SEED_OFFSET
    """Reset seed of episode 0 (episode k uses seed_offset + k): 100000 is the protocol's evaluation range,
    200000 (``VALIDATION_SEED_OFFSET``) the range for making choices."""
    execute_steps: int | None = None
    """Actions of each chunk the sync executor runs before asking again; None: what the checkpoint says
    (its config's ``execute_steps``; the whole chunk when that is None too)."""
    perturb: tuple[str, ...] = ()
    """Named visual perturbations of the scene (``vlastack.envs.perturb.PERTURBATIONS``), combined; empty
    or ``("none",)``: the unperturbed scene. They change how it looks, never its physics."""
    guardrail: Path | None = None
    """A ``vlastack wm guardrail`` directory: the safety layer asks that world model about every chunk
    before it runs and replaces or holds a chunk it predicts unsafe (``SafetyLayer.review_chunk``). Needs
    the layer (not ``none``). None: no learned look-ahead, the hard limits only."""
    guardrail_alternatives: int = 8
    """Alternatives to a flagged chunk the layer may fall back on: the policy's next samples where it samples
    (flow, hybrid), else the chunk moved (``world_model.planner.alternatives``); 0: a flagged chunk is always held."""
    plan: int = 0
    """Best-of-K planning with the guardrail's world model: K candidate chunks (the policy's own and K-1
    alternatives), the one with the highest predicted success among those predicted safe runs. 0 or 1: off."""
    preview: Path | None = None
    """A ``vlastack wm preview train`` run whose strips the report draws (``evaluation.chunk_preview``): the
    recorded episodes come back whole (``Recording.episode``), not only as videos. None: videos only."""
    base_arm_layer: bool = False
    """Every action the executor sends passes through the base-arm layer (execution/base_arm_layer.py) before the
    safety layer and the simulator: it reads the arm's position command as the hand motion wanted and splits it
    between the wheeled base and the arm, replacing the policy's own base translation. One-arm wheeled robots only
    (robosuite tasks with ``mobile``, e.g. ``rs-reachfar-pandaomron``); each episode records its counts
    (``EpisodeResult.base_arm``). False: the policy's actions as they are."""

    def __post_init__(self) -> None:
        if (self.checkpoint is None) == (self.server is None):
            raise ConfigError("give exactly one of checkpoint (a local policy) and server (a remote one)")
        if self.episodes < 1 or self.workers < 1 or not 1 <= self.max_steps <= 500:
            raise ConfigError("episodes and workers must be >= 1 and max_steps in [1, 500]")
        if self.seed_offset < 0:
            raise ConfigError(f"seed_offset must be >= 0, got {self.seed_offset}")
        if self.execute_steps is not None and self.execute_steps < 1:
            raise ConfigError(f"execute_steps must be None or >= 1, got {self.execute_steps}")
        from vlastack.envs.perturb import check_perturbations

        check_perturbations(self.perturb)
        if self.guardrail_alternatives < 0 or self.plan < 0:
            raise ConfigError(f"guardrail_alternatives and plan must be >= 0, got {self.guardrail_alternatives} and {self.plan}")
        if self.guardrail is not None and self.safety_spec == NO_SAFETY:
            raise ConfigError("guardrail: the world-model guardrail is part of the safety layer; it cannot run with safety 'none'")
        if self.plan > 1 and self.guardrail is None:
            raise ConfigError("plan: planning scores chunks with the guardrail's world model; give --guardrail DIR too")
        if self.base_arm_layer:
            from vlastack.execution.base_arm_layer import check_wheeled_tasks

            check_wheeled_tasks(self.tasks, "base_arm_layer")
        self._check_safety()

    def spec_for(self, task: str) -> str | None:
        """The safety spec ``task``'s episodes run behind (a preset name or JSON path), or None for ``none``."""
        if self.safety_spec == NO_SAFETY:
            return None
        if self.safety_spec != EMBODIMENT_SAFETY:
            return self.safety_spec
        from vlastack.envs.collect import default_safety_spec

        spec = default_safety_spec(task)
        if spec is None:
            raise ConfigError(f"safety: the embodiment of {task} has no safety spec yet; evaluate it with --safety none")
        return spec

    def audit_spec_for(self, task: str) -> str | None:
        """The spec ``task``'s episodes are judged against (``LimitAudit``): the one they run behind; for ``none``
        the task's own default, so a run without the layer is measured by the rules one with it keeps (None:
        its robot has no spec, nothing to judge by)."""
        if self.safety_spec != NO_SAFETY:
            return self.spec_for(task)
        from vlastack.envs.collect import default_safety_spec

        return default_safety_spec(task)

    @property
    def safety_label(self) -> str:
        """What results and the episode log record: ``none``, the one spec every task runs behind, or
        ``embodiment`` (each task its own, several). A Meta-World run records ``metaworld_sawyer`` as before."""
        if self.safety_spec == NO_SAFETY:
            return NO_SAFETY
        specs = {self.spec_for(t) for t in self.tasks}
        return str(specs.pop()) if len(specs) == 1 else self.safety_spec

    def _check_safety(self) -> None:
        """Every task's spec (and the one a ``none`` run is judged against) loads and fits the task's action:
        now, in the main process, with the field named, not as a crash in every episode."""
        from vlastack.envs.collect import check_spec_fits

        for task in self.tasks:
            name = self.audit_spec_for(task)
            if name is not None:
                check_spec_fits(task, name, hint="pass --safety with a spec for this robot, 'embodiment' (each task's own) or 'none'")


NO_SAFETY = "none"
"""``safety_spec`` value that runs without the safety layer (benchmark comparisons only)."""
DEFAULT_SPEC = EvalConfig.safety_spec
"""What evaluation runs behind by default: each task's own spec (``EvalConfig.spec_for``)."""


@dataclass
class Recording:
    """What a recorded episode brings back to the main process for the report."""

    video: np.ndarray
    """uint8 [N, H, W, 3]: its cameras side by side with a caption (``video.side_by_side``)."""
    episode: Any = None
    """The recorded :class:`vlastack.types.Episode` (frames, state, the actions the safety layer sent) when
    ``EvalConfig.preview`` asks for it; None otherwise, so nothing more than the video crosses processes."""


# ---- worker side -------------------------------------------------------------------------------
_CACHE: dict[str, Any] = {}  # the policy (once per process), shared-space wrappers, guardrail shields
_ENVS = EnvCache()  # the last two tasks' environments: keeping every MT50 task's grew a worker to ~8 GB (envs/env_cache.py)


def close_envs() -> None:
    """Close this process's kept environments and forget its policy: a test's clean-up (MuJoCo's EGL teardown cannot
    run cleanly at interpreter exit); a worker process lets them go when it exits."""
    _ENVS.clear()
    _CACHE.clear()


class _LocalPolicy:
    """A checkpoint loaded in this process, called as ``policy(observation) -> ActionChunk``."""

    def __init__(self, checkpoint: Path) -> None:
        import torch

        from vlastack.policies import load_policy

        torch.set_num_threads(1)  # one thread per simulator worker: workers, not threads, use the cores
        self.policy = load_policy(checkpoint).pack_for_inference()  # eval mode + the packed CPU inference path
        c = self.policy.config
        # Render at the resolution the training data was recorded at (the policy resizes to its encoder's
        # size itself); rendering straight at the encoder's size would give differently filtered pixels.
        self.cameras, self.image_size, self.depth = tuple(c.cameras), int(self.policy.recorded_image_size[0]), bool(c.use_depth)
        self.execute_steps = getattr(c, "execute_steps", None)
        # A policy trained on T > 1 frames (obs_history) gets the last T control steps' observations, oldest
        # first, as its training windows held them; ``observe`` is fed every step, the policy is asked only
        # at chunk boundaries.
        self.history: deque = deque(maxlen=int(getattr(c, "obs_history", 1)))
        self._lock = threading.Lock()  # the async executor asks from its own thread while the loop observes

    def observe(self, observation: Any) -> None:
        """Every control step's observation, before the executor sees it."""
        with self._lock:
            self.history.append(observation)

    def __call__(self, observation: Any) -> Any:
        import torch

        from vlastack.policies import batch_from_observation

        with torch.inference_mode():
            return self.policy.sample_actions(batch_from_observation(self._frames(observation)))

    def _frames(self, observation: Any) -> Any:
        """``observation`` itself for a one-frame policy; else the history up to it (an asynchronous executor
        may ask about an older step than the last one observed), the oldest repeated to fill T frames, as
        training windows clamp at an episode's start (and as the policy server pads)."""
        t = self.history.maxlen
        if t == 1:
            return observation
        with self._lock:
            seen = list(self.history)
        upto = next((i for i in range(len(seen) - 1, -1, -1) if seen[i] is observation), None)
        frames = seen[: upto + 1] if upto is not None else [observation]
        return [frames[0]] * (t - len(frames)) + frames

    def reset(self, seed: int) -> None:
        """Seed the sampling noise (flow and hybrid draw it from torch's generator) with the episode's
        seed, so an episode's actions do not depend on which worker ran it or what ran before it."""
        import torch

        torch.manual_seed(seed)
        self.policy.reset()  # e.g. a hierarchical policy's plan
        with self._lock:
            self.history.clear()


class _ServedPolicy:
    """A ``vlastack serve`` server; its metadata says which cameras and image size it expects."""

    def __init__(self, url: str, token: str | None) -> None:
        from vlastack.serving.client import RemotePolicy

        self.remote = RemotePolicy(url, token=token)
        info = self.remote.client.metadata.get("policy", {})
        self.cameras = tuple(info.get("cameras", ("corner2",)))
        images = [s for s in self.remote.spec.arrays if s.key.startswith("observation.images.")]
        self.image_size = int(images[0].shape[0]) if images else 128
        self.depth = any(s.key.startswith("observation.depth.") for s in self.remote.spec.arrays)
        self.execute_steps = info.get("execute_steps")

    def observe(self, observation: Any) -> None:
        """Nothing: a served policy keeps its own history of the observations it is sent."""

    def __call__(self, observation: Any) -> Any:
        return self.remote(observation)

    def reset(self, seed: int) -> None:
        # The server samples its own noise; only the chunk history is reset (its episodes are not seeded).
        self.remote.reset()


def _policy(config: EvalConfig, task: str) -> Any:
    """The policy ``task``'s episodes run: the checkpoint loaded once per process; one trained in the shared action
    space (``vlastack data embody``) wrapped for ``task``'s robot (vlastack.embodiments.adapter), once per task."""
    key = f"policy/{config.checkpoint}/{config.server}"
    if key not in _CACHE:
        _CACHE[key] = _ServedPolicy(config.server, config.token) if config.server else _LocalPolicy(config.checkpoint)
    policy = _CACHE[key]
    if isinstance(policy, _LocalPolicy):
        from vlastack.embodiments.adapter import SharedSpacePolicy, is_shared_space

        if is_shared_space(policy.policy.data_info):
            if f"{key}/{task}" not in _CACHE:
                _CACHE[f"{key}/{task}"] = SharedSpacePolicy(policy, task)
            return _CACHE[f"{key}/{task}"]
    return policy


def run_episode(config: EvalConfig, task: str, episode: int, record: bool) -> tuple[EpisodeResult, Recording | None]:
    """One evaluation episode and, with ``record``, its :class:`Recording`; never raises (a crash is an
    unsuccessful, annotated episode)."""
    seed = eval_seed(episode, config.seed_offset)
    try:
        from vlastack.envs.metaworld import FPS, make_env
        from vlastack.envs.rollout import rollout
        from vlastack.envs.tasks import step_limit
        from vlastack.evaluation.limits import LimitAudit
        from vlastack.evaluation.timeline import safety_timeline
        from vlastack.evaluation.video import side_by_side
        from vlastack.execution import FakeClock, executor_act, make_executor
        from vlastack.execution.base import INFERENCE_ERROR
        from vlastack.safety import SafeActuator
        from vlastack.safety.two_arm_loading import load_any_spec

        policy = _policy(config, task)
        env = _ENVS.get(
            f"{task}/{','.join(config.perturb)}",
            lambda: make_env(
                task,
                cameras=policy.cameras,
                image_size=config.image_size or policy.image_size,
                depth=policy.depth,
                touch=True,
                max_steps=min(config.max_steps, step_limit(task)),  # robosuite and Fetch tasks allow fewer than 500
                instruction_variant=config.instruction_variant,
                perturb=config.perturb,
            ),
        )
        # Every episode is judged against the spec's limits by where the arm went, layer or not; ``none``
        # is judged against the task's default spec, so a run without the layer is measured by the same rules.
        audit_spec = config.audit_spec_for(task)
        audit = LimitAudit(env, None if audit_spec is None else load_any_spec(audit_spec))
        latency: list[float] = []
        policy.reset(seed)

        def timed(fn):
            def call(observation):
                t = time.perf_counter()
                chunk = fn(observation)
                latency.append((time.perf_counter() - t) * 1000)
                return chunk

            return call

        policy_fn = policy

        clock = FakeClock()
        k = config.execute_steps or policy.execute_steps
        spec = config.spec_for(task)
        actuator = SafeActuator(audit, spec, clock=clock) if spec is not None else None
        if actuator is not None and config.guardrail is not None:
            if not hasattr(actuator.layer, "chunk_guard"):
                raise ConfigError(f"guardrail: the one-arm Meta-World layer takes a chunk guard; {task}'s layer does not")
            actuator.layer.chunk_guard = _shield(config.guardrail)
            policy_fn = _looking_ahead(policy, actuator, config, np.random.default_rng(seed))
        executor = make_executor(config.executor, timed(policy_fn), clock=clock, **({"k": k} if config.executor == "sync" and k else {}))
        executor.reset()
        # One control period of simulated time per step: 80 Hz for Meta-World, 20 Hz for robosuite.
        act = executor_act(executor, clock, advance_s=1.0 / getattr(env, "metadata", {}).get("render_fps", FPS))
        layer = None
        if config.base_arm_layer:
            from vlastack.execution.base_arm_layer import BaseArmLayer

            # After the executor: the layer splits one step's motion using where the hand and the mount are now,
            # which a chunk computed steps ago cannot know, so it works per step on what the executor sends. Before
            # the safety layer (actuator, below): the layer is part of the controller, and the safety layer must judge
            # the command the robot is actually sent, base included.
            act = layer = BaseArmLayer(act, env.names)

        def observe_and_act(observation, info):
            policy.observe(observation)
            return act(observation, info)

        result = rollout(actuator or audit, observe_and_act, seed=seed, record=record)
        # A policy that raises is not fatal to the control loop (the executor holds the arm and reports an
        # event); an evaluation must not count such an episode as an ordinary failure: it is a crash.
        failed = [e for e in executor.events if e["event"] == INFERENCE_ERROR]
        error = None
        if failed:
            error = f"the policy failed {len(failed)} of {len(failed) + len(latency)} calls (those gave no actions); first: {failed[0].get('error')}"
        recording = None
        if record and result.episode is not None:
            streams = [v for k, v in result.episode.frames.items() if k.startswith("observation.images.")]
            video = side_by_side(streams, caption=f"{task} seed {seed}: {'success' if result.success else 'fail'}")
            recording = Recording(video, result.episode if config.preview is not None else None)
        safety = actuator.summary() if actuator is not None else {}
        timeline = safety_timeline(actuator.log) if actuator is not None else []
        return (
            EpisodeResult(
                task,
                seed,
                result.success,
                result.steps,
                latency,
                safety=safety,
                instruction=audit.instruction,
                safety_timeline=timeline,
                limits=audit.summary(),
                error=error,
                base_arm=layer.summary() if layer is not None else {},
            ),
            recording,
        )
    except Exception as err:  # noqa: BLE001 - any crash is reported, never fatal to the evaluation
        return EpisodeResult(task, seed, False, 0, error=f"{type(err).__name__}: {err}"), None


def _shield(directory: Path) -> Any:
    key = f"shield/{directory}"
    if key not in _CACHE:
        from vlastack.world_model.shield import WorldModelShield

        _CACHE[key] = WorldModelShield.load(directory)
    return _CACHE[key]


def _looking_ahead(policy: Any, actuator: Any, config: EvalConfig, rng: np.random.Generator) -> Any:
    """``policy`` with the world model in front of the executor: best-of-K planning when ``config.plan`` > 1,
    then the safety layer's review of the chunk that is to run (``SafeActuator.review_chunk``). A flagged
    chunk's alternatives are the policy's next samples where it samples (flow, hybrid: ``noise_shape``), else
    the chunk moved (``world_model.planner.alternatives``). Both are timed as part of the policy call: the arm
    waits for them as it waits for inference."""
    from vlastack.types import ActionChunk
    from vlastack.world_model.planner import PlanConfig, alternatives, best_of_k

    plan = PlanConfig(candidates=max(config.plan, 1))
    n = config.guardrail_alternatives

    def act(observation: Any) -> Any:
        chunk = policy(observation)
        actions = np.asarray(chunk.actions[0], dtype=np.float32)
        shield = actuator.layer.chunk_guard
        if plan.candidates > 1:
            candidates = np.concatenate([actions[None], alternatives(actions, plan.candidates - 1, rng, plan.spread)])
            actions = candidates[best_of_k(shield, actuator.observation, candidates, plan)[0]]

        def fallback() -> np.ndarray | None:
            if n == 0:
                return None
            sampled = _policy_samples(policy, observation, n, rng)
            return sampled if sampled is not None else alternatives(actions, n, rng, plan.spread)

        chosen = actuator.review_chunk(actions, fallback).actions
        return ActionChunk(chosen[None], chunk.inference_ms, chunk.info)

    return act


def _policy_samples(policy: Any, observation: Any, n: int, rng: np.random.Generator) -> np.ndarray | None:
    """``n`` more chunks [n, H, D] from a sampling policy loaded here for ``observation`` (noise from ``rng``);
    None for a deterministic one, a served one (its server draws the noise) or one that reads several frames."""
    import torch

    from vlastack.policies import batch_from_observation

    inner = getattr(policy, "policy", None)
    shape = None if inner is None else inner.noise_shape(n)
    if shape is None or int(getattr(inner.config, "obs_history", 1)) != 1:
        return None
    one = batch_from_observation(observation)  # a batch of 1; its rows repeated n times
    batch = replace(
        one,
        features={k: v.repeat(n, *([1] * (v.dim() - 1))) for k, v in one.features.items()},
        instruction=one.instruction * n,
        embodiment_id=None if one.embodiment_id is None else one.embodiment_id.repeat(n),
    )
    noise = torch.from_numpy(rng.standard_normal(shape).astype(np.float32))
    with torch.inference_mode():
        return np.asarray(inner.sample_actions(batch, noise=noise).actions, dtype=np.float32)


# ---- main side ---------------------------------------------------------------------------------
def evaluate(
    config: EvalConfig, progress: bool = True, log_dir: Path | None = None, resume: bool = False
) -> tuple[list[EpisodeResult], dict[str, Recording]]:
    """All episodes of the protocol; returns the results and the recorded episodes (task -> :class:`Recording`).

    With ``log_dir`` every finished episode is appended to ``log_dir/episodes.jsonl``; with
    ``resume`` the episodes already there (same settings) are kept instead of run again, except
    crashed ones and the few recorded for the report's videos (episodes are seeded, so a re-run
    recorded episode gives the same result).
    """
    from tqdm import tqdm

    from vlastack.evaluation.episode_log import LOG_NAME, EpisodeLog, settings_of

    if resume and log_dir is None:
        raise ConfigError("resume reads the episodes an interrupted run logged in its report directory: give --report DIR")
    _check_checkpoint(config.checkpoint)
    jobs = [(t, k, k == 0 and i < config.video_tasks) for i, t in enumerate(config.tasks) for k in range(config.episodes)]
    results: list[EpisodeResult] = []
    recordings: dict[str, Recording] = {}
    log = None if log_dir is None else EpisodeLog(log_dir / LOG_NAME, settings_of(config))
    if log is not None:
        if resume:
            wanted = {(t, eval_seed(k, config.seed_offset)) for t, k, record in jobs if not record}
            results = [r for r in log.load() if (r.task, r.seed) in wanted and r.error is None]
            finished = {(r.task, r.seed) for r in results}
            jobs = [j for j in jobs if (j[0], eval_seed(j[1], config.seed_offset)) not in finished]
        log.start(results)
    bar = tqdm(total=len(jobs) + len(results), initial=len(results), desc="evaluation", unit="ep", disable=not progress)

    def done(res: EpisodeResult, recording: Recording | None) -> None:
        results.append(res)
        if log is not None:
            log.append(res)
        if recording is not None:
            recordings[res.task] = recording
        bar.update(1)
        bar.set_postfix(success=f"{np.mean([r.success for r in results]):.0%}")

    try:
        if config.workers == 1:
            for job in jobs:
                done(*run_episode(config, *job))
        else:
            _run_parallel(config, jobs, done)
    finally:
        bar.close()
    position = {t: i for i, t in enumerate(config.tasks)}
    results.sort(key=lambda r: (position[r.task], r.seed))  # the protocol's order, however workers finished
    return results, recordings


def _run_parallel(config: EvalConfig, jobs: list[tuple[str, int, bool]], done: Any) -> None:
    """One episode per worker at a time, so that when a worker dies we know which episodes it took."""
    pending = list(reversed(jobs))
    while pending:
        with spawn_pool(config.workers) as pool:
            running: dict[Future, tuple[str, int, bool]] = {}
            broken = False
            try:
                while (pending or running) and not broken:
                    while pending and len(running) < config.workers:
                        job = pending.pop()
                        running[pool.submit(run_episode, config, *job)] = job
                    finished, _ = wait(running, return_when=FIRST_COMPLETED)
                    for f in finished:
                        job = running.pop(f)
                        try:
                            done(*f.result())
                        except BrokenProcessPool as err:
                            done(
                                EpisodeResult(
                                    job[0], eval_seed(job[1], config.seed_offset), False, 0, error=f"simulator worker crashed: {err}"
                                ),
                                None,
                            )
                            broken = True
            except KeyboardInterrupt:
                # Stop now rather than wait for the episodes in flight (up to a minute each): they
                # are not logged, so a resume runs them again.
                terminate_workers(pool)
                raise
            if broken:  # the pool is unusable: every episode it was running failed with it
                for job in running.values():
                    done(EpisodeResult(job[0], eval_seed(job[1], config.seed_offset), False, 0, error="simulator worker crashed"), None)


def _check_checkpoint(path: Path | None) -> None:
    """Fail early, in the main process, with the checkpoint's own error message."""
    if path is None:
        return
    from vlastack.checkpoint import read_policy_meta

    read_policy_meta(path)
