"""Feature names, one place for all of them.

They follow LeRobot's dataset naming so that a vlastack dataset opens in LeRobot unchanged
(`observation.images.<camera>`, `observation.state`, `action`, ...). Code never spells these
strings out again: it imports them from here.
"""

from __future__ import annotations

#: Prefix of an RGB camera stream: ``observation.images.<camera>``; uint8 [H, W, 3], upright.
IMAGES_PREFIX = "observation.images."
#: Prefix of a depth stream: ``observation.depth.<camera>``; float32 [H, W], metres from the camera plane.
DEPTH_PREFIX = "observation.depth."
#: Proprioception. Meta-World: end-effector x, y, z in metres (world frame) and gripper opening in [0, 1];
#: robosuite: per arm, end-effector position (m, world frame), quaternion (x, y, z, w) and gripper opening.
STATE = "observation.state"
#: Touch, float32. Meta-World: normal contact force on each gripper finger in newtons (right, left);
#: robosuite: per arm, the wrist force-torque reading (N, then N m, world frame).
TOUCH = "observation.touch"
#: Net contact force the surroundings apply to the arm (every moving link, fingers included) in newtons,
#: world frame, float32 [3]; for the safety layer and world-model labels, not a policy input.
ARM_CONTACT = "observation.arm_contact"
#: The simulator's full state: privileged, never fed to a policy by default. LeRobot's name for it.
ENV_STATE = "observation.environment_state"
#: The commanded action. Meta-World: end-effector xyz delta and gripper effort, each in [-1, 1].
ACTION = "action"
#: Reward after this step, and whether the task was solved at this step.
REWARD = "next.reward"
SUCCESS = "next.success"

# Plan labels of a training window for hierarchical policies (data/windows.py, ``subtasks=``); derived
# from the privileged state when the window is built, never stored in a dataset.
#: int64 []: index in the policy's subtask vocabulary of the subtask the expert works on at frame t.
SUBTASK_TARGET = "subtask.index"
#: float32 [V]: how often each vocabulary subtask was done before frame t's stage (the plan's position).
SUBTASK_HISTORY = "subtask.history"
#: int64 []: vocabulary index of the stage before frame t's (-1 in the first stage).
SUBTASK_PREVIOUS = "subtask.previous"
#: int64 []: frames since frame t's stage began (0 at its first frame).
SUBTASK_SINCE = "subtask.since"
#: float32 [2, S]: the highest and lowest ``observation.state`` (per dimension, environment units) from the first
#: frame of frame t's stage to frame t: what the arm has done during the subtask in progress.
SUBTASK_MOTION = "subtask.motion"
#: float32 [2, S]: the same from the first frame of the stage before frame t's (frame t's own stage's first frame
#: in the first stage): the subtask in progress as the plan sees it while it lags one stage behind.
SUBTASK_MOTION_LAG = "subtask.motion_lag"

#: float32 []: a fine-tuning sample's advantage (rl-sim's ``explore.update=fpo``, improve/fpo.py), NaN on
#: demonstration samples. Added to a training window, never stored in a dataset.
ADVANTAGE = "advantage"

# Bookkeeping columns every LeRobot v3 frame carries.
TIMESTAMP = "timestamp"
FRAME_INDEX = "frame_index"
EPISODE_INDEX = "episode_index"
INDEX = "index"
TASK_INDEX = "task_index"

#: Prefix of a camera or depth stream seen ahead of the window: ``future.observation.images.<camera>``,
#: float32 [F, 3, Hi, Wi] (one frame per offset a policy asks for, ``PolicyConfig.future_frame_offsets``,
#: clamped at the episode's last frame). Training-only supervision (data/windows.py), never a policy input;
#: a prefix of its own, so nothing that looks for ``observation.images.`` mistakes it for an input.
FUTURE_PREFIX = "future."

#: Prefix of a camera stream's frames already passed through a policy's frozen image trunk:
#: ``cached.observation.images.<camera>``, float16 [T, C, h, w] (the trunk's output map of each frame, read
#: from the feature cache, data/feature_cache.py). Training-only, in place of the images; a policy acting
#: always computes the trunk on the real frame. Its frames ahead: ``future.cached.observation.images.<camera>``.
CACHED_PREFIX = "cached."

#: Suffix of the padding mask that goes with a windowed feature: ``action_is_pad``.
PAD_SUFFIX = "_is_pad"

#: Columns that hold no sensor or action data.
BOOKKEEPING = (TIMESTAMP, FRAME_INDEX, EPISODE_INDEX, INDEX, TASK_INDEX)


def image_key(camera: str) -> str:
    """Feature name of one camera's RGB stream."""
    return IMAGES_PREFIX + camera


def depth_key(camera: str) -> str:
    """Feature name of one camera's depth stream."""
    return DEPTH_PREFIX + camera


def future_key(key: str) -> str:
    """Feature name of a camera or depth stream's frames ahead of the window (see ``FUTURE_PREFIX``)."""
    return FUTURE_PREFIX + key


def cached_key(key: str) -> str:
    """Feature name of a camera stream's frozen-trunk maps read from the feature cache (see ``CACHED_PREFIX``)."""
    return CACHED_PREFIX + key


def camera_of(key: str) -> str:
    """The camera name inside an image or depth feature name."""
    for prefix in (IMAGES_PREFIX, DEPTH_PREFIX):
        if key.startswith(prefix):
            return key[len(prefix) :]
    raise ValueError(f"{key!r} is not a camera feature (expected a name starting with {IMAGES_PREFIX!r} or {DEPTH_PREFIX!r})")
