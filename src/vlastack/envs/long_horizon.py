"""The long-horizon suite: multi-stage tasks on one Meta-World scene, named ``lh-...``.

Each task runs two to four stages in order on the same articulated part (a drawer, a sliding
window, a lever handle), e.g. open the drawer, then close it again. A stage is done when the part's
joint crosses the stage's threshold (metres of slide); the task succeeds when its last stage is done,
and the episode ends there. Every stage is solved by one of Meta-World's own scripted policies, so
the chained expert (``long_horizon_env.ChainedExpert``) is theirs, stage by stage.

The instructions name only the overall goal ("look inside the drawer, then leave it shut"), never
the stages, so a policy must work out the stages itself.

This module is plain data (no simulator import): tasks.py and instructions.py read it.
"""

from __future__ import annotations

from dataclasses import dataclass

#: Control steps allowed per stage; a task's episode limit is this times its stage count. The
#: chained experts need 25-210 steps per stage (measured on seeds 0-19, see BENCHMARKS.md).
STEPS_PER_STAGE = 250


@dataclass(frozen=True)
class Part:
    """An articulated part of a scene and how its joint is read."""

    joint: str | None
    """MuJoCo joint name; None for the scene's first free joint after the arm (``qpos[9]``)."""
    axis: int
    """Which coordinate (0 x, 1 y, 2 z) of the part's tracked point (state ``[4:7]``) moves one for one
    with the joint, so the joint can be recovered from a recorded state (``joint_from_states``)."""
    stages: dict[str, tuple[str, float, str]]
    """Stage verb -> (``">="`` or ``"<="``, threshold in metres, Meta-World task whose scripted policy does it)."""
    lift_m: float = 0.0
    """Before every stage after the first, raise the hand until it is this many metres above the tracked
    point (0: no lift). The drawer needs it: after closing, the hand rests 6 cm in front of the handle,
    exactly at the open policy's 6 cm switching distance, where that policy dithers between its
    approach and pull branches and never hooks the handle (3 of 50 seeds behind the safety layer)."""


PARTS: dict[str, Part] = {
    "drawer": Part("goal_slidey", 1, {"open": ("<=", -0.15, "drawer-open-v3"), "close": (">=", -0.03, "drawer-close-v3")}, lift_m=0.1),
    "window": Part("window_slide", 0, {"open": (">=", 0.17, "window-open-v3"), "close": ("<=", 0.04, "window-close-v3")}),
    "handle": Part(None, 2, {"press": ("<=", -0.075, "handle-press-v3"), "pull": (">=", -0.045, "handle-pull-v3")}),
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
    )
}


def stage_done(task: LongHorizonTask, stage: int, joint: float) -> bool:
    """Whether stage ``stage`` of ``task`` is done with the part's joint at ``joint`` (metres)."""
    op, threshold, _ = task.part.stages[task.stages[stage]]
    return joint >= threshold if op == ">=" else joint <= threshold


def stages_over_time(task: LongHorizonTask, joints: list[float]) -> list[int]:
    """Per frame, the stage being worked on (``len(task.stages)`` once all are done), as the environment
    reports it with that frame's observation: frame 0 (the reset) is stage 0; at every later frame the
    current stage is checked against that frame's joint value first, at most one stage per frame."""
    out, k = [], 0
    for t, value in enumerate(joints):
        if t > 0 and k < len(task.stages) and stage_done(task, k, value):
            k += 1
        out.append(k)
    return out


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
    says that frame has passed)."""
    if stage == 0 or stage >= len(task.stages) or task.part.lift_m <= 0 or lifted:
        return False
    return float(state[2]) < float(state[6]) + task.part.lift_m
