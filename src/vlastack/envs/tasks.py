"""Meta-World v3 task names and the benchmark's groups (easy, medium, hard, very_hard, mt10, mt50).

The task lists are a copy of ``shared/benchmarks/metaworld_tasks.json`` (difficulty split of Seo et
al., Masked World Models, as used in the SmolVLA paper, arXiv 2506.01844, Table 2).
"""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources

from vlastack.envs.fetch_tasks import GROUPS as FETCH_GROUPS
from vlastack.envs.fetch_tasks import TASKS as FETCH_TASKS
from vlastack.envs.long_horizon import SUITE
from vlastack.envs.robosuite_tasks import GROUPS as ROBOSUITE_GROUPS
from vlastack.envs.robosuite_tasks import TASKS as ROBOSUITE_TASKS
from vlastack.registry import unknown_name_error

#: Difficulty groups in the order the published table reports them.
DIFFICULTY_GROUPS = ("easy", "medium", "hard", "very_hard")


@lru_cache(maxsize=1)
def _table() -> dict:
    with resources.files("vlastack.envs").joinpath("metaworld_tasks.json").open() as f:
        return json.load(f)


@lru_cache(maxsize=1)
def groups() -> dict[str, tuple[str, ...]]:
    """Group name -> task names: the four difficulty groups, ``mt10``, ``mt50`` (all 50),
    ``long_horizon`` (vlastack's multi-stage suite, envs/long_horizon.py) and the robosuite groups
    (``rs_lift``, ``rs_two_arm``, ``rs_mobile``, ``rs_mobile_far``: envs/robosuite_tasks.py) and ``fetch``
    (envs/fetch_tasks.py)."""
    table = _table()
    out = {name: tuple(tasks) for name, tasks in table["difficulty_groups"].items()}
    out["mt10"] = tuple(table["mt10"])
    out["mt50"] = tuple(t for g in DIFFICULTY_GROUPS for t in out[g])
    out["long_horizon"] = tuple(SUITE)
    out.update(ROBOSUITE_GROUPS)
    out.update(FETCH_GROUPS)
    return out


def all_tasks() -> tuple[str, ...]:
    """The 50 Meta-World tasks."""
    return groups()["mt50"]


def known_tasks() -> tuple[str, ...]:
    """Every task an environment can be made for: the 50 Meta-World tasks, the long-horizon suite and
    the robosuite tasks (``rs-...``; those need the robosuite extra to run) and the Fetch tasks (``fetch-...``;
    the fetch extra)."""
    return (*all_tasks(), *SUITE, *ROBOSUITE_TASKS, *FETCH_TASKS)


def scene_of(task: str) -> str:
    """The Meta-World task whose scene ``task`` runs in (itself, except for the long-horizon suite)."""
    return SUITE[task].scene if task in SUITE else task


def step_limit(task: str) -> int:
    """The most control steps an episode of ``task`` may last: Meta-World's 500, or the suite's."""
    if task in ROBOSUITE_TASKS:
        return ROBOSUITE_TASKS[task].max_steps
    if task in FETCH_TASKS:
        return FETCH_TASKS[task].max_steps
    return SUITE[task].max_steps if task in SUITE else 500


def group_of(task: str) -> str:
    """The group a task is reported under: its difficulty group for Meta-World, else its suite's group
    (``long_horizon``, its robosuite group such as ``rs_two_arm``, or ``fetch``)."""
    for g in DIFFICULTY_GROUPS:
        if task in groups()[g]:
            return g
    if task in SUITE:
        return "long_horizon"
    for g, members in (*ROBOSUITE_GROUPS.items(), *FETCH_GROUPS.items()):
        if task in members:
            return g
    raise unknown_name_error("task", task, known_tasks())


def resolve_tasks(spec: str | list[str] | tuple[str, ...]) -> list[str]:
    """Task names from a mix of task and group names (a list, or one comma-separated string).

    Order is kept and duplicates dropped. An unknown name raises an error that lists the valid
    names and suggests the nearest one.
    """
    items = spec.split(",") if isinstance(spec, str) else list(spec)
    out: list[str] = []
    for item in (s.strip() for s in items):
        if not item:
            continue
        if item in groups():
            names = groups()[item]
        elif item in known_tasks():
            names = (item,)
        else:
            raise unknown_name_error("task or group", item, [*groups(), *known_tasks()])
        out.extend(n for n in names if n not in out)
    if not out:
        raise unknown_name_error("task or group", str(spec), [*groups(), *known_tasks()])
    return out
