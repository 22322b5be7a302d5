"""Fixtures for the serving tests: a fake-runner server on a free loopback port, good observations, a raw socket."""

from __future__ import annotations

import contextlib

import numpy as np
import pytest
from websockets.sync.client import connect

from vlastack import keys
from vlastack.serving import msgpack_numpy
from vlastack.serving.runners import FakeRunner
from vlastack.serving.server import PolicyServer, ServerConfig, ServerThread

TIMEOUT_S = 10.0


def good_obs(seed: int = 0, size: int = 32, prompt: str = "reach the goal") -> dict:
    rng = np.random.default_rng(seed)
    return {
        keys.image_key("corner2"): rng.integers(0, 256, (size, size, 3), dtype=np.uint8),
        keys.STATE: np.array([0.0, 0.6, 0.2, 1.0], np.float32) + rng.normal(0, 0.01, 4).astype(np.float32),
        "prompt": prompt,
    }


@contextlib.contextmanager
def running(runner=None, **config):
    """A server on 127.0.0.1 with a free port, stopped on exit."""
    server = PolicyServer(runner or FakeRunner(), ServerConfig(port=0, **config))
    with ServerThread(server) as thread:
        yield thread


@pytest.fixture
def fake_server():
    with running() as thread:
        yield thread


def raw_connect(url: str, **kwargs):
    """A plain websocket connection (metadata already read); for sending anything at all."""
    ws = connect(url, open_timeout=TIMEOUT_S, compression=None, max_size=None, proxy=None, **kwargs).__enter__()
    meta = msgpack_numpy.unpackb(ws.recv(timeout=TIMEOUT_S))
    assert meta["server"] == "vlastack"
    return ws


def ask(ws, payload) -> dict:
    """Send bytes (or an object to pack) and return the unpacked reply."""
    ws.send(payload if isinstance(payload, (bytes, str)) else msgpack_numpy.packb(payload))
    return msgpack_numpy.unpackb(ws.recv(timeout=TIMEOUT_S))


@pytest.fixture
def obs():
    return good_obs
