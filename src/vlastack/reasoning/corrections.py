"""Language corrections during an episode, parsed into a structured :class:`Correction` and applied to
the actions on their way from the executor to the safety layer (:class:`CorrectionFilter`).

"stop", "go on", "slower", "faster", "move left a bit", "up 3 cm", "let go", "grab it", "the other
drawer". A correction takes effect at the next control step, so always within the chunk being
executed; the safety layer still checks every action that leaves the filter.

Directions are the robot's: x to its right, y away from it (forward), z up; actions are Meta-World's
(``[dx, dy, dz, grip]`` in [-1, 1], translation 1 cm per unit per step, grip > 0 closes).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

from vlastack.errors import ConfigError
from vlastack.reasoning.clarify import KINDS as OBJECT_KINDS
from vlastack.reasoning.clarify import SceneObject, explicit_candidates

KIND_NOUNS = tuple(OBJECT_KINDS.values())

#: Correction kinds.
KINDS = ("stop", "resume", "speed", "nudge", "release", "grasp", "retarget")
#: Unit direction per word (robot frame).
DIRECTIONS = {
    "left": (-1, 0, 0),
    "right": (1, 0, 0),
    "forward": (0, 1, 0),
    "away": (0, 1, 0),
    "back": (0, -1, 0),
    "backward": (0, -1, 0),
    "closer": (0, -1, 0),
    "toward": (0, -1, 0),
    "up": (0, 0, 1),
    "higher": (0, 0, 1),
    "down": (0, 0, -1),
    "lower": (0, 0, -1),
}
#: Nudge length in metres for a size word; "a bit" is less than the experts' 2-4 cm tolerances' upper end.
SIZES_M = {"bit": 0.02, "little": 0.02, "slightly": 0.02, "touch": 0.02, "lot": 0.10, "much": 0.10, "far": 0.10}
DEFAULT_NUDGE_M = 0.05
#: Speed factors for "slower" / "faster" ("much slower" applies SLOWER twice); the safety layer caps speed anyway.
SLOWER, FASTER = 0.5, 1.5
#: Bounds of the accumulated speed factor (repeated "slower" never stops the robot; that is "stop").
MIN_SPEED, MAX_SPEED = 0.1, 2.0

_STOP = ("stop", "halt", "freeze", "wait", "hold on", "don't move", "do not move", "pause")
_RESUME = ("go on", "continue", "carry on", "resume", "keep going", "go ahead")
_RELEASE = ("let go", "release", "drop it", "open the gripper", "open your hand", "open the hand")
_GRASP = ("grab it", "grasp it", "close the gripper", "close your hand", "hold it")
_OTHER = ("other", "wrong one", "not that one", "not that")


@dataclass(frozen=True)
class Correction:
    """One parsed correction."""

    kind: str
    """One of :data:`KINDS`."""
    text: str
    """What was said."""
    speed: float = 1.0
    """For ``speed``: factor on the translation speed (0.5 = half as fast)."""
    offset_m: tuple[float, float, float] = (0.0, 0.0, 0.0)
    """For ``nudge``: displacement of the hand in metres, robot frame (x right, y forward, z up)."""
    target: str | None = None
    """For ``retarget``: the scene object now meant."""

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ConfigError(f"correction kind must be one of {KINDS}, got {self.kind!r}")
        if not 0.0 < self.speed <= 4.0:
            raise ConfigError(f"speed must be in (0, 4], got {self.speed}")


def _has(text: str, phrases: tuple[str, ...]) -> bool:
    return any(re.search(rf"\b{re.escape(p)}\b", text) for p in phrases)


def parse_correction(text: str, objects: tuple[SceneObject, ...] = (), current: str | None = None) -> Correction | None:
    """The correction ``text`` asks for, or None if it is not one (then treat it as a new instruction).

    ``objects`` and ``current`` (the name of the object being acted on) are needed for retargeting:
    "the other drawer" means the one object of the same kind that is not ``current``."""
    t = " ".join(re.findall(r"[a-z0-9.']+", text.lower()))
    if not t:
        raise ConfigError("correction text must be a non-empty sentence")
    if _has(t, _RESUME):
        return Correction("resume", text)
    if _has(t, _STOP):
        return Correction("stop", text)
    if _has(t, _RELEASE):
        return Correction("release", text)
    if _has(t, _GRASP):
        return Correction("grasp", text)
    if _has(t, ("slower", "slow down", "more slowly", "gently", "careful")):
        return Correction("speed", text, speed=SLOWER * (SLOWER if _has(t, ("much", "a lot")) else 1.0))
    if _has(t, ("faster", "speed up", "quicker", "hurry")):
        return Correction("speed", text, speed=FASTER)
    retarget = _retarget(t, objects, current)
    if retarget is not None:
        return Correction("retarget", text, target=retarget)
    words = t.split()
    direction = np.zeros(3)
    for w in words:
        if w in DIRECTIONS:
            direction += DIRECTIONS[w]
    if np.any(direction):
        return Correction("nudge", text, offset_m=tuple(float(x) for x in direction / np.linalg.norm(direction) * _length_m(t)))
    return None


def _length_m(t: str) -> float:
    m = re.search(r"(\d+(?:\.\d+)?)\s*(cm|centimet\w*|mm|millimet\w*)\b", t)
    if m:
        value = float(m.group(1))
        return value / (1000.0 if m.group(2).startswith("m") else 100.0)
    for word, size in SIZES_M.items():
        if re.search(rf"\b{word}\b", t):
            return size
    return DEFAULT_NUDGE_M


def _retarget(t: str, objects: tuple[SceneObject, ...], current: str | None) -> str | None:
    """The object meant by "the other drawer" / "the left one" / "not that one", if any."""
    if not objects:
        return None
    now = next((o for o in objects if o.name == current), None)
    named = explicit_candidates(t, objects)
    if _has(t, _OTHER):
        same_kind = [o for o in named if o.name != current and (now is None or o.kind == now.kind)]
        others = same_kind or [o for o in named if o.name != current]
        return others[0].name if len(others) == 1 else None
    # "the left one", "the blue puck": an object picked out by name or attribute, not a direction to move
    refers = _has(t, ("one",)) or any(_has(t, nouns) for nouns, _ in KIND_NOUNS)
    if refers and len(named) == 1 and len(named) < len(objects) and named[0].name != current:
        return named[0].name
    return None


@dataclass
class CorrectionFilter:
    """Applies corrections to actions, step by step, between the executor and the safety layer."""

    translation_scale_m: float = 0.01
    """Metres of hand motion per unit of translation action per step (Meta-World: 1 cm)."""
    max_nudge_step: float = 1.0
    """Largest translation action (per axis) a nudge adds in one step; spreads a nudge over steps."""
    followed_step: float = 0.7
    """Norm of the translation action the hand actually follows per step behind the safety layer
    (Meta-World: about 7 mm per step measured, against 10 mm commanded). A speed factor below one
    caps the translation at ``speed * followed_step``: scaling a command the hand cannot follow
    anyway ("1.5 cm per step" halved) would not slow it down."""
    stopped: bool = False
    speed: float = 1.0
    release: bool = False
    grasp: bool = False
    _pending_m: np.ndarray = field(default_factory=lambda: np.zeros(3))

    def apply(self, correction: Correction) -> None:
        """Take a correction into account from the next step on."""
        if correction.kind == "stop":
            self.stopped = True
        elif correction.kind == "resume":
            self.stopped = False
        elif correction.kind == "speed":
            self.speed = float(np.clip(self.speed * correction.speed, MIN_SPEED, MAX_SPEED))
        elif correction.kind == "nudge":
            self._pending_m = self._pending_m + np.asarray(correction.offset_m)
        elif correction.kind == "release":
            self.release, self.grasp = True, False
        elif correction.kind == "grasp":
            self.grasp, self.release = True, False
        # "retarget" changes the instruction, not the actions: the caller re-plans with correction.target.

    @property
    def nudging(self) -> bool:
        return bool(np.any(np.abs(self._pending_m) > 1e-6))

    def __call__(self, action: np.ndarray) -> np.ndarray:
        """The action to send instead of ``action`` (float [4]: dx, dy, dz, grip)."""
        out = np.asarray(action, dtype=np.float32).copy()
        if self.release:
            out[3] = -1.0
        elif self.grasp:
            out[3] = 1.0
        if self.stopped:
            out[:3] = 0.0
            return out
        out[:3] *= self.speed
        if self.speed < 1.0:
            norm = float(np.linalg.norm(out[:3]))
            cap = self.speed * self.followed_step
            if norm > cap:
                out[:3] *= cap / norm
        if self.nudging:  # the nudge replaces the policy's motion until it is done: one clear move
            step = np.clip(self._pending_m / self.translation_scale_m, -self.max_nudge_step, self.max_nudge_step)
            out[:3] = step
            self._pending_m = self._pending_m - step * self.translation_scale_m
        return np.clip(out, -1.0, 1.0)
