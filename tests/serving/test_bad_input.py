"""Every kind of bad input gets an error reply naming the problem (or a clean close); the server keeps serving."""

from __future__ import annotations

import os
import re
import socket
import time

import msgpack
import numpy as np
import pytest
from websockets.exceptions import ConnectionClosed

from vlastack import keys
from vlastack.serving import msgpack_numpy
from vlastack.serving.client import PolicyClient
from vlastack.serving.runners import FakeRunner

from .conftest import ask, good_obs, raw_connect, running

IMG = keys.image_key("corner2")


def with_(**changes):
    obs = good_obs(0)
    for k, v in changes.items():
        k = {"img": IMG, "state": keys.STATE}.get(k, k)
        if v is None:
            obs.pop(k)
        else:
            obs[k] = v
    return obs


BAD = [
    ("malformed msgpack", b"\xc1\xc1\xc1", "not a valid msgpack"),
    ("truncated msgpack", msgpack_numpy.packb(good_obs(0))[:-7], "not a valid msgpack"),
    ("random bytes", os.urandom(64) + b"\xc1", "bad request"),
    ("text frame", "hello", "text frames are not accepted"),
    ("not a map", msgpack.packb([1, 2, 3]), "must be a map"),
    ("missing key", with_(state=None), r"missing keys \['observation.state'\]"),
    ("extra key", with_(**{"observation.wrist": np.zeros(3, np.float32)}), r"unexpected keys \['observation.wrist'\]"),
    ("wrong shape", with_(state=np.zeros(7, np.float32)), r"'observation.state' must be float32 \[4\], got float32 \[7\]"),
    ("wrong dtype", with_(state=np.zeros(4, np.float64)), r"'observation.state' must be float32 \[4\], got float64"),
    ("NaN", with_(state=np.array([np.nan, 0, 0, 0], np.float32)), "non-finite"),
    ("image too large", with_(img=np.zeros((64, 48, 3), np.uint8)), r"must be uint8 \[32, 32, 3\], got uint8 \[64, 48, 3\]"),
    ("image as floats", with_(img=np.zeros((32, 32, 3), np.float32)), "must be uint8"),
    (
        "lying array header",
        {**good_obs(0), keys.STATE: {b"__ndarray__": True, b"data": b"\0" * 4, b"dtype": "<f4", b"shape": [4]}},
        "needs 16 bytes",
    ),
    ("object dtype", {**good_obs(0), keys.STATE: {b"__ndarray__": True, b"data": b"\0" * 8, b"dtype": "|O", b"shape": [1]}}, "not allowed"),
    ("prompt not text", with_(prompt=["a"]), "'prompt' must be a string"),
    ("policy raises", with_(prompt="explode"), "inference failed: RuntimeError: fake failure"),
]


def test_each_bad_input_gets_a_named_error_and_the_connection_survives():
    with running(FakeRunner(fail_prompts=("explode",))) as server:
        ws = raw_connect(server.url)
        for name, payload, words in BAD:
            reply = ask(ws, payload)
            assert set(reply) == {"error"}, name
            assert re.search(words, reply["error"]), (name, reply["error"])
        assert ask(ws, good_obs(0))["actions"].shape == (4, 4)  # the same connection still works
        assert server.server.stats["errors"] == len(BAD)
        ws.close()


def test_oversized_message_closes_cleanly_and_others_keep_going():
    with running(max_message_bytes=64 * 1024) as server, PolicyClient(server.url) as other:
        assert other.metadata["max_message_bytes"] == 64 * 1024
        ws = raw_connect(server.url)
        ws.send(msgpack_numpy.packb({**good_obs(0), IMG: np.zeros((256, 256, 3), np.uint8)}))
        with pytest.raises(ConnectionClosed) as info:
            ws.recv(timeout=10)
        assert info.value.rcvd is not None and info.value.rcvd.code == 1009  # "message too big"
        assert other.infer(good_obs(1))["actions"].shape == (4, 4)


def test_disconnect_mid_request_and_raw_garbage_do_not_hurt():
    runner = FakeRunner(slow_prompts=("slow",), slow_delay_s=0.5)
    with running(runner) as server:
        for _ in range(3):  # leave while the policy is working on the request
            ws = raw_connect(server.url)
            ws.send(msgpack_numpy.packb(good_obs(0, prompt="slow")))
            ws.close()
        half = raw_connect(server.url)  # a connection dropped at the TCP level, no close frame
        half.socket.shutdown(socket.SHUT_RDWR)
        port = int(server.url.rsplit(":", 1)[1])
        for junk in (os.urandom(300), b"\x16\x03\x01\x02\x00"):  # not websocket at all; sent, then gone
            with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
                sock.sendall(junk)
        with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:  # plain HTTP gets an HTTP error
            sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            assert sock.recv(1024).startswith(b"HTTP/1.1 4")
        time.sleep(0.7)  # the abandoned requests finish; their replies go nowhere
        with PolicyClient(server.url) as client:
            assert client.infer(good_obs(2))["actions"].shape == (4, 4)
            assert len(server.server.sessions) == 1  # every abandoned connection was cleaned up
