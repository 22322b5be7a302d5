"""Meta-World v3 as a gymnasium environment with multimodal observations.

Observations (a :class:`vlastack.types.Observation`):
  - RGB from each configured camera, upright, ``image_size`` square; by default ``corner2``
    (moved to [0.75, 0.075, 0.7] m as in the published protocol) and the wrist view ``gripperPOV``;
    ``corner2_hand`` is derived: a window of a high-resolution corner2 image around the hand (envs/hand_view.py);
  - depth in metres per camera (optional);
  - state: end-effector x, y, z (m, world frame) and gripper opening in [0, 1] (1 = open),
    Meta-World's own first four observation entries (the protocol's 4-d state);
  - touch: normal contact force on the right and left finger, newtons (optional); with it, the net
    contact force on the arm (world frame, newtons; for the safety layer's force limit);
  - the instruction in words.
The simulator's full 39-d state vector (hand, gripper, object poses, goal) is privileged: it is
returned only in ``info["privileged"]`` for scripted experts and never reaches a policy.

``perturb`` names visual perturbations (lighting, colours, camera jitter, distractors; envs/perturb.py)
drawn at each reset from its seed: they change the rendered images, never the simulated state.

Start positions are a continuous function of the reset seed (``seeded_rand_vec``), so different
seeds give different starts and demonstration and evaluation seeds never share one
(see shared/benchmarks/METAWORLD.md).

Actions: float32 [4] in [-1, 1]: end-effector xyz delta (x 1 cm per step, Meta-World's
``action_scale`` = 1/100) and gripper effort (> 0 closes, < 0 opens). Control runs at 80 Hz.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import mujoco
import numpy as np

from vlastack.envs.hand_view import DERIVED_CAMERAS, HAND_CAMERA, HandView
from vlastack.envs.instructions import instruction
from vlastack.envs.model_tree import bodies_below
from vlastack.envs.perturb import SceneLook, check_perturbations
from vlastack.envs.render import CameraRenderer, camera_names
from vlastack.envs.tasks import known_tasks, scene_of, step_limit
from vlastack.errors import ConfigError
from vlastack.registry import unknown_name_error
from vlastack.types import Observation

#: Control frequency in Hz: MuJoCo timestep 2.5 ms x frame_skip 5.
FPS = 80
ACTION_DIM = 4
STATE_DIM = 4
STATE_NAMES = ["ee_x", "ee_y", "ee_z", "gripper_open"]
ACTION_NAMES = ["dx", "dy", "dz", "grip"]
TOUCH_NAMES = ["right_finger_n", "left_finger_n"]
#: The protocol's corner2 placement (LeRobot's Meta-World integration), metres.
CORNER2_POSITION = (0.75, 0.075, 0.7)
#: Bodies whose contacts count as each finger's touch.
FINGER_BODIES = {"right": ("rightclaw", "rightpad"), "left": ("leftclaw", "leftpad")}
#: The first moving link of the arm: it and every body below it are "the arm" for contact forces.
ARM_ROOT_BODY = "right_l0"


@dataclass(frozen=True)
class MetaWorldConfig:
    """What a Meta-World environment observes and how an episode runs."""

    task: str = "reach-v3"
    """Meta-World v3 task name, e.g. ``pick-place-v3``, or a long-horizon task (``lh-...``)."""
    cameras: tuple[str, ...] = ("corner2", "gripperPOV")
    """Cameras to render, in order; see ``vlastack.envs.render`` for orientation. Besides the scene's own
    cameras, ``corner2_hand``: corner2 magnified around the hand (``hand_render_size``, ``hand_crop``)."""
    image_size: int = 128
    """Square image side in pixels."""
    depth: bool = False
    """Also return depth in metres for every camera."""
    touch: bool = True
    """Also return each finger's contact force in newtons."""
    instruction_variant: int = 0
    """Which phrasing of the task's instruction to give (see envs/instructions.py)."""
    max_steps: int = 500
    """Episode length limit in control steps (the protocol uses 500; long-horizon tasks allow more)."""
    terminate_on_success: bool = True
    """End the episode at the first step with ``info['success']`` (the protocol does)."""
    perturb: tuple[str, ...] = ()
    """Named visual perturbations (``vlastack.envs.perturb.PERTURBATIONS``) or randomisation mixes
    (``MIXES``), drawn at each reset from its seed; they change how the scene looks, never its physics.
    Empty or ``("none",)``: the unperturbed scene."""
    hand_render_size: int = 480
    """``corner2_hand`` only: side in pixels of the square corner2 image the window is cut from (480: the
    protocol's native corner2 size)."""
    hand_crop: int = 160
    """``corner2_hand`` only: side in pixels, of the ``hand_render_size`` image, of the window around the hand,
    then resized to ``image_size`` (area averaging; a larger ``image_size`` enlarges it, adding no detail).
    160 of 480 is a third of corner2's 60-degree field: about 40 cm across at the hand's usual 1 m from the
    camera (gripper, object and some of the way to it), and at ``image_size`` 128 three times the detail of
    the full corner2 view."""

    def __post_init__(self) -> None:
        if self.task not in known_tasks():
            raise unknown_name_error("task", self.task, known_tasks())
        if not 1 <= self.max_steps <= step_limit(self.task):
            raise ConfigError(f"max_steps must be in [1, {step_limit(self.task)}] (the limit of {self.task}), got {self.max_steps}")
        if len(set(self.cameras)) != len(self.cameras):
            raise ConfigError(f"cameras must be distinct, got {self.cameras}")
        check_perturbations(self.perturb)
        if not 8 <= self.hand_render_size <= 2048:
            raise ConfigError(f"hand_render_size must be in [8, 2048] pixels, got {self.hand_render_size}")
        if not 1 <= self.hand_crop <= self.hand_render_size:
            raise ConfigError(f"hand_crop must be in [1, hand_render_size = {self.hand_render_size}] pixels, got {self.hand_crop}")


class MetaWorldEnv(gym.Env):
    """One Meta-World task; ``reset(seed=s)`` gives the start that seed determines."""

    metadata = {"render_modes": ["rgb_array"], "render_fps": FPS}

    def __init__(self, config: MetaWorldConfig) -> None:
        from metaworld.env_dict import ALL_V3_ENVIRONMENTS  # heavy import, only when an env is built

        self.config = config
        env = ALL_V3_ENVIRONMENTS[scene_of(config.task)]()
        env._partially_observable = False  # the goal position is part of the privileged state
        del env.sawyer_observation_space  # cached with the goal hidden; recompute with it visible
        env._set_task_called = True
        env._freeze_rand_vec = False
        env.seeded_rand_vec = True
        env.max_path_length = config.max_steps
        self._env = env
        model = env.model
        cam = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_CAMERA, "corner2")
        model.cam_pos[cam] = CORNER2_POSITION
        valid = camera_names(model) + list(DERIVED_CAMERAS)
        for name in config.cameras:
            if name not in valid:
                raise unknown_name_error("camera", name, valid)
        real = tuple(c for c in config.cameras if c not in DERIVED_CAMERAS)
        self._renderer = CameraRenderer(model, real, config.image_size, depth=config.depth) if real else None
        self._hand_view = None
        if HAND_CAMERA in config.cameras:  # its own renderer of a corner2 window; the corner2 above stays as it was
            self._hand_view = HandView(model, config.hand_render_size, config.hand_crop, config.image_size, depth=config.depth)
        self._look = SceneLook(model, config.perturb)  # after the corner2 placement: jitter is around it
        self._finger_bodies = {
            side: {mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_BODY, b) for b in bodies} for side, bodies in FINGER_BODIES.items()
        }
        self._arm_bodies = bodies_below(model, mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_BODY, ARM_ROOT_BODY))
        self.instruction = instruction(config.task, config.instruction_variant)
        self.action_space = gym.spaces.Box(-1.0, 1.0, (ACTION_DIM,), np.float32)
        self._steps = 0

    # ---- gymnasium API ---------------------------------------------------------------------------
    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple[Observation, dict[str, Any]]:
        super().reset(seed=seed)
        if seed is not None:
            self._env.seed(int(seed))  # seeds the draw of object and goal positions
        raw, _ = self._env.reset()
        if self._look.names:  # visual only (envs/perturb.py), before the forward pass that places the camera
            self._look.apply(seed if seed is not None else int(self.np_random.integers(2**31)))
        # Meta-World moves the goal site in the model after its last forward pass, so without this the
        # first frame draws the goal dot away from the goal, in every episode (seen on reach, push and
        # pick-place); forward kinematics only, the simulated state does not change.
        mujoco.mj_forward(self._env.model, self._env.data)
        if self._look.names:
            self._look.place_distractors(self._env.data)
        self._steps = 0
        return self._observe(raw), {"privileged": raw.astype(np.float32), "success": False, "seed": seed}

    def step(self, action: np.ndarray) -> tuple[Observation, float, bool, bool, dict[str, Any]]:
        a = np.asarray(action, dtype=np.float64).reshape(-1)
        if a.shape != (ACTION_DIM,):
            raise ConfigError(f"action must have {ACTION_DIM} entries [dx, dy, dz, grip], got shape {np.shape(action)}")
        if not np.all(np.isfinite(a)):
            raise ConfigError(f"action must be finite, got {a}")
        raw, reward, _, truncated, info = self._env.step(np.clip(a, -1.0, 1.0))
        self._steps += 1
        success = bool(info.get("success", 0.0))
        terminated = success and self.config.terminate_on_success
        truncated = bool(truncated) or self._steps >= self.config.max_steps
        out = {"privileged": raw.astype(np.float32), "success": success}
        return self._observe(raw), float(reward), terminated, truncated, out

    def close(self) -> None:
        for renderer in (self._renderer, self._hand_view):
            if renderer is not None:
                renderer.close()
        self._env.close()

    # ---- observation -------------------------------------------------------------------------------
    def _observe(self, raw: np.ndarray) -> Observation:
        decorate = self._look.decorate if self._look.names else None
        rgb, depth = self._renderer.render(self._env.data, decorate) if self._renderer is not None else ({}, {})
        if self._hand_view is not None:  # centred on the state's hand point, the one the policy is given
            rgb[HAND_CAMERA], hand_depth = self._hand_view.render(self._env.data, raw[:3], decorate)
            if hand_depth is not None:
                depth[HAND_CAMERA] = hand_depth
        return Observation(
            images={c: rgb[c] for c in self.config.cameras},
            depth={c: depth[c] for c in self.config.cameras} if self.config.depth else {},
            state=raw[:STATE_DIM].astype(np.float32),
            instruction=self.instruction,
            touch=self._touch() if self.config.touch else None,
            arm_contact=self._arm_contact() if self.config.touch else None,
        )

    def _touch(self) -> np.ndarray:
        """Sum of normal contact forces (N) on each finger's bodies, [right, left]."""
        model, data = self._env.model, self._env.data
        out = np.zeros(2, dtype=np.float32)
        wrench = np.zeros(6)
        for i in range(data.ncon):
            c = data.contact[i]
            bodies = {model.geom_bodyid[c.geom1], model.geom_bodyid[c.geom2]}
            for j, side in enumerate(("right", "left")):
                if bodies & self._finger_bodies[side]:
                    mujoco.mj_contactForce(model, data, i, wrench)
                    out[j] += abs(wrench[0])  # wrench[0] is the normal component in the contact frame
        return out

    def _arm_contact(self) -> np.ndarray:
        """Net force (N, world frame) that contacts with anything outside the arm apply to the arm.

        Contacts between two arm bodies (finger on finger) are internal and left out; so the two
        fingers squeezing an object cancel here (the grip force is ``touch``'s job)."""
        model, data = self._env.model, self._env.data
        total = np.zeros(3)
        wrench = np.zeros(6)
        for i in range(data.ncon):
            c = data.contact[i]
            on1, on2 = model.geom_bodyid[c.geom1] in self._arm_bodies, model.geom_bodyid[c.geom2] in self._arm_bodies
            if on1 == on2:
                continue
            mujoco.mj_contactForce(model, data, i, wrench)
            force = c.frame.reshape(3, 3).T @ wrench[:3]  # contact frame -> world: the force geom1 applies to geom2
            total += force if on2 else -force
        return total.astype(np.float32)


def make_env(task: str, **kwargs: Any) -> MetaWorldEnv:
    """A Meta-World environment for ``task``; keyword arguments are MetaWorldConfig fields. A long-horizon
    task (``lh-...``) gets a :class:`vlastack.envs.long_horizon_env.LongHorizonEnv`, a robosuite task
    (``rs-...``) a :class:`vlastack.envs.robosuite_env.RobosuiteEnv` (RobosuiteConfig fields), a Fetch task
    (``fetch-...``) a :class:`vlastack.envs.fetch_env.FetchEnv` (FetchConfig fields)."""
    if task.startswith("fetch-"):
        from vlastack.envs.fetch_env import make_env as make_fetch_env

        return make_fetch_env(task, **kwargs)  # type: ignore[return-value]  # same gymnasium interface
    if task.startswith("rs-"):
        from vlastack.envs.robosuite_env import make_env as make_robosuite_env

        return make_robosuite_env(task, **kwargs)  # type: ignore[return-value]  # same gymnasium interface
    if scene_of(task) != task:
        from vlastack.envs.long_horizon_env import LongHorizonEnv

        kwargs.setdefault("max_steps", step_limit(task))  # the suite's longer episodes unless told
        return LongHorizonEnv(MetaWorldConfig(task=task, **kwargs))
    return MetaWorldEnv(MetaWorldConfig(task=task, **kwargs))
