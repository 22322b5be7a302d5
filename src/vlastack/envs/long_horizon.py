"""The long-horizon suite: multi-stage tasks on one Meta-World scene, named ``lh-...``.

Each task runs two to four stages in order on the same articulated part (a drawer, a sliding
window, a lever handle, a spring-loaded button), e.g. open the drawer, then close it again. A stage is
done when the part's joint crosses the stage's threshold (metres of slide), or, for the button tasks'
last stage, when the hand has pulled back; the task succeeds when its last stage is done, and the
episode ends there. Every part stage is solved by one of Meta-World's own scripted policies, so the
chained expert (``long_horizon_env.ChainedExpert``) is theirs, stage by stage; pulling back is a
straight move (``RETREAT_TO``).

The button tasks count: the button springs back after each press, so the scene after the first press
looks like the scene after the second. Only a policy that remembers what it has done can tell when to
stop pressing, and one press too many fails the episode (``Part.repeat``).

The instructions name only the overall goal ("look inside the drawer, then leave it shut"), never
the stages, so a policy must work out the stages itself.

This module is plain data (no simulator import): tasks.py and instructions.py read it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

#: Control steps allowed per stage; a task's episode limit is this times its stage count. The
#: chained experts need 25-210 steps per stage (measured on seeds 0-19, see BENCHMARKS.md).
STEPS_PER_STAGE = 250


#: The expert name of the pull-back stage (vlastack's own straight move, not a Meta-World policy).
RETREAT = "retreat"
#: Where the pull-back stage moves the hand (world frame, metres): in front of the robot, at about the height
#: the lift leaves it, so pulling back is mostly a move in y.
RETREAT_TO = (0.0, 0.5, 0.4)
#: The subtask text of the pull-back stage.
RETREAT_SUBTASK = "pull the arm back"


class Stage(NamedTuple):
    """How one stage verb is judged done and who does it."""

    op: str
    """``">="`` or ``"<="``."""
    threshold: float
    """Metres: of the part's joint, or of the hand's y (``reads``)."""
    expert: str
    """The Meta-World task whose scripted policy does the stage, or :data:`RETREAT`."""
    reads: str = "joint"
    """``"joint"`` (the part's joint) or ``"hand_y"`` (the hand's distance from the robot, state ``[1]``)."""


@dataclass(frozen=True)
class Part:
    """An articulated part of a scene and how its joint is read."""

    joint: str | None
    """MuJoCo joint name; None for the scene's first free joint after the arm (``qpos[9]``)."""
    axis: int
    """Which coordinate (0 x, 1 y, 2 z) of the part's tracked point (state ``[4:7]``) moves one for one
    with the joint, so the joint can be recovered from a recorded state (``joint_from_states``)."""
    stages: dict[str, Stage]
    """Stage verb -> how it is judged done and who does it."""
    lift_m: float = 0.0
    """Before every stage after the first, raise the hand until it is this many metres above the tracked
    point (0: no lift). The drawer needs it: after closing, the hand rests 6 cm in front of the handle,
    exactly at the open policy's 6 cm switching distance, where that policy dithers between its
    approach and pull branches and never hooks the handle (3 of 50 seeds behind the safety layer)."""
    repeat: tuple[str, float] | None = None
    """For a part that springs back (the button): (verb, re-arm joint value, metres). Every completion
    of the verb is counted, a new one only after the joint has come back past the re-arm value; one
    more than the task asks for fails the episode. The expert's lift before a stage also waits for it."""
    rest: float = 0.0
    """The tracked point's moving coordinate (metres) with the joint at 0, to read the joint from a single
    state (the lift's wait for the re-arm); only parts with ``repeat`` use it."""

    def joint_of(self, state) -> float:
        """The joint (metres) read from one privileged state, for parts with a fixed rest (``rest``)."""
        return float(state[4 + self.axis]) - self.rest

    def lifted_clear(self, state) -> bool:
        """Whether the hand (state ``[2]``) is ``lift_m`` or more above the tracked point (state ``[6]``)."""
        return float(state[2]) >= float(state[6]) + self.lift_m


PARTS: dict[str, Part] = {
    "drawer": Part(
        "goal_slidey", 1, {"open": Stage("<=", -0.15, "drawer-open-v3"), "close": Stage(">=", -0.03, "drawer-close-v3")}, lift_m=0.1
    ),
    "window": Part("window_slide", 0, {"open": Stage(">=", 0.17, "window-open-v3"), "close": Stage("<=", 0.04, "window-close-v3")}),
    "handle": Part(None, 2, {"press": Stage("<=", -0.075, "handle-press-v3"), "pull": Stage(">=", -0.045, "handle-pull-v3")}),
    # The button's top moves down one for one with its joint (range -0.06 to 0). A press counts from 4.5 cm
    # down, inside the range: pushed past it (Meta-World's own success needs about 7.5 cm) the button jams
    # against its box for up to 60 steps before its weak spring brings it back; from 4.5 cm it is back in ~20.
    # The 10 cm lift takes about as long, so the expert rarely hovers waiting for the re-arm (a wait a policy
    # without memory could only end by seeing the button rise).
    "button": Part(
        "btnbox_joint",
        2,
        {"press": Stage("<=", -0.045, "button-press-topdown-v3"), "clear": Stage("<=", 0.6, RETREAT, "hand_y")},
        lift_m=0.1,
        repeat=("press", -0.035),
        rest=0.3085,
    ),
}

#: Per scene: (part, joint value at reset in metres, which window handle site the state tracks).
#: The two window scenes track different sites of the same handle: ``handleOpenStart`` is
#: :data:`WINDOW_SITE_GAP` metres left (-x) of ``handleCloseStart``.
SCENES: dict[str, tuple[str, float, str | None]] = {
    "drawer-open-v3": ("drawer", 0.0, None),
    "drawer-close-v3": ("drawer", -0.15, None),
    "window-open-v3": ("window", 0.0, "open"),
    "window-close-v3": ("window", 0.2, "close"),
    "handle-press-v3": ("handle", 0.0, None),
    "button-press-topdown-v3": ("button", 0.0, None),
}
WINDOW_SITE_GAP = 0.05


@dataclass(frozen=True)
class LongHorizonTask:
    """One multi-stage task."""

    name: str
    """Task name, ``lh-<part>-<stage>-<stage>...``."""
    scene: str
    """The Meta-World task whose scene (and start distribution) it runs in."""
    stages: tuple[str, ...]
    """Stage verbs in order, each a key of the part's ``Part.stages``."""
    instructions: tuple[str, ...]
    """Phrasings naming only the overall goal; the first three for training, the rest held out."""

    @property
    def part(self) -> Part:
        return PARTS[SCENES[self.scene][0]]

    @property
    def max_steps(self) -> int:
        return STEPS_PER_STAGE * len(self.stages)


SUITE: dict[str, LongHorizonTask] = {
    t.name: t
    for t in (
        LongHorizonTask(
            "lh-drawer-open-close",
            "drawer-open-v3",
            ("open", "close"),
            (
                "look inside the drawer, then leave it shut",
                "check what is in the drawer and put it back the way it was",
                "peek into the drawer without leaving it open",
                "take a look in the drawer and leave it as you found it",
            ),
        ),
        LongHorizonTask(
            "lh-drawer-close-open",
            "drawer-close-v3",
            ("close", "open"),
            (
                "make sure the open drawer still shuts, and leave it open",
                "test that the drawer closes fully, then leave it out",
                "check the drawer can be shut, but leave it open in the end",
                "see whether the drawer slides home, and then leave it open again",
            ),
        ),
        LongHorizonTask(
            "lh-drawer-open-close-open",
            "drawer-open-v3",
            ("open", "close", "open"),
            (
                "check the drawer runs both ways and leave it open",
                "test the drawer's slide out, in and out again",
                "make sure the drawer moves freely, ending with it open",
                "work the drawer through a full cycle and finish with it pulled out",
            ),
        ),
        LongHorizonTask(
            "lh-window-open-close",
            "window-open-v3",
            ("open", "close"),
            (
                "air the room briefly and leave the window shut",
                "let some fresh air in for a moment, then secure the window",
                "vent the room quickly without leaving the window open",
                "give the room a quick airing and leave the window as it was",
            ),
        ),
        LongHorizonTask(
            "lh-window-close-open",
            "window-close-v3",
            ("close", "open"),
            (
                "check the open window still shuts, then leave it open",
                "test that the window closes properly but keep the room aired",
                "make sure the window can be shut, and leave it open afterwards",
                "see whether the window slides shut, then put it back open",
            ),
        ),
        LongHorizonTask(
            "lh-window-open-close-open-close",
            "window-open-v3",
            ("open", "close", "open", "close"),
            (
                "air the room twice and leave the window shut",
                "work the window through two full cycles, ending closed",
                "vent the room in two short bursts, then secure the window",
                "give the room two quick airings and leave the window as it was",
            ),
        ),
        LongHorizonTask(
            "lh-handle-press-pull",
            "handle-press-v3",
            ("press", "pull"),
            (
                "cycle the lever handle once and leave it raised",
                "work the handle through one full stroke, ending up",
                "test the handle's travel and leave it in the up position",
                "run the lever down and back so it ends where it started",
            ),
        ),
        LongHorizonTask(
            "lh-handle-press-pull-press",
            "handle-press-v3",
            ("press", "pull", "press"),
            (
                "cycle the lever handle and leave it lowered",
                "work the handle down, up and leave it down",
                "test the handle's full stroke and finish with it pressed",
                "exercise the lever once and leave it in the down position",
            ),
        ),
        LongHorizonTask(
            "lh-button-press-clear",
            "button-press-topdown-v3",
            ("press", "clear"),
            (
                "press the button once, then move the arm away",
                "give the button a single push and pull back",
                "tap the button one time and get clear of it",
                "ring the button just once and then withdraw the arm",
            ),
        ),
        LongHorizonTask(
            "lh-button-press-press-clear",
            "button-press-topdown-v3",
            ("press", "press", "clear"),
            (
                "press the button twice, then move the arm away",
                "give the button two pushes and pull back",
                "tap the button two times and get clear of it",
                "ring the button twice and then withdraw the arm",
            ),
        ),
        LongHorizonTask(
            "lh-button-press-press-press-clear",
            "button-press-topdown-v3",
            ("press", "press", "press", "clear"),
            (
                "press the button three times, then move the arm away",
                "give the button three pushes and pull back",
                "tap the button three times and get clear of it",
                "ring the button three times and then withdraw the arm",
            ),
        ),
    )
}


def stage_done(task: LongHorizonTask, stage: int, joint: float, hand_y: float = 0.0) -> bool:
    """Whether stage ``stage`` of ``task`` is done with the part's joint at ``joint`` and the hand's y at
    ``hand_y`` (metres). A counted verb (``Part.repeat``) is judged by :class:`Progress`, not here."""
    op, threshold, _, reads = task.part.stages[task.stages[stage]]
    return _past(hand_y if reads == "hand_y" else joint, op, threshold)


def _past(value: float, op: str, threshold: float) -> bool:
    """Whether ``value`` is past ``threshold`` in the direction ``op`` (``">="`` or ``"<="``)."""
    return value >= threshold if op == ">=" else value <= threshold


@dataclass
class Progress:
    """The stages done so far in one episode, updated one frame at a time (the environment and the
    recovery of stages from recorded states share it, so they agree frame by frame)."""

    task: LongHorizonTask
    stage: int = 0
    """The stage being worked on (``len(task.stages)`` once all are done)."""
    counted: int = 0
    """Completions of the part's counted verb so far (``Part.repeat``; 0 for other parts)."""
    armed: bool = True
    """Whether the next completion of the counted verb will count (the part came back past its re-arm value)."""
    failed: bool = False
    """Whether the counted verb was done more often than the task asks: the episode has failed."""

    def update(self, joint: float, hand_y: float) -> None:
        """Take one frame's joint and hand y (metres); at most one stage is done per frame."""
        task, repeat = self.task, self.task.part.repeat
        counted_now = False
        if repeat is not None:
            verb, rearm = repeat
            op, threshold = task.part.stages[verb][:2]
            if self.armed and _past(joint, op, threshold):
                self.armed, counted_now = False, True
                self.counted += 1
                self.failed = self.failed or self.counted > task.stages.count(verb)
            elif not self.armed and _past(joint, "<=" if op == ">=" else ">=", rearm):  # back the other way
                self.armed = True
        if self.failed or self.stage >= len(task.stages):
            return
        if repeat is not None and task.stages[self.stage] == repeat[0]:
            self.stage += counted_now
        elif stage_done(task, self.stage, joint, hand_y):
            self.stage += 1


def stages_over_time(task: LongHorizonTask, joints: list[float], hand_y: list[float] | None = None) -> list[int]:
    """Per frame, the stage being worked on (``len(task.stages)`` once all are done), as the environment
    reports it with that frame's observation: frame 0 (the reset) is stage 0; at every later frame the
    current stage is checked against that frame's joint value (and hand y) first, at most one stage per frame."""
    if hand_y is None:
        if any(task.part.stages[v].reads == "hand_y" for v in task.stages):
            raise ValueError(f"hand_y: {task.name} has a stage judged on the hand's y, so its per-frame values are needed")
        hand_y = [0.0] * len(joints)
    progress, out = Progress(task), []
    for t, (value, y) in enumerate(zip(joints, hand_y, strict=True)):
        if t > 0:
            progress.update(value, y)
        out.append(progress.stage)
    return out


def stages_from_states(task: LongHorizonTask, states) -> list[int]:
    """Per frame of a recorded episode (privileged states [N, 39]), the stage being worked on."""
    return stages_over_time(task, joint_from_states(task, states), [float(s[1]) for s in states])


def joint_from_states(task: LongHorizonTask, states) -> list[float]:
    """The part's joint per frame, recovered from recorded privileged states [N, 39]: the tracked point's
    moving coordinate relative to frame 1 (frame 0's state, returned by reset, can still show the
    previous episode's objects), plus the scene's joint at reset."""
    axis = 4 + task.part.axis
    _, at_reset, _ = SCENES[task.scene]
    ref = float(states[min(1, len(states) - 1)][axis])
    return [float(s[axis]) - ref + at_reset for s in states]


def site_shift(task: LongHorizonTask, stage: int) -> float:
    """x offset (m) to add to the tracked point so that stage ``stage``'s Meta-World policy sees the
    handle site it was written for (the window scenes track different sites, see :data:`SCENES`)."""
    tracked = SCENES[task.scene][2]
    if tracked is None:
        return 0.0
    wanted = SCENES[task.part.stages[task.stages[stage]][2]][2]
    if tracked == wanted:
        return 0.0
    return WINDOW_SITE_GAP if wanted == "close" else -WINDOW_SITE_GAP


def lifting(task: LongHorizonTask, stage: int, lifted: bool, state) -> bool:
    """Whether the chained expert is still lifting clear before ``stage`` (see ``Part.lift_m``): only for
    stages after the first, until the first frame of the stage whose hand is high enough (``lifted``
    says that frame has passed) and, for a part that springs back (``Part.repeat``), whose part has
    come back past its re-arm value, so that the next press counts."""
    part = task.part
    if stage == 0 or stage >= len(task.stages) or part.lift_m <= 0 or lifted:
        return False
    if part.repeat is not None and part.joint_of(state) < part.repeat[1]:
        return True
    return not part.lifted_clear(state)
