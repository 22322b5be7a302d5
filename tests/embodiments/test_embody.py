"""``vlastack data embody`` and the shared-space policy end to end (issue 17 item 3, the anchor pair): one short
Meta-World (reach-v3) and one robosuite Sawyer (rs-lift-sawyer) demonstration rewritten as one dataset in the
shared spaces; actions, state, cameras and episode records checked against the sources; the refusals; an
interrupted run resumed; then a tiny policy trained on it and evaluated on each suite through the adapter."""

from __future__ import annotations

import json
import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from tests.conftest import need_robosuite, synthetic_episode
from vlastack import keys
from vlastack.embodiments import embodiment_for_task
from vlastack.embodiments.embody import EmbodyConfig, embody
from vlastack.embodiments.observation import SHARED_STATE_NAMES, shared_state
from vlastack.errors import ConfigError

pytestmark = pytest.mark.slow

MW, RS = "reach-v3", "rs-lift-sawyer"
SIZE = 32


@pytest.fixture(scope="module")
def sources(tmp_path_factory):
    """One demonstration of each suite at 32 px, both cameras of each."""
    need_robosuite()
    from vlastack.envs.collect import CollectConfig, collect

    root = tmp_path_factory.mktemp("sources")
    mw, rs = root / "mw", root / "rs"
    collect(CollectConfig(tasks=(MW,), episodes=1, out=mw, image_size=SIZE, cameras=("corner2", "gripperPOV")), progress=False)
    collect(CollectConfig(tasks=(RS,), episodes=1, out=rs, image_size=SIZE, cameras=("agentview", "robot0_eye_in_hand")), progress=False)
    yield mw, rs
    from vlastack.envs import collect as collecting

    collecting._ENVS.clear()  # the kept scenes closed now, not at exit


@pytest.fixture(scope="module")
def embodied(sources, tmp_path_factory):
    out = tmp_path_factory.mktemp("embodied") / "both"
    summary = embody(EmbodyConfig(datasets=sources, out=out), progress=False)
    assert summary.episodes == {"metaworld_sawyer": 1, "robosuite_sawyer": 1}
    return out


def test_actions_are_the_shared_ones_and_map_back_to_the_recorded_native_ones(sources, embodied):
    from vlastack.episodes.reader import DatasetReader

    new = DatasetReader(embodied)
    assert new.info["action_space"] == "shared" and new.features[keys.ACTION]["shape"] == [11]
    for e, src in enumerate(sources):
        native = DatasetReader(src).read_columns(0)[keys.ACTION]
        shared = new.read_columns(e)[keys.ACTION]
        emb = embodiment_for_task(new.episode_meta(e)["vlastack/env_task"])
        np.testing.assert_allclose(emb.to_native(shared), native, rtol=1e-5, atol=1e-6)
        assert np.all(shared[:, ~emb.mask] == 0.0)  # padding: Meta-World's rotation, both robots' extras
        assert np.abs(shared[:, :3]).max() < 0.02  # metres per step, not native units


def test_state_is_the_hand_from_the_table_centre_in_the_shared_frame_and_the_gripper(sources, embodied):
    from vlastack.episodes.reader import DatasetReader

    new = DatasetReader(embodied)
    assert new.features[keys.STATE]["names"] == list(SHARED_STATE_NAMES)
    mw_native = DatasetReader(sources[0]).read_columns(0)[keys.STATE]  # ee_x, ee_y, ee_z (world), gripper_open
    rs_native = DatasetReader(sources[1]).read_columns(0)[keys.STATE]  # ee xyz, quaternion, gripper_open
    mw, rs = new.read_columns(0)[keys.STATE], new.read_columns(1)[keys.STATE]
    # Meta-World: forward = world +y from y = 0.6, left = world -x, up = z above the table top at 0.
    np.testing.assert_allclose(mw, np.c_[mw_native[:, 1] - 0.6, -mw_native[:, 0], mw_native[:, 2], mw_native[:, 3]], atol=1e-6)
    # robosuite: the world frame from Lift's table centre (0, 0, 0.8); the quaternion dropped.
    np.testing.assert_allclose(rs, np.c_[rs_native[:, :2], rs_native[:, 2] - 0.8, rs_native[:, 7]], atol=1e-6)
    for start in (mw[0], rs[0]):  # both hands start near the table centre, about 0.2 m above it
        assert abs(start[0]) < 0.15 and abs(start[1]) < 0.2 and 0.15 < start[2] < 0.25 and start[3] > 0.9


def test_cameras_are_the_slots_and_the_episodes_keep_task_and_robot(sources, embodied):
    from vlastack.embodiments import dataset_embodiment_ids
    from vlastack.episodes.reader import DatasetReader

    new = DatasetReader(embodied)
    assert new.cameras == ["front", "wrist"]
    for e, (src, native_cams) in enumerate(zip(sources, (("corner2", "gripperPOV"), ("agentview", "robot0_eye_in_hand")))):
        old = DatasetReader(src).episode(0)
        ep = new.episode(e)
        for slot, cam in zip(("front", "wrist"), native_cams):
            got, want = ep.frames[keys.image_key(slot)].astype(float), old.frames[keys.image_key(cam)].astype(float)
            assert got.shape == want.shape == (len(old), SIZE, SIZE, 3)
            assert np.abs(got - want).mean() < 6  # the same pictures, re-encoded
        assert ep.task == old.task and ep.env_task == old.env_task and ep.seed == old.seed
        meta = new.episode_meta(e)
        assert meta["vlastack/embodiment"] == embodiment_for_task(old.env_task).id
        assert meta["vlastack/control_hz"] == (80, 20)[e] and meta["vlastack/source"].endswith("#0")
    assert dataset_embodiment_ids(new) == ["metaworld_sawyer", "robosuite_sawyer"]


def test_image_size_resizes_every_slot(sources, tmp_path):
    from vlastack.episodes.reader import DatasetReader

    embody(EmbodyConfig(datasets=sources, out=tmp_path / "small", image_size=16, cameras=("front",)), progress=False)
    r = DatasetReader(tmp_path / "small")
    assert r.cameras == ["front"] and r.features[keys.image_key("front")]["shape"] == [16, 16, 3]


def _synthetic_dataset(root: Path, env_task: str) -> Path:
    from vlastack.episodes.writer import DatasetWriter

    DatasetWriter(root).add_episode(replace(synthetic_episode(5, 0, size=16), env_task=env_task))
    return root


def test_refusals_name_the_dataset_and_what_is_missing(sources, embodied, tmp_path):
    mw, rs = sources
    corner_only = _synthetic_dataset(tmp_path / "corner_only", MW)  # Meta-World's layout, corner2 alone
    with pytest.raises(ConfigError, match=rf"{corner_only} has no camera 'gripperPOV' for the 'wrist' slot"):
        embody(EmbodyConfig(datasets=(corner_only, rs), out=tmp_path / "x"), progress=False)
    unknown = _synthetic_dataset(tmp_path / "unknown", "mystery-v9")
    with pytest.raises(ConfigError, match=rf"episode 0 of {unknown} \(mystery-v9\) cannot be mapped"):
        embody(EmbodyConfig(datasets=(mw, unknown), out=tmp_path / "x", cameras=("front",)), progress=False)
    nameless = _synthetic_dataset(tmp_path / "nameless", "")
    with pytest.raises(ConfigError, match="names no vlastack/env_task: its robot is unknown"):
        embody(EmbodyConfig(datasets=(nameless,), out=tmp_path / "x", cameras=("front",)), progress=False)
    with pytest.raises(ConfigError, match="already in the shared action space"):
        embody(EmbodyConfig(datasets=(embodied,), out=tmp_path / "x"), progress=False)
    with pytest.raises(ConfigError, match="already exists"):
        EmbodyConfig(datasets=sources, out=embodied)
    with pytest.raises(ConfigError, match="unknown camera slots \\['top'\\]"):
        EmbodyConfig(datasets=sources, out=tmp_path / "x", cameras=("top",))
    assert not (tmp_path / "x").exists()  # nothing written by a refused run


def test_an_interrupted_run_resumes_after_its_last_episode(sources, tmp_path, monkeypatch):
    from vlastack.embodiments import embody as module
    from vlastack.episodes.reader import DatasetReader

    real, calls = module.embody_episode, []

    def dies_on_the_second(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(module, "embody_episode", dies_on_the_second)
    out = tmp_path / "both"
    with pytest.raises(KeyboardInterrupt):
        embody(EmbodyConfig(datasets=sources, out=out), progress=False)
    assert not out.exists() and (tmp_path / ".tmp-embody-both").is_dir()  # never half written under its name
    with pytest.raises(ConfigError, match="interrupted embody run of other settings"):
        embody(EmbodyConfig(datasets=sources, out=out, image_size=16), progress=False)
    monkeypatch.setattr(module, "embody_episode", real)
    summary = embody(EmbodyConfig(datasets=sources, out=out), progress=False)
    assert summary.resumed_from == 1 and DatasetReader(out).num_episodes == 2 and not (tmp_path / ".tmp-embody-both").exists()


def test_the_adapter_maps_observations_in_and_chunks_out():
    from vlastack.embodiments.adapter import SharedSpacePolicy, is_shared_space
    from vlastack.types import ActionChunk, Observation

    class Inner:
        cameras, image_size, depth, execute_steps = ("front", "wrist"), 32, False, None

        def __init__(self):
            self.seen = []

        def observe(self, o):
            self.seen.append(o)

        def __call__(self, o):
            self.asked = o
            chunk = np.zeros((1, 2, 11), dtype=np.float32)
            chunk[..., 0], chunk[..., 6] = 0.0093, 1.0  # 9.3 mm forward, close
            return ActionChunk(chunk)

        def reset(self, seed):
            self.seen.clear()

    assert is_shared_space({"action_space": "shared"}) and not is_shared_space({}) and not is_shared_space(None)
    inner = Inner()
    policy = SharedSpacePolicy(inner, MW)
    assert policy.cameras == ("corner2", "gripperPOV")
    im = np.zeros((32, 32, 3), np.uint8)
    raw = Observation(
        images={"corner2": im, "gripperPOV": im + 1}, state=np.array([0.1, 0.7, 0.2, 1.0], np.float32), instruction="x", touch=np.ones(2)
    )
    policy.observe(raw)
    native = policy(raw).actions
    assert inner.asked is inner.seen[-1]  # the same mapped object the history holds
    assert set(inner.asked.images) == {"front", "wrist"} and inner.asked.touch is None and inner.asked.images["wrist"][0, 0, 0] == 1
    np.testing.assert_allclose(inner.asked.state, [0.1, -0.1, 0.2, 1.0], atol=1e-6)
    np.testing.assert_allclose(native[0, 0], [0.0, 1.0, 0.0, 1.0], atol=1e-6)  # forward is Meta-World's +y: 1 unit
    assert math.isclose(shared_state(policy.embodiment, raw.state, ["ee_x", "ee_y", "ee_z", "gripper_open"])[2], 0.2, abs_tol=1e-6)


def test_a_policy_trained_on_both_suites_runs_each_through_the_adapter(embodied, tmp_path):
    from vlastack.cli import app

    run = tmp_path / "run"
    args = ["train", "--preset", "l1-debug", "--dataset", str(embodied), "--out", str(run), "--steps", "2", "--save-every", "2"]
    args += [
        "--cpu",
        "--no-progress",
        "--cameras",
        "front,wrist",
        "--no-touch",
        "--set",
        "policy.state_dim=4",
        "--set",
        "policy.action_dim=11",
    ]
    r = CliRunner().invoke(app, args)
    assert r.exit_code == 0, r.output
    checkpoint = run / "checkpoints" / "step_00000002"
    data = json.loads((checkpoint / "config.json").read_text())["data"]
    assert data["action_space"] == "shared" and data["embodiments"] == ["metaworld_sawyer", "robosuite_sawyer"]
    report = tmp_path / "report"
    args = ["eval", "--checkpoint", str(checkpoint), "--tasks", f"{MW},{RS}", "--episodes", "1", "--max-steps", "5"]
    r = CliRunner().invoke(app, [*args, "--videos", "0", "--no-progress", "--json", "--report", str(report)])
    assert r.exit_code == 0, r.output
    episodes = json.loads((report / "results.json").read_text())["episodes"]
    assert [e["task"] for e in episodes] == [MW, RS]
    for e in episodes:
        assert e["error"] is None and e["steps"] == 5
        assert e["limits"]["spec"] == embodiment_for_task(e["task"]).safety_spec  # each behind its own robot's layer
    from vlastack.evaluation import runner

    runner.close_envs()  # the simulator's scenes closed now, not at interpreter exit
