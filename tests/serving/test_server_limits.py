"""Server hardening: idle and session timeouts, the per-token connection cap, no server paths in the
metadata, rate-limited logging of rejections, and config errors that name the field.

No test asserts on elapsed time: timeouts are short and the tests wait for the event (a close, a
counter) with a generous deadline that only bounds a failing run.
"""

from __future__ import annotations

import logging
import threading
import time

import pytest
from websockets.exceptions import ConnectionClosed

from vlastack.serving.client import ConnectionLost, ConnectionRefused, PolicyClient
from vlastack.serving.server import RateLimitedLog, ServerConfig
from vlastack.serving.session import Session

from .conftest import ask, good_obs, raw_connect, running

WAIT_S = 10.0


def wait_until(predicate, what: str) -> None:
    """Poll ``predicate`` until true; fail after WAIT_S (a bound for a broken server, not a measurement)."""
    deadline = time.monotonic() + WAIT_S
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.01)


def closed_by_server(ws) -> ConnectionClosed:
    with pytest.raises(ConnectionClosed) as info:
        ws.recv(timeout=WAIT_S)  # nothing is sent: the only thing that can end this is the server closing
    return info.value


def test_an_idle_connection_is_closed_and_its_slot_freed():
    with running(idle_timeout_s=0.2, max_clients=1) as server:
        ws = raw_connect(server.url)
        closed = closed_by_server(ws)
        assert closed.rcvd.code == 1000 and "idle_timeout_s" in closed.rcvd.reason
        wait_until(lambda: not server.server.sessions, "the session to be dropped")
        assert server.server.stats["closed_idle"] == 1
        with PolicyClient(server.url) as client:  # max_clients=1: the idle one no longer holds the slot
            assert client.infer(good_obs())["actions"].shape == (4, 4)
        assert server.server.metadata()["idle_timeout_s"] == 0.2


def test_the_client_says_why_the_server_closed_the_connection():
    with running(idle_timeout_s=0.2) as server:
        client = PolicyClient(server.url)
        wait_until(lambda: server.server.stats["closed_idle"] == 1, "the idle connection to be closed")
        with pytest.raises(ConnectionLost, match=r"code 1000: idle: no request for 0.2 s \(idle_timeout_s\)"):
            client.infer(good_obs())
        client.close()


def test_a_session_is_closed_after_session_timeout_even_when_busy():
    with running(idle_timeout_s=None, session_timeout_s=0.3) as server:
        ws = raw_connect(server.url)
        replies = 0
        with pytest.raises(ConnectionClosed) as info:
            for _ in range(100_000):  # busy: a request as soon as the last one is answered
                assert "actions" in ask(ws, good_obs(replies))
                replies += 1
        assert info.value.rcvd.code == 1000 and "session_timeout_s" in info.value.rcvd.reason
        wait_until(lambda: server.server.stats["closed_session_timeout"] == 1, "the session-timeout counter")
        assert server.server.stats["closed_idle"] == 0


def test_the_deadline_counts_idle_time_from_the_last_reply_and_takes_the_nearer_limit():
    with running(idle_timeout_s=100.0, session_timeout_s=1000.0) as server:
        now = time.monotonic()
        session = Session(peer="test", opened_s=now)
        left, why = server.server._deadline(session, last_reply_s=now)
        assert 99 < left <= 100 and "idle" in why
        left, why = server.server._deadline(session, last_reply_s=now + 950)  # a reply just came: idle is far off
        assert 999 < left <= 1000 and "session" in why
    with running(idle_timeout_s=None) as server:
        assert server.server._deadline(Session(peer="test"), time.monotonic()) == (None, "")


def test_one_token_cannot_lock_out_the_others():
    with running(token="alpha", tokens=("beta",), max_clients_per_token=2, max_clients=8) as server:
        held = [PolicyClient(server.url, token="alpha") for _ in range(2)]
        with pytest.raises(ConnectionRefused, match=r"HTTP 503.*max_clients_per_token=2"):
            PolicyClient(server.url, token="alpha")
        with PolicyClient(server.url, token="beta") as other:  # another token still gets in
            assert other.infer(good_obs())["actions"].shape == (4, 4)
        held.pop().close()
        wait_until(lambda: len(server.server.sessions) == 1, "the closed connection to be dropped")
        again = PolicyClient(server.url, token="alpha")  # the freed slot is usable again
        assert again.infer(good_obs())["actions"].shape == (4, 4)
        for c in (*held, again):
            c.close()


def test_the_cap_holds_for_handshakes_in_flight_at_once():
    with running(token="alpha", max_clients_per_token=3) as server:
        results: list[object] = []
        lock = threading.Lock()

        def connect():
            try:
                c = PolicyClient(server.url, token="alpha")
            except ConnectionRefused as err:
                c = err
            with lock:
                results.append(c)

        threads = [threading.Thread(target=connect) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(WAIT_S)
        clients = [r for r in results if isinstance(r, PolicyClient)]
        assert len(results) == 8 and len(clients) == 3
        for c in clients:
            c.close()


def test_metadata_holds_no_server_paths(tmp_path):
    from vlastack.safety.loading import load_spec, save_spec

    spec_path = save_spec(load_spec("metaworld_sawyer"), tmp_path / "my_spec.json")
    with running(safety=str(spec_path.resolve())) as server, PolicyClient(server.url) as client:
        strings = []

        def walk(x):
            if isinstance(x, dict):
                for k, v in x.items():
                    walk(k)
                    walk(v)
            elif isinstance(x, (list, tuple)):
                for v in x:
                    walk(v)
            elif isinstance(x, str):
                strings.append(x)

        walk(client.metadata)
        assert client.metadata["safety"] == "metaworld_sawyer"
        assert strings and not [s for s in strings if str(tmp_path) in s or s.startswith("/")]


def test_rejected_requests_are_logged_at_a_limited_rate(caplog):
    caplog.set_level(logging.WARNING, logger="vlastack.serving")
    with running(log_rejections_per_minute=3) as server:
        ws = raw_connect(server.url)
        for _ in range(20):
            assert "error" in ask(ws, {"prompt": "only"})
        ws.close()
        bad = [r for r in caplog.records if "missing keys" in r.getMessage()]
        assert len(bad) == 3 and server.server.stats["errors"] == 20
        assert server.server.rejections.suppressed_total == 17
        # the next window: the count of what was left out is logged first
        server.server.rejections.clock = lambda: time.monotonic() + 61
        with PolicyClient(server.url) as client:
            with pytest.raises(Exception, match="missing keys"):
                client.infer({"prompt": "only"})
        assert any("17 more 'bad request' messages" in r.getMessage() for r in caplog.records)


def test_refused_connections_are_logged_at_a_limited_rate(caplog):
    caplog.set_level(logging.WARNING, logger="vlastack.serving")
    with running(token="s3cret", log_rejections_per_minute=2) as server:
        for _ in range(6):
            with pytest.raises(ConnectionRefused, match="HTTP 401"):
                PolicyClient(server.url, token="wrong")
        refused = [r for r in caplog.records if r.getMessage().startswith("refused")]
        assert len(refused) == 2 and server.server.stats["refused"] == 6
        assert not any("s3cret" in r.getMessage() for r in caplog.records)


def test_rate_limited_log_counts_per_kind_with_a_fake_clock(caplog):
    caplog.set_level(logging.WARNING, logger="test.limit")
    now = {"t": 0.0}
    limiter = RateLimitedLog(logging.getLogger("test.limit"), limit=2, window_s=60.0, clock=lambda: now["t"])
    for i in range(5):
        limiter.warning("a", "a %d", i)
        limiter.warning("b", "b %d", i)
    assert [r.getMessage() for r in caplog.records] == ["a 0", "b 0", "a 1", "b 1"]
    now["t"] = 60.0
    limiter.warning("a", "a again")
    assert [r.getMessage() for r in caplog.records[-2:]] == ["3 more 'a' messages were left out of the log in the last 60 s", "a again"]
    assert limiter.suppressed_total == 6


@pytest.mark.parametrize(
    "field, value",
    [
        ("idle_timeout_s", 0),
        ("session_timeout_s", -1.0),
        ("max_clients_per_token", 0),
        ("workers", 0),
        ("max_clients", True),
        ("log_rejections_per_minute", -1),
        ("port", 70000),
        ("max_message_bytes", 10),
    ],
)
def test_bad_config_names_the_field(field, value):
    with pytest.raises(ValueError, match=field):
        ServerConfig(**{field: value})


def test_a_bad_token_config_does_not_echo_the_secret():
    with pytest.raises(ValueError, match="tokens") as info:
        ServerConfig(token="abc", tokens=("s3cret", ""))
    assert "s3cret" not in str(info.value)
