"""The wire protocol: message keys, the observation spec a server declares, and its validation.

One websocket connection per client; every message is a binary frame of msgpack
(:mod:`vlastack.serving.msgpack_numpy`, openpi's array encoding)::

    server -> client   metadata (once, on connect): {"server": "vlastack", "protocol_version": 1,
                       "observation": {key: {"shape", "dtype", "description"}}, "optional": {...},
                       "action": {"key": "actions", "shape": [H, D], "dtype": "float32", ...},
                       "embodiments": [{"id", "robot", "native_action", "safety_spec", ...}] (only for a
                       policy whose checkpoint records the robots it was trained on), ...}
    client -> server   an observation: {"observation.images.<cam>": uint8 [Hi, Wi, 3],
                       "observation.state": float32 [S], ("observation.touch": float32 [F],)
                       "prompt": str, optional "reset": bool, optional "observation.arm_contact": float32 [3]}
    server -> client   {"actions": float32 [H, D], "server_timing": {"infer_ms", "total_ms", ...},
                       "safety": {...} (when a safety spec is on), "policy_info": {...},
                       "subtask", "reason", "plan", "plan_index", "subtask_confidence", "hand_motion_m"
                       (only when the policy explains itself: see EXPLANATION_KEYS)}
                   or  {"error": "<what was wrong, naming the key and what was expected>"}

Requests on one connection are answered in order, one reply per request. ``prompt`` is openpi's
name for the instruction, so openpi clients send it unchanged. ``reset: true`` marks the first
observation of an episode (it clears the connection's history and safety memory).
``observation.arm_contact`` (optional, newtons, world frame) is the arm's net contact force, which the
server's safety layer limits when it is sent (a vlastack client sends it when the server announces it).

A policy that explains itself (a hierarchical one, at every re-plan) adds its
:class:`~vlastack.types.Explanation` as top-level keys of plain strings, numbers and lists, never numpy
arrays: openpi clients ignore keys they do not know, and openpi's ``ActionChunkBroker`` slices only
arrays, so they pass through it untouched. Other policies' replies carry none of these keys.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from vlastack.keys import ARM_CONTACT
from vlastack.types import Explanation

PROTOCOL_VERSION = 1
ACTIONS = "actions"
ERROR = "error"
PROMPT = "prompt"
RESET = "reset"
TIMING = "server_timing"
SAFETY = "safety"
POLICY_INFO = "policy_info"
#: Reply keys of an explanation (key -> what it holds), present only when the policy gives one.
EXPLANATION_KEYS = {
    "subtask": "str: the subtask this chunk was made for",
    "reason": "str: why this subtask now and what the chunk does, from the policy's own outputs",
    "plan": "list of str: subtasks judged done, the current one, and those predicted next",
    "plan_index": "int: index of subtask in plan",
    "subtask_confidence": "float in [0, 1]: the policy's probability of subtask (when it has one)",
    "hand_motion_m": "list of 3 floats: hand displacement the executed steps command, metres (x right, y away, z up)",
}
#: ``Explanation`` fields whose reply key differs from the field's name.
_RENAMED = {"confidence": "subtask_confidence"}
#: Longest accepted prompt, in characters.
MAX_PROMPT_CHARS = 2_000


class ObservationError(ValueError):
    """An observation does not match the server's spec; the message names the key and what was expected."""


@dataclass(frozen=True)
class ArraySpec:
    """One array a client must send."""

    key: str
    """Feature name (:mod:`vlastack.keys`), e.g. ``observation.state``."""
    shape: tuple[int, ...]
    """Exact shape, unbatched."""
    dtype: str
    """Exact numpy dtype name (``uint8``, ``float32``)."""
    description: str = ""
    """Units and layout in words."""

    def to_dict(self) -> dict[str, Any]:
        return {"shape": list(self.shape), "dtype": self.dtype, "description": self.description}

    def describe(self) -> str:
        return f"{self.dtype} {list(self.shape)}"


#: Arrays a client may add to any request; read by the server's safety layer, never by the policy.
OPTIONAL_ARRAYS = (ArraySpec(ARM_CONTACT, (3,), "float32", "net contact force on the arm, newtons, world frame (safety layer only)"),)


@dataclass(frozen=True)
class ObservationSpec:
    """Everything a client must send per request: arrays by key, plus the ``prompt`` string."""

    arrays: tuple[ArraySpec, ...]
    """The arrays, in a stable order."""
    prompt: bool = True
    """Whether a ``prompt`` (instruction in words) is required."""

    @property
    def required_keys(self) -> list[str]:
        return [a.key for a in self.arrays] + ([PROMPT] if self.prompt else [])

    def to_metadata(self) -> dict[str, Any]:
        """The ``observation`` and ``optional`` entries of the server metadata."""
        obs = {a.key: a.to_dict() for a in self.arrays}
        if self.prompt:
            obs[PROMPT] = {"shape": [], "dtype": "str", "description": f"the instruction in words (at most {MAX_PROMPT_CHARS} characters)"}
        optional = {RESET: {"shape": [], "dtype": "bool", "description": "true on the first observation of an episode"}}
        optional.update({a.key: a.to_dict() for a in OPTIONAL_ARRAYS})
        return {"observation": obs, "optional": optional}

    @classmethod
    def from_metadata(cls, meta: dict[str, Any]) -> ObservationSpec:
        """Rebuild the spec a server announced (client side)."""
        obs = meta.get("observation") or {}
        arrays = tuple(
            ArraySpec(k, tuple(int(n) for n in v["shape"]), str(v["dtype"]), str(v.get("description", "")))
            for k, v in obs.items()
            if k != PROMPT
        )
        return cls(arrays, prompt=PROMPT in obs)

    def validate(self, obs: Any) -> dict[str, Any]:
        """The observation, checked: every key present, no others, exact shapes and dtypes, finite floats.

        Returns a new dict (arrays made writable copies are not needed: policies only read them).
        """
        if not isinstance(obs, dict):
            raise ObservationError(f"the message must be a map of observation keys, got {type(obs).__name__}")
        bad_keys = [k for k in obs if not isinstance(k, str)]
        if bad_keys:
            raise ObservationError(f"observation keys must be strings, got {bad_keys[:3]!r}"[:300])
        expected = self.required_keys
        missing = [k for k in expected if k not in obs]
        optional = [RESET] + [a.key for a in OPTIONAL_ARRAYS]
        extra = sorted(k for k in obs if k not in expected and k not in optional)
        if missing or extra:
            parts = ([f"missing keys {missing}"] if missing else []) + ([f"unexpected keys {extra[:8]}"] if extra else [])
            raise ObservationError("; ".join(parts) + f"; this server expects exactly {expected} (plus optional {optional})")
        out: dict[str, Any] = {}
        for spec in self.arrays:
            out[spec.key] = _check_array(spec, obs[spec.key])
        for spec in OPTIONAL_ARRAYS:
            if spec.key in obs:
                out[spec.key] = _check_array(spec, obs[spec.key])
        if self.prompt:
            text = obs[PROMPT]
            if isinstance(text, bytes):
                try:
                    text = text.decode("utf-8")
                except UnicodeDecodeError as err:
                    raise ObservationError(f"{PROMPT!r} must be UTF-8 text") from err
            if not isinstance(text, str):
                raise ObservationError(f"{PROMPT!r} must be a string (the instruction), got {type(text).__name__}")
            if not text.strip() or len(text) > MAX_PROMPT_CHARS:
                raise ObservationError(f"{PROMPT!r} must be non-empty and at most {MAX_PROMPT_CHARS} characters, got {len(text)}")
            out[PROMPT] = text
        reset = obs.get(RESET, False)
        if not isinstance(reset, (bool, np.bool_)):
            raise ObservationError(f"{RESET!r} must be a bool, got {type(reset).__name__}")
        out[RESET] = bool(reset)
        return out


def _check_array(spec: ArraySpec, value: Any) -> np.ndarray:
    if not isinstance(value, np.ndarray):
        raise ObservationError(f"{spec.key!r} must be a numpy array of {spec.describe()}, got {type(value).__name__}")
    if value.dtype != np.dtype(spec.dtype) or value.shape != spec.shape:
        hint = ""
        if value.dtype != np.dtype(spec.dtype):
            hint = f" (convert with .astype(np.{spec.dtype}))"
        elif spec.key.startswith("observation.images.") and value.ndim == 3 and len(spec.shape) == 3:
            hint = f" (resize the image to {spec.shape[0]}x{spec.shape[1]} on the client)"
        raise ObservationError(f"{spec.key!r} must be {spec.describe()}, got {value.dtype} {list(value.shape)}{hint}")
    if value.dtype.kind == "f":
        bad = int(np.count_nonzero(~np.isfinite(value)))
        if bad:
            raise ObservationError(f"{spec.key!r} holds {bad} non-finite values (NaN or inf); every entry must be finite")
    return value


def explanation_reply(explanation: Explanation) -> dict[str, Any]:
    """The reply keys of an explanation (:data:`EXPLANATION_KEYS`); fields the policy left unset are left out."""
    return {_RENAMED.get(k, k): v for k, v in explanation.to_dict().items() if v is not None}


def explanation_from_reply(reply: dict[str, Any]) -> Explanation | None:
    """The explanation a reply carries, or None when it has none (a policy that does not explain itself,
    or a server that is not vlastack's)."""
    if "subtask" not in reply or "reason" not in reply:
        return None
    fields = {
        k: reply[_RENAMED.get(k, k)]
        for k in ("subtask", "reason", "plan", "plan_index", "confidence", "hand_motion_m")
        if _RENAMED.get(k, k) in reply
    }
    return Explanation.from_dict(fields)
