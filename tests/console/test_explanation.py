"""The console shows the policy's own plan, subtask and reason when it gives them (a hierarchical policy),
and says so; otherwise the experts' phase rules, as before."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch

from tests.console.conftest import ScriptedActor
from vlastack.console.state import EXPLANATION_SOURCE, POLICY_EXPLANATION_SOURCE
from vlastack.policies import PRESETS
from vlastack.policies.untrained import untrained_policy
from vlastack.types import Explanation


def test_an_actors_explanation_replaces_the_phase_rules_on_the_page(make_session):
    actor = ScriptedActor()
    actor.explanation = None
    session = make_session(actor)
    session.step()
    assert session.state()["explanation_source"] == EXPLANATION_SOURCE  # nothing from the policy yet
    actor.explanation = Explanation(
        "close the drawer", "'open the drawer' looks done, so on", plan=("open the drawer", "close the drawer"), plan_index=1
    )
    s = session.state()
    assert (s["subtask"], s["reason"], s["plan"], s["plan_index"]) == (
        "close the drawer",
        "'open the drawer' looks done, so on",
        ["open the drawer", "close the drawer"],
        1,
    )
    assert s["explanation_source"] == POLICY_EXPLANATION_SOURCE


@pytest.fixture(scope="module")
def hier_checkpoint(tmp_path_factory):
    torch.set_num_threads(1)
    config = replace(PRESETS.get("hier-debug").policy, text_encoder="hash")
    return untrained_policy(config, samples=24).save_pretrained(tmp_path_factory.mktemp("hier") / "policy")


def test_a_hierarchical_policy_explains_itself_and_plans_afresh_each_episode(hier_checkpoint):
    from vlastack.console.config import ConsoleConfig
    from vlastack.console.session import ConsoleSession

    session = ConsoleSession(ConsoleConfig(checkpoint=hier_checkpoint, task="lh-drawer-open-close", max_steps=6))
    try:
        vocab = session._actor.policy.config.subtasks
        horizon = session._actor.policy.config.horizon  # the sync executor re-plans every chunk of this many steps
        reasons = []
        for _ in range(6):  # episode 0: two re-plans
            assert session.step()
            s = session.state()
            assert s["explanation_source"] == POLICY_EXPLANATION_SOURCE and s["subtask"] in vocab
            assert s["plan"][s["plan_index"]] == s["subtask"] and "the next" in s["reason"]
            reasons.append(s["reason"])
        assert reasons[0].startswith("starting the plan") and not reasons[horizon].startswith("starting the plan")
        assert session.step() and session.state()["episode"] == 1  # the next episode's first step
        assert session.state()["reason"].startswith("starting the plan")  # its plan starts afresh
    finally:
        session.close()
