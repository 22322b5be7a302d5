"""Phase rules mirror Meta-World's scripted policies; reasons say where the target is and which way to go."""

from __future__ import annotations

import numpy as np
import pytest

from vlastack.errors import ConfigError
from vlastack.reasoning.phases import Phase, phase
from vlastack.reasoning.reasons import reason


def test_reason_names_the_largest_offsets_in_whole_centimetres():
    hand = np.array([0.10, 0.60, 0.20])
    p = Phase("move above the puck", "the spot above the puck", hand + [-0.06, 0.004, 0.04])
    assert reason(hand, p) == "the spot above the puck is 6 cm to the left and 4 cm higher, so move left and up"
    p = Phase("push the drawer closed", "the drawer handle", hand + [0.0, 0.12, -0.03])
    assert reason(hand, p) == "the drawer handle is 12 cm farther away and 3 cm lower, so move forward and down"
    assert reason(hand, Phase("reach the goal", "the goal", hand + 0.004)) == "the gripper is at the goal, so hold it there"
    assert reason(hand, Phase("grasp", "the puck", hand, note="close the fingers")) == "close the fingers"


def test_bad_state_and_unknown_task_are_clear_errors():
    with pytest.raises(ConfigError, match="39-d"):
        phase("push-v3", np.zeros(4))
    with pytest.raises(ConfigError, match="hammer-v3"):
        phase("hammer-v3", np.zeros(39))


@pytest.mark.slow
@pytest.mark.parametrize("task", ["push-v3", "pick-place-v3", "drawer-close-v3", "peg-insert-side-v3"])
def test_phase_targets_are_the_policys_own_targets(task):
    """Along a real expert episode, every frame's phase target equals the target the Meta-World policy
    computes itself (its ``_desired_pos``), so the subtask names the branch the policy is in."""
    from vlastack.envs.experts import expert_for
    from vlastack.envs.metaworld import make_env

    env, expert = make_env(task, cameras=(), touch=False, max_steps=250), expert_for(task)
    policy = expert._policy
    obs, info = env.reset(seed=5)
    seen = set()
    for _ in range(250):
        s = np.asarray(info["privileged"], dtype=np.float64)
        want = policy._desired_pos(policy._parse_obs(s.copy()))
        p = phase(task, s)
        np.testing.assert_allclose(p.target, want, atol=1e-9, err_msg=p.subtask)
        seen.add(p.subtask)
        obs, _, terminated, truncated, info = env.step(expert.act(obs, info))
        if terminated or truncated:
            break
    env.close()
    assert info["success"] and len(seen) >= 2
