"""Language corrections: parsed into structure, and acting within one chunk in scripted scenarios."""

from __future__ import annotations

import numpy as np
import pytest

from vlastack.errors import ConfigError
from vlastack.reasoning.clarify import SceneObject
from vlastack.reasoning.corrections import Correction, CorrectionFilter, parse_correction

TWO_DRAWERS = (SceneObject("top drawer", "drawer", place="top"), SceneObject("bottom drawer", "drawer", place="bottom"))
#: Steps a correction may take to show (a chunk is 8-50 steps in this project's policies).
CHUNK = 8


@pytest.mark.parametrize(
    "text, kind, field, value",
    [
        ("stop!", "stop", None, None),
        ("ok, go on", "resume", None, None),
        ("slower please", "speed", "speed", 0.5),
        ("much slower", "speed", "speed", 0.25),
        ("move left a bit", "nudge", "offset_m", (-0.02, 0.0, 0.0)),
        ("up 3 cm", "nudge", "offset_m", (0.0, 0.0, 0.03)),
        ("let go", "release", None, None),
        ("the other drawer", "retarget", "target", "bottom drawer"),
        ("no, the bottom one", "retarget", "target", "bottom drawer"),
    ],
)
def test_parse(text, kind, field, value):
    c = parse_correction(text, TWO_DRAWERS, current="top drawer")
    assert c is not None and c.kind == kind
    if field:
        got = getattr(c, field)
        assert np.allclose(got, value) if isinstance(value, tuple) else got == value


def test_not_a_correction_and_bad_input():
    assert parse_correction("open the window") is None
    with pytest.raises(ConfigError, match="non-empty"):
        parse_correction(" ,")
    with pytest.raises(ConfigError, match="kind must be one of"):
        Correction("jump", "jump")


def _run(task, policy, steps, corrections=None, seed=0):
    """Hand positions [steps+1, 3] and states of ``policy`` through the filter and the safety layer;
    ``corrections`` maps a step index to the text said just before it."""
    from vlastack.envs.metaworld import make_env
    from vlastack.safety import SafeActuator

    env = make_env(task, cameras=(), touch=False)
    stepped, filt = SafeActuator(env, "metaworld_sawyer"), CorrectionFilter()
    obs, info = stepped.reset(seed=seed)
    states = [info["privileged"]]
    for t in range(steps):
        if corrections and t in corrections:
            filt.apply(parse_correction(corrections[t]))
        obs, _, _, _, info = stepped.step(filt(policy(obs, info)))
        states.append(info["privileged"])
    env.close()
    return np.array(states)


@pytest.mark.slow
def test_stop_and_slower_change_the_motion_within_one_chunk():
    from vlastack.envs.experts import expert_for

    expert = expert_for("reach-v3").act
    free = _run("reach-v3", expert, 40)
    stopped = _run("reach-v3", expert, 40, {10: "stop"})
    # the arm lags its commanded position, so it coasts to a halt: after one chunk it creeps (< 2 mm a
    # step, slowing every step) where the uncorrected expert keeps moving several centimetres
    moved_after = np.linalg.norm(np.diff(stopped[10 + CHUNK :, :3], axis=0), axis=1)
    assert moved_after.max() < 2e-3 and np.all(np.diff(moved_after) <= 1e-5)
    assert moved_after.sum() < 0.3 * np.linalg.norm(free[40, :3] - free[10 + CHUNK, :3])
    slow = _run("reach-v3", expert, 40, {10: "slower"})
    path = lambda s: np.linalg.norm(np.diff(s[10 + CHUNK : 10 + 2 * CHUNK, :3], axis=0), axis=1).sum()  # noqa: E731
    assert path(slow) < 0.6 * path(free)


@pytest.mark.slow
def test_nudge_and_let_go():
    def hold(obs, info):
        return np.array([0.0, 0.0, 0.0, -1.0], dtype=np.float32)

    s = _run("reach-v3", hold, 10 + 2 * CHUNK, {10: "move left a bit"})
    moved = s[-1, :3] - s[10, :3]
    assert abs(moved[0] + 0.02) < 0.004 and np.all(np.abs(moved[1:]) < 0.004)

    from vlastack.envs.experts import expert_for

    expert = expert_for("pick-place-v3").act
    carried = _run("pick-place-v3", expert, 90, seed=2)
    lift = int(np.argmax(carried[:, 6] > carried[5, 6] + 0.02))  # the puck carried 2 cm above where it rested
    assert 0 < lift < 90 - 2 * CHUNK
    dropped = _run("pick-place-v3", expert, lift + 2 * CHUNK, {lift: "let go"}, seed=2)
    assert dropped[lift + CHUNK, 3] > dropped[lift, 3] + 0.1  # the fingers open within a chunk
    assert dropped[-1, 6] < dropped[lift, 6] - 0.01 < carried[lift + 2 * CHUNK, 6]  # it falls; without "let go" it does not
