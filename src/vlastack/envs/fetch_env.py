"""Fetch (gymnasium-robotics 1.4.2, MuJoCo ``-v4`` environments) behind vlastack's environment interface.

Observations (a :class:`vlastack.types.Observation`), Meta-World's conventions:
  - RGB from each configured camera, upright, ``image_size`` square, drawn by vlastack's own renderer
    (envs/render.py) on the environment's model; gymnasium-robotics' renderer is never opened (the env is built
    with ``render_mode=None``: reopening its renderer in one process drew black frames). The Fetch model's cameras:
      * ``external_camera_0`` (default): fixed, 1.3 m beyond the table's far edge, looking back across the table
        at the robot; it shows the hand, the block and the red goal marker;
      * ``head_camera_rgb``: the robot's head camera, level (the head's joints are passive and not driven):
        it sees the arm's upper links, hardly the table;
      * ``gripper_camera_rgb``: straight down from between the fingertips, about 10 cm above the table at the
        start: a patch of white table until the block is under the hand;
      * ``lidar``: a narrow view from the base's laser, below the table top.
  - depth in metres per camera (optional);
  - state (:data:`STATE_NAMES`, as Meta-World's): the grip site (between the fingertips) x, y, z (m, world frame)
    and the gripper opening in [0, 1] (1 = open: both fingers at their 5 cm stop; Reach and Push hold the fingers
    closed, 0);
  - touch (:data:`TOUCH_NAMES`): Fetch has no force sensor; per finger (right, then left) the summed force of its
    contacts with anything but the robot, N, world frame, from MuJoCo's contact solver (as envs/metaworld.py); with
    it ``arm_contact``, the net force on the arm's links (fingers included) from its surroundings (N, world frame), for
    the safety layer;
  - the instruction in words.
The block's pose and the goal are privileged: only in ``info["privileged"]`` (:data:`PRIVILEGED_NAMES`; Reach has no
block, its entries are 0), for experts.

Actions: float32 [4] in [-1, 1]: ``dx, dy, dz`` move the mocap target of the hand :data:`POS_UNIT_M` (5 cm) per unit
from where the hand is (world frame, gymnasium-robotics' own scaling; the hand gets part of the way, see
embodiments/fetch.py), then ``grip``: +1 closes, -1 opens (Meta-World's and robosuite's sign; gymnasium-robotics'
own is the opposite, the adapter negates it). The hand's orientation is fixed (fingers down). Control runs at
:data:`FPS` Hz (2 ms x 20 substeps).

``reset(seed=s)`` seeds gymnasium-robotics' generator, which draws the block's start and the goal: the same seed gives
the same episode. Success is gymnasium-robotics' ``is_success`` (the block, or for Reach the grip site, within 5 cm
of the goal).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import mujoco
import numpy as np

from vlastack.envs.fetch_tasks import FETCH_FPS, TASKS
from vlastack.envs.instructions import instruction
from vlastack.envs.model_tree import bodies_below
from vlastack.envs.perturb import LookSpec, SceneLook, check_perturbations
from vlastack.envs.render import CameraRenderer
from vlastack.errors import ConfigError
from vlastack.registry import unknown_name_error
from vlastack.types import Observation

#: Control frequency in Hz (MuJoCo timestep 2 ms x 20 substeps).
FPS = FETCH_FPS
ACTION_NAMES = ["dx", "dy", "dz", "grip"]
STATE_NAMES = ["ee_x", "ee_y", "ee_z", "gripper_open"]
TOUCH_NAMES = [f"{side}_finger_f{axis}_n" for side in ("right", "left") for axis in "xyz"]
#: ``info["privileged"]``: the state, the block's pose (world frame, m, quaternion x, y, z, w; 0 for Reach), the goal (m).
PRIVILEGED_NAMES = [*STATE_NAMES, "obj_x", "obj_y", "obj_z", "obj_qx", "obj_qy", "obj_qz", "obj_qw", "goal_x", "goal_y", "goal_z"]
ACTION_DIM = len(ACTION_NAMES)
#: Mocap target offset per action unit (m): gymnasium-robotics' ``pos_ctrl *= 0.05``.
POS_UNIT_M = 0.05
#: A finger joint's travel (m): 0 closed, 0.05 open (the model's joint range).
FINGER_OPEN_M = 0.05
DEFAULT_CAMERAS = ("external_camera_0",)
#: Bodies whose contacts are each finger's touch, right then left.
FINGER_BODIES = ("robot0:r_gripper_finger_link", "robot0:l_gripper_finger_link")
FINGER_JOINTS = ("robot0:r_gripper_finger_joint", "robot0:l_gripper_finger_joint")
#: The arm's first moving link: it and every body below it are "the arm" for contact forces (the locked base
#: stands on the floor, a contact of thousands of newtons that says nothing about what the arm touches).
ARM_ROOT_BODY = "robot0:shoulder_pan_link"
#: Where the Fetch scenes keep what visual perturbations change (envs/perturb.py): the table ``table0`` is a
#: 0.5 x 0.7 m box centred at (1.3, 0.75) whose top is at z = 0.4 m; the block ``object0`` (Reach has none);
#: distractors stand on the table's middle 85 %, clear of the hand, the block and the goal marker's start.
LOOK = LookSpec(
    camera="external_camera_0",
    table_body="table0",
    hand_body="robot0:gripper_link",
    distractor_area_m=((1.3 - 0.85 * 0.25, 1.3 + 0.85 * 0.25), (0.75 - 0.85 * 0.35, 0.75 + 0.85 * 0.35)),
    table_top_z_m=0.4,
    goal_site="target0",
    object_bodies=frozenset({"object0"}),
)
INSTALL_HINT = "gymnasium-robotics is not installed: run `bash scripts/setup.sh` (it installs the fetch extra), see README"


def feature_names(task: str) -> dict[str, list[str]]:
    """Entry names of ``task``'s state, action, touch and privileged vectors (no simulator needed); the same for every
    Fetch task, so the three share a dataset."""
    if task not in TASKS:
        raise unknown_name_error("Fetch task", task, TASKS)
    return {"state": list(STATE_NAMES), "action": list(ACTION_NAMES), "touch": list(TOUCH_NAMES), "privileged": list(PRIVILEGED_NAMES)}


@dataclass(frozen=True)
class FetchConfig:
    """What a Fetch environment observes and how an episode runs."""

    task: str = "fetch-reach"
    """vlastack Fetch task name (envs/fetch_tasks.py), e.g. ``fetch-push``."""
    cameras: tuple[str, ...] = DEFAULT_CAMERAS
    """Cameras to render, in order: ``external_camera_0``, ``head_camera_rgb``, ``gripper_camera_rgb``, ``lidar``
    (see the module docstring); may be empty."""
    image_size: int = 128
    """Square image side in pixels."""
    depth: bool = False
    """Also return depth in metres for every camera."""
    touch: bool = True
    """Also return each finger's contact force (N, world frame) and the net contact force on the robot."""
    instruction_variant: int = 0
    """Which phrasing of the task's instruction to give (envs/fetch_tasks.py)."""
    max_steps: int = 100
    """Episode length limit in control steps (at 25 Hz); at most the task's ``max_steps``."""
    terminate_on_success: bool = True
    """End the episode at the first step with ``info['success']``."""
    perturb: tuple[str, ...] = ()
    """Named visual perturbations or randomisation mixes (``vlastack.envs.perturb``), drawn per episode from the reset
    seed (:data:`LOOK`: the ``external_camera_0`` view is jittered); empty or ``("none",)``: the unperturbed scene."""

    def __post_init__(self) -> None:
        if self.task not in TASKS:
            raise unknown_name_error("Fetch task", self.task, TASKS)
        if not 1 <= self.max_steps <= TASKS[self.task].max_steps:
            raise ConfigError(f"max_steps must be in [1, {TASKS[self.task].max_steps}] for {self.task}, got {self.max_steps}")
        if len(set(self.cameras)) != len(self.cameras):
            raise ConfigError(f"cameras must be distinct, got {self.cameras}")
        check_perturbations(self.perturb)


def _make_gym_env(env_id: str) -> Any:
    """gymnasium-robotics' environment, unwrapped (vlastack keeps its own step limit), with no renderer."""
    import contextlib
    import io

    try:
        # Its import prints a notice about the Adroit environments' reward versions (farama_notifications): not used here.
        with contextlib.redirect_stderr(io.StringIO()):
            import gymnasium_robotics
    except ImportError as e:
        raise ConfigError(INSTALL_HINT) from e
    gym.register_envs(gymnasium_robotics)
    return gym.make(env_id, render_mode=None).unwrapped


class FetchEnv(gym.Env):
    """One Fetch task; ``reset(seed=s)`` gives the start that seed determines."""

    metadata = {"render_modes": ["rgb_array"], "render_fps": FPS}

    def __init__(self, config: FetchConfig) -> None:
        self.config = config
        self.task = TASKS[config.task]
        self._env = _make_gym_env(self.task.env_id)
        model, data = self._env.model, self._env.data
        self._model, self._data = model, data
        self._renderer = CameraRenderer(model, config.cameras, config.image_size, depth=config.depth) if config.cameras else None
        self._grip_site = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_SITE, "robot0:grip")
        self._fingers = [mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_BODY, b) for b in FINGER_BODIES]
        self._finger_qpos = [int(model.jnt_qposadr[model.joint(j).id]) for j in FINGER_JOINTS]
        self._arm = bodies_below(model, mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_BODY, ARM_ROOT_BODY))
        self._object = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_BODY, "object0") if self.task.has_object else -1
        self._look = SceneLook(model, config.perturb, LOOK) if check_perturbations(config.perturb) else None
        self.names = feature_names(config.task)
        self.instruction = instruction(config.task, config.instruction_variant)
        self.action_space = gym.spaces.Box(-1.0, 1.0, (ACTION_DIM,), np.float32)
        self._steps = 0

    # ---- gymnasium API ---------------------------------------------------------------------------
    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple[Observation, dict[str, Any]]:
        super().reset(seed=seed)
        if seed is None:
            seed = int(self.np_random.integers(2**31))
        self._env.reset(seed=int(seed))  # reseeds its generator: the block's start and the goal follow from the seed
        # gymnasium-robotics moves the goal marker only when its own renderer draws: place it for ours (one forward pass).
        self._env._render_callback()
        if self._look is not None:  # visual only
            self._look.start_episode(seed, self._data)
        self._steps = 0
        return self._observe(), {"privileged": self._privileged(), "success": False, "seed": seed, "step": 0}

    def step(self, action: np.ndarray) -> tuple[Observation, float, bool, bool, dict[str, Any]]:
        a = np.asarray(action, dtype=np.float64).reshape(-1)
        if a.shape != (ACTION_DIM,):
            raise ConfigError(f"action must have {ACTION_DIM} entries {ACTION_NAMES}, got shape {np.shape(action)}")
        if not np.all(np.isfinite(a)):
            raise ConfigError(f"action must be finite, got {a}")
        a = np.clip(a, -1.0, 1.0)
        a[3] = -a[3]  # vlastack: +1 closes; gymnasium-robotics: +1 opens (finger position targets grow)
        _, reward, _, _, info = self._env.step(a.astype(np.float32))
        self._steps += 1
        success = bool(info["is_success"])
        terminated = success and self.config.terminate_on_success
        truncated = self._steps >= self.config.max_steps
        out = {"privileged": self._privileged(), "success": success, "step": self._steps}
        return self._observe(), float(reward), terminated, truncated, out

    def close(self) -> None:
        if self._renderer is not None:
            self._renderer.close()
        self._env.close()

    # ---- observation -------------------------------------------------------------------------------
    def _state(self) -> np.ndarray:
        opening = sum(self._data.qpos[q] for q in self._finger_qpos) / (2 * FINGER_OPEN_M)
        return np.concatenate([self._data.site_xpos[self._grip_site], [np.clip(opening, 0.0, 1.0)]]).astype(np.float32)

    def _privileged(self) -> np.ndarray:
        obj = np.zeros(7)
        if self._object >= 0:
            obj = np.concatenate([self._data.xpos[self._object], self._data.xquat[self._object][[1, 2, 3, 0]]])  # quaternion x, y, z, w
        return np.concatenate([self._state(), obj, self._env.goal]).astype(np.float32)

    def _contact_forces(self) -> tuple[np.ndarray, np.ndarray]:
        """(per finger [2, 3], on the arm [3]): forces (N, world frame) that contacts with bodies outside the arm
        apply; contacts within the arm (finger on finger) are internal and left out."""
        model, data = self._model, self._data
        fingers, arm = np.zeros((2, 3)), np.zeros(3)
        wrench = np.zeros(6)
        for i in range(data.ncon):
            c = data.contact[i]
            b1, b2 = int(model.geom_bodyid[c.geom1]), int(model.geom_bodyid[c.geom2])
            on1, on2 = b1 in self._arm, b2 in self._arm
            if on1 == on2:
                continue
            mujoco.mj_contactForce(model, data, i, wrench)
            force = c.frame.reshape(3, 3).T @ wrench[:3]  # contact frame -> world: the force geom1 applies to geom2
            on_arm = force if on2 else -force
            arm += on_arm
            body = b2 if on2 else b1
            for k, finger in enumerate(self._fingers):
                if body == finger:
                    fingers[k] += on_arm
        return fingers, arm

    def _observe(self) -> Observation:
        decorate = self._look.decorate if self._look is not None else None
        rgb, depth = self._renderer.render(self._data, decorate) if self._renderer is not None else ({}, {})
        touch = arm = None
        if self.config.touch:
            fingers, on_arm = self._contact_forces()
            touch, arm = fingers.reshape(-1).astype(np.float32), on_arm.astype(np.float32)
        return Observation(images=rgb, depth=depth, state=self._state(), instruction=self.instruction, touch=touch, arm_contact=arm)


def make_env(task: str, **kwargs: Any) -> FetchEnv:
    """A Fetch environment for ``task``; keyword arguments are FetchConfig fields."""
    return FetchEnv(FetchConfig(task=task, **kwargs))
