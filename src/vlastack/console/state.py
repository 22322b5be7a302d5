"""What a console session reports: its status values, chat lines and the snapshot the page draws
(``ConsoleSession.state()``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# Session status (``state()['status']``).
RUNNING = "running"
STOPPED = "stopped"  # the operator stopped it: the hold was sent, nothing more until resume
ASKING = "asking"  # an instruction was ambiguous: the hold was sent, waiting for the answer
DONE = "done"  # the episode ended and auto_reset is off
ERROR = "error"  # the simulator failed; nothing more is stepped
#: Who said a chat line; OPERATOR also names who chose a step's action (``state()['last_source']``).
OPERATOR, ROBOT, SYSTEM = "operator", "robot", "system"
#: The other sources of a step's action: the policy (or expert), or the hold a stop or question sent.
POLICY, HOLD = "policy", "hold"
#: Where the subtask and reason come from, as the page says it: the policy's own explanation when it gives
#: one (a hierarchical policy), else the scripted experts' phase rules on the simulator's state.
EXPLANATION_SOURCE = (
    "privileged simulator state: the scripted experts' phase rules (vlastack.reasoning.phases), not the policy's own reasoning"
)
POLICY_EXPLANATION_SOURCE = (
    "the policy itself, at its last re-plan: its subtask choice, its plan and the motion its chunk commands "
    "(vlastack.policies.hier.explain), no simulator state"
)


@dataclass(frozen=True)
class ChatLine:
    """One line of the chat."""

    who: str
    """operator, robot or system."""
    text: str
    """What was said."""
    step: int
    """The session's total step count when it was said."""
    episode: int
    """The episode it was said in (0 for the first)."""


@dataclass
class SessionState:
    """A snapshot of everything the page shows (``dataclasses.asdict`` gives the JSON)."""

    status: str
    task: str
    actor: str
    """What proposes the actions: the policy's description or 'scripted expert'."""
    safety_spec: str
    instruction: str
    target: str | None
    """The scene object the current instruction acts on (None when the scene lists none)."""
    episode: int
    seed: int
    episode_step: int
    total_steps: int
    frame: int
    """Counter of rendered frames; a client refetches the cameras when it changes."""
    cameras: list[str]
    plan: list[str]
    plan_index: int
    subtask: str | None
    reason: str | None
    explanation_source: str
    question: str | None
    success: bool
    stop_requested_at: int | None
    """Total step count when the last stop was pressed."""
    halted_at: int | None
    """Total step count after the hold that answered it was sent (``halted_at - stop_requested_at == 1``)."""
    last_action: list[float] | None
    """The action the safety layer let through on the last step."""
    last_proposed: list[float] | None
    """What the policy or expert proposed on the last step (None on a hold or when nothing was fresh)."""
    corrections: dict[str, Any]
    interventions: list[dict]
    interventions_total: int
    chat: list[dict]
    chat_said: int
    """Lines ever said (``chat`` keeps the latest ``history``); a client redraws the chat when it changes."""
    last_source: str | None = None
    """Who chose the last step's action: 'policy', 'operator' (the person) or 'hold' (a stop or question)."""
    operator: dict[str, Any] = field(default_factory=dict)
    """The person's takeover: ``in_control``, ``command`` (in force, or None), ``speed`` (a key's size),
    ``steps`` and ``takeovers`` in this episode."""
    recording: dict[str, Any] | None = None
    """With ``record``: ``dir``, ``written`` (this session), ``pending``, ``failed``, ``total`` (in the dataset)."""
    error: str | None = None
    objects: list[str] = field(default_factory=list)


@dataclass
class Halt:
    """A pending hold: why, and the total step count when it was asked for."""

    status: str
    requested_at: int
