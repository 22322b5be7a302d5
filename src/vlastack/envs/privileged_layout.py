"""One ``observation.environment_state`` layout for a robosuite dataset whose tasks hold different objects.

Each robosuite task's privileged vector (``info["privileged"]``, envs/robosuite_env.py) is its state and then
its own objects' poses and sites: TwoArmLift's pot and its two handles (29 entries), Handover's hammer (23). A
LeRobot dataset has one shape per feature, so a dataset holding both records the union of the entry names, in a
fixed order (the state first, then each task's own entries in the order of ``robosuite_tasks.TASKS``, whatever
order the tasks were asked for, so a resumed collection gets the same layout); an entry a task does not have is
0.0 in its episodes. The feature's names in ``meta/info.json`` say which entry is which, and
``feature_names(task)["privileged"]`` which of them a task fills. Tasks that share one layout (every ``rs_lift``
arm) keep exactly their own vector.
"""

from __future__ import annotations

import numpy as np

from vlastack.envs.robosuite_tasks import TASKS
from vlastack.errors import ConfigError


def dataset_privileged_names(tasks: tuple[str, ...] | list[str]) -> list[str]:
    """Entry names of the recorded privileged state of a dataset of these robosuite ``tasks``: the union of
    their own, in ``TASKS`` order (then each task's own order), so the layout does not depend on the order given."""
    from vlastack.envs.robosuite_env import feature_names

    unknown = [t for t in tasks if t not in TASKS]
    if unknown:
        raise ConfigError(f"tasks: {unknown} are not robosuite tasks; the privileged layout is for robosuite datasets")
    names: list[str] = []
    for task in sorted(set(tasks), key=list(TASKS).index):
        names += [n for n in feature_names(task)["privileged"] if n not in names]
    return names


def to_dataset_layout(task: str, privileged: np.ndarray, names: list[str]) -> np.ndarray:
    """``task``'s privileged rows [N, own] placed in the dataset layout ``names`` [N, len(names)], 0.0 where the task
    has no such entry; ``privileged`` itself when the layouts agree."""
    from vlastack.envs.robosuite_env import feature_names

    own = feature_names(task)["privileged"]
    rows = np.asarray(privileged)
    if rows.ndim != 2 or rows.shape[1] != len(own):
        raise ConfigError(f"privileged: {task} records {len(own)} entries per step {own}, got shape {list(rows.shape)}")
    if own == names:
        return rows
    missing = [n for n in own if n not in names]
    if missing:
        raise ConfigError(f"privileged: the dataset layout has no entries {missing} of {task}; its layout: {names}")
    out = np.zeros((len(rows), len(names)), dtype=rows.dtype)
    out[:, [names.index(n) for n in own]] = rows
    return out
