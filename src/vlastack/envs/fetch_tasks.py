"""Fetch task names, their instructions and their group (issue 17; gymnasium-robotics is an optional extra).

A task is ``fetch-<task>``: one of gymnasium-robotics' Fetch environments (the MuJoCo ``-v4`` ones) on
the Fetch mobile manipulator, whose base is locked in place. The table here is plain data, so the names
resolve (``vlastack collect --tasks fetch``) and errors list them even where gymnasium-robotics is not
installed; building an environment for one needs it (``scripts/setup.sh`` installs it; see
envs/fetch_env.py).
"""

from __future__ import annotations

from dataclasses import dataclass

from vlastack.errors import ConfigError

#: Fetch's control period: MuJoCo timestep 2 ms x 20 substeps = 40 ms (25 Hz).
FETCH_FPS = 25


@dataclass(frozen=True)
class FetchTask:
    """One Fetch environment, as vlastack names it."""

    name: str
    """vlastack task name, ``fetch-<task>``."""
    env_id: str
    """gymnasium-robotics environment id, e.g. ``FetchPush-v4``."""
    instructions: tuple[str, ...]
    """Phrasings of the task in words; the first ``TRAIN_PARAPHRASES`` for training, the rest held out."""
    has_object: bool = True
    """The scene holds the block (``object0``); Reach has none."""
    gripper_blocked: bool = False
    """gymnasium-robotics holds the fingers closed whatever the gripper command (Reach and Push)."""
    max_steps: int = 100
    """Most control steps an episode may last (4 s at 25 Hz). gymnasium-robotics' own limit is 50 (2 s):
    the experts need up to 48 (push, seeds 0-49; pick-and-place 28) and behind the safety layer, which slows their
    diagonal moves, up to 67 (``benchmarks/fetch_experts.py``); a learned policy hesitates or regrasps more, so
    vlastack allows twice Fetch's."""
    expert: bool = True
    """A scripted expert exists (envs/fetch_experts.py)."""

    def __post_init__(self) -> None:
        if not self.name.startswith("fetch-"):
            raise ConfigError(f"name must start with 'fetch-', got {self.name!r}")
        if self.max_steps < 1:
            raise ConfigError(f"max_steps must be >= 1 control step, got {self.max_steps} for {self.name}")
        if len(self.instructions) < 2:
            raise ConfigError(f"instructions must hold several phrasings, got {self.instructions} for {self.name}")


TASKS: dict[str, FetchTask] = {
    "fetch-reach": FetchTask(
        name="fetch-reach",
        env_id="FetchReach-v4",
        has_object=False,
        gripper_blocked=True,
        instructions=(
            "move the gripper to the red dot",
            "reach the red target with the hand",
            "put the gripper tip on the red marker",
            "bring the end effector to the red sphere",
        ),
    ),
    "fetch-push": FetchTask(
        name="fetch-push",
        env_id="FetchPush-v4",
        gripper_blocked=True,
        instructions=(
            "push the black block onto the red dot",
            "slide the block across the table to the red target",
            "shove the cube so it rests on the red marker",
            "move the block to the red spot by pushing it",
        ),
    ),
    "fetch-pickplace": FetchTask(
        name="fetch-pickplace",
        env_id="FetchPickAndPlace-v4",
        instructions=(
            "pick up the black block and put it on the red dot",
            "grasp the block and carry it to the red target",
            "lift the cube and place it at the red marker",
            "take the block to the red sphere, in the air if it floats",
        ),
    ),
}
"""Every Fetch task vlastack can build, by name."""

GROUPS: dict[str, tuple[str, ...]] = {"fetch": tuple(TASKS)}
"""Group name -> task names: ``fetch`` is Reach, Push and Pick-and-place on the Fetch robot."""


def is_fetch_task(task: str) -> bool:
    """Whether ``task`` is one of the Fetch tasks (``fetch-...``)."""
    return task in TASKS
