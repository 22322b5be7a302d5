"""robosuite (1.5.2) behind vlastack's environment interface, with Meta-World's observation conventions.

Observations (a :class:`vlastack.types.Observation`):
  - RGB from each configured camera (default ``agentview`` and the wrist camera ``robot0_eye_in_hand``),
    upright, ``image_size`` square, drawn by vlastack's own fast renderer (envs/render.py), not
    robosuite's (which returns images bottom row first);
  - depth in metres per camera (optional);
  - state (:data:`STATE_NAMES`): end-effector site position x, y, z (m, world frame), its orientation as
    a unit quaternion (x, y, z, w; world frame) and the gripper opening in [0, 1] (1 = open, see
    :func:`gripper_opening`);
  - touch (:data:`TOUCH_NAMES`): the wrist force-torque sensor between arm and gripper, force (N) and
    torque (N m), rotated into the world frame; it reads the gripper's own weight too;
  - the instruction in words.
Object poses are privileged: only in ``info["privileged"]`` (:data:`PRIVILEGED_NAMES`), for experts.

Actions: float32 [7] in [-1, 1]: end-effector position delta dx, dy, dz and rotation delta (axis-angle
rx, ry, rz) in a world-aligned frame, then the gripper (-1 open, +1 close, as Meta-World's sign).
robosuite's operational-space controller reads arm commands in the frame of each arm's mount (the
site ``robot<i>_right_center``), so the adapter rotates them from the world frame into it (identity
for the single-arm tables; turned 90 degrees for each arm of the two-arm "opposed" layout; turning
with the base of the wheeled robot). One unit asks the controller for a target :data:`POS_UNIT_M`
metres or :data:`ROT_UNIT_RAD` radians away from the current pose (robosuite's OSC_POSE defaults);
the arm moves part of that per step. Control runs at :data:`FPS` Hz.

Several arms (``rs_two_arm``): state, action and touch hold each arm's entries in turn, named
``arm<i>_...`` (:func:`feature_names`). The wheeled PandaOmron (``rs_mobile``) adds the base and
torso commands (:data:`MOBILE_ACTION_NAMES`, in the robot's own frame) and the arm mount's pose to
the state (:data:`MOBILE_STATE_NAMES`); a task may start its base away from robosuite's placement
(``RobosuiteTask.base_start_m``: ``rs-reachfar-pandaomron`` puts the cube beyond the arm's reach).

``perturb`` names visual perturbations (envs/perturb.py: lighting, table and object colours, a jitter of the
``agentview`` camera, distractors on the table), drawn per episode from the reset seed as in Meta-World; the
wrist camera rides on the arm and is never jittered. Tasks without one table (robosuite's ``table_offset``)
refuse them.

Resets keep the simulation (robosuite's ``hard_reset=True`` rebuilds the model, about 4 s a reset);
``reset(seed=s)`` reseeds robosuite's generator in place, so the cube placement and the joint noise
are a function of the seed. The model itself is built from a fixed seed (:data:`MODEL_SEED`): robosuite
draws some object sizes when it builds a scene, and without it two instances (two collection
workers) would differ.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import mujoco
import numpy as np

from vlastack.envs.instructions import instruction
from vlastack.envs.model_tree import bodies_below
from vlastack.envs.perturb import LookSpec, SceneLook, check_perturbations
from vlastack.envs.render import CameraRenderer
from vlastack.envs.robosuite_tasks import TASKS
from vlastack.envs.robot_contacts import arm_arm_contacts, geom_robots
from vlastack.errors import ConfigError
from vlastack.registry import unknown_name_error
from vlastack.types import Observation

#: Control frequency in Hz (robosuite's default ``control_freq``).
FPS = 20
#: One arm's entries, as named for a single-arm task; with several arms each is prefixed ``arm<i>_``.
ARM_ACTION_NAMES = ["dx", "dy", "dz", "drx", "dry", "drz", "grip"]
ARM_STATE_NAMES = ["ee_x", "ee_y", "ee_z", "ee_qx", "ee_qy", "ee_qz", "ee_qw", "gripper_open"]
ARM_TOUCH_NAMES = ["wrist_fx_n", "wrist_fy_n", "wrist_fz_n", "wrist_tx_nm", "wrist_ty_nm", "wrist_tz_nm"]
#: A wheeled robot's extra commands (robosuite's normalised base velocity in the robot's own frame:
#: forward, sideways, turn; and the torso lift joint's position command), each in [-1, 1].
MOBILE_ACTION_NAMES = ["base_forward", "base_side", "base_yaw", "torso"]
#: A wheeled robot's extra state: where its arm is mounted (world frame, m) and which way it faces (rad).
MOBILE_STATE_NAMES = ["mount_x", "mount_y", "mount_z", "mount_yaw"]
#: Names of the single-arm tasks (rs_lift): the layout most code meets.
ACTION_NAMES, STATE_NAMES, TOUCH_NAMES = ARM_ACTION_NAMES, ARM_STATE_NAMES, ARM_TOUCH_NAMES
ACTION_DIM = len(ACTION_NAMES)
#: A single-arm task's ``info["privileged"]``: the state, then its object's pose (world frame, m, quaternion x, y, z, w).
PRIVILEGED_NAMES = [*STATE_NAMES, "obj_x", "obj_y", "obj_z", "obj_qx", "obj_qy", "obj_qz", "obj_qw"]
#: Target offset per action unit: position (m) and rotation (rad), OSC_POSE's output_max in robosuite 1.5.2.
POS_UNIT_M = 0.05
ROT_UNIT_RAD = 0.5
#: Seed of robosuite's generator while it builds the model (object sizes); each reset reseeds it.
MODEL_SEED = 0
#: Default cameras: a view over the table from the front, and the (first) wrist camera.
DEFAULT_CAMERAS = ("agentview", "robot0_eye_in_hand")
#: The camera visual perturbations jitter (envs/perturb.py): the fixed view over the table.
PERTURBED_CAMERA = "agentview"
#: Share of the table top (per side, from its centre) where distractors may stand: away from its edges.
DISTRACTOR_TABLE_SHARE = 0.85
INSTALL_HINT = "robosuite is not installed: run `bash scripts/setup.sh` (it installs the robosuite extra), see README"


def feature_names(task: str) -> dict[str, list[str]]:
    """Entry names of ``task``'s state, action, touch and privileged vectors (no simulator needed)."""
    t = TASKS[task]
    prefixes = [""] if t.arms == 1 else [f"arm{i}_" for i in range(t.arms)]
    state = [p + n for p in prefixes for n in ARM_STATE_NAMES] + (MOBILE_STATE_NAMES if t.mobile else [])
    objects = [f"{o}_{n}" for o in t.objects for n in ("x", "y", "z", "qx", "qy", "qz", "qw")]
    if t.objects == ("cube",):
        objects = PRIVILEGED_NAMES[len(STATE_NAMES) :]  # the single-arm Lift layout the expert reads
    objects += [f"{site.replace('.', '_')}_{n}" for site in t.sites for n in ("x", "y", "z")]
    return {
        "state": state,
        "action": [p + n for p in prefixes for n in ARM_ACTION_NAMES] + (MOBILE_ACTION_NAMES if t.mobile else []),
        "touch": [p + n for p in prefixes for n in ARM_TOUCH_NAMES],
        "privileged": state + objects,
    }


@dataclass(frozen=True)
class RobosuiteConfig:
    """What a robosuite environment observes and how an episode runs."""

    task: str = "rs-lift-panda"
    """vlastack robosuite task name (envs/robosuite_tasks.py), e.g. ``rs-lift-sawyer``."""
    cameras: tuple[str, ...] = DEFAULT_CAMERAS
    """robosuite cameras to render, in order (``frontview``, ``birdview``, ``agentview``, ``sideview``,
    ``robot0_robotview``, ``robot0_eye_in_hand``)."""
    image_size: int = 128
    """Square image side in pixels."""
    depth: bool = False
    """Also return depth in metres for every camera."""
    touch: bool = True
    """Also return the wrist force-torque reading (N, N m, world frame)."""
    instruction_variant: int = 0
    """Which phrasing of the task's instruction to give (envs/robosuite_tasks.py)."""
    max_steps: int = 250
    """Episode length limit in control steps (at 20 Hz)."""
    terminate_on_success: bool = True
    """End the episode at the first step with ``info['success']``."""
    perturb: tuple[str, ...] = ()
    """Named visual perturbations or randomisation mixes (``vlastack.envs.perturb``), drawn per episode from the
    reset seed; empty or ``("none",)``: the unperturbed scene."""

    def __post_init__(self) -> None:
        if self.task not in TASKS:
            raise unknown_name_error("robosuite task", self.task, TASKS)
        check_perturbations(self.perturb)
        if not 1 <= self.max_steps <= TASKS[self.task].max_steps:
            raise ConfigError(f"max_steps must be in [1, {TASKS[self.task].max_steps}] for {self.task}, got {self.max_steps}")
        if len(set(self.cameras)) != len(self.cameras):
            raise ConfigError(f"cameras must be distinct, got {self.cameras}")


def _import_robosuite() -> Any:
    import logging

    try:
        import robosuite
    except ImportError as e:
        raise ConfigError(INSTALL_HINT) from e
    # Its import warns about optional robot models and a private macro file: neither is used here.
    logging.getLogger("robosuite_logs").setLevel(logging.ERROR)
    return robosuite


@dataclass(frozen=True)
class _Arm:
    """What the adapter reads and commands for one arm (MuJoCo ids into the robosuite scene)."""

    robot: int
    """Index of the robot (in ``env.robots``) the arm belongs to."""
    ref_site: int
    """The site robosuite's arm controller takes as its frame (``<robot>_right_center``)."""
    eef_site: int
    """robosuite's end-effector site of the arm (``robot.eef_site_id["right"]``): the state's position and orientation."""
    grip_qpos: int
    """qpos address of the gripper's driving joint."""
    grip_open: float
    """That joint's position (robosuite's units for the gripper) when fully open: the state's opening 1."""
    grip_closed: float
    """Its position when fully closed: the state's opening 0."""
    force_torque: tuple[tuple[int, int], tuple[int, int]]
    """(sensordata address, site id) of the wrist force sensor, then of the torque sensor."""


class RobosuiteEnv(gym.Env):
    """One robosuite task; ``reset(seed=s)`` gives the start that seed determines."""

    metadata = {"render_modes": ["rgb_array"], "render_fps": FPS}

    def __init__(self, config: RobosuiteConfig) -> None:
        suite = _import_robosuite()
        from robosuite.controllers import load_composite_controller_config

        self.config = config
        self.task = task = TASKS[config.task]
        self._env = suite.make(
            task.env,
            robots=list(task.robots) if len(task.robots) > 1 else task.robots[0],
            # Fixed arms: robosuite's BASIC composite (OSC_POSE per arm); the wheeled robot: its own default
            # (HYBRID_MOBILE_BASE: OSC_POSE arm, joint-velocity base, joint-position torso).
            controller_configs=load_composite_controller_config(controller=None if task.mobile else "BASIC", robot=task.robots[0]),
            **({"env_configuration": task.env_configuration} if task.arms > 1 else {}),
            has_renderer=False,
            has_offscreen_renderer=False,  # vlastack renders (fast settings, upright)
            use_camera_obs=False,
            hard_reset=False,  # True rebuilds the model at every reset, ~4 s each
            control_freq=FPS,
            horizon=10**6,  # the episode limit is ours (max_steps)
            ignore_done=True,
            # Building the model draws from this seed too (Lift's cube side is drawn in 2.0-2.2 cm, the
            # hammer's handle length...): fixed, so every instance, in every worker, is the same scene.
            seed=MODEL_SEED,
        )
        self._env.reset()  # builds the simulation
        model = self._env.sim.model._model
        self._model, self._data = model, self._env.sim.data._data
        self._renderer = CameraRenderer(model, config.cameras, config.image_size, depth=config.depth)
        self._arms = [self._arm(i, robot, model) for i, robot in enumerate(self._env.robots)]
        # Which robot each geom belongs to, for counting arm-arm contacts; a one-robot scene has none to count.
        self._geom_robots = geom_robots(model) if len(self._arms) > 1 else None
        self._objects = [mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_BODY, getattr(self._env, o).root_body) for o in task.objects]
        self._sites = []
        for name in task.sites:
            obj, site = name.split(".")
            self._sites.append(mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_SITE, getattr(self._env, obj).important_sites[site]))
        # A wheeled robot's forward and sideways base joints (slides along the base's x and y, world x and y
        # at yaw 0): qpos addresses, to start the base where the task says (RobosuiteTask.base_start_m).
        self._base_qpos = (
            [int(model.jnt_qposadr[model.joint(j).id]) for j in self._env.robots[0].robot_model.base_joints[:2]] if task.mobile else []
        )
        self._look = SceneLook(model, config.perturb, self._look_spec()) if check_perturbations(config.perturb) else None
        self.names = feature_names(config.task)
        self.instruction = instruction(config.task, config.instruction_variant)
        self.action_space = gym.spaces.Box(-1.0, 1.0, (len(self.names["action"]),), np.float32)
        self._steps = 0

    def _look_spec(self) -> LookSpec:
        """Where this scene's table, objects and main camera are, for the visual perturbations (envs/perturb.py)."""
        env, model = self._env, self._model
        if not hasattr(env, "table_offset") or not hasattr(env, "table_full_size"):
            raise ConfigError(f"perturb: {self.config.task} has no single table (robosuite's table_offset); perturbations need one")
        top = np.asarray(env.table_offset, dtype=np.float64)  # centre of the table top (world, m)
        half = DISTRACTOR_TABLE_SHARE * np.asarray(env.table_full_size[:2], dtype=np.float64) / 2
        objects = {mujoco.mj_id2name(model, mujoco.mjtObj.mjOBJ_BODY, o) for b in self._objects for o in bodies_below(model, b)}
        return LookSpec(
            camera=PERTURBED_CAMERA,
            table_body="table",
            hand_body=mujoco.mj_id2name(model, mujoco.mjtObj.mjOBJ_BODY, model.site_bodyid[self._arms[0].eef_site]),
            distractor_area_m=((top[0] - half[0], top[0] + half[0]), (top[1] - half[1], top[1] + half[1])),
            table_top_z_m=float(top[2]),
            object_bodies=frozenset(objects),
        )

    @staticmethod
    def _arm(index: int, robot: Any, model: Any) -> _Arm:
        gripper = robot.gripper["right"]
        prefix = robot.robot_model.naming_prefix
        q_open, q_closed = _gripper_ends(gripper)
        ft = []
        for key in ("force_ee", "torque_ee"):
            sensor = model.sensor(gripper.important_sensors[key]).id
            ft.append((int(model.sensor_adr[sensor]), int(model.sensor_objid[sensor])))
        return _Arm(
            robot=index,
            ref_site=mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_SITE, f"{prefix}right_center"),
            eef_site=int(robot.eef_site_id["right"]),
            grip_qpos=int(model.jnt_qposadr[model.joint(gripper.joints[0]).id]),
            grip_open=q_open,
            grip_closed=q_closed,
            force_torque=(ft[0], ft[1]),
        )

    # ---- gymnasium API ---------------------------------------------------------------------------
    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple[Observation, dict[str, Any]]:
        super().reset(seed=seed)
        if seed is None:
            seed = int(self.np_random.integers(2**31))
        # The placement sampler and the robots hold this very generator: reseed it in place.
        self._env.rng.bit_generator.state = np.random.default_rng(seed).bit_generator.state
        self._env.reset()
        if any(self.task.base_start_m):
            # Move the base before the first step: robosuite's arm controller reads its frame from the simulation
            # every step and the base controller only its heading (unchanged), so neither needs telling.
            self._data.qpos[self._base_qpos] = self.task.base_start_m  # robosuite puts the base at joint position 0
            self._data.qvel[:] = 0.0
            mujoco.mj_forward(self._model, self._data)
        if self._look is not None:  # visual only
            self._look.start_episode(seed, self._data)
        self._steps = 0
        return self._observe(), {"privileged": self._privileged(), "success": False, "seed": seed, "step": 0}

    def step(self, action: np.ndarray) -> tuple[Observation, float, bool, bool, dict[str, Any]]:
        a = np.asarray(action, dtype=np.float64).reshape(-1)
        n = self.action_space.shape[0]
        if a.shape != (n,):
            raise ConfigError(f"action must have {n} entries {self.names['action']}, got shape {np.shape(action)}")
        if not np.all(np.isfinite(a)):
            raise ConfigError(f"action must be finite, got {a}")
        _, reward, _, _ = self._env.step(self._robosuite_action(np.clip(a, -1.0, 1.0)))
        self._steps += 1
        success = bool(self._env._check_success())
        terminated = success and self.config.terminate_on_success
        truncated = self._steps >= self.config.max_steps
        info = {"privileged": self._privileged(), "success": success, "step": self._steps}
        return self._observe(), float(reward), terminated, truncated, info

    def _robosuite_action(self, a: np.ndarray) -> np.ndarray:
        """vlastack's action (world-aligned arm deltas, per arm) -> robosuite's (each arm in its own frame)."""
        parts = []
        for i, (arm, robot) in enumerate(zip(self._arms, self._env.robots)):
            mine = a[7 * i : 7 * i + 7]
            world_from_ref = self._data.site_xmat[arm.ref_site].reshape(3, 3)
            vec = np.zeros(robot.action_dim)
            split = robot.composite_controller._action_split_indexes
            vec[slice(*split["right"])] = np.concatenate([world_from_ref.T @ mine[:3], world_from_ref.T @ mine[3:6]])
            vec[slice(*split["right_gripper"])] = mine[6]
            if self.task.mobile:
                base, torso = a[7 * len(self._arms) :][:3], a[7 * len(self._arms) :][3:]
                vec[slice(*split["base"])] = base
                vec[slice(*split["torso"])] = torso
                # Last entry, robosuite's goal-update mode: -1 sets the arm's goal from the pose it reached,
                # so the hand rides along with the base; +1 ("desired") threw the hand ~0.8 m when the
                # base drove (seen with robosuite 1.5.2).
                vec[-1] = -1.0
            parts.append(vec)
        return np.concatenate(parts)

    def arm_arm_contacts(self) -> int | None:
        """MuJoCo contacts between two different robots in the current simulator state (after the last step);
        None for a one-robot scene. A reading for audits and benchmarks, never an input of the policy."""
        return None if self._geom_robots is None else arm_arm_contacts(self._data, self._geom_robots)

    def close(self) -> None:
        self._renderer.close()
        self._env.close()

    # ---- observation -------------------------------------------------------------------------------
    def _state(self) -> np.ndarray:
        out = []
        for arm in self._arms:
            quat_wxyz = np.zeros(4)
            mujoco.mju_mat2Quat(quat_wxyz, self._data.site_xmat[arm.eef_site])
            opening = gripper_opening(self._data.qpos[arm.grip_qpos], arm.grip_open, arm.grip_closed)
            out += [self._data.site_xpos[arm.eef_site], quat_wxyz[[1, 2, 3, 0]], [opening]]
        if self.task.mobile:
            mount = self._arms[0].ref_site
            r = self._data.site_xmat[mount].reshape(3, 3)
            out += [self._data.site_xpos[mount], [np.arctan2(r[1, 0], r[0, 0])]]
        return np.concatenate(out).astype(np.float32)

    def _privileged(self) -> np.ndarray:
        poses = [np.concatenate([self._data.xpos[b], self._data.xquat[b][[1, 2, 3, 0]]]) for b in self._objects]  # quaternions x, y, z, w
        return np.concatenate([self._state(), *poses, *(self._data.site_xpos[i] for i in self._sites)]).astype(np.float32)

    def _touch(self) -> np.ndarray:
        """Per arm: wrist force (N) and torque (N m), world frame (the sensors read in their site's frame)."""
        out = []
        for arm in self._arms:
            for adr, site in arm.force_torque:
                out.append(self._data.site_xmat[site].reshape(3, 3) @ self._data.sensordata[adr : adr + 3])
        return np.concatenate(out).astype(np.float32)

    def _observe(self) -> Observation:
        rgb, depth = self._renderer.render(self._data, self._look.decorate if self._look is not None else None)
        return Observation(
            images=rgb,
            depth=depth,
            state=self._state(),
            instruction=self.instruction,
            touch=self._touch() if self.config.touch else None,
        )


#: Per gripper model: where its first (driving) joint settles when closed on nothing, radians or metres
#: as the joint's type. Measured with robosuite 1.5.2 (80 steps of +1 in free air from the open start);
#: the joint ranges cannot say it, since some grippers close towards the low end, some towards the
#: high one, and the Jaco's and xArm's fingers are not limited.
GRIPPER_CLOSED_QPOS: dict[str, float] = {
    "PandaGripper": 0.0,
    "RethinkGripper": -0.012,
    "Robotiq85Gripper": 0.52,
    "Robotiq140Gripper": 0.493,
    "JacoThreeFingerGripper": 0.157,
    "XArm7Gripper": 0.832,
}


def _gripper_ends(gripper: Any) -> tuple[float, float]:
    """The driving joint's open position (robosuite's start: every gripper starts open) and closed one."""
    name = type(gripper).__name__
    if name not in GRIPPER_CLOSED_QPOS:
        raise unknown_name_error("gripper model (no closed position measured)", name, GRIPPER_CLOSED_QPOS)
    return float(gripper.init_qpos[0]), GRIPPER_CLOSED_QPOS[name]


def gripper_opening(q: float, q_open: float, q_closed: float) -> float:
    """How open the gripper is, in [0, 1] (1 = as open as it starts, 0 = closed on nothing), from its
    driving joint: one comparable number for grippers of 2 to 6 joints."""
    return float(np.clip((q - q_closed) / (q_open - q_closed), 0.0, 1.0))


def make_env(task: str, **kwargs: Any) -> RobosuiteEnv:
    """A robosuite environment for ``task``; keyword arguments are RobosuiteConfig fields."""
    return RobosuiteEnv(RobosuiteConfig(task=task, **kwargs))
