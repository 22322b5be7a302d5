"""Collect scripted-expert demonstrations into a LeRobot v3 dataset, in parallel, resumably.

Seeds: task T's demonstrations try reset seeds ``seed_offset, seed_offset + 1, ...`` in order;
an episode the expert fails is dropped, counted, and the next seed is tried. Evaluation uses seeds
from ``vlastack.evaluation`` far above these (see ``EVAL_SEED_OFFSET``), so the two never share
a start. The instruction phrasing of an episode is ``seed % TRAIN_PARAPHRASES``: every training
phrasing appears, the held-out ones never do.

Safety: by default every expert action goes through the safety layer
(:class:`vlastack.safety.SafeActuator`) with the spec of the task's embodiment (``metaworld_sawyer``,
``robosuite_<arm>``: :mod:`vlastack.embodiments`; a two-arm task's two-arm spec, ``robosuite_<task>``:
:func:`default_safety_spec`), or with ``CollectConfig.safety`` if it names one, so
the recorded actions are the ones the layer allowed and never teach a limit violation; each frame
records how many changes the layer made (``safety.interventions``) and whether it held
(``safety.held``). The spec's name is kept in the collection log, and a resumed run must use the same one.

Crash safety: workers only simulate; the main process alone writes, one whole episode at a time
(see episodes/writer.py). Tried seeds are logged in ``meta/vlastack_collect.json`` after each
episode, so a resumed run neither redoes finished episodes nor retries known failures.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from vlastack.envs.env_cache import EnvCache
from vlastack.envs.fetch_tasks import TASKS as FETCH_TASKS
from vlastack.envs.fetch_tasks import is_fetch_task
from vlastack.envs.instructions import TRAIN_PARAPHRASES, instruction
from vlastack.envs.robosuite_tasks import TASKS as ROBOSUITE_TASKS
from vlastack.envs.robosuite_tasks import is_robosuite_task
from vlastack.envs.tasks import resolve_tasks
from vlastack.episodes import layout
from vlastack.episodes.video import VideoSettings
from vlastack.errors import ConfigError
from vlastack.types import Episode
from vlastack.workers import run_jobs

LOG_PATH = "meta/vlastack_collect.json"
#: ``CollectConfig.safety``: each task's embodiment's own safety spec.
EMBODIMENT_SAFETY = "embodiment"


@dataclass(frozen=True)
class CollectConfig:
    """A demonstration collection run."""

    tasks: tuple[str, ...]
    """Task names (groups already resolved): Meta-World ones, robosuite ones (``rs-...``) or Fetch ones
    (``fetch-...``), one suite per dataset (their state and action vectors differ)."""
    episodes: int
    """Successful demonstrations wanted per task."""
    out: Path
    """Dataset directory; created, or resumed if it holds an earlier run."""
    image_size: int = 128
    """Square camera image side in pixels."""
    cameras: tuple[str, ...] = ("corner2", "gripperPOV")
    """Cameras recorded, each as a video stream."""
    depth: bool = False
    """Record depth (metres) per camera as float32 arrays."""
    touch: bool = True
    """Record finger contact forces (newtons)."""
    workers: int = 1
    """Simulator processes; 1 runs in this process."""
    seed_offset: int = 0
    """First reset seed of every task's demonstrations."""
    max_failures: int = 50
    """Give up on a task after this many failed expert episodes."""
    video: VideoSettings = field(default_factory=VideoSettings)
    """How camera streams are encoded."""
    safety: str | None = EMBODIMENT_SAFETY
    """Safety spec every expert action passes through before it is applied and recorded:
    ``"embodiment"`` (each task's robot's own, ``Embodiment.safety_spec``; two-arm tasks their two-arm
    spec: :func:`default_safety_spec`), a preset name or a JSON path (for every task); None steps the
    simulator directly and records the expert's raw actions. The wheeled robosuite robot's is
    ``robosuite_pandaomron`` (its hand's limits plus bounds on the base and torso commands)."""
    perturb: tuple[str, ...] = ()
    """Visual perturbations or randomisation mixes (envs/perturb.py, e.g. ``randomise``) drawn
    at each reset from the episode's seed, for training with randomisation; they never change the physics."""
    base_arm_layer: bool = False
    """The base-arm layer (execution/base_arm_layer.py) sits between the expert and the robot: the expert is the task's
    arm-only one, its arm command is read as the hand motion wanted and split between the wheeled base and the arm,
    and the dataset records the expert's command, not the split (behind a safety layer too: the frames' safety columns
    then count what it changed in the split): what a policy that runs over the layer
    (``vlastack eval --base-arm-layer``) learns to give. One-arm wheeled robots only (e.g. ``rs-reachfar-pandaomron``).
    False: each task's own expert, recorded as it acts (on ``rs-reachfar-pandaomron`` that is the layer's split)."""

    def __post_init__(self) -> None:
        if self.episodes < 1:
            raise ConfigError(f"episodes must be >= 1, got {self.episodes}")
        if self.workers < 1:
            raise ConfigError(f"workers must be >= 1, got {self.workers}")
        if self.image_size % 2:
            raise ConfigError(f"image_size must be even (video encoding needs it), got {self.image_size}")
        suites = {suite_of(t) for t in self.tasks}
        if len(suites) > 1:
            raise ConfigError(
                f"tasks: tasks of several suites {sorted(suites)} (robosuite rs-..., Fetch fetch-..., Meta-World) "
                "cannot share a dataset (other state and action vectors)"
            )
        if "fetch" in suites:
            no_expert = [t for t in self.tasks if not FETCH_TASKS[t].expert]
            if no_expert:
                raise ConfigError(f"tasks: no scripted expert yet for {no_expert} (environments only)")
        if "robosuite" in suites:
            from vlastack.envs.robosuite_env import feature_names

            layouts = {t: feature_names(t)["action"] for t in self.tasks}
            if len({tuple(v) for v in layouts.values()}) > 1:
                raise ConfigError(f"tasks: robosuite tasks with different action layouts cannot share a dataset: {layouts}")
            no_expert = [t for t in self.tasks if not ROBOSUITE_TASKS[t].expert]
            if no_expert:
                raise ConfigError(f"tasks: no scripted expert yet for {no_expert} (environments only)")
        if self.safety is not None:
            self._check_safety()
        if self.perturb:
            from vlastack.envs.perturb import check_perturbations

            check_perturbations(self.perturb)
        if self.base_arm_layer:
            from vlastack.execution.base_arm_layer import check_wheeled_tasks

            check_wheeled_tasks(self.tasks, "base_arm_layer")

    def spec_for(self, task: str) -> str | None:
        """The safety spec ``task``'s actions go through (a preset name or a JSON path), or None."""
        if self.safety != EMBODIMENT_SAFETY:
            return self.safety
        try:
            spec = default_safety_spec(task)
        except ConfigError as e:
            raise ConfigError(f"safety: {e}; collect it with safety=None (--no-safety)") from None
        if spec is None:
            raise ConfigError(f"safety: the embodiment of {task} has no safety spec yet; collect it with safety=None (--no-safety)")
        return spec

    @property
    def safety_label(self) -> str | None:
        """What the collection log records: None, the one spec every task uses, or ``"embodiment"`` (several)."""
        if self.safety is None:
            return None
        specs = {self.spec_for(t) for t in self.tasks}
        return specs.pop() if len(specs) == 1 else str(self.safety)

    def _check_safety(self) -> None:
        """Every task's spec loads and fits its action: now, in the main process, not in every worker."""
        for task in self.tasks:
            check_spec_fits(task, self.spec_for(task), hint=f"use its own ({EMBODIMENT_SAFETY!r}, the default) or --no-safety")


@dataclass
class CollectSummary:
    """Per task: demonstrations kept, expert failures dropped, steps simulated."""

    kept: dict[str, int]
    failed: dict[str, int]
    steps: dict[str, int]
    sim_ms: float
    given_up: list[str]
    safety_changed: dict[str, int] = field(default_factory=dict)
    """Per task: steps of the kept demonstrations whose action the safety layer changed (this run)."""


# ---- worker side ----------------------------------------------------------------------------------
# (environment, what the expert steps, expert) of the last two tasks; keeping all 50 grew a worker to ~8 GB
_ENVS = EnvCache(close=lambda kept: kept[0].close())


def _run_one(
    task: str, seed: int, env_kwargs: dict[str, Any], safety: str | None = None, base_arm_layer: bool = False
) -> tuple[str, int, Episode | None, int, float]:
    """Simulate one expert episode (in a worker); returns the episode only if it succeeded."""
    from vlastack.envs.experts import expert_for
    from vlastack.envs.metaworld import make_env
    from vlastack.envs.rollout import rollout
    from vlastack.safety import SafeActuator

    def make() -> tuple[Any, Any, Any]:
        env = make_env(task, **env_kwargs)
        stepped = env if safety is None else SafeActuator(env, safety)
        if base_arm_layer:  # outermost: the recorded action is the expert's, the split goes on to safety and robot
            from vlastack.execution.base_arm_layer import BaseArmEnv

            stepped = BaseArmEnv(stepped, names=env.names)  # the safety layer's actuator does not pass names on
        return env, stepped, expert_for(task, arm_only=base_arm_layer)

    env, stepped, expert = _ENVS.get(f"{task}/{safety}/{base_arm_layer}", make)
    env.instruction = instruction(task, seed % TRAIN_PARAPHRASES)
    result = rollout(stepped, expert.act, seed=seed, record=True)
    return task, seed, (result.episode if result.success else None), result.steps, result.sim_ms


# ---- main side ------------------------------------------------------------------------------------
def suite_of(task: str) -> str:
    """The simulator suite of a task: ``robosuite``, ``fetch`` or ``metaworld`` (long-horizon tasks too)."""
    return "robosuite" if is_robosuite_task(task) else "fetch" if is_fetch_task(task) else "metaworld"


def episode_feature_names(
    robosuite_task: str | None = None, robosuite_tasks: tuple[str, ...] = (), fetch: bool = False
) -> dict[str, list[str]]:
    """Names of the entries of a recorded episode's vector features (state, action, touch, what the
    safety layer did), for ``DatasetWriter(feature_names=...)``: Meta-World's, a robosuite task's, or with
    ``fetch`` the Fetch tasks' (one layout for all three, privileged state included); with ``robosuite_tasks``
    (the dataset's tasks) also the privileged state's, in the layout they share (envs/privileged_layout.py)."""
    from vlastack import keys
    from vlastack.envs.rollout import SAFETY_HELD, SAFETY_INTERVENTIONS

    extra: dict[str, list[str]] = {}
    if fetch:
        from vlastack.envs.fetch_env import ACTION_NAMES as action
        from vlastack.envs.fetch_env import PRIVILEGED_NAMES
        from vlastack.envs.fetch_env import STATE_NAMES as state
        from vlastack.envs.fetch_env import TOUCH_NAMES as touch

        extra[keys.ENV_STATE] = list(PRIVILEGED_NAMES)
    elif robosuite_task is not None:
        from vlastack.envs.privileged_layout import dataset_privileged_names
        from vlastack.envs.robosuite_env import feature_names

        names = feature_names(robosuite_task)
        state, action, touch = names["state"], names["action"], names["touch"]
        if robosuite_tasks:
            extra[keys.ENV_STATE] = dataset_privileged_names(robosuite_tasks)
    else:
        from vlastack.envs.metaworld import ACTION_NAMES as action
        from vlastack.envs.metaworld import STATE_NAMES as state
        from vlastack.envs.metaworld import TOUCH_NAMES as touch
    return {
        keys.STATE: state,
        keys.ACTION: action,
        keys.TOUCH: touch,
        SAFETY_INTERVENTIONS: ["interventions"],
        SAFETY_HELD: ["held"],
        **extra,
    }


def robot_type(tasks: tuple[str, ...]) -> str:
    """The dataset's LeRobot ``robot_type``: Meta-World's Sawyer, the one robosuite arm make of the
    tasks, ``fetch``, or ``mixed`` for several (each episode's ``vlastack/env_task`` names its arm)."""

    def robots_of(t: str) -> tuple[str, ...]:
        return ROBOSUITE_TASKS[t].robots if is_robosuite_task(t) else ("fetch",) if is_fetch_task(t) else ("sawyer",)

    robots = {r for t in tasks for r in robots_of(t)}
    return robots.pop().lower() if len(robots) == 1 else "mixed"


def collect(config: CollectConfig, progress: bool = True) -> CollectSummary:
    from tqdm import tqdm

    from vlastack import keys
    from vlastack.envs.privileged_layout import to_dataset_layout
    from vlastack.envs.rollout import SAFETY_INTERVENTIONS
    from vlastack.episodes.writer import DatasetWriter

    robosuite = is_robosuite_task(config.tasks[0])
    names = episode_feature_names(
        config.tasks[0] if robosuite else None, config.tasks if robosuite else (), fetch=is_fetch_task(config.tasks[0])
    )
    log = _load_log(config.out)
    _check_same_look(config, log)  # before the safety check, which marks the log as started
    _check_same_safety(config, log)
    writer = DatasetWriter(config.out, robot_type=robot_type(config.tasks), video=config.video, feature_names=names)
    _check_same_privileged_layout(config.out, writer, names)
    _save_log(config.out, log)  # the safety setting, before the first episode
    kept = {t: 0 for t in config.tasks}
    for row in writer.episode_rows():
        if row.get("vlastack/env_task") in kept:
            kept[row["vlastack/env_task"]] += 1
    failed = {t: len(log["failed"].get(t, [])) for t in config.tasks}
    tried = {
        t: set(log["failed"].get(t, [])) | {int(r["vlastack/seed"]) for r in writer.episode_rows() if r.get("vlastack/env_task") == t}
        for t in config.tasks
    }
    steps = {t: 0 for t in config.tasks}
    changed = {t: 0 for t in config.tasks}
    given_up: list[str] = []
    env_kwargs = dict(cameras=config.cameras, image_size=config.image_size, depth=config.depth, touch=config.touch)
    if config.perturb:
        env_kwargs["perturb"] = config.perturb

    pending = {t: 0 for t in config.tasks}  # episodes in flight per task
    cursor = {t: config.seed_offset for t in config.tasks}

    def next_job() -> tuple[str, int] | None:
        """The next (task, seed) to try, round-robin over tasks, or None if nothing is needed now."""
        for t in sorted(config.tasks, key=lambda t: kept[t] + pending[t]):
            if kept[t] + pending[t] >= config.episodes or t in given_up:
                continue
            while cursor[t] in tried[t]:
                cursor[t] += 1
            tried[t].add(cursor[t])
            pending[t] += 1
            return t, cursor[t]
        return None

    total = len(config.tasks) * config.episodes
    bar = tqdm(total=total, initial=sum(kept.values()), desc="demonstrations", unit="ep", disable=not progress)
    sim_ms = 0.0

    def handle(task: str, seed: int, episode: Episode | None, n_steps: int, ms: float) -> None:
        nonlocal sim_ms
        pending[task] -= 1
        steps[task] += n_steps
        sim_ms += ms
        if episode is not None and kept[task] < config.episodes:
            if robosuite:  # tasks with other objects share one privileged layout (envs/privileged_layout.py)
                episode.frames[keys.ENV_STATE] = to_dataset_layout(task, episode.frames[keys.ENV_STATE], names[keys.ENV_STATE])
            writer.add_episode(episode)
            kept[task] += 1
            if SAFETY_INTERVENTIONS in episode.frames:
                changed[task] += int(np.count_nonzero(episode.frames[SAFETY_INTERVENTIONS]))
            bar.update(1)
        elif episode is None:
            failed[task] += 1
            log["failed"].setdefault(task, []).append(seed)
            _save_log(config.out, log)
            if failed[task] >= config.max_failures and task not in given_up:
                given_up.append(task)
        bar.set_postfix(dropped=sum(failed.values()))

    try:
        if config.workers == 1:
            while (job := next_job()) is not None:
                handle(*_run_one(*job, env_kwargs, config.spec_for(job[0]) if config.safety else None, config.base_arm_layer))
        else:
            _run_parallel(config.workers, next_job, env_kwargs, handle, config)
    finally:
        bar.close()
    return CollectSummary(kept=kept, failed=failed, steps=steps, sim_ms=sim_ms, given_up=given_up, safety_changed=changed)


def _run_parallel(
    workers: int,
    next_job: Callable[[], tuple[str, int] | None],
    env_kwargs: dict[str, Any],
    handle: Callable[..., None],
    config: CollectConfig,
) -> None:
    """Keep up to ``2 * workers`` episodes in flight (fresh processes, no inherited GL context, that die
    with this one); write each as it finishes."""

    def job() -> tuple | None:
        task_seed = next_job()
        if task_seed is None:
            return None
        return (*task_seed, env_kwargs, config.spec_for(task_seed[0]) if config.safety else None, config.base_arm_layer)

    run_jobs(
        workers,
        job,
        _run_one,
        lambda result: handle(*result),
        "every finished episode is saved in the dataset, and running the same command again resumes the collection",
    )


def _check_same_privileged_layout(out: Path, writer: Any, names: dict[str, list[str]]) -> None:
    """Refuse to resume a robosuite dataset whose recorded privileged entries are named otherwise (other tasks)."""
    from vlastack import keys

    if keys.ENV_STATE not in names or not writer.features or keys.ENV_STATE not in writer.features:
        return
    had = writer.features[keys.ENV_STATE].get("names")
    if had is not None and list(had) != names[keys.ENV_STATE]:
        raise ConfigError(
            f"tasks: the dataset at {out} records {keys.ENV_STATE} as {list(had)}, these tasks as {names[keys.ENV_STATE]}: "
            "collect other tasks into a new --out"
        )


def _check_same_safety(config: CollectConfig, log: dict[str, Any]) -> None:
    """Record the safety spec in the log; refuse to resume a dataset collected with another one."""
    wanted = config.safety_label
    if "safety" in log and log["safety"] != wanted:
        was = "no safety layer (--no-safety)" if log["safety"] is None else f"the safety spec {log['safety']!r}"
        now = "no safety layer" if wanted is None else f"{wanted!r}"
        raise ConfigError(
            f"safety: {config.out} was collected with {was}; resuming it with {now} would mix "
            "the two in one dataset: use the same setting, or another --out"
        )
    log["safety"] = wanted


def _check_same_look(config: CollectConfig, log: dict[str, Any]) -> None:
    """Record the visual perturbations in the log; refuse to resume a dataset collected with others."""
    from vlastack.envs.perturb import check_perturbations

    wanted = sorted(check_perturbations(config.perturb))
    started = "safety" in log  # saved before the first episode of every run since the safety setting existed
    if started and log.get("perturb", []) != wanted:  # a log from before this setting: unperturbed
        raise ConfigError(
            f"perturb: {config.out} was collected with perturbations {log.get('perturb', [])}; resuming it with "
            f"{wanted} would mix the two looks in one dataset: use the same setting, or another --out"
        )
    log["perturb"] = wanted
    if started and log.get("base_arm_layer", False) != config.base_arm_layer:  # a log from before this setting: without
        raise ConfigError(
            f"base_arm_layer: {config.out} was collected with base_arm_layer={log.get('base_arm_layer', False)}; resuming it "
            f"with {config.base_arm_layer} would mix split and wanted motions in one dataset: use the same setting, or another --out"
        )
    log["base_arm_layer"] = config.base_arm_layer


def _load_log(root: Path) -> dict[str, Any]:
    path = root / LOG_PATH
    if path.exists():
        try:
            return json.loads(path.read_text())
        except json.JSONDecodeError:
            pass  # a log lost to a crash only costs retrying known failures
    return {"failed": {}}


def _save_log(root: Path, log: dict[str, Any]) -> None:
    layout.write_json_atomic(root / LOG_PATH, log)


def default_safety_spec(task: str) -> str | None:
    """The spec ``task``'s actions go through by default (``CollectConfig.safety == "embodiment"``): its robot's
    own (``Embodiment.safety_spec``); for a two-arm robosuite task, whose two robots have no joint embodiment,
    its two-arm spec (each arm's own limits plus a keep-out between the hands, safety/presets_robosuite_two_arm.py).
    None: no spec yet. An unknown task is a ConfigError."""
    if is_robosuite_task(task) and ROBOSUITE_TASKS[task].arms > 1:
        from vlastack.safety.presets_robosuite_two_arm import TWO_ARM_SPECS

        return TWO_ARM_SPECS[task].name if task in TWO_ARM_SPECS else None
    from vlastack.embodiments import embodiment_for_task

    return embodiment_for_task(task).safety_spec


def task_action_dim(task: str) -> int:
    """Entries of ``task``'s action (no simulator needed): Meta-World's 4, the robosuite task's layout, Fetch's 4."""
    if is_fetch_task(task):
        from vlastack.envs.fetch_env import ACTION_DIM as FETCH_ACTION_DIM

        return FETCH_ACTION_DIM
    if is_robosuite_task(task):
        from vlastack.envs.robosuite_env import feature_names

        return len(feature_names(task)["action"])
    from vlastack.envs.metaworld import ACTION_DIM

    return ACTION_DIM


def check_spec_fits(task: str, source: str, hint: str = "") -> Any:
    """The safety spec ``source`` names (a preset name, two-arm ones too, or a JSON path), loaded and checked to
    judge ``task``'s actions; a ConfigError starting ``safety:`` (``hint`` appended) when it cannot."""
    from vlastack.safety.two_arm_loading import action_dim, load_any_spec

    try:
        spec = load_any_spec(source)
    except ConfigError as e:
        raise ConfigError(f"safety: {e}") from None
    dim = task_action_dim(task)
    if action_dim(spec) != dim:
        raise ConfigError(
            f"safety: the spec {spec.name!r} is for actions of {action_dim(spec)} entries, {task} takes {dim}"
            + (f"; {hint}" if hint else "")
        )
    return spec


def without_safety_spec(tasks: list[str] | tuple[str, ...]) -> list[str]:
    """The tasks that have no default safety spec (none today: every robot has one; a new robot may not)."""
    out = []
    for task in tasks:
        try:
            if default_safety_spec(task) is None:
                out.append(task)
        except ConfigError:  # no embodiment for it
            out.append(task)
    return out


def resolve_config(tasks: str, **kwargs: Any) -> CollectConfig:
    return CollectConfig(tasks=tuple(resolve_tasks(tasks)), **kwargs)
