"""Configuration of the hierarchical policy: an ``l1`` action policy plus a subtask head.

Shapes (letters as in :mod:`vlastack.types`; V = subtasks in the vocabulary)::

    high level: images (trunk FiLM-conditioned on the instruction), state, instruction vector,
                done-subtask counts [B, V]                      -> MLP -> subtask logits [B, V]
    low level:  the l1 policy with the chosen subtask's text in place of the instruction
                                                                -> action chunk [B, H, D]

The subtask is chosen from a closed set of strings (classification), not generated word by word.
This module imports no torch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from vlastack.policies.l1.config import L1Config
from vlastack.reasoning.plan import STAGE_SUBTASKS

#: The high-level designs (see ``HierConfig.head``).
HEADS = ("joint", "factored")
#: What the low level reads (see ``HierConfig.low_prompt``).
LOW_PROMPTS = ("subtask", "both")


def low_prompt(instruction: str, subtask: str) -> str:
    """The ``both`` prompt: the overall instruction, then the subtask in progress."""
    return f"{instruction}; now: {subtask}"


@dataclass(frozen=True)
class HierConfig(L1Config):
    """Every ``l1`` field (the action policy, whose conv trunk the subtask head shares) plus the high level."""

    policy_type: ClassVar[str] = "hier"

    subtasks: tuple[str, ...] = STAGE_SUBTASKS
    """The closed vocabulary of subtask texts the high level chooses from; the low level is conditioned on
    the chosen one (default: the long-horizon suite's stage subtasks, reasoning/plan.py)."""
    head: str = "joint"
    """How the high level decides. ``joint``: one classifier over the vocabulary reads the images, state,
    instruction and done counts, and a pick other than the subtask in progress means that one is done.
    ``factored``: the next subtask comes from the instruction and the done counts alone (a plan in
    words, no image; ``plan_sees_scene`` adds the image), and a separate done-detector reads the images,
    state, instruction, the subtask in progress and the done counts; only when it fires does the plan move on. The first ``joint`` run
    switched away from a freshly started subtask on its own rollouts (docs/experiments/2026-11-hierarchical.md)."""
    high_hidden: int = 256
    """Width of the subtask head's two hidden layers."""
    high_weight: float = 1.0
    """Weight of the subtask cross-entropy (nats) against the l1 action loss (normalised units)."""
    low_prompt: str = "subtask"
    """What the low level is conditioned on. ``subtask``: the chosen subtask's text alone (Hi Robot style; new wording
    of the overall instruction never reaches it). ``both``: one prompt holding the overall instruction and the
    subtask (:func:`low_prompt`, as pi0.5 prompts its action expert), so the same subtask can act differently
    in different tasks."""
    switch_delay: int = 2
    """Frames after a stage is done during which the training label still says "keep the done stage's
    subtask". The environment counts a stage once the part crosses its threshold; a switch a frame
    too early (the drawer 1 cm short of open) leaves the stage undone, one a few frames late costs
    nothing (the stage's skill keeps the part where it is)."""

    repeat_refractory: int = 0
    """Factored head only. Control steps at the start of a subtask that repeats the one just done (the second
    press of a button) during which the done-detector is neither asked nor trained on the in-step reading. Right
    after a spring-loaded button's first press the scene looks as it does right after the second, so the
    detector cannot tell "the new press has not happened yet" from "it has"; only the policy's own memory can,
    and this is that memory: a repeated subtask cannot be done before it has run this long. 0: off."""

    done_window: int = 0
    """Factored head only. Frames, after ``switch_delay``, during which the one-behind reading is trained as "the
    previous stage is done"; later frames of the stage are not trained on that reading. 0: every later frame is
    (the old behaviour, right for a part that stays put, such as an open drawer). A spring-loaded button shows
    its press only while it is held down; later frames of the next press look like the approach to the first,
    so "done" labels there contradict the in-step "not done" on the same picture and the detector fires before
    the press. A window trains "done" on the event itself. Re-plans come every ``execute_steps`` control steps, so
    a window shorter than that may never be asked at acting time."""

    plan_sees_scene: bool = False
    """Factored head only. False: the plan head reads the instruction and the done counts alone (a plan in words).
    True: it also reads the image features and state, so the scene can say which task the words mean (a drawer
    that starts open is to be closed first). It is still asked only at the start and when the done-detector
    fires, so it cannot switch away from a subtask in progress."""

    done_sees_motion: bool = False
    """Factored head only. True: the done-detector also reads what the arm has done during the subtask in progress,
    the highest and lowest state (hand position, gripper) since it began, each minus the current state (in the state
    normaliser's units). One frame cannot tell "about to press again" from "just pressed again" (both show the hand
    on the button); "the hand rose 10 cm since this press began and is back down" can. At acting time the extremes
    are over the states seen at re-plans (every ``execute_steps`` control steps); in training, over every frame
    (data/windows.py: ``subtask.motion``, ``subtask.motion_lag``). Measured once (BENCHMARKS.md, "The done-detector
    on the policy's own episodes"): it lowered the long-horizon suite from 51.8 to 37.3 % (the detector learnt the
    expert's motions, which the policy's own do not follow), so it stays off."""

    def __post_init__(self) -> None:
        super().__post_init__()
        if len(self.subtasks) < 2 or len(set(self.subtasks)) != len(self.subtasks):
            raise self.bad("subtasks", "need at least two distinct subtask texts")
        if self.head not in HEADS:
            raise self.bad("head", f"must be one of {HEADS}")
        if self.low_prompt not in LOW_PROMPTS:
            raise self.bad("low_prompt", f"must be one of {LOW_PROMPTS}")
        if self.high_hidden < 1:
            raise self.bad("high_hidden", "must be >= 1")
        if self.high_weight < 0 or self.switch_delay < 0:
            raise self.bad("high_weight" if self.high_weight < 0 else "switch_delay", "must be >= 0")
        if self.repeat_refractory < 0:
            raise self.bad("repeat_refractory", "must be >= 0 (control steps)")
        if self.done_window < 0:
            raise self.bad("done_window", "must be >= 0 (frames; 0 = off)")
        factored_only = [n for n in ("done_window", "plan_sees_scene", "done_sees_motion") if getattr(self, n)]
        if self.head != "factored" and factored_only:
            raise self.bad(factored_only[0], 'applies to head="factored" only')
        if self.done_sees_motion and not self.use_state:
            raise self.bad("done_sees_motion", "needs use_state=True (the motion is the state's extremes)")

    def low_prompts(self, instructions, subtasks) -> list[str]:
        """The low level's instruction per row (see ``low_prompt``)."""
        if self.low_prompt == "subtask":
            return list(subtasks)
        return [low_prompt(i, s) for i, s in zip(instructions, subtasks, strict=True)]

    @property
    def subtask_vocabulary(self) -> tuple[str, ...]:
        return tuple(self.subtasks)

    def l1_fields(self) -> dict:
        """This config's values of every ``L1Config`` field (to compare with a flat l1 checkpoint)."""
        from dataclasses import fields

        return {f.name: getattr(self, f.name) for f in fields(L1Config)}

    @property
    def label(self) -> str:
        return f"preset {self.name!r} (hier)"
