"""What the operator's words do in a console session: answer a pending question, correct what the robot is
doing ("slower", "move left a bit", "the other drawer"), or give a new instruction, asked about first when
it is ambiguous (reasoning/clarify.py, corrections.py).

:class:`Dialogue` holds only the language side of :class:`~vlastack.console.session.ConsoleSession`, which
inherits it; it works on the session's state (instruction, target, question, status, pending hold) under
the session's lock, and never touches the simulator.
"""

from __future__ import annotations

import re

from vlastack.console.state import ASKING, ROBOT, RUNNING, STOPPED, Halt
from vlastack.reasoning.clarify import ATTRIBUTE_WORDS, KINDS, Decision, SceneObject, decide, resolve
from vlastack.reasoning.corrections import Correction


class Dialogue:
    """The operator's words, applied to the session (a mixin of ConsoleSession; call with its lock held)."""

    def _answer(self, text: str) -> None:
        instruction, pending = self._question  # type: ignore[misc]
        decision = resolve(instruction, text, pending)
        if decision.act:
            self._question = None
            self._follow(instruction, decision)
        else:
            self._question = (instruction, decision)
            self._say(ROBOT, decision.question or "Which one do you mean?")

    def _instruct(self, text: str) -> None:
        if not self._objects:  # nothing to ground against: take the words as given
            self._follow(text, None)
            return
        decision = decide(text, self._objects)
        if decision.act:
            self._follow(text, decision)
            return
        self._question = (text, decision)
        if self._status == STOPPED and self._halt is None:
            self._say(ROBOT, f"{decision.question} (stopped; the answer will not resume by itself)")
            return
        if self._halt is None:
            self._halt = Halt(ASKING, self._total_steps)
        self._say(ROBOT, f"{decision.question} (holding until you answer)")

    def _follow(self, instruction: str, decision: Decision | None) -> None:
        self._instruction = instruction
        self._target = None if decision is None or decision.target is None else decision.target.name
        on = f" on the {self._target}" if self._target else ""
        note = "" if getattr(self._actor, "reads_words", True) else f"; the {self._actor.describes.split(' (')[0]} keeps to its task"
        if self._halt is not None and self._halt.status == ASKING:
            self._halt = None  # the question is answered before its hold went out: nothing to wait for
        if self._status == ASKING:
            self._status = RUNNING
        if self._status == STOPPED or self._halt is not None:
            # Words never release a stop by themselves: only Resume (or "go on") does.
            self._say(ROBOT, f"will act{on}: {instruction!r}{note}; stopped now: press Resume or say 'go on'")
        else:
            self._say(ROBOT, f"acting{on}: {instruction!r}{note}")
        self._replan = True  # a new instruction: plan afresh from the current view

    def _correct(self, c: Correction) -> None:
        if c.kind == "stop":
            self._stop_locked()
        elif c.kind == "resume":
            self._resume_locked()
        elif c.kind == "retarget":
            target = next(o for o in self._objects if o.name == c.target)
            if not _only_refers(c.text):
                # "pull the drawer open" names one object too, but says what to do with it: an instruction.
                self._follow(c.text, Decision(True, target, (target,)))
                return
            self._retarget(target)
        else:
            self._corrections.apply(c)
            said = {
                "speed": f"speed now x{self._corrections.speed:.2f}",
                "nudge": "moving the hand by " + ", ".join(f"{v * 100:+.0f} cm" for v in c.offset_m) + " (x right, y forward, z up)",
                "release": "opening the gripper",
                "grasp": "closing the gripper",
            }
            self._say(ROBOT, f"correction: {said.get(c.kind, c.kind)}; the safety layer still checks every step")

    def _retarget(self, target: SceneObject) -> None:
        """ "The other drawer", "no, the window": the same instruction, said of ``target``. The policy reads
        words only, so the old object's noun in the instruction is swapped for the new one's; between two
        objects of one kind the words cannot change, and the page says so."""
        old = next((o for o in self._objects if o.name == self._target), None)
        words = self._instruction.split()
        if old is not None and old.kind != target.kind:
            nouns = KINDS[old.kind][0]
            words = [KINDS[target.kind][0][0] if w.lower().strip(".,!?") in nouns else w for w in words]
        instruction = " ".join(words)
        same_words = instruction == self._instruction
        self._instruction, self._target = instruction, target.name
        note = "; the instruction's words cannot tell them apart, so the policy hears the same" if same_words else ""
        self._say(ROBOT, f"switching to the {target.name}: {instruction!r}{note}")
        self._replan = True


#: Words that only pick an object out ("no, the other one", "the left drawer"), beside kind nouns and attribute words.
_REFERRING = frozenset(
    ("the", "a", "an", "that", "this", "other", "one", "no", "not", "wrong", "i", "mean", "meant", "please", "instead", "rather", "oh")
    + ("sorry", "actually", "on", "at", "side", "s")
)


def _only_refers(text: str) -> bool:
    """True when ``text`` only says which object ("no, the other drawer"), with no verb or anything else."""
    known = {n for nouns, _ in KINDS.values() for n in nouns} | {w for v in ATTRIBUTE_WORDS.values() for ws in v.values() for w in ws}
    return all(w in _REFERRING or w in known for w in re.findall(r"[a-z]+", text.lower()))
