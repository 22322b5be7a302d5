"""Embodiments: one action space across robots (issue 17, item 2).

- :mod:`.embodiment`: the shared action (end-effector deltas in metres and radians per step in a
  world-aligned frame x forward / y left / z up, gripper in [-1, 1], +1 closes, padded to
  :data:`SHARED_DIM` with a mask) and :class:`Embodiment`, one robot's transform to and from its own action;
- :mod:`.metaworld`, :mod:`.robosuite`: one entry per robot, with its measured scaling and frame;
- :mod:`.registry`: every embodiment by id, and which one a task runs;
- :mod:`.observation`: the shared state (hand position from the table centre, shared frame; gripper opening)
  and camera slots (``front``, ``wrist``);
- :mod:`.embody`: datasets of several robots rewritten as one in the shared spaces (``vlastack data embody``);
- :mod:`.adapter`: a policy trained on such a dataset driving one task's robot (``vlastack eval``).
"""

from vlastack.embodiments.embodiment import SHARED_ACTION_NAMES, SHARED_DIM, Embodiment, yaw_matrix
from vlastack.embodiments.registry import (
    EMBODIMENTS,
    dataset_embodiment_ids,
    embodiment_for_task,
    embodiment_ids_for_tasks,
    get,
    ids,
    known_embodiment_ids,
    serving_safety_spec,
)

__all__ = [
    "SHARED_ACTION_NAMES",
    "SHARED_DIM",
    "Embodiment",
    "yaw_matrix",
    "EMBODIMENTS",
    "embodiment_for_task",
    "embodiment_ids_for_tasks",
    "dataset_embodiment_ids",
    "known_embodiment_ids",
    "serving_safety_spec",
    "get",
    "ids",
]
