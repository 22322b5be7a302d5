"""A small client for the policy server; needs numpy, msgpack and websockets only (no torch).

    from vlastack.serving.client import PolicyClient, RemotePolicy
    with PolicyClient("ws://127.0.0.1:8000", token="s3cret") as client:
        print(client.required_keys)                       # what to send, from the server's metadata
        reply = client.infer({"observation.images.corner2": img, "observation.state": state, "prompt": "open the drawer"})
        reply["actions"]                                  # float32 [H, D], environment units

    policy = RemotePolicy("ws://gpu-box:8000")            # Observation -> ActionChunk, for executors
    chunk = policy(observation)                           # images resized to what the server expects
    chunk.explanations                                    # (Explanation,) from a hierarchical policy, else None
    explanation_of(reply)                                 # the same from a raw reply: subtask, reason, plan

The protocol is openpi's (:mod:`vlastack.serving.protocol`): an openpi ``WebsocketClientPolicy``
works against a vlastack server too, and this client against an openpi server (without the spec).
"""

from __future__ import annotations

import inspect
from typing import Any

import numpy as np
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect

from vlastack import keys
from vlastack.serving import msgpack_numpy
from vlastack.serving.protocol import ACTIONS, ERROR, PROMPT, RESET, TIMING, ObservationSpec, explanation_from_reply
from vlastack.types import EXPLANATIONS, ActionChunk, Explanation, Observation

#: websockets >= 15 reads proxy settings from the environment unless told not to; older ones have no proxy support.
_NO_PROXY = {"proxy": None} if "proxy" in inspect.signature(connect).parameters else {}


def explanation_of(reply: dict[str, Any]) -> Explanation | None:
    """The policy's explanation in a reply (``subtask``, ``reason``, ``plan``, ...), or None when it gave none."""
    return explanation_from_reply(reply)


class ServerError(RuntimeError):
    """The server answered a request with an error (the connection stays usable)."""


class ConnectionLost(ConnectionError):
    """The connection ended during a request; the message carries the server's close code and reason
    (e.g. its ``idle_timeout_s`` or ``session_timeout_s``). Open a new client to go on."""


class ConnectionRefused(ConnectionError):
    """The server refused the connection (wrong or missing token, full, not a policy server)."""


class PolicyClient:
    """One connection to a policy server; requests are sent and answered one at a time."""

    def __init__(
        self, url: str = "ws://127.0.0.1:8000", token: str | None = None, timeout_s: float = 30.0, max_message_bytes: int = 64 * 2**20
    ) -> None:
        self.url = url if url.startswith(("ws://", "wss://")) else f"ws://{url}"
        self.timeout_s = timeout_s
        headers = {"Authorization": f"Api-Key {token}"} if token else None
        try:
            self._ws = connect(
                self.url, additional_headers=headers, compression=None, max_size=max_message_bytes, open_timeout=timeout_s, **_NO_PROXY
            ).__enter__()  # the connection itself, on every version
        except InvalidStatus as err:
            status = err.response.status_code
            body = err.response.body.decode("utf-8", "replace").strip() if err.response.body else ""
            raise ConnectionRefused(f"{self.url} refused the connection (HTTP {status}): {body}") from err
        self.metadata: dict[str, Any] = msgpack_numpy.unpackb(self._ws.recv(timeout=timeout_s))
        self.spec = ObservationSpec.from_metadata(self.metadata) if "observation" in self.metadata else None
        self._reset_next = False

    @property
    def required_keys(self) -> list[str]:
        """The observation keys the server expects (empty if it did not announce them)."""
        return self.spec.required_keys if self.spec is not None else []

    def reset(self) -> None:
        """Mark the next request as the first of an episode (the server clears this connection's state)."""
        self._reset_next = True

    def infer(self, obs: dict[str, Any]) -> dict[str, Any]:
        """Send one observation, return the reply (``actions``, ``server_timing``, ...); ServerError on an error reply."""
        if self._reset_next:
            obs = {**obs, RESET: True}
        try:
            self._ws.send(msgpack_numpy.packb(obs))
            raw = self._ws.recv(timeout=self.timeout_s)
        except ConnectionClosed as err:
            close = err.rcvd or err.sent
            why = f"code {close.code}: {close.reason or 'no reason given'}" if close is not None else "no close frame"
            raise ConnectionLost(f"{self.url} closed the connection ({why}); open a new client to go on") from err
        if isinstance(raw, str):  # openpi servers send tracebacks as text
            raise ServerError(raw)
        reply = msgpack_numpy.unpackb(raw)
        if isinstance(reply, dict) and ERROR in reply:
            raise ServerError(str(reply[ERROR]))
        self._reset_next = False
        return reply

    def close(self) -> None:
        self._ws.close()

    def __enter__(self) -> PolicyClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def resize_image(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """uint8 [H, W, C] -> uint8 [h, w, C], bilinear with half-pixel centres and no antialiasing.

    The same sampling as ``torch.nn.functional.interpolate(mode="bilinear", align_corners=False)``,
    which the policy applies when the image size differs from its own, so either side may resize.
    """
    h, w = size
    src = np.asarray(image, dtype=np.float32)
    if src.shape[:2] == (h, w):
        return np.asarray(image, dtype=np.uint8)

    def axis(n_out: int, n_in: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        x = np.maximum((np.arange(n_out, dtype=np.float64) + 0.5) * (n_in / n_out) - 0.5, 0.0)
        i0 = np.minimum(np.floor(x).astype(np.int64), n_in - 1)
        return i0, np.minimum(i0 + 1, n_in - 1), (x - i0).astype(np.float32)

    y0, y1, fy = axis(h, src.shape[0])
    x0, x1, fx = axis(w, src.shape[1])
    fx = fx[None, :, None]
    top = src[y0][:, x0] * (1 - fx) + src[y0][:, x1] * fx
    bottom = src[y1][:, x0] * (1 - fx) + src[y1][:, x1] * fx
    out = top * (1 - fy[:, None, None]) + bottom * fy[:, None, None]
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


class RemotePolicy:
    """A remote policy as executors see one: ``policy(observation) -> ActionChunk`` (batch of one).

    Builds the message from an :class:`~vlastack.types.Observation` using the server's spec (images
    resized to the announced size, arrays cast to the announced dtypes). ``reset()`` before each
    episode. ``chunk.info`` carries the server's timing and safety report, and ``chunk.explanations`` the
    policy's explanation when it gives one (as a local policy's chunk would).
    """

    def __init__(self, url: str, token: str | None = None, timeout_s: float = 30.0) -> None:
        self.client = PolicyClient(url, token=token, timeout_s=timeout_s)
        if self.client.spec is None:
            raise ConnectionRefused(f"{url} sent no observation spec; it is not a vlastack policy server")
        self.spec = self.client.spec

    def message(self, observation: Observation) -> dict[str, Any]:
        msg: dict[str, Any] = {}
        for spec in self.spec.arrays:
            if spec.key.startswith(keys.IMAGES_PREFIX):
                value = resize_image(observation.images[keys.camera_of(spec.key)], spec.shape[:2])
            elif spec.key.startswith(keys.DEPTH_PREFIX):
                value = observation.depth[keys.camera_of(spec.key)]  # sent as is: depth is not resized here
            elif spec.key == keys.TOUCH:
                value = observation.touch
            elif spec.key == keys.STATE:
                value = observation.state
            else:
                raise KeyError(f"the server expects {spec.key!r}, which an Observation does not carry")
            msg[spec.key] = np.asarray(value).astype(spec.dtype, copy=False)
        if self.spec.prompt:
            msg[PROMPT] = observation.instruction
        contact = getattr(observation, "arm_contact", None)
        if contact is not None and keys.ARM_CONTACT in (self.client.metadata.get("optional") or {}):
            msg[keys.ARM_CONTACT] = np.asarray(contact, dtype=np.float32)  # for the server's safety layer
        return msg

    def __call__(self, observation: Observation) -> ActionChunk:
        reply = self.client.infer(self.message(observation))
        actions = np.asarray(reply[ACTIONS], dtype=np.float32)
        timing = reply.get(TIMING, {})
        info = {k: v for k, v in reply.items() if k != ACTIONS}
        explanation = explanation_of(reply)
        if explanation is not None:
            info[EXPLANATIONS] = (explanation,)
        return ActionChunk(actions=actions[None], inference_ms=float(timing.get("total_ms", 0.0)), info=info)

    sample_actions = __call__

    def reset(self) -> None:
        self.client.reset()

    def close(self) -> None:
        self.client.close()
