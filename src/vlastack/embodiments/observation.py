"""The shared observation: one proprio layout and one set of camera names across robots (issue 17, item 3).

State, :data:`SHARED_STATE_NAMES` (float32, 4 entries):

- ``hand_fwd_m, hand_left_m, hand_up_m``: the hand's position in metres, in the shared frame of
  :mod:`.embodiment` (x forward from the robot's base, y to its left, z up), measured from the robot's
  :attr:`Embodiment.state_origin_m` (the centre of its table top). Meta-World's world frame is turned into it
  with the embodiment's yaw (+90 degrees: forward = world +y, left = world -x); robosuite's already is it.
- ``gripper_open``: gripper opening in [0, 1], 1 fully open (both suites record it so already).

Dropped from the native state: robosuite's hand quaternion. Meta-World's Sawyer has no orientation state and
takes no rotation command (its hand always points down), so the only orientation both robots share is
"pointing down": a quaternion column would be a constant on one robot and a second robot's signature on the
other, and the policy would learn the robot from it rather than the scene. A robot whose tasks need turning
the hand would need it back (then as a rotation in the shared frame, not a native quaternion).

Origin, why relative: the two simulators put their tables at other world points (Meta-World's top at
z = 0 with the hand starting at y = 0.6; robosuite's Lift table top at z = 0.8), so raw world positions
would separate the robots by 0.6-0.8 m in every frame. From each robot's table centre both hands start
about 0.2 m above the table (Meta-World 0.195 m; robosuite's Sawyer 0.22 m, 0.11 m behind the centre).

Cameras, :data:`CAMERA_SLOTS`: a slot name (what the policy's ``cameras`` hold) -> the camera of each suite
that fills it: ``front`` the fixed view over the table (Meta-World ``corner2``, robosuite ``agentview``, Fetch
``external_camera_0``), ``wrist`` the one riding on the hand (``gripperPOV``, ``robot0_eye_in_hand``; Fetch's
gripper camera sees only the table under the fingers: no wrist slot for Fetch).
"""

from __future__ import annotations

import numpy as np

from vlastack.embodiments.embodiment import Embodiment
from vlastack.errors import ConfigError

#: The shared state's entries, in order (see the module docstring for units and frame).
SHARED_STATE_NAMES = ("hand_fwd_m", "hand_left_m", "hand_up_m", "gripper_open")
SHARED_STATE_DIM = len(SHARED_STATE_NAMES)
#: Native state entries the shared state is made from: the hand's world position (m) and the gripper opening.
NATIVE_HAND = ("ee_x", "ee_y", "ee_z")
NATIVE_GRIPPER = "gripper_open"

#: Camera slot -> {suite: that suite's camera name}.
CAMERA_SLOTS: dict[str, dict[str, str]] = {
    "front": {"metaworld": "corner2", "robosuite": "agentview", "fetch": "external_camera_0"},
    "wrist": {"metaworld": "gripperPOV", "robosuite": "robot0_eye_in_hand"},
}
#: The slots a shared-space dataset records by default.
DEFAULT_SLOTS = ("front", "wrist")


def native_camera(embodiment: Embodiment, slot: str) -> str:
    """The camera of ``embodiment``'s simulator that fills camera ``slot``; an unknown slot is a ConfigError."""
    if slot not in CAMERA_SLOTS:
        raise ConfigError(f"cameras: unknown camera slot {slot!r}; the shared slots are {list(CAMERA_SLOTS)}")
    by_suite = CAMERA_SLOTS[slot]
    if embodiment.suite not in by_suite:
        raise ConfigError(f"cameras: slot {slot!r} has no camera for {embodiment.suite} robots ({embodiment.id})")
    return by_suite[embodiment.suite]


def native_state_names(task: str) -> list[str]:
    """Entry names of ``task``'s native state (no simulator needed): Meta-World's or the robosuite task's."""
    from vlastack.envs.fetch_tasks import is_fetch_task
    from vlastack.envs.robosuite_tasks import is_robosuite_task

    if is_fetch_task(task):
        from vlastack.envs.fetch_env import STATE_NAMES as FETCH_STATE_NAMES

        return list(FETCH_STATE_NAMES)
    if is_robosuite_task(task):
        from vlastack.envs.robosuite_env import feature_names

        return list(feature_names(task)["state"])
    from vlastack.envs.metaworld import STATE_NAMES

    return list(STATE_NAMES)


def shared_state(embodiment: Embodiment, state: np.ndarray, names: list[str] | tuple[str, ...]) -> np.ndarray:
    """Native state(s) [..., S] whose entries are named ``names`` -> shared state(s) [..., SHARED_STATE_DIM], float32."""
    names = list(names)
    missing = [n for n in (*NATIVE_HAND, NATIVE_GRIPPER) if n not in names]
    if missing:
        raise ConfigError(f"state of {embodiment.id}: no entries {missing} among {names}: no shared state can be made")
    s = np.asarray(state, dtype=np.float64)
    if s.ndim == 0 or s.shape[-1] != len(names):
        raise ConfigError(f"state of {embodiment.id}: expected {len(names)} entries {names} in the last axis, got shape {s.shape}")
    hand = s[..., [names.index(n) for n in NATIVE_HAND]] - np.asarray(embodiment.state_origin_m)
    out = np.empty((*s.shape[:-1], SHARED_STATE_DIM))
    out[..., :3] = hand @ embodiment.rotation  # native = R @ shared, so shared = R^T @ native (rows: native @ R)
    out[..., 3] = s[..., names.index(NATIVE_GRIPPER)]
    return out.astype(np.float32)
