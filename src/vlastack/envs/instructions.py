"""Instructions in words for every Meta-World task, written for vlastack.

Each task has at least four phrasings. The first ``TRAIN_PARAPHRASES`` are used when recording
demonstrations and training; the rest are held out, so an evaluation can ask whether a policy
follows the meaning of an instruction or only memorised its exact wording.
"""

from __future__ import annotations

#: How many of each task's phrasings (from the front) are for training; the others are held out.
TRAIN_PARAPHRASES = 3

INSTRUCTIONS: dict[str, tuple[str, ...]] = {
    "assembly-v3": (
        "put the ring onto the peg",
        "pick up the round nut and slide it down over the post",
        "grab the ring by its handle and fit it onto the pole",
        "place the nut over the vertical peg",
    ),
    "basketball-v3": (
        "dunk the ball into the basket",
        "pick up the ball and drop it through the hoop",
        "grab the ball and put it in the net",
        "score by placing the ball in the hoop",
    ),
    "bin-picking-v3": (
        "move the cube from one bin to the other",
        "pick the block out of the left bin and drop it in the right bin",
        "transfer the cube into the other container",
        "take the block from its bin and put it in the empty bin",
    ),
    "box-close-v3": (
        "put the lid on the box",
        "pick up the lid and close the box with it",
        "grab the cover and place it on top of the box",
        "close the box by setting its lid on it",
    ),
    "button-press-topdown-v3": (
        "press the button from the top",
        "push the button straight down",
        "press down on the button from above",
        "hit the button with a downward push",
    ),
    "button-press-topdown-wall-v3": (
        "press the button from the top beside the wall",
        "push the button down from above, avoiding the wall",
        "reach over and press the button near the wall downward",
        "press the button behind the short wall from the top",
    ),
    "button-press-v3": (
        "press the button on the front of the box",
        "push the button forward",
        "push in the button that faces you",
        "press the button horizontally",
    ),
    "button-press-wall-v3": (
        "press the button behind the wall",
        "reach around the wall and push the button",
        "push the button that sits past the wall",
        "get past the small wall and press the button in",
    ),
    "coffee-button-v3": (
        "press the button on the coffee machine",
        "push the coffee maker's button",
        "start the coffee machine by pressing its button",
        "hit the button on the front of the coffee machine",
    ),
    "coffee-pull-v3": (
        "pull the mug out from under the coffee machine",
        "slide the cup away from the coffee maker",
        "take the mug from the machine and pull it back",
        "drag the coffee cup out of the machine",
    ),
    "coffee-push-v3": (
        "push the mug under the coffee machine",
        "slide the cup into the coffee maker",
        "move the mug forward until it sits under the spout",
        "shove the coffee cup into place in the machine",
    ),
    "dial-turn-v3": (
        "turn the dial",
        "rotate the knob a quarter turn",
        "twist the dial around",
        "spin the round knob",
    ),
    "disassemble-v3": (
        "take the ring off the peg",
        "lift the nut up and off the post",
        "remove the round nut from the pole",
        "pull the ring up off the vertical peg",
    ),
    "door-close-v3": (
        "close the door",
        "push the door shut",
        "swing the open door closed",
        "shut the cabinet door",
    ),
    "door-lock-v3": (
        "lock the door",
        "turn the door's lock down",
        "rotate the lock on the door to locked",
        "press the door lock knob down to lock it",
    ),
    "door-open-v3": (
        "open the door",
        "pull the door open by its handle",
        "swing the door open",
        "grab the handle and open the cabinet door",
    ),
    "door-unlock-v3": (
        "unlock the door",
        "turn the door's lock up",
        "rotate the lock on the door to unlocked",
        "push the door lock knob so the door is unlocked",
    ),
    "drawer-close-v3": (
        "close the drawer",
        "push the drawer shut",
        "slide the drawer back in",
        "shut the open drawer",
    ),
    "drawer-open-v3": (
        "open the drawer",
        "pull the drawer out",
        "slide the drawer open by its handle",
        "grab the drawer handle and pull",
    ),
    "faucet-close-v3": (
        "turn the faucet off",
        "rotate the tap handle to close it",
        "close the faucet",
        "twist the tap shut",
    ),
    "faucet-open-v3": (
        "turn the faucet on",
        "rotate the tap handle to open it",
        "open the faucet",
        "twist the tap open",
    ),
    "hammer-v3": (
        "hammer the nail into the wall",
        "pick up the hammer and drive in the nail",
        "use the hammer to knock the peg in",
        "grab the hammer and strike the nail",
    ),
    "hand-insert-v3": (
        "put the block into the hole",
        "insert the cube into the opening in the table",
        "push the block into the hole in the table",
        "move the cube to the hole and drop it in",
    ),
    "handle-press-side-v3": (
        "press the handle down from the side",
        "push the side handle down",
        "press down on the handle from its side",
        "lower the handle that sticks out sideways",
    ),
    "handle-press-v3": (
        "press the handle down",
        "push the handle downward",
        "press down on the lever handle",
        "lower the handle",
    ),
    "handle-pull-side-v3": (
        "pull the handle up from the side",
        "lift the side handle",
        "raise the handle that sticks out sideways",
        "pull up on the handle from its side",
    ),
    "handle-pull-v3": (
        "pull the handle up",
        "lift the handle upward",
        "raise the lever handle",
        "pull up on the handle",
    ),
    "lever-pull-v3": (
        "pull the lever up",
        "raise the lever",
        "lift the lever arm",
        "pull the lever upward until it stops",
    ),
    "peg-insert-side-v3": (
        "insert the peg into the hole from the side",
        "pick up the peg and push it sideways into the hole",
        "slide the peg into the side opening",
        "grab the peg and fit it into the hole in the box",
    ),
    "peg-unplug-side-v3": (
        "unplug the peg from the side",
        "pull the peg out of the hole sideways",
        "remove the peg from its socket",
        "draw the peg out of the box",
    ),
    "pick-out-of-hole-v3": (
        "pick the peg out of the hole",
        "lift the peg up out of the hole",
        "pull the peg out of the hole in the table",
        "take the peg from the hole and raise it",
    ),
    "pick-place-v3": (
        "pick up the puck and place it at the goal",
        "grab the puck and move it to the target",
        "lift the puck and put it down at the goal position",
        "carry the puck to the goal",
    ),
    "pick-place-wall-v3": (
        "pick up the puck and place it at the goal behind the wall",
        "lift the puck over the wall and set it on the target",
        "carry the puck past the wall to the goal",
        "grab the puck and move it over the wall to the goal",
    ),
    "plate-slide-back-side-v3": (
        "slide the plate back out of the goal from the side",
        "push the plate sideways back out of the net",
        "take the plate out of the goal sideways",
        "drag the plate from the cabinet back to the side",
    ),
    "plate-slide-back-v3": (
        "slide the plate back out of the goal",
        "pull the plate back out of the net",
        "drag the plate out of the cabinet toward you",
        "take the plate back out of the goal",
    ),
    "plate-slide-side-v3": (
        "slide the plate into the goal from the side",
        "push the plate sideways into the net",
        "slide the plate sideways into the cabinet",
        "shove the plate into the goal from the side",
    ),
    "plate-slide-v3": (
        "slide the plate into the goal",
        "push the plate into the net",
        "slide the plate forward into the cabinet",
        "shove the plate into the goal",
    ),
    "push-back-v3": (
        "push the puck back to the goal",
        "slide the puck backward to the target",
        "move the puck toward you to the goal",
        "drag the puck back to the goal spot",
    ),
    "push-v3": (
        "push the puck to the goal",
        "slide the puck to the target",
        "move the puck along the table to the goal",
        "shove the puck over to the goal position",
    ),
    "push-wall-v3": (
        "push the puck around the wall to the goal",
        "slide the puck past the wall to the target",
        "move the puck around the wall to the goal position",
        "shove the puck to the goal, going around the wall",
    ),
    "reach-v3": (
        "reach the goal position",
        "move the gripper to the target",
        "put the hand at the goal",
        "bring the end effector to the target point",
    ),
    "reach-wall-v3": (
        "reach the goal position behind the wall",
        "move the gripper over the wall to the target",
        "reach past the wall to the goal",
        "bring the hand to the target beyond the wall",
    ),
    "shelf-place-v3": (
        "put the block on the shelf",
        "pick up the cube and place it on the shelf",
        "lift the block onto the shelf",
        "set the cube down on the shelf",
    ),
    "soccer-v3": (
        "kick the ball into the goal",
        "push the soccer ball into the net",
        "score by pushing the ball into the goal",
        "roll the ball into the goal",
    ),
    "stick-pull-v3": (
        "use the stick to pull the container",
        "grab the stick, hook the handle and pull it back",
        "pull the thermos toward you with the stick",
        "pick up the stick and drag the container with it",
    ),
    "stick-push-v3": (
        "use the stick to push the container",
        "grab the stick and push the thermos forward with it",
        "push the container away with the stick",
        "pick up the stick and shove the container with it",
    ),
    "sweep-into-v3": (
        "sweep the puck into the hole",
        "push the puck into the hole in the table",
        "slide the puck into the opening",
        "brush the puck into the hole",
    ),
    "sweep-v3": (
        "sweep the puck off the table",
        "push the puck off the edge of the table",
        "slide the puck off the table",
        "brush the puck over the edge",
    ),
    "window-close-v3": (
        "close the window",
        "slide the window shut",
        "push the window closed",
        "slide the window pane to close it",
    ),
    "window-open-v3": (
        "open the window",
        "slide the window open",
        "push the window open sideways",
        "slide the window pane to open it",
    ),
}


#: ``instruction_variant`` that asks for the task's :data:`UNSEEN` wording.
UNSEEN_VARIANT = 4

#: A fifth wording per MT50 task (the MT10 ones written on 2026-11-29 after every policy of that date was trained and
#: never given to any of them before their final evaluation): other verbs, other nouns, other word order
#: than the four phrasings above. Evaluation only (``vlastack eval --instruction-variant 4``).
UNSEEN: dict[str, str] = {
    "reach-v3": "get your claw over to the spot that is marked",
    "push-v3": "nudge the little disk across the tabletop until it rests on the mark",
    "pick-place-v3": "lift the small disk off the table and set it down on the marked spot",
    "door-open-v3": "swing that cabinet door wide",
    "drawer-open-v3": "yank the drawer toward you",
    "drawer-close-v3": "shove the drawer in until it is flush",
    "button-press-topdown-v3": "push down hard on the top of the switch",
    "peg-insert-side-v3": "take the stick and poke it into the slot on the side of the block",
    "window-open-v3": "move the glass panel along so the window is open",
    "window-close-v3": "move the glass panel back so the window is shut",
    # The other 40 MT50 tasks, written on 2026-12-06, same rule: other verbs, nouns and word order.
    # Demonstrations and training use only the first TRAIN_PARAPHRASES phrasings, so no policy sees these.
    "assembly-v3": "thread the loop down around the upright rod",
    "basketball-v3": "carry the sphere up and let it fall through the rim",
    "bin-picking-v3": "relocate the little box into the neighbouring tray",
    "box-close-v3": "cap the container with its top",
    "button-press-topdown-wall-v3": "come down on the switch from overhead, next to the barrier",
    "button-press-v3": "jab the switch straight ahead of you",
    "button-press-wall-v3": "get around the barrier and jab the switch",
    "coffee-button-v3": "tap the switch on the espresso maker",
    "coffee-pull-v3": "draw the cup back away from the brewer",
    "coffee-push-v3": "guide the cup forward beneath the brewer",
    "dial-turn-v3": "give the knob on the panel a twist",
    "disassemble-v3": "lift the loop clear of the upright rod",
    "door-close-v3": "swing that cabinet door back to shut",
    "door-lock-v3": "flip the latch on the cabinet door to secure it",
    "door-unlock-v3": "flip the latch on the cabinet door to release it",
    "faucet-close-v3": "swing the spout's handle so no water flows",
    "faucet-open-v3": "swing the spout's handle so water can flow",
    "hammer-v3": "take the mallet and bang the pin into the panel",
    "hand-insert-v3": "drop the little box into the gap in the tabletop",
    "handle-press-side-v3": "push the sideways grip to the bottom",
    "handle-press-v3": "bring the grip all the way to the bottom",
    "handle-pull-side-v3": "draw the sideways grip up to the top",
    "handle-pull-v3": "bring the grip all the way to the top",
    "lever-pull-v3": "swing the arm on the machine upward",
    "peg-unplug-side-v3": "yank the rod free of its slot",
    "pick-out-of-hole-v3": "draw the rod up clear of the gap in the tabletop",
    "pick-place-wall-v3": "carry the little disk over the barrier and set it on the mark",
    "plate-slide-back-side-v3": "drag the dish sideways back out of the cubby",
    "plate-slide-back-v3": "drag the dish back out of the cubby",
    "plate-slide-side-v3": "scoot the dish sideways into the cubby",
    "plate-slide-v3": "scoot the dish ahead into the cubby",
    "push-back-v3": "bring the little disk toward yourself until it rests on the mark",
    "push-wall-v3": "steer the little disk around the barrier onto the mark",
    "reach-wall-v3": "get your claw over the barrier to the spot that is marked",
    "shelf-place-v3": "set the little box up on the ledge",
    "soccer-v3": "knock the sphere into the net frame",
    "stick-pull-v3": "take the rod and use it to draw the flask toward you",
    "stick-push-v3": "take the rod and use it to shove the flask away",
    "sweep-into-v3": "wipe the little disk into the gap in the tabletop",
    "sweep-v3": "wipe the little disk clear of the tabletop",
}


#: ``instruction_variant`` that asks for the task's :data:`DEV` wording.
DEV_VARIANT = 5

#: A sixth wording per MT50 task, written on 2026-12-07 for *choosing* how unseen words are handled (the
#: grounding's settings, the text-noise strength) so that :data:`UNSEEN` stays a test that no choice has looked
#: at. Same rule as UNSEEN: words of our own, never used for demonstrations or training.
DEV: dict[str, str] = {
    "reach-v3": "send the fingers to the target location",
    "push-v3": "slide the round piece along the table onto the target",
    "pick-place-v3": "raise the round piece and drop it off at the target",
    "door-open-v3": "pull the cabinet's door so it stands open",
    "drawer-open-v3": "draw the drawer out toward the robot",
    "drawer-close-v3": "press the drawer back into the cabinet",
    "button-press-topdown-v3": "tap the switch from overhead",
    "peg-insert-side-v3": "grip the rod and stick it sideways into the opening",
    "window-open-v3": "shift the window sash so it opens",
    "window-close-v3": "shift the window sash so it shuts",
    "assembly-v3": "lower the hoop over the standing post",
    "basketball-v3": "lift the ball and sink it in the hoop",
    "bin-picking-v3": "carry the block across into the second tray",
    "box-close-v3": "set the cover onto the open box",
    "button-press-topdown-wall-v3": "tap the switch from overhead by the low wall",
    "button-press-v3": "poke the switch on the side facing the robot",
    "button-press-wall-v3": "reach past the low wall and poke the switch",
    "coffee-button-v3": "poke the button of the espresso machine",
    "coffee-pull-v3": "drag the mug back from the espresso machine",
    "coffee-push-v3": "slide the mug in under the espresso machine",
    "dial-turn-v3": "crank the knob around",
    "disassemble-v3": "pull the hoop up off the standing post",
    "door-close-v3": "push the cabinet's door until it is closed",
    "door-lock-v3": "twist the door's latch into the locked position",
    "door-unlock-v3": "twist the door's latch into the open position",
    "faucet-close-v3": "turn the tap's handle to stop the water",
    "faucet-open-v3": "turn the tap's handle to let the water run",
    "hammer-v3": "swing the hammer to drive the nail home",
    "hand-insert-v3": "place the block down into the opening in the table",
    "handle-press-side-v3": "force the side-mounted handle downward",
    "handle-press-v3": "force the handle all the way down",
    "handle-pull-side-v3": "lift the side-mounted handle upward",
    "handle-pull-v3": "lift the handle all the way up",
    "lever-pull-v3": "heave the lever arm upward",
    "peg-unplug-side-v3": "tug the rod sideways out of its socket",
    "pick-out-of-hole-v3": "lift the rod out of the opening in the table",
    "pick-place-wall-v3": "lift the round piece over the low wall onto the target",
    "plate-slide-back-side-v3": "pull the dish sideways out of the goal area",
    "plate-slide-back-v3": "pull the dish backward out of the goal area",
    "plate-slide-side-v3": "slide the dish sideways into the goal area",
    "plate-slide-v3": "slide the dish forward into the goal area",
    "push-back-v3": "slide the round piece backward onto the target",
    "push-wall-v3": "slide the round piece around the low wall onto the target",
    "reach-wall-v3": "send the fingers past the low wall to the target location",
    "shelf-place-v3": "put the block up onto the rack",
    "soccer-v3": "boot the ball into the goal net",
    "stick-pull-v3": "hook the canister with the rod and pull it closer",
    "stick-push-v3": "push the canister away using the rod",
    "sweep-into-v3": "sweep the round piece into the opening in the table",
    "sweep-v3": "sweep the round piece off the side of the table",
}


#: The extra wordings by variant: never used in training, one per task.
EXTRA_WORDINGS: dict[int, tuple[str, dict[str, str]]] = {UNSEEN_VARIANT: ("unseen", UNSEEN), DEV_VARIANT: ("dev", DEV)}


def instruction(task: str, variant: int = 0) -> str:
    """One phrasing of a task's instruction; ``variant`` wraps around the available phrasings, except
    :data:`UNSEEN_VARIANT` and :data:`DEV_VARIANT`, which give the task's :data:`UNSEEN` or :data:`DEV` wording
    (an error where it has none)."""
    if variant in EXTRA_WORDINGS:
        label, wordings = EXTRA_WORDINGS[variant]
        if task not in wordings:
            from vlastack.errors import ConfigError

            raise ConfigError(f"instruction_variant {variant} ({label} wording) exists for {', '.join(sorted(wordings))}; not for {task!r}")
        return wordings[task]
    phrasings = _phrasings(task)
    return phrasings[variant % len(phrasings)]


def _phrasings(task: str) -> tuple[str, ...]:
    """A Meta-World task's phrasings, a long-horizon task's (envs/long_horizon.py), a robosuite task's
    (envs/robosuite_tasks.py) or a Fetch task's (envs/fetch_tasks.py)."""
    from vlastack.envs.fetch_tasks import TASKS as FETCH_TASKS
    from vlastack.envs.long_horizon import SUITE
    from vlastack.envs.robosuite_tasks import TASKS as ROBOSUITE_TASKS

    if task in ROBOSUITE_TASKS:
        return ROBOSUITE_TASKS[task].instructions
    if task in FETCH_TASKS:
        return FETCH_TASKS[task].instructions
    return SUITE[task].instructions if task in SUITE else INSTRUCTIONS[task]


def train_instructions(task: str) -> tuple[str, ...]:
    """The phrasings used for demonstrations and training."""
    return _phrasings(task)[:TRAIN_PARAPHRASES]


def heldout_instructions(task: str) -> tuple[str, ...]:
    """The phrasings never used in training, for language-generalisation tests."""
    return _phrasings(task)[TRAIN_PARAPHRASES:]
