"""Which embodiments a policy was trained on: recorded by training from the dataset's episodes, kept in the
checkpoint, reported in the policy server's metadata (an extra key: openpi's client is unaffected), and the
safety spec the server uses by default."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from openpi_client.websocket_client_policy import WebsocketClientPolicy
from typer.testing import CliRunner

from vlastack import keys
from vlastack.embodiments import known_embodiment_ids, serving_safety_spec
from vlastack.errors import ConfigError
from vlastack.types import Episode

pytestmark = pytest.mark.filterwarnings("ignore:connect\\(\\) must be used as a context manager:DeprecationWarning")


def _episode(n: int, seed: int, env_task: str | None) -> Episode:
    rng = np.random.default_rng(seed)
    frames = {
        keys.image_key("corner2"): rng.integers(0, 256, (n, 32, 32, 3), dtype=np.uint8),
        keys.STATE: rng.normal(size=(n, 4)).astype(np.float32),
        keys.ACTION: np.tanh(rng.normal(size=(n, 4)).cumsum(0) * 0.2).astype(np.float32),
    }
    return Episode(task="reach the goal", frames=frames, fps=20, success=True, seed=seed, env_task=env_task)


def test_training_records_the_datasets_embodiments_in_the_checkpoint(tmp_path):
    import vlastack.cli.train  # noqa: F401  (registers the command)
    from vlastack.cli.app import app
    from vlastack.episodes.writer import DatasetWriter
    from vlastack.policies import load_policy

    torch.set_num_threads(1)
    data = tmp_path / "data"
    writer = DatasetWriter(data)
    for i, task in enumerate(("reach-v3", "push-v3", None)):  # an episode from elsewhere names no task
        writer.add_episode(_episode(9, i, task))
    run = CliRunner().invoke(
        app, ["train", "--preset", "debug", "--dataset", str(data), "--out", str(tmp_path / "run"), "--steps", "1", "--no-progress"]
    )
    assert run.exit_code == 0, run.output
    ckpt = tmp_path / "run" / "checkpoints" / "step_00000001"
    assert json.loads((ckpt / "config.json").read_text())["data"] == {"image_size": [32, 32], "embodiments": ["metaworld_sawyer"]}
    assert load_policy(ckpt).embodiments == ("metaworld_sawyer",)


def _checkpoint(path, embodiments: list[str] | None):
    from vlastack.policies import PRESETS
    from vlastack.policies.untrained import untrained_policy

    policy = untrained_policy(PRESETS.get("debug").policy)
    policy.data_info = {"image_size": [32, 32], **({"embodiments": embodiments} if embodiments is not None else {})}
    return policy.save_pretrained(path)


def test_the_server_reports_the_embodiments_and_openpi_clients_still_work(tmp_path):
    from vlastack.serving.checkpoint import CheckpointRunner
    from vlastack.serving.runners import FakeRunner
    from vlastack.serving.server import PolicyServer, ServerConfig, ServerThread

    torch.set_num_threads(1)
    runner = CheckpointRunner(_checkpoint(tmp_path / "p", ["metaworld_sawyer"]))
    assert runner.metadata()["embodiments"] == ["metaworld_sawyer"]
    server = PolicyServer(runner, ServerConfig(port=0, safety=serving_safety_spec(runner.policy.embodiments)))
    with ServerThread(server) as thread:
        openpi = WebsocketClientPolicy(thread.url)
        meta = openpi.get_server_metadata()
        (sawyer,) = meta["embodiments"]
        assert sawyer["id"] == "metaworld_sawyer" and sawyer["safety_spec"] == "metaworld_sawyer" == meta["safety"]
        assert sawyer["native_action"] == ["dx", "dy", "dz", "grip"] and sawyer["yaw_deg"] == 90.0
        assert sawyer["shared_action"] == ["dx_m", "dy_m", "dz_m", "grip"]
        obs = {
            keys.image_key("corner2"): np.zeros((32, 32, 3), np.uint8),
            keys.STATE: np.array([0.0, 0.6, 0.2, 1.0], np.float32),
            "prompt": "reach the goal",
        }
        assert openpi.infer(obs)["actions"].shape == (runner.config.horizon, runner.config.action_dim)
        openpi._ws.close()
    # A policy that records none (older checkpoints, stand-ins): the metadata has no such key at all.
    assert "embodiments" not in PolicyServer(FakeRunner(), ServerConfig(port=0)).metadata()
    old = CheckpointRunner(_checkpoint(tmp_path / "old", None))
    assert old.policy.embodiments == () and "embodiments" not in PolicyServer(old, ServerConfig(port=0)).metadata()


def test_the_default_serving_spec_is_the_embodiments_own():
    assert serving_safety_spec([]) == "metaworld_sawyer"  # checkpoints from before embodiments were recorded
    assert serving_safety_spec(["robosuite_jaco"]) == "robosuite_jaco"
    with pytest.raises(ConfigError, match="different safety specs"):
        serving_safety_spec(["robosuite_panda", "robosuite_ur5e"])
    assert serving_safety_spec(["robosuite_pandaomron"]) == "robosuite_pandaomron"  # the wheeled robot's, since 2026-12-07
    with pytest.raises(ConfigError, match=r"no safety spec for the embodiments \['a_robot_from_the_future'\]"):
        serving_safety_spec(["a_robot_from_the_future"])


def test_only_known_single_robot_tasks_name_an_embodiment():
    tasks = ["rs-lift-iiwa", "", None, "rs-twoarmlift-panda", "not-a-task", "reach-v3", "rs-lift-iiwa"]
    assert known_embodiment_ids(tasks) == ["metaworld_sawyer", "robosuite_iiwa"]


def test_a_fine_tune_adds_the_embodiments_of_its_new_data(tmp_path):
    from vlastack.data.windows import WindowDataset, collate
    from vlastack.episodes.reader import DatasetReader
    from vlastack.episodes.writer import DatasetWriter
    from vlastack.policies import PRESETS, load_policy
    from vlastack.training.loop import train

    torch.set_num_threads(1)
    writer = DatasetWriter(tmp_path / "data")
    writer.add_episode(_episode(9, 0, "reach-v3"))
    reader = DatasetReader(tmp_path / "data")
    preset = PRESETS.get("debug")
    data = WindowDataset(reader, action_horizon=preset.policy.horizon, image_keys=[keys.image_key("corner2")])
    start = _checkpoint(tmp_path / "start", ["metaworld_sawyer"])
    from dataclasses import replace

    tcfg = replace(preset.train, steps=1, save_every=1, warmup_steps=0)
    info = {"image_size": [32, 32], "embodiments": ["robosuite_panda", "metaworld_sawyer"]}
    done = train(
        preset.policy, tcfg, data, collate, tmp_path / "run", init_from=start, data_info=info, progress=False, instructions=reader.tasks
    )
    assert load_policy(done.checkpoint).embodiments == ("metaworld_sawyer", "robosuite_panda")
