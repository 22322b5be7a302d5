"""A vlastack checkpoint behind the server: :class:`CheckpointRunner`.

The checkpoint is loaded once (``vlastack.policies.load_policy``); its config decides what clients
must send (see :func:`observation_spec`), its normaliser is applied inside the policy (states in,
actions out), so clients send and receive environment units. Per connection the runner keeps the
last ``obs_history`` observations (the first one repeated until there are enough) and, for flow
policies with a ``noise_shape`` (flow, hybrid), its own noise generator, so a connection's chunks do not depend on other clients.
"""

from __future__ import annotations

import threading
from collections import deque
from pathlib import Path
from typing import Any

import numpy as np

from vlastack import keys
from vlastack.checkpoint import resolve_checkpoint
from vlastack.serving.protocol import ACTIONS, PROMPT, ArraySpec, ObservationSpec
from vlastack.serving.runners import EXPLANATION


def observation_spec(config: Any, image_size: tuple[int, int] | None = None) -> ObservationSpec:
    """What a client must send for a policy config (its ``PolicyConfig`` fields): one RGB image per camera,
    depth and touch when used, state, prompt.

    ``image_size`` (height, width) is the size clients send; it defaults to the size the encoder
    sees (``config.image_size``); another size is resized by the policy (bilinear) on the server.
    """
    h, w = image_size or tuple(config.image_size)
    arrays = []
    for cam in config.cameras:
        arrays.append(ArraySpec(keys.image_key(cam), (h, w, 3), "uint8", f"RGB from camera {cam!r}, upright, row 0 at the top"))
        if config.use_depth:
            arrays.append(ArraySpec(keys.depth_key(cam), (h, w), "float32", f"depth from camera {cam!r}, metres along the optical axis"))
    arrays.append(
        ArraySpec(
            keys.STATE,
            (config.state_dim,),
            "float32",
            "proprioception, environment units (Meta-World: end-effector xyz in m, gripper opening in [0, 1])",
        )
    )
    if config.use_touch:
        arrays.append(ArraySpec(keys.TOUCH, (config.touch_dim,), "float32", "normal contact force per gripper finger, newtons"))
    return ObservationSpec(tuple(arrays), prompt=True)


class CheckpointRunner:
    """Serves one loaded vlastack policy; thread-safe for different connections (inference mode, no mutation).

    A policy that remembers its episode (``Policy.episode_memory``: a hierarchical policy's plan) keeps
    one memory per connection in that connection's state, put back before each call and taken after it;
    such calls hold a lock, since the policy object itself holds the memory during the call.
    """

    def __init__(self, directory: str | Path, image_size: tuple[int, int] | None = None, device: str = "cpu", seed: int = 0) -> None:
        import torch

        from vlastack.policies import load_policy

        self.directory = resolve_checkpoint(directory)
        self.policy = load_policy(self.directory).to(device)
        self.policy.pack_for_inference()  # eval mode + the packed CPU path; nothing trains the served policy
        self.config = self.policy.config
        self.seed = seed
        self._torch = torch
        self._remembers = self.policy.episode_memory() is not None
        self._memory_lock = threading.Lock()
        # Clients send frames at the resolution the training data was recorded at, unless told otherwise.
        self.spec = observation_spec(self.config, image_size or self.policy.recorded_image_size)
        self.action_spec = ArraySpec(
            ACTIONS,
            (self.config.horizon, self.config.action_dim),
            "float32",
            "environment units, un-normalised (Meta-World: end-effector xyz delta and gripper effort, each in [-1, 1]; grip > 0 closes)",
        )

    def metadata(self) -> dict[str, Any]:
        c = self.config
        return {
            "name": self.policy.policy_name,
            **self.policy.describe(),
            "checkpoint": self.directory.name,
            "horizon": c.horizon,
            "action_dim": c.action_dim,
            "execute_steps": getattr(c, "execute_steps", None),
            "state_dim": c.state_dim,
            "obs_history": c.obs_history,
            "cameras": list(c.cameras),
            "model_image_size": list(c.image_size),
            "embodiments": list(self.policy.embodiments),
        }

    def infer(self, obs: dict[str, Any], state: dict[str, Any]) -> dict[str, Any]:
        from vlastack.policies import batch_from_observation
        from vlastack.types import Observation

        c = self.config
        observation = Observation(
            images={cam: obs[keys.image_key(cam)] for cam in c.cameras},
            depth={cam: obs[keys.depth_key(cam)] for cam in c.cameras} if c.use_depth else {},
            state=obs[keys.STATE],
            touch=obs.get(keys.TOUCH),
            instruction=obs[PROMPT],
        )
        history: deque = state.setdefault("history", deque(maxlen=c.obs_history))
        history.append(observation)
        frames = [history[0]] * (c.obs_history - len(history)) + list(history)
        noise, shape = None, self.policy.noise_shape(1)
        if shape is not None:  # a stochastic policy: this connection's own seeded draws
            gen = state.get("generator")
            if gen is None:
                gen = state["generator"] = self._torch.Generator().manual_seed(self.seed)
            noise = self._torch.randn(shape, generator=gen)
        batch = batch_from_observation(frames)
        if self._remembers:
            with self._memory_lock:  # the memory lives in the policy object during the call
                self.policy.restore_episode_memory(state.get("policy_memory"))  # None after a reset: a new plan
                chunk = self.policy.sample_actions(batch, noise=noise)
                state["policy_memory"] = self.policy.episode_memory()
        else:
            chunk = self.policy.sample_actions(batch, noise=noise)
        actions = np.asarray(chunk.actions[0], dtype=np.float32)
        info = {k: v for k, v in chunk.info.items() if isinstance(v, (str, int, float, bool, list))}
        info["policy_ms"] = float(chunk.inference_ms)
        explanations = chunk.explanations
        return {ACTIONS: actions, "info": info, EXPLANATION: explanations[0] if explanations else None}
