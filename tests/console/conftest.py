"""Fixtures for the console tests: a session on a tiny Meta-World scene with a scripted test actor, and a
token-guarded server around one."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import numpy as np
import pytest

TOKEN = "console-test-token"
#: Rendered image side for the tests: the smallest that still shows the scene.
SIZE = 32


class ScriptedActor:
    """Proposes a fixed action; records what it was shown and when it was reset; may run a hook mid-inference."""

    describes = "test actor"
    reads_words = True

    def __init__(self, action=(0.5, 0.2, 0.0, -1.0)) -> None:
        self.action = np.asarray(action, dtype=np.float32)
        self.instructions: list[str] = []
        self.cameras_seen: list[tuple[str, ...]] = []
        self.resets: list[int] = []
        self.resumes = 0
        self.during_inference = None

    def reset(self, seed: int) -> None:
        self.resets.append(seed)

    def resume(self) -> None:
        self.resumes += 1

    def __call__(self, observation, info, now_s):
        self.instructions.append(observation.instruction)
        self.cameras_seen.append(tuple(observation.images))
        if self.during_inference is not None:
            self.during_inference()
        return self.action.copy()


@pytest.fixture
def make_session():
    """``make_session(actor=None, **config)``: a ConsoleSession on drawer-open-v3 at SIZE pixels; closed after the test."""
    from vlastack.console.config import ConsoleConfig
    from vlastack.console.session import ConsoleSession

    made = []

    def make(actor=None, **fields):
        fields.setdefault("experts", True)  # image_size is an experts-only field; the actor replaces the expert
        fields.setdefault("image_size", SIZE)
        session = ConsoleSession(ConsoleConfig(**fields), actor=actor if actor is not None else ScriptedActor())
        made.append(session)
        return session

    yield make
    for s in made:
        s.close()


def request(base_url: str, path: str, body: dict | None = None, token: str | None = TOKEN, content_type: str = "application/json"):
    """(HTTP status, decoded JSON or raw bytes) of a GET (no body) or POST (body) to the console."""
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = content_type
    req = urllib.request.Request(base_url + path, data=data, headers=headers, method="POST" if body is not None else "GET")
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            status, kind, raw = r.status, r.headers.get("Content-Type", ""), r.read()
    except urllib.error.HTTPError as err:
        status, kind, raw = err.code, err.headers.get("Content-Type", ""), err.read()
    return status, json.loads(raw) if kind.startswith("application/json") else raw
