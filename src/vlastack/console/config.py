"""What a console session runs (:class:`ConsoleConfig`) and how the operator's text and commands are read:
the scene's objects (for clarification) and a person's takeover command."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from vlastack.errors import ConfigError
from vlastack.reasoning.clarify import ATTRIBUTE_WORDS, KINDS, SceneObject

#: The default safety spec; the console has no way to turn the layer off.
DEFAULT_SAFETY = "metaworld_sawyer"


@dataclass(frozen=True)
class ConsoleConfig:
    """What a console session runs."""

    task: str = "drawer-open-v3"
    """Meta-World task (or long-horizon ``lh-...`` task) whose scene is simulated."""
    checkpoint: Path | None = None
    """Policy directory to run; None: the shipped demo policy (ignored with ``experts``)."""
    experts: bool = False
    """Run the task's scripted expert (reads the privileged state) instead of a policy."""
    executor: str = "sync"
    """Executor between policy and safety layer: sync, ensemble or async (policies only)."""
    safety_spec: str = DEFAULT_SAFETY
    """Safety spec preset or JSON path; always applied (there is no 'none' here)."""
    cameras: tuple[str, ...] = ("corner2", "gripperPOV")
    """Cameras shown on the page; the policy's own cameras are rendered too and only those reach it."""
    image_size: int | None = None
    """Rendered square image side in pixels; None: the policy's recorded size (128 for experts). A policy
    is only given its recorded size's frames, so a different size is allowed with ``experts`` only."""
    seed: int = 0
    """Reset seed of the first episode; each next episode uses the next seed."""
    max_steps: int | None = None
    """Step limit per episode; None: the task's own (500 for Meta-World tasks)."""
    auto_reset: bool = True
    """Start the next episode when one ends (a stopped session stays stopped)."""
    objects: tuple[SceneObject, ...] | None = None
    """The scene's objects instructions are grounded in; None: the task's own (see :func:`scene_objects`)."""
    history: int = 200
    """Chat lines and safety interventions kept for the page (the oldest are dropped)."""
    record: Path | None = None
    """Dataset directory every finished episode is written to (LeRobot v3, with per-frame ``intervention``
    and ``policy.action`` columns); an existing one the console recorded is added to; None: nothing is recorded."""
    teleop_speed: float = 0.5
    """Size of one direction key's command on the page, in action units (0, 1]; at 1.0 a step moves the
    hand's target 1 cm. The safety layer still bounds every step."""

    def __post_init__(self) -> None:
        from vlastack.envs.tasks import known_tasks, step_limit
        from vlastack.registry import unknown_name_error

        if self.task not in known_tasks():
            raise unknown_name_error("task", self.task, known_tasks())
        if self.executor not in ("sync", "ensemble", "async"):
            raise ConfigError(f"console config: executor must be sync, ensemble or async, got {self.executor!r}")
        if str(self.safety_spec).lower() == "none":
            raise ConfigError("console config: safety_spec cannot be 'none': the console always steps behind the safety layer")
        if not self.cameras or len(set(self.cameras)) != len(self.cameras):
            raise ConfigError(f"console config: cameras must be distinct and not empty, got {self.cameras}")
        if self.image_size is not None and not 8 <= self.image_size <= 512:
            raise ConfigError(f"console config: image_size must be in [8, 512] pixels or None, got {self.image_size}")
        if self.image_size is not None and not self.experts:
            raise ConfigError("console config: image_size applies to experts only (a policy is given the size it was trained at)")
        if self.seed < 0:
            raise ConfigError(f"console config: seed must be >= 0, got {self.seed}")
        if self.max_steps is not None and not 1 <= self.max_steps <= step_limit(self.task):
            raise ConfigError(f"console config: max_steps must be in [1, {step_limit(self.task)}] or None, got {self.max_steps}")
        if self.history < 1:
            raise ConfigError(f"console config: history must be >= 1, got {self.history}")
        if not isinstance(self.teleop_speed, int | float) or not 0 < self.teleop_speed <= 1:
            raise ConfigError(f"console config: teleop_speed must be in (0, 1] action units, got {self.teleop_speed!r}")


def scene_objects(task: str) -> tuple[SceneObject, ...]:
    """The objects of ``task``'s scene that instructions can refer to: the object kind whose Meta-World
    tasks include the scene (a drawer for drawer-open-v3 and the drawer long-horizon tasks); empty when
    no kind lists it (reach-v3), and then every instruction is taken as given."""
    from vlastack.envs.tasks import scene_of

    scene = scene_of(task)
    return tuple(SceneObject(kind, kind) for kind, (_, tasks) in KINDS.items() if scene in tasks)


def parse_objects(text: str) -> tuple[SceneObject, ...]:
    """Scene objects from ``"red button, green button"`` or ``"drawer, window"``: per comma-separated item,
    one kind noun (clarify.KINDS) and optional colour and place words (clarify.ATTRIBUTE_WORDS)."""
    out = []
    for item in (s.strip() for s in text.split(",")):
        if not item:
            continue
        words = re.findall(r"[a-z]+", item.lower())
        kinds = [k for k, (nouns, _) in KINDS.items() if any(w in nouns for w in words)]
        if len(kinds) != 1:
            raise ConfigError(f"objects: {item!r} must name exactly one kind of object, one of {sorted(KINDS)}")
        attrs = {a: next((v for v, ws in values.items() if any(w in ws for w in words)), None) for a, values in ATTRIBUTE_WORDS.items()}
        out.append(SceneObject(item, kinds[0], **attrs))
    if len({o.name for o in out}) != len(out):
        raise ConfigError(f"objects: names must be unique, got {[o.name for o in out]}")
    return tuple(out)


#: Names of a command's entries, for errors and the page.
COMMAND_NAMES = ("dx", "dy", "dz", "gripper")


def parse_command(value: Any) -> np.ndarray:
    """A person's command from JSON-like input: 4 numbers [dx, dy, dz, gripper], each in [-1, 1]. Out of
    range is an error, not clipped: a client that sends 3.0 has a bug the person should hear about."""
    if not isinstance(value, list | tuple) or len(value) != len(COMMAND_NAMES):
        raise ConfigError(f"operator: field 'action' must be a list of {len(COMMAND_NAMES)} numbers {list(COMMAND_NAMES)}, got {value!r}")
    out = np.zeros(len(COMMAND_NAMES), dtype=np.float32)
    for i, (name, v) in enumerate(zip(COMMAND_NAMES, value, strict=True)):
        if isinstance(v, bool) or not isinstance(v, int | float | np.number):
            raise ConfigError(f"operator: field 'action'[{i}] ({name}) must be a number, got {v!r}")
        if not -1.0 <= float(v) <= 1.0:  # also refuses NaN
            raise ConfigError(f"operator: field 'action'[{i}] ({name}) must be in [-1, 1], got {v!r}")
        out[i] = float(v)
    return out
