"""The hierarchical policy: its training labels, its plan (re-planning on a predicted switch), fine-tuning
from a flat l1 checkpoint, and training on plan labels made from a long-horizon dataset."""

from __future__ import annotations

from dataclasses import fields, replace

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from vlastack import keys
from vlastack.errors import CheckpointError, ConfigError, DatasetError
from vlastack.policies import fake_batch, load_policy
from vlastack.policies.hier import HierPolicy
from vlastack.policies.hier.model import lagged_labels
from vlastack.policies.l1 import L1Config, L1Policy
from vlastack.policies.untrained import untrained_policy
from vlastack.types import Batch


def _hier(cfg_for, **overrides) -> HierPolicy:
    return untrained_policy(cfg_for("hier-debug", **overrides), samples=24)


def test_lagged_labels_switch_only_after_the_delay():
    # vocabulary of 3; samples: stage 0 (no previous), stage 1 two frames in, stage 1 five frames in
    target = torch.tensor([0, 1, 1])
    history = torch.tensor([[0.0, 0, 0], [1, 0, 0], [1, 0, 0]])
    previous = torch.tensor([-1, 0, 0])
    since = torch.tensor([7, 2, 5])
    lag_history, lag_target, behind = lagged_labels(target, history, previous, since, switch_delay=3)
    assert behind.tolist() == [False, True, True]
    assert lag_history.tolist() == [[0, 0, 0], [0, 0, 0], [0, 0, 0]]  # the previous stage is not done yet
    assert lag_target.tolist()[1:] == [0, 1]  # keep the previous subtask within the delay, switch after it


def test_joint_head_plan_moves_on_when_another_subtask_is_chosen_and_the_low_level_acts_on_it(cfg_for, monkeypatch):
    policy = _hier(cfg_for, head="joint").eval()
    vocab = policy.config.subtasks
    batch = fake_batch(policy.config, batch_size=1, seed=0, with_action=False)
    choices = iter([0, 0, 1, 1, 0])  # the head's pick at each re-plan
    seen_history = []

    def fake_logits(b, history, augment=False, seen=None):
        seen_history.append(history[0].tolist())
        out = torch.full((1, len(vocab)), -5.0)
        out[0, next(choices)] = 5.0
        return out

    monkeypatch.setattr(policy, "subtask_logits", fake_logits)
    picked = []
    for _ in range(5):
        chunk = policy.sample_actions(batch)
        picked.append(chunk.info["subtask"][0])
        expected = L1Policy.sample_actions(policy, replace(batch, instruction=[picked[-1]]))
        np.testing.assert_array_equal(chunk.actions, expected.actions)  # the low level reads the chosen subtask
    assert picked == [vocab[0], vocab[0], vocab[1], vocab[1], vocab[0]]
    assert policy.last_plan[0]["done"] == [vocab[0], vocab[1]]
    # the head saw the done counts: nothing, then subtask 0 once done, then 0 and 1 done
    assert seen_history[0] == seen_history[2] == [0.0] * len(vocab)
    assert seen_history[3][:2] == [1.0, 0.0] and seen_history[4][:2] == [1.0, 0.0]
    policy.reset()
    assert policy.last_plan == [] and policy._plans == []


def test_factored_head_moves_on_only_when_the_done_detector_fires(cfg_for, monkeypatch):
    policy = _hier(cfg_for).eval()
    assert policy.config.head == "factored"
    vocab = policy.config.subtasks
    batch = fake_batch(policy.config, batch_size=1, seed=0, with_action=False)
    fires = iter([9.0, 5.0, -5.0, 5.0, -5.0])  # done-detector logits per re-plan; the first is ignored (nothing in progress)
    asked = []

    def fake_done(inputs, current, history):
        asked.append(vocab[int(current[0])])
        return torch.tensor([next(fires)])

    def fake_plan(inputs, history):  # a plan in words: the next subtask is vocab[number done]
        out = torch.full((1, len(vocab)), -5.0)
        out[0, int(history.sum())] = 5.0
        return out

    monkeypatch.setattr(policy, "done_logit", fake_done)
    monkeypatch.setattr(policy, "plan_logits", fake_plan)
    picked = []
    for _ in range(5):
        chunk = policy.sample_actions(batch)
        picked.append(chunk.info["subtask"][0])
        expected = L1Policy.sample_actions(policy, replace(batch, instruction=[picked[-1]]))
        np.testing.assert_array_equal(chunk.actions, expected.actions)
    assert picked == [vocab[0], vocab[1], vocab[1], vocab[2], vocab[2]]
    assert asked[1:] == [vocab[0], vocab[1], vocab[1], vocab[2]]  # it is asked about the subtask in progress
    assert policy.last_plan[0]["done"] == [vocab[0], vocab[1]]


def test_factored_done_labels_follow_the_stage_and_the_delay(cfg_for):
    """The done-detector's training targets: in step never done; one behind, done once past the delay.
    A detector that says exactly that has a lower loss than one that says the opposite."""
    policy = _hier(cfg_for, switch_delay=2)
    v = len(policy.config.subtasks)
    target, previous, since = torch.tensor([1, 1, 0]), torch.tensor([0, 0, -1]), torch.tensor([1, 5, 3])
    history = torch.tensor([[1.0] + [0.0] * (v - 1)] * 2 + [[0.0] * v])
    inputs = torch.zeros(3, 4 + policy.config.task_dim)

    def loss_with(done_fn):
        policy.done_logit = done_fn
        policy.plan_logits = lambda inputs, history: F.one_hot(target, v).float() * 20
        return policy._factored_loss(inputs, target, history, previous, since)

    calls = []

    def right(inputs, current, history):
        calls.append(current.tolist())
        lagged = len(calls) == 2
        return torch.tensor([-20.0, 20.0, -20.0]) if lagged else torch.full((3,), -20.0)

    good = loss_with(right)
    assert calls == [[1, 1, 0], [0, 0, 0]]  # in step: the current stage; behind: the previous one
    wrong = loss_with(lambda inputs, current, history: -right(inputs, current, history))
    assert float(good.max()) < 1e-3 and bool((wrong > 5).all())


def test_a_repeated_subtask_is_not_judged_done_before_the_refractory_steps(cfg_for, monkeypatch):
    """Press, press again, then something else: the detector fires at every re-plan, but the second press
    is only let go after ``repeat_refractory`` control steps of it (the scene cannot tell the presses apart)."""

    def run(refractory: int) -> list[str]:
        policy = _hier(cfg_for, repeat_refractory=refractory, execute_steps=4).eval()
        vocab = policy.config.subtasks
        monkeypatch.setattr(policy, "done_logit", lambda inputs, current, history: torch.tensor([5.0]))

        def plan(inputs, history):  # the first subtask twice, then the second
            out = torch.full((1, len(vocab)), -5.0)
            out[0, 0 if float(history.sum()) < 2 else 1] = 5.0
            return out

        monkeypatch.setattr(policy, "plan_logits", plan)
        batch = fake_batch(policy.config, batch_size=1, seed=0, with_action=False)
        return [policy.sample_actions(batch).info["subtask"][0] for _ in range(5)]

    vocab = _hier(cfg_for).config.subtasks
    assert run(0) == [vocab[0], vocab[0], vocab[1], vocab[1], vocab[1]]  # the second press is "done" at once
    # 4 steps per re-plan: the repeat has run 4 steps at the third re-plan (too few), 8 at the fourth
    assert run(8) == [vocab[0], vocab[0], vocab[0], vocab[1], vocab[1]]


def test_the_refractory_steps_of_a_repeat_are_not_trained_in_step(cfg_for):
    """A detector that calls a just-started repeat done is not penalised within the refractory steps, and is after."""
    v = len(_hier(cfg_for).config.subtasks)
    target, previous, history = torch.tensor([0, 0]), torch.tensor([0, 0]), torch.tensor([[1.0] + [0.0] * (v - 1)] * 2)
    since = torch.tensor([3, 30])  # frames into the repeat
    losses = {}
    for refractory in (0, 10):
        policy = _hier(cfg_for, repeat_refractory=refractory)
        policy.plan_logits = lambda inputs, history: F.one_hot(target, v).float() * 20
        policy.done_logit = lambda inputs, current, history: torch.full((2,), 20.0)  # always "done"
        losses[refractory] = policy._factored_loss(torch.zeros(2, 4 + policy.config.task_dim), target, history, previous, since)
    assert losses[10][0] < losses[0][0] - 5  # the in-step "done" at frame 3 is not counted against it
    assert torch.isclose(losses[10][1], losses[0][1])  # at frame 30 it is
    with pytest.raises(ConfigError, match="repeat_refractory"):
        cfg_for("hier-debug", repeat_refractory=-1)


def test_the_done_window_trains_done_on_the_event_only(cfg_for):
    """With ``done_window`` W, the one-behind "previous stage done" label is trained in the W frames after the
    delay and not later (where a button's next press looks like the approach to the first)."""
    v = len(_hier(cfg_for).config.subtasks)
    target, previous, history = torch.tensor([1, 1]), torch.tensor([0, 0]), torch.tensor([[1.0] + [0.0] * (v - 1)] * 2)
    losses = {}
    for window in (0, 6):
        policy = _hier(cfg_for, done_window=window, switch_delay=2)
        since = torch.tensor([2 + 5, 2 + 6])  # the last frame inside the window, the first after it
        policy.plan_logits = lambda inputs, history: F.one_hot(target, v).float() * 20
        policy.done_logit = lambda inputs, current, history: torch.full((2,), -20.0)  # never "done"
        losses[window] = policy._factored_loss(torch.zeros(2, 4 + policy.config.task_dim), target, history, previous, since)
    assert losses[6][0] > 5 and torch.isclose(losses[6][0], losses[0][0])  # inside: missing "done" costs as before
    assert losses[0][1] > 5 and losses[6][1] < 1e-3  # after: not trained on that reading
    with pytest.raises(ConfigError, match="done_window"):
        cfg_for("hier-debug", done_window=-1)
    with pytest.raises(ConfigError, match="done_window"):
        cfg_for("hier-debug", head="joint", done_window=4)


def test_the_plan_head_reads_the_scene_only_when_asked(cfg_for):
    """``plan_sees_scene``: the plan head's pick depends on the image features and state too, not only on the words."""
    for sees in (False, True):
        policy = _hier(cfg_for, plan_sees_scene=sees).eval()
        batch = fake_batch(policy.config, batch_size=1, seed=0, with_action=False)
        inputs = policy._high_inputs(batch, augment=False)
        other = inputs.clone()
        other[:, : -policy.config.task_dim] += 1.0  # another scene, the same instruction
        history = torch.zeros(1, len(policy.config.subtasks))
        changed = not torch.allclose(policy.plan_logits(inputs, history), policy.plan_logits(other, history))
        assert changed == sees
    with pytest.raises(ConfigError, match="plan_sees_scene"):
        cfg_for("hier-debug", head="joint", plan_sees_scene=True)


def test_a_new_instruction_starts_a_new_plan(cfg_for, monkeypatch):
    policy = _hier(cfg_for, head="joint").eval()
    batch = fake_batch(policy.config, batch_size=1, seed=0, with_action=False)
    picks = iter([0, 1, 1])

    def fake_logits(b, history, augment=False, seen=None):
        out = torch.zeros((1, len(policy.config.subtasks)))
        out[0, next(picks)] = 1.0
        return out

    monkeypatch.setattr(policy, "subtask_logits", fake_logits)
    policy.sample_actions(batch)
    policy.sample_actions(batch)
    assert policy.last_plan[0]["done"] == [policy.config.subtasks[0]]
    policy.sample_actions(replace(batch, instruction=["another task entirely"]))
    assert policy.last_plan[0]["done"] == []


def test_training_without_plan_labels_is_refused(cfg_for):
    policy = _hier(cfg_for)
    batch = fake_batch(policy.config, batch_size=2)
    with pytest.raises(DatasetError, match="plan labels"):
        policy.compute_loss(Batch(features=batch.features, instruction=batch.instruction))


def test_fine_tuning_starts_from_a_flat_l1_checkpoint(cfg_for, tmp_path):
    flat = untrained_policy(cfg_for("l1-debug"), samples=24, init_seed=3)
    flat.save_pretrained(tmp_path / "flat")
    cfg = cfg_for("hier-debug")
    hier = HierPolicy.from_pretrained(tmp_path / "flat", expect=cfg)
    batch = fake_batch(cfg, batch_size=2, seed=1, with_action=False)
    for f in fields(L1Config):  # the same action policy ...
        assert getattr(hier.config, f.name) == getattr(flat.config, f.name) or f.name == "name"
    flat.eval(), hier.eval()
    subtask_batch = replace(batch, instruction=[cfg.subtasks[1]] * 2)
    np.testing.assert_array_equal(L1Policy.sample_actions(hier, subtask_batch).actions, flat.sample_actions(subtask_batch).actions)
    with pytest.raises(CheckpointError, match="keypoints"):  # ... and only from a matching one
        HierPolicy.from_pretrained(tmp_path / "flat", expect=replace(cfg, keypoints=cfg.keypoints + 1))
    with pytest.raises(CheckpointError, match="HierConfig"):
        HierPolicy.from_pretrained(tmp_path / "flat")
    hier.save_pretrained(tmp_path / "hier")
    assert isinstance(load_policy(tmp_path / "hier", expect=cfg), HierPolicy)


def _drawer_dataset(root, make_episode):
    """Two synthetic lh-drawer-open-close episodes: the drawer (state[5], the handle's y) opens to -0.16 m
    by frame 6, then closes again; 12 frames."""
    from vlastack.episodes.writer import DatasetWriter

    joint = np.array([0.0, 0.0, -0.04, -0.08, -0.12, -0.14, -0.155, -0.16, -0.16, -0.1, -0.05, -0.02])
    writer = DatasetWriter(root)
    for seed in range(2):
        ep = make_episode(len(joint), seed, task="look inside the drawer, then leave it shut", size=8)
        state = np.zeros((len(joint), 39), dtype=np.float32)
        state[:, 5] = 0.7 + joint
        ep.frames[keys.ENV_STATE] = state
        ep.env_task = "lh-drawer-open-close"
        writer.add_episode(ep)
    return root


def test_windows_carry_plan_labels_of_long_horizon_episodes(tmp_path, make_episode):
    from vlastack.data.windows import WindowDataset, collate
    from vlastack.episodes.reader import DatasetReader
    from vlastack.reasoning.plan import STAGE_SUBTASKS

    data = WindowDataset(DatasetReader(_drawer_dataset(tmp_path / "ds", make_episode)), action_horizon=4, subtasks=STAGE_SUBTASKS)
    samples = [data[i] for i in range(12)]  # episode 0
    # the drawer is open (<= -0.15 m) at frame 6: frames 0-5 open it, 6-11 close it
    assert [s["subtask"] for s in samples] == ["open the drawer"] * 6 + ["close the drawer"] * 6
    opened = STAGE_SUBTASKS.index("open the drawer")
    assert [int(s[keys.SUBTASK_PREVIOUS]) for s in samples] == [-1] * 6 + [opened] * 6
    assert [int(s[keys.SUBTASK_SINCE]) for s in samples] == [0, 1, 2, 3, 4, 5, 0, 1, 2, 3, 4, 5]
    assert samples[7][keys.SUBTASK_HISTORY].tolist() == [1.0 if s == "open the drawer" else 0.0 for s in STAGE_SUBTASKS]
    assert collate(samples[:3]).subtask == ["open the drawer"] * 3


def test_cli_trains_the_hierarchical_preset_on_plan_labels(tmp_path, make_episode):
    from typer.testing import CliRunner

    from vlastack.cli import app

    data = _drawer_dataset(tmp_path / "ds", make_episode)
    args = ["train", "--preset", "hier-debug", "--dataset", str(data), "--out", str(tmp_path / "run"), "--steps", "3", "--no-progress"]
    r = CliRunner().invoke(app, [*args, "--set", 'policy.text_encoder="hash"'])
    assert r.exit_code == 0, r.output
    import json

    rows = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert rows and all("done_acc" in row and "subtask_acc" in row for row in rows)
    policy = load_policy(tmp_path / "run" / "checkpoints" / "step_00000003")
    assert isinstance(policy, HierPolicy)


def test_low_prompt_both_conditions_the_low_level_on_the_instruction_and_the_subtask(cfg_for, monkeypatch):
    from vlastack.policies.hier.config import low_prompt

    policy = _hier(cfg_for, head="joint", low_prompt="both").eval()
    vocab = policy.config.subtasks
    batch = fake_batch(policy.config, batch_size=1, seed=0, with_action=False)
    monkeypatch.setattr(
        policy, "subtask_logits", lambda b, history, augment=False, seen=None: F.one_hot(torch.tensor([1]), len(vocab)) * 5.0
    )
    chunk = policy.sample_actions(batch)
    both = L1Policy.sample_actions(policy, replace(batch, instruction=[low_prompt(batch.instruction[0], vocab[1])]))
    bare = L1Policy.sample_actions(policy, replace(batch, instruction=[vocab[1]]))
    np.testing.assert_array_equal(chunk.actions, both.actions)
    assert not np.array_equal(chunk.actions, bare.actions)  # the instruction reaches the low level
    # training: the low level's loss is computed on the same prompts
    plan = {keys.SUBTASK_TARGET: torch.tensor([0, 2]), keys.SUBTASK_HISTORY: torch.zeros(2, len(vocab))}
    plan |= {keys.SUBTASK_PREVIOUS: torch.tensor([-1, -1]), keys.SUBTASK_SINCE: torch.tensor([0, 0])}
    train_batch = fake_batch(policy.config, batch_size=2, seed=1)
    train_batch = replace(train_batch, subtask=[vocab[0], vocab[2]], features={**train_batch.features, **plan})
    seen = []
    monkeypatch.setattr(L1Policy, "compute_loss", lambda self, b: seen.append(list(b.instruction)) or torch.zeros(()))
    monkeypatch.setattr(policy, "_high_inputs", lambda b, augment, seen=None: torch.zeros(2, 1))
    monkeypatch.setattr(policy, "_high", lambda inputs, history: torch.zeros(2, len(vocab)))
    policy.compute_loss(train_batch)
    assert seen == [[low_prompt(train_batch.instruction[0], vocab[0]), low_prompt(train_batch.instruction[1], vocab[2])]]
    with pytest.raises(ConfigError, match="low_prompt"):
        cfg_for("hier-debug", low_prompt="instruction")


def test_a_grounding_rewords_the_overall_instruction_for_the_plan_and_never_the_subtask_prompts(cfg_for, monkeypatch):
    """With a grounding (``vlastack ground``), new words of the overall instruction reach the high level as the
    trained phrasing they were taken for, once per episode; the low level still acts on the subtask text."""
    from vlastack.policies.components.grounding import Grounded

    policy = _hier(cfg_for).eval()
    batch = fake_batch(policy.config, batch_size=1, seed=0, with_action=False)
    trained = batch.instruction[0]
    grounded_calls, high_reads = [], []

    def fake_ground(b, scenes=None):  # stands in for a fitted grounding: any text it does not know -> ``trained``
        grounded_calls.append(list(b.instruction))
        reading = Grounded(instruction=trained, task="t", margin=0.5, used_scene=False, words_task="t")
        return replace(b, instruction=[trained]), [reading]

    real_inputs = policy._high_inputs

    def spy_inputs(b, augment, seen=None):
        high_reads.append(list(b.instruction))
        return real_inputs(b, augment, seen)

    monkeypatch.setattr(policy, "ground_batch", fake_ground)
    monkeypatch.setattr(policy, "_high_inputs", spy_inputs)
    new_words = replace(batch, instruction=["words this policy never saw"])
    chunk = policy.sample_actions(new_words)
    assert grounded_calls == [["words this policy never saw"]]  # the overall instruction only, not the subtask prompt
    assert high_reads and all(r == [trained] for r in high_reads)
    assert chunk.info["grounded_instruction"] == trained
    subtask = chunk.info["subtask"][0]
    expected = L1Policy.sample_actions(policy, replace(batch, instruction=[subtask]))
    np.testing.assert_array_equal(chunk.actions, expected.actions)  # the low level acts on the subtask text
    assert policy.last_plan[0]["subtask"] == subtask


def test_a_plan_that_reads_the_scene_is_asked_only_at_the_start_and_when_the_detector_fires(cfg_for, monkeypatch):
    """With ``plan_sees_scene`` the plan head's pick changes with the scene; the subtask in progress must not follow
    it until the done-detector says that subtask is done."""
    policy = _hier(cfg_for, plan_sees_scene=True).eval()
    vocab = policy.config.subtasks
    batch = fake_batch(policy.config, batch_size=1, seed=0, with_action=False)
    picks = iter([0, 1, 1, 2, 2])  # what the plan head would say at each re-plan, as the scene changes
    fires = iter([-5.0, -5.0, -5.0, 5.0, -5.0])  # the detector fires only at the fourth re-plan

    def fake_plan(inputs, history):
        out = torch.full((1, len(vocab)), -5.0)
        out[0, next(picks, 0)] = 5.0
        return out

    monkeypatch.setattr(policy, "plan_logits", fake_plan)
    monkeypatch.setattr(policy, "done_logit", lambda inputs, current, history: torch.tensor([next(fires)]))
    monkeypatch.setattr(policy, "_look_ahead", lambda inputs: [[]])
    said = [policy.sample_actions(batch).info["subtask"][0] for _ in range(5)]
    assert said == [vocab[0], vocab[0], vocab[0], vocab[2], vocab[2]]
    assert policy.last_plan[0]["done"] == [vocab[0]]


def test_windows_carry_the_state_extremes_since_the_stage_and_the_stage_before_began(tmp_path, make_episode):
    """``subtask.motion``: the highest and lowest state from the first frame of the frame's stage; ``.motion_lag``:
    from the first frame of the stage before (the drawer episode: frames 0-5 open, 6-11 close)."""
    from vlastack.data.windows import WindowDataset
    from vlastack.episodes.reader import DatasetReader
    from vlastack.reasoning.plan import STAGE_SUBTASKS

    data = WindowDataset(DatasetReader(_drawer_dataset(tmp_path / "ds", make_episode)), action_horizon=4, subtasks=STAGE_SUBTASKS)
    samples = [data[i] for i in range(12)]  # episode 0
    state = torch.stack([s[keys.STATE][-1] for s in samples])
    assert bool(state.std(0).gt(0).any())  # the synthetic states vary, so a wrong window would show
    for t, s in enumerate(samples):
        first = 0 if t < 6 else 6
        expected = torch.stack([state[first : t + 1].max(0).values, state[first : t + 1].min(0).values])
        torch.testing.assert_close(s[keys.SUBTASK_MOTION], expected)
        lag = torch.stack([state[: t + 1].max(0).values, state[: t + 1].min(0).values])  # the stage before starts at 0
        torch.testing.assert_close(s[keys.SUBTASK_MOTION_LAG], lag)


def test_a_detector_that_sees_motion_reads_the_extremes_since_the_subtask_began(cfg_for, monkeypatch):
    """``done_sees_motion``: at each re-plan the detector reads the highest and lowest state seen at the re-plans of
    the subtask in progress, minus the current state; when the plan moves on, the record starts again."""
    policy = _hier(cfg_for, done_sees_motion=True).eval()
    s = policy.config.state_dim
    batch = fake_batch(policy.config, batch_size=1, seed=0, with_action=False)
    fires = iter([-5.0, -5.0, 5.0, -5.0])  # the detector fires at the third re-plan
    read = []

    def fake_done(inputs, current, history):
        read.append(inputs[0, -2 * s :] * torch.cat([policy.normalizer.scale(keys.STATE)] * 2))  # back to state units
        return torch.tensor([next(fires)])

    monkeypatch.setattr(policy, "done_logit", fake_done)
    heights = [0.0, 0.1, 0.02, 0.05]  # the first state dimension at each re-plan; the others stay put
    for h in heights:
        state = batch.features[keys.STATE].clone()
        state[..., 0] = h
        policy.sample_actions(replace(batch, features={**batch.features, keys.STATE: state}))
    up = [float(r[0]) for r in read]  # highest minus now, dimension 0
    down = [float(r[s]) for r in read]  # now minus lowest
    assert up == pytest.approx([0.0, 0.0, 0.08, 0.0], abs=1e-5)  # the subtask began at 0.0; then 0.1; back at 0.02
    assert down == pytest.approx([0.0, 0.1, 0.02, 0.03], abs=1e-5)
    # the detector fired at the third re-plan (0.02): the next subtask's record began there, so at 0.05 it reads 0.03 up from it
    assert policy._plans[0]["high"][0] == pytest.approx(0.05) and policy._plans[0]["low"][0] == pytest.approx(0.02)
    with pytest.raises(ConfigError, match="done_sees_motion"):
        cfg_for("hier-debug", head="joint", done_sees_motion=True)


def test_a_detector_that_sees_motion_trains_on_both_readings_and_needs_the_labels(cfg_for):
    """The detector's loss uses the in-step motion for "not done" and the one-behind motion for "done"; a batch
    without the motion labels is refused with the keys named."""
    policy = _hier(cfg_for, done_sees_motion=True)
    batch = fake_batch(policy.config, batch_size=4, seed=0)
    policy.compute_loss(batch).mean().backward()
    first = policy.done_head[0].weight
    assert first.grad is not None and bool(
        first.grad[:, -2 * policy.config.state_dim - len(policy.config.subtasks) : -len(policy.config.subtasks)].abs().sum() > 0
    )
    seen = []
    policy.done_logit = lambda inputs, current, history: seen.append(inputs[:, -2 * policy.config.state_dim :]) or torch.zeros(len(current))
    policy._factored_loss(
        torch.zeros(4, 4 + policy.config.task_dim),
        *(batch.features[k] for k in (keys.SUBTASK_TARGET, keys.SUBTASK_HISTORY, keys.SUBTASK_PREVIOUS, keys.SUBTASK_SINCE)),
        motion=(torch.ones(4, 2 * policy.config.state_dim), torch.full((4, 2 * policy.config.state_dim), 2.0)),
    )
    assert [float(x.mean()) for x in seen] == [1.0, 2.0]  # in step, then one behind
    lacking = replace(batch, features={k: v for k, v in batch.features.items() if k != keys.SUBTASK_MOTION_LAG})
    with pytest.raises(DatasetError, match="subtask.motion_lag"):
        policy.compute_loss(lacking)


def test_cli_fine_tunes_the_high_level_alone_on_extra_datasets(tmp_path, make_episode):
    """The detector's DAgger as the CLI runs it: ``--extra-dataset`` adds a second dataset's windows (the policy's own
    episodes) to the first's, and ``train.trainable`` keeps the low level at its start weights."""
    import json

    from typer.testing import CliRunner

    from vlastack.cli import app

    demos, own = _drawer_dataset(tmp_path / "demos", make_episode), _drawer_dataset(tmp_path / "own", make_episode)
    base = [
        "train",
        "--preset",
        "hier-debug",
        "--dataset",
        str(demos),
        "--steps",
        "2",
        "--no-progress",
        "--set",
        'policy.text_encoder="hash"',
    ]
    r = CliRunner().invoke(app, [*base, "--out", str(tmp_path / "start")])
    assert r.exit_code == 0, r.output
    start = tmp_path / "start" / "checkpoints" / "step_00000002"
    args = [*base, "--out", str(tmp_path / "dagger"), "--extra-dataset", str(own), "--init-from", str(start)]
    r = CliRunner().invoke(app, [*args, "--set", 'train.trainable=["done_head","plan_head"]', "--set", "train.ema_decay=0"])
    assert r.exit_code == 0, r.output
    run = json.loads((tmp_path / "dagger" / "run.json").read_text())
    assert run["samples"] == 48 and run["extra_datasets"][0]["samples"] == 24  # 2 episodes x 12 frames in each
    before = load_policy(start).state_dict()
    after = load_policy(tmp_path / "dagger" / "checkpoints" / "step_00000002").state_dict()
    moved = {k for k in before if before[k].is_floating_point() and not torch.equal(before[k], after[k])}
    assert moved and all(k.startswith(("done_head.", "plan_head.")) for k in moved)
