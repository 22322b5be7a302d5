"""The console's HTTP API without a browser: the token guards every route, bad requests get a clear
4xx naming what is wrong, stop and chat go through to the session."""

from __future__ import annotations

import time

import pytest

from tests.conftest import default_sigint
from tests.console.conftest import SIZE, TOKEN, ScriptedActor, request
from vlastack.console.config import ConsoleConfig
from vlastack.console.server import ConsoleServer, ServerConfig
from vlastack.console.session import ConsoleSession
from vlastack.console.state import STOPPED
from vlastack.errors import ConfigError


@pytest.fixture(scope="module")
def server():
    config = ConsoleConfig(experts=True, image_size=SIZE)
    # Paced slowly: these tests look at the API, not at motion.
    with ConsoleServer(lambda: ConsoleSession(config, actor=ScriptedActor()), ServerConfig(token=TOKEN, port=0, steps_per_second=10)) as s:
        yield s


def test_every_route_needs_the_token(server):
    for path in ("/", "/api/state", "/api/frame/corner2"):
        for token in (None, "wrong-token-123"):
            status, body = request(server.base_url, path, token=token)
            assert status == 401, path
            assert "missing or wrong token" in body["error"] and "total_steps" not in body
    status, _ = request(server.base_url, "/api/stop", body={}, token="wrong-token-123")
    assert status == 401
    status, page = request(server.base_url, f"/?token={TOKEN}", token=None)
    assert status == 200 and b"vlastack console" in page


def test_state_and_frames(server):
    status, state = request(server.base_url, "/api/state")
    assert status == 200 and state["task"] == "drawer-open-v3" and state["cameras"] == ["corner2", "gripperPOV"]
    status, jpeg = request(server.base_url, "/api/frame/corner2")
    assert status == 200 and jpeg[:3] == b"\xff\xd8\xff"
    status, body = request(server.base_url, "/api/frame/top")
    assert status == 404 and "unknown camera 'top'" in body["error"]


def test_bad_requests_are_named(server):
    status, body = request(server.base_url, "/api/chat", body={"text": 3})
    assert status == 400 and "'text' must be a string" in body["error"]
    status, body = request(server.base_url, "/api/chat", body={"text": "  "})
    assert status == 400 and "non-empty" in body["error"]
    status, body = request(server.base_url, "/api/chat", body={"text": "stop"}, content_type="text/plain")
    assert status == 415
    status, body = request(server.base_url, "/api/launch", body={})
    assert status == 404 and "/api/launch" in body["error"]


def test_chat_then_stop_through_the_api(server):
    status, reply = request(server.base_url, "/api/chat", body={"text": "open the drawer"})
    assert status == 200 and any("acting on the drawer" in r for r in reply["replies"])
    status, reply = request(server.base_url, "/api/stop", body={})
    assert status == 200
    pressed = reply["state"]["stop_requested_at"]
    for _ in range(3000):  # the simulator thread sends the hold at its next step (a wait, not a timing check)
        _, state = request(server.base_url, "/api/state")
        if state["status"] == STOPPED:
            break
        time.sleep(0.01)
    assert state["status"] == STOPPED and state["halted_at"] == pressed + 1
    _, again = request(server.base_url, "/api/state")
    assert again["total_steps"] == pressed + 1  # nothing stepped since
    status, reply = request(server.base_url, "/api/resume", body={})
    assert status == 200 and reply["state"]["status"] == "running"


def test_takeover_through_the_api(server):
    for body, message in (
        ({"action": [0, 0, 3, 0]}, "'action'[2] (dz) must be in [-1, 1], got 3"),
        ({"action": [0, "up", 0, 0]}, "'action'[1] (dy) must be a number, got 'up'"),
        ({}, "field 'action' must be a list of 4 numbers"),
    ):
        status, reply = request(server.base_url, "/api/operator", body=body)
        assert status == 400 and message in reply["error"], reply
    assert request(server.base_url, "/api/takeover", body={}, token="wrong-token-123")[0] == 401
    assert request(server.base_url, "/api/operator", body={"action": [0, 0, 0, 0]}, token=None)[0] == 401
    _, state = request(server.base_url, "/api/state")
    assert not state["operator"]["in_control"]  # neither refused nor unauthorized commands took over

    status, reply = request(server.base_url, "/api/takeover", body={})
    assert status == 200 and reply["state"]["operator"]["in_control"]
    status, reply = request(server.base_url, "/api/operator", body={"action": [0.25, 0, 0, -1]})
    assert status == 200 and reply["state"]["operator"]["command"] == [0.25, 0.0, 0.0, -1.0]
    for _ in range(3000):  # the simulator thread sends it at its next step (a wait, not a timing check)
        _, state = request(server.base_url, "/api/state")
        if state["last_source"] == "operator" and state["last_action"][0] > 0:
            break
        time.sleep(0.01)
    assert state["last_source"] == "operator" and state["last_action"][0] == 0.25
    status, reply = request(server.base_url, "/api/handback", body={})
    assert status == 200 and not reply["state"]["operator"]["in_control"]


def test_server_config_names_the_field():
    with pytest.raises(ConfigError, match="token must be a string of at least 8"):
        ServerConfig(token="short")
    with pytest.raises(ConfigError, match="port must be"):
        ServerConfig(token=TOKEN, port=70000)
    with pytest.raises(ConfigError, match="poll_ms"):
        ServerConfig(token=TOKEN, poll_ms=1)


@pytest.mark.slow
def test_the_cli_prints_the_address_serves_it_and_stops_on_ctrl_c(tmp_path):
    import os
    import signal
    import subprocess
    import sys
    from pathlib import Path

    vlastack = Path(sys.executable).with_name("vlastack")
    env = {**os.environ, "VLASTACK_CONSOLE_TOKEN": TOKEN}
    record = tmp_path / "takeovers"
    cmd = [
        str(vlastack),
        "console",
        "--experts",
        "--image-size",
        str(SIZE),
        "--port",
        "0",
        "--steps-per-second",
        "5",
        "--record",
        str(record),
    ]
    err_log = tmp_path / "console.stderr"  # shown if the shutdown below is slow or fails
    # SIGINT back to its default in the child (default_sigint: fresh-clone CI runs started in the background hung here)
    proc = subprocess.Popen(
        cmd,
        stdout=subprocess.PIPE,
        stderr=err_log.open("w"),
        text=True,
        env=env,
        preexec_fn=default_sigint,
    )
    try:
        lines = []
        while not any("http://" in line for line in lines):
            line = proc.stdout.readline()
            assert line, f"the console exited before printing its address: {lines}"
            lines.append(line)
        url = next(line.strip() for line in lines if "http://" in line)
        assert url.startswith("http://127.0.0.1:") and url.endswith(f"/?token={TOKEN}")  # loopback by default
        base = url.split("/?")[0]
        assert request(base, "/api/state", token=None)[0] == 401
        status, state = request(base, "/api/state")
        assert status == 200 and state["task"] == "drawer-open-v3"
        assert f"recording every finished episode to {record}" in "".join(lines)
        assert state["recording"]["dir"] == str(record) and state["operator"]["speed"] == 0.5
        proc.send_signal(signal.SIGINT)
        try:
            code = proc.wait(timeout=60)  # it takes about 1 s; a process that never exits fails here, with its stderr
        except subprocess.TimeoutExpired:
            raise AssertionError(f"the console did not exit within 60 s of Ctrl-C; stderr:\n{err_log.read_text()[-3000:]}") from None
        assert code == 0, err_log.read_text()[-3000:]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
