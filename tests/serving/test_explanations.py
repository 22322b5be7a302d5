"""A hierarchical checkpoint behind the server: plan, subtask and reason arrive as extra reply keys at every
re-plan, one plan per connection; a flat policy's replies carry none of them; openpi clients are unaffected."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from openpi_client.action_chunk_broker import ActionChunkBroker
from openpi_client.websocket_client_policy import WebsocketClientPolicy

from vlastack.policies import PRESETS
from vlastack.policies.untrained import untrained_policy
from vlastack.reasoning.motion import describe_motion
from vlastack.serving.checkpoint import CheckpointRunner
from vlastack.serving.client import PolicyClient, RemotePolicy, explanation_of
from vlastack.serving.protocol import EXPLANATION_KEYS
from vlastack.types import Observation

from .conftest import good_obs, running

pytestmark = pytest.mark.filterwarnings("ignore:connect\\(\\) must be used as a context manager:DeprecationWarning")


def _save(tmp_path_factory, preset: str):
    torch.set_num_threads(1)
    config = PRESETS.get(preset).policy
    if preset.startswith("hier"):  # the word-hash text encoder: no MiniLM download in a test
        from dataclasses import replace

        config = replace(config, text_encoder="hash")
    return untrained_policy(config, samples=24).save_pretrained(tmp_path_factory.mktemp(preset) / "policy")


@pytest.fixture(scope="module")
def hier_checkpoint(tmp_path_factory):
    return _save(tmp_path_factory, "hier-debug")


@pytest.fixture(scope="module")
def flat_checkpoint(tmp_path_factory):
    return _save(tmp_path_factory, "l1-debug")


def test_a_hierarchical_policy_explains_every_reply(hier_checkpoint):
    runner = CheckpointRunner(hier_checkpoint)
    vocab = runner.config.subtasks
    with running(runner) as server, PolicyClient(server.url) as client:
        assert set(EXPLANATION_KEYS) <= set(client.metadata["reply"])
        for i in range(3):
            reply = client.infer(good_obs(i))
            assert set(EXPLANATION_KEYS) <= set(reply), sorted(reply)
            assert reply["subtask"] in vocab and reply["plan"][reply["plan_index"]] == reply["subtask"]
            assert 0.0 < reply["subtask_confidence"] <= 1.0
            # the reason speaks of this very chunk (no safety layer here: the actions are the policy's own)
            assert reply["reason"].endswith(describe_motion(reply["actions"]))
            np.testing.assert_allclose(reply["hand_motion_m"], reply["actions"][:, :3].sum(0) * 0.01, atol=1e-6)
            e = explanation_of(reply)
            assert (e.subtask, e.reason, list(e.plan), e.confidence) == (
                reply["subtask"],
                reply["reason"],
                reply["plan"],
                reply["subtask_confidence"],
            )
        assert reply["reason"] != "" and "starting the plan" not in reply["reason"]  # the third call continues a plan


def test_each_connection_has_its_own_plan_and_a_reset_starts_a_new_one(hier_checkpoint):
    runner = CheckpointRunner(hier_checkpoint)
    # the done-detector always fires: every re-plan counts the subtask in progress as done
    runner.policy.done_logit = lambda inputs, current, history: torch.full((current.shape[0],), 9.0)
    with running(runner) as server, PolicyClient(server.url) as a, PolicyClient(server.url) as b:
        assert [a.infer(good_obs(i))["plan_index"] for i in range(3)] == [0, 1, 2]
        first_b = b.infer(good_obs(0))
        assert first_b["plan_index"] == 0 and first_b["reason"].startswith("starting the plan")
        assert a.infer(good_obs(3))["plan_index"] == 3  # b's plan did not disturb a's
        a.reset()
        again = a.infer(good_obs(4))
        assert again["plan_index"] == 0 and again["reason"].startswith("starting the plan")


def test_remote_policy_and_openpi_clients(hier_checkpoint):
    with running(CheckpointRunner(hier_checkpoint)) as server:
        remote = RemotePolicy(server.url)
        obs = good_obs(0)
        chunk = remote(Observation(images={"corner2": obs["observation.images.corner2"]}, state=obs["observation.state"], instruction="x"))
        assert chunk.explanations is not None and chunk.explanations[0].subtask == chunk.info["subtask"]
        remote.close()
        openpi = WebsocketClientPolicy(server.url)
        try:
            broker = ActionChunkBroker(openpi, action_horizon=2)  # slices arrays per step, passes the rest through
            step = broker.infer(good_obs(1))
            assert step["actions"].shape == (4,) and isinstance(step["subtask"], str) and isinstance(step["plan"], list)
            assert broker.infer(good_obs(1))["subtask"] == step["subtask"]  # the same chunk's second step
        finally:
            openpi._ws.close()


def test_a_flat_policys_reply_has_no_explanation_keys(flat_checkpoint):
    with running(CheckpointRunner(flat_checkpoint)) as server, PolicyClient(server.url) as client:
        reply = client.infer(good_obs(0))
        assert reply["actions"].shape == (4, 4)
        assert not set(EXPLANATION_KEYS) & set(reply), sorted(reply)
        assert explanation_of(reply) is None
        remote = RemotePolicy(server.url)
        obs = good_obs(0)
        chunk = remote(Observation(images={"corner2": obs["observation.images.corner2"]}, state=obs["observation.state"], instruction="x"))
        assert chunk.explanations is None
        remote.close()
