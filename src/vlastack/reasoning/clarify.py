"""Clarification: act on an instruction only when it picks out one object of the scene; otherwise ask.

Two steps (the justification is in docs/experiments/2026-11-reasoning.md):

1. **Explicit referent matching** (hard filters). A noun of an object's kind ("drawer", "pane" for a
   window) keeps the objects of that kind; a colour or place word ("red", "left", "upper") keeps the
   objects with that attribute. Pronouns and generic nouns ("it", "that one", "the thing") filter
   nothing. Attributes are symbolic facts of the scene: sentence embeddings barely tell "the left
   button" from "the right button", so they are never left to the embedding.
2. **Fit of the action** (soft). The frozen all-MiniLM-L6-v2 sentence embedding of the instruction,
   with its referring slot made neutral ("turn it on" -> "turn the object on"), is compared (cosine)
   with what can be done to each remaining object's kind, also said of "the object" ("turn on the
   object"); an object's score is its best match. Leaving names out of both sides matters: with them,
   "open it" is nearer "open the window" than "open the drawer" for no reason in the scene. When the
   slot is a noun the lexicon does not know ("the piece"), its similarity to each object's name is
   added. The top object is acted on only if it leads the runner-up by at least ``margin``: several
   readings that fit about equally mean a question.

A question lists the candidates ("Which one do you mean: the drawer or the window?"); the answer is
resolved against those candidates alone, by the same two steps.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache, lru_cache

from vlastack.errors import ConfigError

#: Per kind of object: the nouns that name it, and the Meta-World tasks that act on such an object.
#: What can be done to an object is read from those tasks' instructions (envs/instructions.py, written
#: for the policies before this module), with the object's noun replaced by "object".
KINDS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "drawer": (("drawer",), ("drawer-open-v3", "drawer-close-v3")),
    "window": (("window", "pane"), ("window-open-v3", "window-close-v3")),
    "door": (("door",), ("door-open-v3", "door-close-v3", "door-lock-v3", "door-unlock-v3")),
    "button": (("button", "switch"), ("button-press-v3", "button-press-topdown-v3", "button-press-wall-v3", "coffee-button-v3")),
    "faucet": (("faucet", "tap"), ("faucet-open-v3", "faucet-close-v3")),
    "lever": (("lever", "handle"), ("handle-press-v3", "handle-pull-v3", "lever-pull-v3", "handle-press-side-v3", "handle-pull-side-v3")),
    "puck": (("puck", "disk", "disc"), ("push-v3", "pick-place-v3", "push-back-v3", "sweep-v3", "sweep-into-v3")),
    "block": (("block", "cube"), ("bin-picking-v3", "shelf-place-v3", "hand-insert-v3")),
    "ball": (("ball",), ("basketball-v3", "soccer-v3")),
    "mug": (("mug", "cup"), ("coffee-push-v3", "coffee-pull-v3")),
    "plate": (("plate",), ("plate-slide-v3", "plate-slide-back-v3", "plate-slide-side-v3", "plate-slide-back-side-v3")),
    "peg": (("peg",), ("peg-insert-side-v3", "peg-unplug-side-v3", "pick-out-of-hole-v3")),
}
#: Kinds of loose objects, which share what can be done to them (see :func:`affordances`).
GRASPABLE = ("puck", "block", "ball", "mug", "peg")
#: Words for an attribute value, per attribute; a scene object's ``color`` / ``place`` is one of the keys.
ATTRIBUTE_WORDS: dict[str, dict[str, tuple[str, ...]]] = {
    "color": {c: (c,) for c in ("red", "green", "blue", "yellow", "black", "white")},
    "place": {
        "left": ("left",),
        "right": ("right",),
        "top": ("top", "upper", "higher"),
        "bottom": ("bottom", "lower"),
    },
}
#: Words that refer without naming (the referring slot when present), and the determiners that go with "one".
PRONOUNS = ("it", "that", "this", "them", "one", "thing", "object")
DETERMINERS = ("the", "that", "this", "a", "an")
#: Nouns of places and tools that are not the object acted on ("push the puck to the goal").
NOT_REFERENTS = ("goal", "target", "hole", "machine", "table", "spout", "net", "mark", "side", "way")
#: Default lead (cosine) the best-fitting object needs over the next one to be acted on; chosen on the
#: dev split (benchmarks/clarify_eval.py), never on the test split.
MARGIN = 0.10


@dataclass(frozen=True)
class SceneObject:
    """One object a robot sees."""

    name: str
    """Unique within its scene, e.g. ``red button``."""
    kind: str
    """A key of :data:`KINDS`: which nouns name it and what can be done to it."""
    color: str | None = None
    """A key of ``ATTRIBUTE_WORDS['color']``, or None."""
    place: str | None = None
    """A key of ``ATTRIBUTE_WORDS['place']`` (left, right, top, bottom), or None."""

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ConfigError(f"object {self.name!r}: kind must be one of {sorted(KINDS)}, got {self.kind!r}")
        for attr in ("color", "place"):
            value = getattr(self, attr)
            if value is not None and value not in ATTRIBUTE_WORDS[attr]:
                raise ConfigError(f"object {self.name!r}: {attr} must be one of {sorted(ATTRIBUTE_WORDS[attr])} or None, got {value!r}")


@dataclass(frozen=True)
class Decision:
    """What to do with an instruction."""

    act: bool
    """True: the instruction picks out one object; False: ask ``question``."""
    target: SceneObject | None
    """The object to act on (when ``act``)."""
    candidates: tuple[SceneObject, ...]
    """The objects that fit, best first."""
    question: str | None = None
    """The question to ask (when not ``act``)."""
    scores: dict[str, float] = field(default_factory=dict)
    """Each candidate's fit (cosine), by name."""


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z]+", text.lower())


def _mentions(words: list[str], phrases: tuple[str, ...]) -> bool:
    return any(p in words for p in phrases)


def explicit_candidates(instruction: str, objects: tuple[SceneObject, ...]) -> tuple[SceneObject, ...]:
    """Step 1: the objects left after the kind nouns and attribute words the instruction uses."""
    words = _words(instruction)
    named = tuple(o for o in objects if _mentions(words, KINDS[o.kind][0]))
    out = named or objects
    for attr, values in ATTRIBUTE_WORDS.items():
        said = {v for v, ws in values.items() if _mentions(words, ws)}
        if said:
            out = tuple(o for o in out if getattr(o, attr) in said)
    return out


@lru_cache(maxsize=1)
def _minilm():
    """all-MiniLM-L6-v2 read once per process (the policies' loader reads its files on every call)."""
    from vlastack.policies.components.text import load_minilm

    return load_minilm()


_CACHE: dict = {}  # sentence -> unit-length embedding; scenes repeat the same few sentences


def _embed(texts: list[str]):
    """[len(texts), 384] unit-length sentence embeddings (torch, CPU)."""
    import torch

    missing = sorted({t for t in texts if t not in _CACHE}, key=len)  # similar lengths share a batch: less padding
    if missing:
        bert, tok = _minilm()
        with torch.inference_mode():
            for i in range(0, len(missing), 128):
                enc = tok.encode_batch(missing[i : i + 128])
                vecs = bert(torch.tensor([e.ids for e in enc]), torch.tensor([e.attention_mask for e in enc]))
                _CACHE.update(zip(missing[i : i + 128], vecs.float()))
    return torch.stack([_CACHE[t] for t in texts])


def _texts(instruction: str, objects: tuple[SceneObject, ...]) -> tuple[list[str], str | None]:
    """The sentences :func:`fit_scores` compares, and the slot's unknown noun (or None)."""
    _, _, _, noun = referring_slot(instruction)
    texts = [_neutral(instruction)]
    for o in objects:
        texts.extend(affordances(o.kind))
    if noun is not None:
        texts.append(f"the {noun}")
        texts.extend(f"the {o.name}" for o in objects)
    return texts, noun


def warm(cases: list[tuple[str, tuple[SceneObject, ...]]]) -> None:
    """Embed every sentence that deciding ``cases`` (instruction, scene objects) needs, in a few large
    batches instead of one small batch per decision (a labelled set: 10x faster on 2 CPU cores)."""
    _embed([t for instruction, objects in cases for t in _texts(instruction, objects)[0]])


def referring_slot(instruction: str) -> tuple[list[str], int, int, str | None]:
    """(words, start, end, noun): where the instruction refers to its object. The slot is the first
    pronoun (with its determiner; ``noun`` None), else the first ``the <word>`` whose word names no
    kind, place or attribute (``noun`` that word); ``start == end`` when there is neither."""
    words = _words(instruction)
    known = {n for nouns, _ in KINDS.values() for n in nouns} | set(NOT_REFERENTS)
    known |= {w for values in ATTRIBUTE_WORDS.values() for ws in values.values() for w in ws}
    for i, w in enumerate(words):
        if w in PRONOUNS:
            start = i - 1 if i > 0 and words[i - 1] in DETERMINERS else i
            return words, start, i + 1, None
    for i, w in enumerate(words[:-1]):
        if w in DETERMINERS and words[i + 1] not in known:
            return words, i, i + 2, words[i + 1]
    return words, 0, 0, None


@cache
def affordances(kind: str) -> tuple[str, ...]:
    """What can be done to an object of ``kind``, said of "the object": every phrasing of its
    Meta-World tasks' instructions, with the first of the kind's nouns replaced by "object". Loose
    objects (:data:`GRASPABLE`) share one set: any of them can be picked up, pushed, carried or put in a
    hole, whichever Meta-World task happens to use which."""
    from vlastack.envs.instructions import INSTRUCTIONS

    out = []
    for k in GRASPABLE if kind in GRASPABLE else (kind,):
        nouns, tasks = KINDS[k]
        for task in tasks:
            for text in INSTRUCTIONS[task]:
                words = _words(text)
                hit = next((i for i, w in enumerate(words) if w in nouns), None)
                if hit is not None:
                    out.append(" ".join([*words[:hit], "object", *words[hit + 1 :]]))
    return tuple(dict.fromkeys(out))


def _neutral(instruction: str) -> str:
    """The instruction with its referring slot replaced by "the object": what is to be done, to anything."""
    words, start, end, _ = referring_slot(instruction)
    if start == end:
        return " ".join(words)
    return " ".join([*words[:start], "the object", *words[end:]])


def fit_scores(instruction: str, objects: tuple[SceneObject, ...]) -> dict[str, float]:
    """Step 2: per object, how well the instruction's action fits it: the best cosine between the
    instruction with "the object" in its referring slot and the object kind's actions done to "the
    object" (no object names on either side, so the embedding's liking for some names cannot decide).
    When the slot is an unknown noun ("the piece"), its cosine with the object's name is added."""
    texts, noun = _texts(instruction, objects)
    vecs = _embed(texts)
    out: dict[str, float] = {}
    i = 1
    for o in objects:
        n = len(affordances(o.kind))
        out[o.name] = float((vecs[i : i + n] @ vecs[0]).max())
        i += n
    if noun is not None:
        for j, o in enumerate(objects):
            out[o.name] += float(vecs[i + 1 + j] @ vecs[i])
    return out


def question(candidates: tuple[SceneObject, ...]) -> str:
    names = [f"the {o.name}" for o in candidates]
    listed = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]
    return f"Which one do you mean: {listed}?"


def decide(instruction: str, objects: tuple[SceneObject, ...] | list[SceneObject], margin: float = MARGIN) -> Decision:
    """Act on the one object ``instruction`` picks out of ``objects``, or ask which one is meant."""
    objects = tuple(objects)
    if not instruction.strip():
        raise ConfigError("instruction must be a non-empty sentence")
    if not objects:
        raise ConfigError("objects must list at least one scene object")
    candidates = explicit_candidates(instruction, objects)
    if not candidates:  # e.g. "the red drawer" where no drawer is red: ask among what was named
        return Decision(False, None, objects, question(objects))
    scores = fit_scores(instruction, candidates) if len(candidates) > 1 else {candidates[0].name: 1.0}
    ranked = tuple(sorted(candidates, key=lambda o: -scores[o.name]))
    if len(ranked) == 1 or scores[ranked[0].name] - scores[ranked[1].name] >= margin:
        return Decision(True, ranked[0], ranked, None, scores)
    close = tuple(o for o in ranked if scores[ranked[0].name] - scores[o.name] < margin)
    return Decision(False, None, close, question(close), scores)


def resolve(instruction: str, answer: str, decision: Decision, margin: float = MARGIN) -> Decision:
    """Continue after a question: ground the answer ("the window", "the left one") among the
    candidates the question listed, with the instruction's action as context."""
    if decision.act:
        return decision
    answered = decide(f"{instruction}: {answer}", decision.candidates, margin)
    by_answer = explicit_candidates(answer, decision.candidates)
    if len(by_answer) == 1:  # the answer names one of them outright
        return Decision(True, by_answer[0], by_answer, None, answered.scores)
    return answered
