"""Round trips (our client, openpi's client), metadata, ordering, per-client state, concurrency, tokens, safety."""

from __future__ import annotations

import threading
import urllib.request

import numpy as np
import pytest
from openpi_client.websocket_client_policy import WebsocketClientPolicy

from vlastack import keys
from vlastack.serving.client import ConnectionRefused, PolicyClient, RemotePolicy, ServerError
from vlastack.serving.runners import FakeRunner
from vlastack.types import Observation

from .conftest import good_obs, running

# openpi-client 0.1.2 calls websockets.sync.client.connect() the pre-17.1 way; that only warns.
pytestmark = pytest.mark.filterwarnings("ignore:connect\\(\\) must be used as a context manager:DeprecationWarning")


def expected_actions(obs: dict) -> np.ndarray:
    return np.clip(0.1 * obs[keys.STATE][None, :] + 0.01 * np.arange(4, dtype=np.float32)[:, None], -1, 1)


def test_round_trip_with_our_client(fake_server):
    with PolicyClient(fake_server.url) as client:
        assert client.required_keys == [keys.image_key("corner2"), keys.STATE, "prompt"]
        meta = client.metadata
        assert meta["protocol_version"] == 1 and meta["action"]["shape"] == [4, 4] and meta["auth"] == "none"
        assert meta["policy"]["name"] == "fake" and meta["safety"] is None
        obs = good_obs(1)
        reply = client.infer(obs)
        assert reply["actions"].dtype == np.float32 and reply["actions"].shape == (4, 4)
        np.testing.assert_allclose(reply["actions"], expected_actions(obs), atol=1e-6)
        timing = reply["server_timing"]
        assert {"decode_ms", "queue_ms", "infer_ms", "safety_ms", "total_ms"} <= set(timing)
        assert timing["total_ms"] >= timing["infer_ms"] >= 0


def test_round_trip_with_openpi_client_unchanged(fake_server):
    policy = WebsocketClientPolicy(fake_server.url)
    try:
        meta = policy.get_server_metadata()
        assert set(meta["observation"]) == {keys.image_key("corner2"), keys.STATE, "prompt"}
        obs = good_obs(2)
        out = policy.infer(obs)
        np.testing.assert_allclose(out["actions"], expected_actions(obs), atol=1e-6)
        assert "error" in policy.infer({"prompt": "only"})  # an error reply, and the connection lives on
        assert policy.infer(obs)["actions"].shape == (4, 4)
    finally:
        policy._ws.close()


def test_replies_in_order_and_per_client_state(fake_server):
    with PolicyClient(fake_server.url) as a, PolicyClient(fake_server.url) as b:
        counts_a = [a.infer(good_obs(i))["policy_info"]["session_requests"] for i in range(5)]
        counts_b = [b.infer(good_obs(i))["policy_info"]["session_requests"] for i in range(2)]
        assert counts_a == [1, 2, 3, 4, 5] and counts_b == [1, 2]
        a.reset()
        assert a.infer(good_obs(0))["policy_info"]["session_requests"] == 1
        assert a.infer(good_obs(0))["policy_info"]["session_requests"] == 2


def test_pipelined_requests_answered_in_order(fake_server):
    from vlastack.serving import msgpack_numpy

    from .conftest import raw_connect

    ws = raw_connect(fake_server.url)
    states = [good_obs(i) for i in range(6)]
    for obs in states:  # all sent before any reply is read
        ws.send(msgpack_numpy.packb(obs))
    for obs in states:
        reply = msgpack_numpy.unpackb(ws.recv(timeout=10))
        np.testing.assert_allclose(reply["actions"], expected_actions(obs), atol=1e-6)
    ws.close()


class GatedRunner(FakeRunner):
    """A FakeRunner whose "slow" requests stay inside ``infer`` until the test opens the gate."""

    def __init__(self) -> None:
        super().__init__()
        self.entered, self.gate = threading.Event(), threading.Event()

    def infer(self, obs, state):
        if obs["prompt"] == "slow":
            self.entered.set()
            self.gate.wait(timeout=30)  # a safety net only: the test opens the gate
        return super().infer(obs, state)


def test_slow_client_does_not_stall_others():
    # No timing: the slow request is held inside the policy while another client is served in full.
    runner = GatedRunner()
    with running(runner, workers=4) as server:
        slow = PolicyClient(server.url)
        done = threading.Event()
        worker = threading.Thread(target=lambda: (slow.infer(good_obs(0, prompt="slow")), done.set()))
        worker.start()
        try:
            assert runner.entered.wait(10), "the slow request never reached the policy"
            idle = PolicyClient(server.url)  # a second client that connects and never sends anything
            with PolicyClient(server.url, timeout_s=10) as fast:  # a stalled server would time out here
                replies = [fast.infer(good_obs(i)) for i in range(10)]
            assert all(r["actions"].shape == (4, 4) for r in replies)
            assert not done.is_set()  # all ten were answered while the slow one was still being computed
        finally:
            runner.gate.set()
        worker.join(10)
        assert done.is_set()
        idle.close()
        slow.close()


@pytest.mark.parametrize("token_sent, ok", [(None, False), ("wrong", False), ("s3cret-x", False), ("s3cret", True)])
def test_token_refusal(token_sent, ok):
    with running(token="s3cret") as server:
        if ok:
            with PolicyClient(server.url, token=token_sent) as client:
                assert client.metadata["auth"] == "token"
                assert client.infer(good_obs())["actions"].shape == (4, 4)
            policy = WebsocketClientPolicy(server.url, api_key=token_sent)  # openpi's api_key header works too
            assert policy.infer(good_obs())["actions"].shape == (4, 4)
            policy._ws.close()
        else:
            with pytest.raises(ConnectionRefused, match="HTTP 401"):
                PolicyClient(server.url, token=token_sent)
            with pytest.raises(Exception, match="401"):
                WebsocketClientPolicy(server.url, api_key=token_sent)
            assert server.server.stats["refused"] >= 2 and not server.server.sessions


def test_health_check_and_capacity():
    with running(max_clients=1) as server:
        http_url = server.url.replace("ws://", "http://") + "/healthz"
        assert urllib.request.urlopen(http_url, timeout=5).read() == b"OK\n"
        with PolicyClient(server.url):
            with pytest.raises(ConnectionRefused, match="HTTP 503"):
                PolicyClient(server.url)


def test_safety_report_and_limits():
    with running(FakeRunner(horizon=8), safety="metaworld_sawyer") as server, PolicyClient(server.url) as client:
        assert client.metadata["safety"] == "metaworld_sawyer"
        obs = good_obs(0)
        reply = client.infer({**obs, keys.STATE: np.array([-9.0, -9.0, -9.0, 0.0], np.float32)})  # far outside the workspace
        report = reply["safety"]
        assert report["spec"] == "metaworld_sawyer" and report["steps"] == 8
        assert report["steps_changed"] >= 1 and report["interventions"] >= 1
        assert report["listed"][0]["check"] and report["listed"][0]["message"]
        assert np.all(np.abs(reply["actions"]) <= 1) and np.all(np.isfinite(reply["actions"]))
        calm = client.infer({**obs, keys.STATE: np.array([0.0, 0.6, 0.2, 0.0], np.float32)})
        assert calm["safety"]["steps"] == 8 and "safety_ms" in calm["server_timing"]


def test_safety_spec_must_fit_the_policy():
    with pytest.raises(ValueError, match="4-d actions"):
        with running(FakeRunner(action_dim=7), safety="metaworld_sawyer"):
            pass


def test_remote_policy_adapter_resizes_and_returns_a_chunk(fake_server):
    policy = RemotePolicy(fake_server.url)
    obs = Observation(images={"corner2": np.zeros((128, 128, 3), np.uint8)}, state=np.ones(4), instruction="reach")
    chunk = policy(obs)
    assert chunk.actions.shape == (1, 4, 4) and chunk.inference_ms > 0
    assert "server_timing" in chunk.info
    policy.reset()
    assert policy(obs).info["policy_info"]["session_requests"] == 1
    with pytest.raises(ServerError, match="non-finite"):
        policy(Observation(images={"corner2": np.zeros((32, 32, 3), np.uint8)}, state=np.full(4, np.nan), instruction="x"))
    policy.close()
