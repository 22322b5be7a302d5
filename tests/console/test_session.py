"""The console session without a browser: stop within one step, corrections, clarification, the
explanations and the safety log it shows, bad configuration named by field."""

from __future__ import annotations

import numpy as np
import pytest

from tests.console.conftest import ScriptedActor
from vlastack.console.config import ConsoleConfig, parse_objects, scene_objects
from vlastack.console.state import ASKING, RUNNING, STOPPED
from vlastack.errors import ConfigError
from vlastack.reasoning.clarify import SceneObject


def _steps(session, n):
    for _ in range(n):
        assert session.step()


def test_stop_sends_the_hold_on_the_next_step_then_nothing_until_resume(make_session):
    actor = ScriptedActor(action=(0.6, 0.3, 0.2, 1.0))  # closing the gripper: the hold must keep it closed
    session = make_session(actor)
    _steps(session, 4)
    moving = session.state()
    assert moving["status"] == RUNNING and np.abs(moving["last_action"][:3]).max() > 0.1
    pressed = session.stop()
    assert session.step()  # the hold goes out in this step
    s = session.state()
    assert s["status"] == STOPPED
    assert (s["stop_requested_at"], s["halted_at"]) == (pressed, pressed + 1)
    assert s["last_action"][:3] == [0.0, 0.0, 0.0] and s["last_action"][3] == moving["last_action"][3]
    assert s["last_proposed"] is None  # the policy's proposal for that step was not sent
    calls = len(actor.instructions)
    assert not session.step() and not session.step()  # stopped: no step, no inference
    assert session.state()["total_steps"] == pressed + 1 and len(actor.instructions) == calls
    session.resume()
    assert session.step() and actor.resumes == 1  # the policy plans afresh, on the simulator thread
    assert session.state()["status"] == RUNNING and np.abs(session.state()["last_action"][:3]).max() > 0.1


def test_a_stop_pressed_during_inference_still_holds_that_step(make_session):
    actor = ScriptedActor(action=(0.8, 0.0, 0.0, -1.0))
    session = make_session(actor)
    _steps(session, 2)
    actor.during_inference = session.stop  # pressed while the policy is thinking about step 3
    assert session.step()
    s = session.state()
    assert s["halted_at"] - s["stop_requested_at"] == 1
    assert s["last_action"][:3] == [0.0, 0.0, 0.0]


def test_chat_stop_and_go_on_work_like_the_buttons(make_session):
    session = make_session()
    _steps(session, 2)
    session.chat("stop!")
    session.step()
    assert session.state()["status"] == STOPPED and session.state()["halted_at"] == 3
    session.chat("go on")
    assert session.state()["status"] == RUNNING and session.step()


def test_words_never_release_a_stop(make_session):
    actor = ScriptedActor()
    session = make_session(actor)
    session.step()
    session.stop()
    session.step()
    replies = session.chat("pull the drawer open")
    assert "press Resume" in replies[-1].text
    assert session.state()["status"] == STOPPED and not session.step()
    session.resume()
    assert session.step() and actor.instructions[-1] == "pull the drawer open"


def test_corrections_change_the_next_action_and_the_layer_still_checks_it(make_session):
    session = make_session(ScriptedActor(action=(0.8, 0.0, 0.0, -1.0)))
    _steps(session, 2)
    before = session.state()["last_action"][0]
    replies = session.chat("slower please")
    assert "speed now x0.50" in replies[0].text
    session.step()
    assert 0 < session.state()["last_action"][0] < before
    session.chat("move left a bit")
    session.step()
    assert session.state()["last_action"][0] < 0  # the nudge replaces the rightward motion until done
    session.chat("let go")
    session.step()
    assert session.state()["corrections"]["release"] and session.state()["last_action"][3] == -1.0


def test_an_instruction_reaches_the_policy_from_the_next_step(make_session):
    actor = ScriptedActor()
    session = make_session(actor)
    session.step()
    assert actor.instructions[-1] == session.state()["instruction"]  # the task's own at first
    replies = session.chat("pull the drawer open")
    assert "acting on the drawer" in replies[-1].text
    session.step()
    assert actor.instructions[-1] == "pull the drawer open" and session.state()["target"] == "drawer"


def test_an_ambiguous_instruction_asks_holds_and_continues_with_the_answer(make_session):
    actor = ScriptedActor()
    objects = (SceneObject("drawer", "drawer"), SceneObject("window", "window"))
    session = make_session(actor, objects=objects)
    _steps(session, 2)
    replies = session.chat("open it")
    assert replies[-1].text.startswith("Which one do you mean: the drawer or the window?")
    assert session.step()  # the hold
    s = session.state()
    assert s["status"] == ASKING and s["question"] and s["last_action"][:3] == [0.0, 0.0, 0.0]
    assert not session.step()  # waits for the answer
    replies = session.chat("the window")
    assert "acting on the window" in replies[-1].text
    assert session.step()
    assert session.state()["status"] == RUNNING and actor.instructions[-1] == "open it"
    assert session.state()["target"] == "window" and session.state()["question"] is None


def test_naming_another_object_retargets_and_a_full_sentence_is_an_instruction(make_session):
    actor = ScriptedActor()
    session = make_session(actor, objects=(SceneObject("drawer", "drawer"), SceneObject("window", "window")))
    replies = session.chat("pull the drawer open")  # names one object, and says what to do: an instruction
    assert "acting on the drawer" in replies[-1].text and session.state()["instruction"] == "pull the drawer open"
    replies = session.chat("no, the window")  # only says which: the same instruction, said of the window
    assert replies[-1].text.startswith("switching to the window")
    session.step()
    assert actor.instructions[-1] == "pull the window open" and session.state()["target"] == "window"


def test_the_page_is_told_where_subtask_and_reason_come_from(make_session):
    session = make_session()
    session.step()
    s = session.state()
    assert s["subtask"] == "move above the drawer handle"  # the drawer-open expert's first phase
    assert "so move" in s["reason"]
    assert "privileged simulator state" in s["explanation_source"]


def test_long_horizon_tasks_show_their_stages_as_the_plan(make_session):
    session = make_session(task="lh-drawer-open-close")
    session.step()
    s = session.state()
    assert s["plan"] == ["open the drawer", "close the drawer"] and s["plan_index"] == 0
    assert s["subtask"]


def test_safety_interventions_are_listed_with_their_reasons(make_session):
    session = make_session(ScriptedActor(action=(float("nan"), 0.0, 0.0, -1.0)))  # not a number: the layer holds
    _steps(session, 2)
    s = session.state()
    assert s["interventions_total"] == 2 and len(s["interventions"]) == 2
    assert s["last_action"][:3] == [0.0, 0.0, 0.0] and s["interventions"][0]["held"]
    assert s["interventions"][0]["messages"] and s["interventions"][0]["checks"]


def test_episodes_follow_each_other_and_frames_are_served(make_session):
    actor = ScriptedActor()
    session = make_session(actor, max_steps=3, seed=5)
    _steps(session, 4)  # three steps end episode 0; the fourth runs in episode 1
    s = session.state()
    assert (s["episode"], s["seed"], s["episode_step"]) == (1, 6, 1)
    assert actor.resets == [5, 6]
    assert any("episode 0 (seed 5)" in c["text"] for c in s["chat"])
    frame, image = session.frame("corner2")
    assert frame == s["frame"] and image.shape == (32, 32, 3) and image.std() > 0
    with pytest.raises(ConfigError, match="unknown camera 'top'"):
        session.frame("top")


def test_bad_configuration_names_the_field():
    with pytest.raises(ConfigError, match="safety_spec cannot be 'none'"):
        ConsoleConfig(experts=True, safety_spec="none")
    with pytest.raises(ConfigError, match="image_size applies to experts only"):
        ConsoleConfig(image_size=64)
    with pytest.raises(ConfigError, match="unknown task 'drawer-opn-v3'"):
        ConsoleConfig(task="drawer-opn-v3")
    with pytest.raises(ConfigError, match="executor must be"):
        ConsoleConfig(executor="fast")
    with pytest.raises(ConfigError, match="max_steps must be in"):
        ConsoleConfig(experts=True, max_steps=0)


def test_scene_objects_from_the_task_and_from_words():
    assert [o.kind for o in scene_objects("drawer-open-v3")] == ["drawer"]
    assert [o.kind for o in scene_objects("lh-window-open-close")] == ["window"]
    assert scene_objects("reach-v3") == ()
    red, green = parse_objects("red button on the left, green button")
    assert (red.kind, red.color, red.place) == ("button", "red", "left") and green.color == "green"
    with pytest.raises(ConfigError, match="exactly one kind"):
        parse_objects("shelf")


def test_empty_chat_is_refused(make_session):
    session = make_session()
    with pytest.raises(ConfigError, match="text must be a non-empty sentence"):
        session.chat("   ")


def test_the_shipped_policy_runs_behind_the_layer_on_its_own_camera():
    from vlastack.console.session import ConsoleSession

    session = ConsoleSession(ConsoleConfig(max_steps=20))  # the defaults: the shipped demo policy, sync executor
    try:
        seen = []
        policy = session._actor.policy
        sample = policy.sample_actions
        policy.sample_actions = lambda batch: (seen.append((sorted(batch.features), batch.instruction)), sample(batch))[1]
        for _ in range(5):
            assert session.step()
        s = session.state()
        assert "the shipped demo policy" in s["actor"] and s["last_proposed"] is not None
        assert seen and all("observation.images.gripperPOV" not in f for f, _ in seen)  # shown on the page, never given to it
        assert "observation.images.corner2" in seen[0][0] and seen[0][1] == [s["instruction"]]
        assert s["cameras"] == ["corner2", "gripperPOV"] and session.frame("gripperPOV")[1].shape == (128, 128, 3)
    finally:
        session.close()


def test_a_failing_policy_sends_nothing_fresh_and_says_so_once(make_session):
    actor = ScriptedActor()

    def broken():
        raise RuntimeError("out of memory")

    actor.during_inference = broken
    session = make_session(actor)
    _steps(session, 3)
    s = session.state()
    assert s["last_proposed"] is None and s["status"] == RUNNING
    assert [c["text"] for c in s["chat"]].count("the policy failed (RuntimeError: out of memory); nothing fresh sent") == 1
