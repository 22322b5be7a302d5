"""Every embodiment by id, and which one a task runs.

Entries are registered by :mod:`vlastack.embodiments.metaworld` and :mod:`vlastack.embodiments.robosuite`
(one file per simulator, one entry per robot); :func:`get` and :func:`embodiment_for_task` import them.
"""

from __future__ import annotations

from vlastack.embodiments.embodiment import Embodiment
from vlastack.errors import ConfigError
from vlastack.registry import Registry, unknown_name_error

#: Embodiment id -> :class:`Embodiment` (filled by the per-simulator modules).
EMBODIMENTS: Registry[Embodiment] = Registry("embodiment")


def register(embodiment: Embodiment) -> Embodiment:
    """Add ``embodiment`` under its id (each id once)."""
    return EMBODIMENTS.register(embodiment.id)(embodiment)


def _load_entries() -> None:
    import vlastack.embodiments.metaworld  # noqa: F401  (registers its entries)
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
    ``robosuite_<arm>`` for ``rs-lift-<arm>``. A two-arm task has two robots: no single embodiment yet."""
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
    if task in known_tasks():
        return EMBODIMENTS.get("metaworld_sawyer")
    raise unknown_name_error("task", task, [*known_tasks(), *ROBOSUITE_TASKS])


def embodiment_ids_for_tasks(tasks: list[str] | tuple[str, ...]) -> list[str]:
    """The sorted, distinct embodiment ids of ``tasks``."""
    return sorted({embodiment_for_task(t).id for t in tasks})
