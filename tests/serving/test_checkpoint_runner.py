"""A real (tiny, debug preset) checkpoint behind the server: spec from its config, same actions as in-process, the CLI."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time

import numpy as np
import pytest
import torch
from openpi_client.websocket_client_policy import WebsocketClientPolicy

from vlastack import keys
from vlastack.checkpoint import resolve_checkpoint
from vlastack.policies import PRESETS, VLAPolicy, batch_from_observation
from vlastack.policies.untrained import untrained_policy
from vlastack.serving.checkpoint import CheckpointRunner
from vlastack.serving.client import PolicyClient, ServerError, resize_image
from vlastack.types import Observation

from .conftest import good_obs, running

pytestmark = pytest.mark.filterwarnings("ignore:connect\\(\\) must be used as a context manager:DeprecationWarning")


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    """A debug-preset policy (32 px, horizon 4) with stats and tokenizer fitted on fake samples, saved as a run."""
    torch.set_num_threads(1)
    policy = untrained_policy(PRESETS.get("debug").policy)
    run = tmp_path_factory.mktemp("run")
    return policy.save_pretrained(run / "checkpoints" / "step_00000008"), policy, run


def expected(policy: VLAPolicy, obs: dict, seed: int = 0) -> np.ndarray:
    cfg = policy.config
    noise = torch.randn((1, cfg.horizon, cfg.max_action_dim), generator=torch.Generator().manual_seed(seed))
    o = Observation(images={"corner2": obs[keys.image_key("corner2")]}, state=obs[keys.STATE], instruction=obs["prompt"])
    return policy.sample_actions(batch_from_observation(o), noise=noise).actions[0]


def test_spec_and_metadata_come_from_the_checkpoint(checkpoint):
    path, _, run = checkpoint
    assert resolve_checkpoint(run) == path
    runner = CheckpointRunner(run)
    assert [(a.key, a.shape, a.dtype) for a in runner.spec.arrays] == [
        (keys.image_key("corner2"), (32, 32, 3), "uint8"),
        (keys.STATE, (4,), "float32"),
    ]
    assert runner.spec.prompt and runner.action_spec.shape == (4, 4)
    meta = runner.metadata()
    assert meta["preset"] == "debug" and meta["variant"] == "hybrid" and meta["checkpoint"] == path.name


def test_served_actions_equal_in_process_actions(checkpoint):
    path, policy, _ = checkpoint
    obs = good_obs(5)
    want = expected(policy, obs)
    runner = CheckpointRunner(path)
    with running(runner) as server:
        for _ in range(2):  # each connection has its own noise generator: the same first chunk
            openpi = WebsocketClientPolicy(server.url)
            got = openpi.infer(obs)
            openpi._ws.close()
            assert got["policy_info"]["variant"] == "hybrid" and got["server_timing"]["infer_ms"] > 0
            np.testing.assert_allclose(got["actions"], want, atol=1e-5)
    with running(runner, safety="metaworld_sawyer") as server, PolicyClient(server.url) as client:
        reply = client.infer(obs)
        report = reply["safety"]
        assert report["spec"] == "metaworld_sawyer" and report["steps"] == 4
        changed = {item["chunk_step"] for item in report["listed"]}
        for step in range(4):
            if step not in changed:
                np.testing.assert_allclose(reply["actions"][step], want[step], atol=1e-5)


def test_image_size_override(checkpoint):
    path, _, _ = checkpoint
    with running(CheckpointRunner(path, image_size=(64, 64))) as server, PolicyClient(server.url) as client:
        assert client.metadata["observation"][keys.image_key("corner2")]["shape"] == [64, 64, 3]
        assert client.infer(good_obs(1, size=64))["actions"].shape == (4, 4)
        with pytest.raises(ServerError, match=r"must be uint8 \[64, 64, 3\], got uint8 \[32, 32, 3\]"):
            client.infer(good_obs(1, size=32))


@pytest.mark.parametrize("src, dst", [((128, 128), (32, 32)), ((20, 30), (32, 32)), ((96, 64), (40, 50))])
def test_client_resize_matches_the_policy_resize(src, dst):
    img = np.random.default_rng(0).integers(0, 256, (*src, 3), dtype=np.uint8)
    ref = (
        torch.nn.functional.interpolate(
            torch.from_numpy(img).permute(2, 0, 1)[None].float(), size=dst, mode="bilinear", align_corners=False
        )[0]
        .permute(1, 2, 0)
        .numpy()
    )
    assert np.abs(resize_image(img, dst).astype(np.float32) - ref).max() <= 0.5 + 1e-3


def test_cli_serve_smoke(checkpoint):
    _, _, run = checkpoint
    env = {**os.environ, "VLASTACK_SERVE_TOKEN": "tok"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "vlastack", "serve", "--checkpoint", str(run), "--port", "0", "--threads", "1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    try:
        deadline, url, lines = time.monotonic() + 60, None, []
        while url is None and time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line)
            found = re.search(r"serving on (ws://127\.0\.0\.1:\d+)", line)
            url = found.group(1) if found else None
        assert url, "".join(lines)
        assert any("observation keys: observation.images.corner2 uint8 [32, 32, 3]" in x for x in lines)
        with PolicyClient(url, token="tok") as client:
            assert client.infer(good_obs(0))["safety"]["spec"] == "metaworld_sawyer"
    finally:
        proc.terminate()
        proc.wait(10)
