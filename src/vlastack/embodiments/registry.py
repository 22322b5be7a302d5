"""Every embodiment by id, and which one a task runs.

Entries are registered by :mod:`vlastack.embodiments.metaworld`, :mod:`vlastack.embodiments.robosuite` and
:mod:`vlastack.embodiments.fetch`
(one file per simulator, one entry per robot); :func:`get` and :func:`embodiment_for_task` import them.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from vlastack.embodiments.embodiment import Embodiment
from vlastack.errors import ConfigError
from vlastack.registry import Registry, unknown_name_error

#: Embodiment id -> :class:`Embodiment` (filled by the per-simulator modules).
EMBODIMENTS: Registry[Embodiment] = Registry("embodiment")


def register(embodiment: Embodiment) -> Embodiment:
    """Add ``embodiment`` under its id (each id once)."""
    return EMBODIMENTS.register(embodiment.id)(embodiment)


def _load_entries() -> None:
    import vlastack.embodiments.fetch  # noqa: F401  (registers its entries)
    import vlastack.embodiments.metaworld  # noqa: F401
    import vlastack.embodiments.robosuite  # noqa: F401


def get(embodiment_id: str) -> Embodiment:
    """The embodiment named ``embodiment_id``; an unknown id is a ConfigError listing the known ones."""
    _load_entries()
    return EMBODIMENTS.get(embodiment_id)


def ids() -> list[str]:
    """Every registered embodiment id, sorted."""
    _load_entries()
    return EMBODIMENTS.names()


def embodiment_for_task(task: str) -> Embodiment:
    """The robot a vlastack task runs: ``metaworld_sawyer`` for Meta-World tasks (long-horizon ones too),
    ``robosuite_<arm>`` for ``rs-lift-<arm>``, ``fetch`` for ``fetch-...``. A two-arm task has two robots: no single
    embodiment yet."""
    from vlastack.envs.fetch_tasks import TASKS as FETCH_TASKS
    from vlastack.envs.robosuite_tasks import TASKS as ROBOSUITE_TASKS
    from vlastack.envs.tasks import known_tasks

    _load_entries()
    if task in ROBOSUITE_TASKS:
        t = ROBOSUITE_TASKS[task]
        if t.arms > 1:
            raise ConfigError(
                f"task {task!r} runs {t.arms} arms {list(t.robots)}: two-arm embodiments are not defined yet (issue 17, item 4)"
            )
        return EMBODIMENTS.get(f"robosuite_{t.robots[0].lower()}")
    if task in FETCH_TASKS:
        return EMBODIMENTS.get("fetch")
    if task in known_tasks():
        return EMBODIMENTS.get("metaworld_sawyer")
    raise unknown_name_error("task", task, [*known_tasks(), *ROBOSUITE_TASKS])


def embodiment_ids_for_tasks(tasks: list[str] | tuple[str, ...]) -> list[str]:
    """The sorted, distinct embodiment ids of ``tasks``."""
    return sorted({embodiment_for_task(t).id for t in tasks})


def known_embodiment_ids(tasks: Iterable[str | None]) -> list[str]:
    """The sorted, distinct embodiment ids of those ``tasks`` that run one known robot; empty names, unknown
    tasks and two-arm tasks (no single embodiment yet) are left out rather than refused, since a dataset may
    hold episodes from elsewhere."""
    out = set()
    for task in tasks:
        if not task:
            continue
        try:
            out.add(embodiment_for_task(str(task)).id)
        except ConfigError:
            continue
    return sorted(out)


def dataset_embodiment_ids(reader: Any, episodes: Iterable[int] | None = None) -> list[str]:
    """The embodiment ids of a dataset's episodes (a :class:`vlastack.episodes.reader.DatasetReader`; only those
    indexed by ``episodes`` when given), from each episode's ``vlastack/env_task``; what a policy trained on them
    records in its checkpoint."""
    table = reader.episodes
    column = "vlastack/env_task"
    if column not in table:
        return []
    tasks = table[column].tolist()
    return known_embodiment_ids(tasks if episodes is None else [tasks[e] for e in episodes])


def serving_safety_spec(embodiment_ids: Iterable[str]) -> str:
    """The safety spec to serve a policy with by default: the one its embodiments share. A checkpoint that
    records none predates embodiments and was trained on Meta-World (``metaworld_sawyer``)."""
    ids = list(embodiment_ids)
    if not ids:
        return "metaworld_sawyer"
    _load_entries()
    specs = {i: EMBODIMENTS.get(i).safety_spec if i in EMBODIMENTS else None for i in ids}
    missing = [i for i, spec in specs.items() if spec is None]
    if missing:
        raise ConfigError(f"safety: no safety spec for the embodiments {missing}; pass --safety with one, or --safety none")
    if len(set(specs.values())) > 1:
        raise ConfigError(
            f"safety: the policy knows embodiments with different safety specs {specs}; pass --safety with the driven robot's"
        )
    return next(iter(specs.values()))
