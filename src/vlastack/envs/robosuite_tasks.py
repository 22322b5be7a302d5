"""robosuite task names, their instructions and groups (issue 17; robosuite is an optional extra).

A task is ``rs-<robosuite environment>-<arm>``, e.g. ``rs-lift-panda``: one robosuite environment
with one arm make. The table here is plain data, so the names resolve (``vlastack collect --tasks
rs_lift``) and errors list them even where robosuite is not installed; building an environment
for one needs robosuite (``scripts/setup.sh`` installs it; see envs/robosuite_env.py).
"""

from __future__ import annotations

from dataclasses import dataclass

from vlastack.errors import ConfigError

#: Arm makes that run Lift from the PyPI package (robosuite 1.5.2): task suffix -> robosuite robot name.
LIFT_ARMS: dict[str, str] = {
    "panda": "Panda",
    "sawyer": "Sawyer",
    "ur5e": "UR5e",
    "kinova3": "Kinova3",
    "iiwa": "IIWA",
    "jaco": "Jaco",
    "xarm7": "XArm7",
}


@dataclass(frozen=True)
class RobosuiteTask:
    """One robosuite environment with fixed robots, as vlastack names it."""

    name: str
    """vlastack task name, ``rs-<env>-<arm>``."""
    env: str
    """robosuite environment class name, e.g. ``Lift``."""
    robots: tuple[str, ...]
    """robosuite robot names, one per robot in the scene."""
    instructions: tuple[str, ...]
    """Phrasings of the task in words; the first ``TRAIN_PARAPHRASES`` for training, the rest held out."""
    max_steps: int = 250
    """Most control steps an episode may last (12.5 s at 20 Hz)."""
    objects: tuple[str, ...] = ("cube",)
    """Attributes of the robosuite environment holding the task's objects, whose poses are privileged state."""
    sites: tuple[str, ...] = ()
    """Object sites (``<object attribute>.<site>``, e.g. ``pot.handle0``) whose positions are privileged state too."""
    env_configuration: str = "default"
    """robosuite's layout of several robots: ``default`` (two arms: ``opposed``, facing each other across
    the table, each base turned 90 degrees) or ``parallel`` (side by side)."""
    mobile: bool = False
    """The robot has a wheeled base and a torso (PandaOmron): its action adds base and torso commands."""
    expert: bool = True
    """A scripted expert exists (envs/robosuite_experts.py)."""
    expert_drives_base: bool = False
    """Wheeled robots only: the scripted expert is the Lift expert under the base-arm layer
    (execution/base_arm_layer.py), which drives the base so the arm stays in reach; the Lift expert alone holds the
    base still. Its recorded actions are the layer's, base commands included."""
    base_start_m: tuple[float, float] = (0.0, 0.0)
    """Wheeled robots only: where the base starts relative to robosuite's own placement (arm mount 0.56 m
    behind the table's centre, facing +x), in metres along world x (+ towards the table) and y (+ left).
    Applied at every reset by moving the base's forward and sideways joints (envs/robosuite_env.py)."""

    def __post_init__(self) -> None:
        if self.base_start_m != (0.0, 0.0) and not self.mobile:
            raise ConfigError(f"base_start_m is for wheeled robots (mobile=True), got {self.base_start_m} for {self.name}")
        if self.expert_drives_base and not (self.mobile and self.expert):
            raise ConfigError(f"expert_drives_base is for wheeled robots with an expert (mobile=True, expert=True), not {self.name}")

    @property
    def arms(self) -> int:
        """Arms commanded: one per robot (every robot here has one arm)."""
        return len(self.robots)


LIFT_INSTRUCTIONS = (
    "lift the red cube off the table",
    "pick up the cube and raise it",
    "grasp the red block and lift it up",
    "raise the small cube above the table",
)

TASKS: dict[str, RobosuiteTask] = {
    f"rs-lift-{arm}": RobosuiteTask(name=f"rs-lift-{arm}", env="Lift", robots=(robot,), instructions=LIFT_INSTRUCTIONS)
    for arm, robot in LIFT_ARMS.items()
}
"""Every robosuite task vlastack can build, by name."""

TWO_ARM_INSTRUCTIONS = {
    "TwoArmLift": (
        "lift the pot with both arms",
        "grab the pot by its two handles and raise it",
        "use both grippers to pick the pot up by its handles",
        "hold the pot level by both handles and lift it off the table",
    ),
    "TwoArmHandover": (
        "hand the hammer from one arm to the other",
        "pick up the hammer with one arm and pass it to the other",
        "lift the hammer and give it to the second gripper",
        "pass the hammer over so the other arm holds it",
    ),
}
TASKS.update(
    {
        "rs-twoarmlift-panda": RobosuiteTask(
            name="rs-twoarmlift-panda",
            env="TwoArmLift",
            robots=("Panda", "Panda"),
            instructions=TWO_ARM_INSTRUCTIONS["TwoArmLift"],
            objects=("pot",),
            sites=("pot.handle0", "pot.handle1"),
        ),
        "rs-handover-panda": RobosuiteTask(
            name="rs-handover-panda",
            env="TwoArmHandover",
            robots=("Panda", "Panda"),
            instructions=TWO_ARM_INSTRUCTIONS["TwoArmHandover"],
            objects=("hammer",),
        ),
        "rs-lift-pandaomron": RobosuiteTask(
            name="rs-lift-pandaomron",
            env="Lift",
            robots=("PandaOmron",),
            instructions=LIFT_INSTRUCTIONS,
            mobile=True,
        ),
        # The base starts 0.40 m further back and 0.35 m to the left: the cube is then ~0.96 m ahead of the arm's
        # mount and ~0.35 m to its right, past the Panda's stall limit (0.85 m ahead at the cube's height, measured
        # by benchmarks/pandaomron_reach.py), so the base must drive before the arm can reach. The Lift expert alone
        # fails it; under the base-arm split layer (execution/base_arm_layer.py) it succeeds
        # (benchmarks/base_arm_split.py, 10 of 10), hence its expert is the two together.
        "rs-reachfar-pandaomron": RobosuiteTask(
            name="rs-reachfar-pandaomron",
            env="Lift",
            robots=("PandaOmron",),
            instructions=LIFT_INSTRUCTIONS,
            mobile=True,
            expert_drives_base=True,
            base_start_m=(-0.40, 0.35),
        ),
    }
)

GROUPS: dict[str, tuple[str, ...]] = {
    "rs_lift": tuple(f"rs-lift-{arm}" for arm in LIFT_ARMS),
    "rs_two_arm": ("rs-twoarmlift-panda", "rs-handover-panda"),
    "rs_mobile": ("rs-lift-pandaomron",),
    "rs_mobile_far": ("rs-reachfar-pandaomron",),
}
"""Group name -> task names: ``rs_lift`` is Lift on every fixed arm make, ``rs_two_arm`` two Pandas sharing
a task (robosuite's "opposed" layout), ``rs_mobile`` the wheeled PandaOmron on Lift (the cube is within the
arm's reach: its base need not move), ``rs_mobile_far`` the same robot starting with the cube beyond its arm's
reach (the base must drive). Every task has a scripted expert (envs/robosuite_experts.py); ``rs_mobile_far``'s is
the Lift expert under the base-arm layer, which drives the base."""


def is_robosuite_task(task: str) -> bool:
    """Whether ``task`` is one of the robosuite tasks (``rs-...``)."""
    return task in TASKS
