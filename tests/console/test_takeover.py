"""A person takes over from the policy in the console: their commands go through the safety layer, the
policy's proposals are still recorded beside them, handing back makes the policy plan afresh, STOP wins
over the person too; and ``record`` writes every finished episode, takeover flags included, as a dataset
that ``vlastack dataset info`` and ``vlastack improve``'s WindowDataset read."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.console.conftest import ScriptedActor
from vlastack.console.config import ConsoleConfig
from vlastack.console.state import HOLD, OPERATOR, POLICY, RUNNING, STOPPED
from vlastack.errors import ConfigError
from vlastack.improve.interventions import INTERVENTION, POLICY_ACTION, assisted_feature_names

PROPOSAL = (0.5, 0.2, 0.0, -1.0)  # what the test actor proposes on every step


def _step(session, n=1):
    for _ in range(n):
        assert session.step()
    return session.state()


def test_take_over_holds_still_then_sends_the_persons_command_and_keeps_the_proposal(make_session):
    actor = ScriptedActor(action=PROPOSAL)
    session = make_session(actor)
    s = _step(session)
    assert s["last_source"] == POLICY and s["last_action"] == pytest.approx(PROPOSAL)
    session.take_over()
    s = _step(session)
    assert s["operator"]["in_control"] and s["last_source"] == OPERATOR
    assert s["last_action"] == [0.0, 0.0, 0.0, PROPOSAL[3]]  # the hold: no motion, gripper as it was
    assert s["last_proposed"] == pytest.approx(PROPOSAL)  # the policy was still asked
    session.command([-0.4, 0.3, 0.2, 1.0])
    s = _step(session, 2)
    assert s["last_action"] == pytest.approx([-0.4, 0.3, 0.2, 1.0])
    assert s["operator"]["command"] == pytest.approx([-0.4, 0.3, 0.2, 1.0])
    assert (s["operator"]["steps"], s["operator"]["takeovers"]) == (3, 1)


def test_the_persons_command_passes_through_the_safety_layer(make_session):
    session = make_session()
    session.command([0.0, 0.0, 1.0, -1.0])  # straight up, held: the hand reaches the workspace's ceiling
    s = _step(session, 30)
    assert s["last_source"] == OPERATOR and s["operator"]["command"] == [0.0, 0.0, 1.0, -1.0]
    assert s["interventions_total"] > 0 and "workspace" in s["interventions"][-1]["checks"]
    assert s["last_action"][2] < 0.9  # what reached the simulator is the layer's, slowed near the bound


def test_handing_back_makes_the_policy_plan_afresh(make_session):
    actor = ScriptedActor(action=PROPOSAL)
    session = make_session(actor)
    session.command([0.3, 0.0, 0.0, -1.0])
    _step(session, 3)
    assert actor.resumes == 0
    session.hand_back()
    s = _step(session)
    assert actor.resumes == 1  # the executor was reset before this step's inference
    assert s["last_source"] == POLICY and s["last_action"] == pytest.approx(PROPOSAL) and not s["operator"]["in_control"]
    _step(session)
    assert actor.resumes == 1  # once per hand-back, not on every policy step


def test_a_stream_that_releases_the_operator_directly_hands_back_too(make_session):
    actor = ScriptedActor()
    session = make_session(actor)
    session.operator.command([0.0, 0.5, 0.0, -1.0])  # a teleoperation device's thread, not the page
    assert _step(session)["last_source"] == OPERATOR
    session.operator.release()
    assert _step(session)["last_source"] == POLICY and actor.resumes == 1


def test_stop_wins_over_the_persons_command(make_session):
    actor = ScriptedActor()
    session = make_session(actor)
    session.command([0.8, 0.0, 0.0, 1.0])
    _step(session, 2)
    pressed = session.stop()
    s = _step(session)
    assert s["status"] == STOPPED and s["halted_at"] == pressed + 1
    assert s["last_source"] == HOLD and s["last_action"] == [0.0, 0.0, 0.0, 1.0]
    assert s["operator"]["command"] == [0.0, 0.0, 0.0, 1.0]  # the motion is dropped, the grip kept
    session.command([0.8, 0.0, 0.0, 1.0])  # a key held during the stop ...
    assert not session.step()  # ... moves nothing while stopped
    session.resume()
    s = _step(session)
    assert s["status"] == RUNNING and s["last_source"] == OPERATOR and s["last_action"] == [0.0, 0.0, 0.0, 1.0]
    # A stop pressed while the policy is thinking holds that very step, with the person driving too.
    session.command([0.8, 0.0, 0.0, 1.0])
    actor.during_inference = session.stop
    s = _step(session)
    assert s["last_source"] == HOLD and s["last_action"][:3] == [0.0, 0.0, 0.0]


def test_bad_commands_are_refused_naming_the_field(make_session):
    session = make_session()
    cases = [
        ([0.0, 0.0, 2.0, 0.0], r"'action'\[2\] \(dz\) must be in \[-1, 1\], got 2.0"),
        ([0.0, "left", 0.0, 0.0], r"'action'\[1\] \(dy\) must be a number, got 'left'"),
        ([True, 0.0, 0.0, 0.0], r"'action'\[0\] \(dx\) must be a number"),
        ([0.0, 0.0, 0.0, float("nan")], r"'action'\[3\] \(gripper\) must be in \[-1, 1\]"),
        ([0.0, 0.0, 0.0], r"field 'action' must be a list of 4 numbers"),
        (None, r"field 'action' must be a list of 4 numbers"),
    ]
    for value, message in cases:
        with pytest.raises(ConfigError, match=message):
            session.command(value)
    assert not session.state()["operator"]["in_control"]  # a refused command does not take over
    with pytest.raises(ConfigError, match="teleop_speed must be in"):
        ConsoleConfig(experts=True, teleop_speed=0.0)


def test_a_new_episode_starts_with_the_policy_in_control(make_session):
    session = make_session(max_steps=3)
    session.command([0.0, 0.3, 0.0, -1.0])
    s = _step(session, 4)  # three steps end episode 0
    assert s["episode"] == 1 and s["last_source"] == POLICY and not s["operator"]["in_control"]
    assert any("you drove 3 of its steps" in c["text"] for c in s["chat"])


def test_recorded_episodes_flag_the_takeover_steps_and_keep_the_proposals(make_session, tmp_path):
    from typer.testing import CliRunner

    from vlastack.cli.app import app
    from vlastack.data.windows import WindowDataset
    from vlastack.envs.rollout import SAFETY_HELD, SAFETY_INTERVENTIONS
    from vlastack.episodes.reader import DatasetReader

    out = tmp_path / "takeovers"
    actor = ScriptedActor(action=PROPOSAL)
    session = make_session(actor, max_steps=6, seed=3, record=out)
    _step(session)  # 0: the policy
    session.take_over()
    _step(session)  # 1: the person, holding still
    session.command([0.0, 0.4, 0.0, 1.0])
    _step(session)  # 2: the person's command
    session.stop()
    _step(session)  # 3: the stop's hold (not the person's choice of action)
    session.resume()
    _step(session)  # 4: the person again, motion zeroed by the stop
    session.hand_back()
    _step(session)  # 5: the policy; the episode's step limit ends it here
    session.flush_recording()
    s = session.state()
    assert s["recording"] == {"dir": str(out), "written": 1, "pending": 0, "failed": 0, "total": 1}
    assert any("recorded as episode 0" in c["text"] and "3 yours" in c["text"] for c in s["chat"])

    reader = DatasetReader(out)
    assert reader.num_episodes == 1
    for key, names in assisted_feature_names().items():
        assert reader.features[key]["names"] == names, key
    assert {"observation.images.corner2", "observation.images.gripperPOV", "observation.environment_state"} <= set(reader.features)
    cols = reader.read_columns(0)
    flags = np.asarray(cols[INTERVENTION]).reshape(-1).astype(bool)
    assert flags.tolist() == [False, True, True, False, True, False]
    proposals = np.asarray(cols[POLICY_ACTION])
    expected = np.array([PROPOSAL] * 6, np.float32)
    expected[3] = 0.0  # no proposal was sent on the hold
    np.testing.assert_allclose(proposals, expected)
    applied = np.asarray(cols["action"])
    np.testing.assert_allclose(applied[1:5], [[0, 0, 0, -1], [0, 0.4, 0, 1], [0, 0, 0, 1], [0, 0, 0, 1]], atol=1e-6)
    np.testing.assert_allclose(applied[[0, 5]], [PROPOSAL, PROPOSAL], atol=1e-6)
    # The layer passed every one of these as sent (the stop's hold is the console's own, not the layer's).
    assert not np.asarray(cols[SAFETY_HELD]).any() and not np.asarray(cols[SAFETY_INTERVENTIONS]).any()
    meta = reader.episode_meta(0)
    assert (meta["vlastack/seed"], meta["vlastack/env_task"]) == (3, "drawer-open-v3")

    result = CliRunner().invoke(app, ["dataset", "info", str(out), "--json"])
    assert result.exit_code == 0, result.output
    info = json.loads(result.output)
    assert info["episodes"] == 1 and info["frames"] == 6 and info["features"][INTERVENTION]["dtype"] == "bool"

    windows = WindowDataset(reader, action_horizon=2, label_key=INTERVENTION)  # what improve's fine-tuning reads
    assert len(windows) == 3  # one sample per frame the person drove


def test_cut_short_episodes_are_not_recorded_and_a_second_session_adds_to_the_dataset(make_session, tmp_path):
    out = tmp_path / "takeovers"
    session = make_session(max_steps=3, record=out)
    _step(session, 4)  # episode 0 finishes; episode 1 has one step
    session.new_episode()
    _step(session)
    session.flush_recording()
    s = session.state()
    assert s["recording"]["written"] == 1
    assert any("episode 1 was cut short after 1 steps: not recorded" in c["text"] for c in s["chat"])

    again = make_session(max_steps=3, record=out, seed=10)
    assert any("(1 there already)" in c["text"] for c in again.state()["chat"])
    _step(again, 3)
    again.flush_recording()
    assert again.state()["recording"]["total"] == 2


def test_record_refuses_a_dataset_without_the_takeover_columns(make_session, tmp_path):
    from vlastack.episodes.writer import DatasetWriter
    from vlastack.types import Episode

    demos = tmp_path / "demos"
    frames = {"observation.state": np.zeros((3, 4), np.float32), "action": np.zeros((3, 4), np.float32)}
    DatasetWriter(demos).add_episode(Episode(task="open the drawer", frames=frames, fps=80))
    with pytest.raises(ConfigError, match="without the 'intervention' column"):
        make_session(record=demos)
    (tmp_path / "file").write_text("x")
    with pytest.raises(ConfigError, match="is a file"):
        make_session(record=tmp_path / "file")


def test_record_refuses_a_dataset_of_other_cameras_and_reports_a_failed_write(make_session, tmp_path, monkeypatch):
    out = tmp_path / "takeovers"
    session = make_session(max_steps=2, record=out)
    _step(session, 2)
    session.flush_recording()
    with pytest.raises(ConfigError, match="was recorded with cameras"):
        make_session(max_steps=2, record=out, cameras=("corner2",))
    # A write that fails is told in the chat and counted; the session goes on.
    from vlastack.episodes.writer import DatasetWriter

    def disk_full(self, episode):
        raise OSError("No space left on device")

    monkeypatch.setattr(DatasetWriter, "add_episode", disk_full)
    _step(session, 2)
    session.flush_recording()
    s = session.state()
    assert s["recording"]["failed"] == 1 and s["recording"]["written"] == 1 and s["status"] == RUNNING
    assert any("episode 1 (seed 1) was not recorded (OSError: No space left on device)" in c["text"] for c in s["chat"])
    assert session.step()
