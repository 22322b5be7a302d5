"""What fine-tuning on interventions reads: operator frames only, and weights from the starting policy."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from vlastack import keys
from vlastack.data.windows import WindowDataset, collate
from vlastack.episodes.reader import DatasetReader
from vlastack.episodes.writer import DatasetWriter
from vlastack.errors import DatasetError
from vlastack.improve.interventions import EXPERT_ACTION, INTERVENTION


def _dataset(root, make_episode, flags):
    ep = make_episode(len(flags), 0)
    ep.frames[INTERVENTION] = np.asarray(flags, bool)[:, None]
    DatasetWriter(root).add_episode(ep)
    return DatasetReader(root), ep


def test_label_key_keeps_operator_frames_and_pads_the_policys_own_actions(tmp_path, make_episode):
    flags = [0, 1, 1, 1, 0, 0, 1, 1]
    reader, ep = _dataset(tmp_path / "d", make_episode, flags)
    data = WindowDataset(reader, action_horizon=4, image_keys=[keys.image_key("corner2")], label_key=INTERVENTION)
    assert [data[i][keys.FRAME_INDEX] for i in range(len(data))] == [1, 2, 3, 6, 7]
    first = data[0]  # frame 1: actions of frames 1, 2, 3 are the operator's, frame 4's is the policy's
    assert first[keys.ACTION + keys.PAD_SUFFIX].tolist() == [False, False, False, True]
    assert torch.allclose(first[keys.ACTION][:3], torch.from_numpy(ep.frames[keys.ACTION][1:4]))
    assert torch.equal(first[keys.ACTION][3], first[keys.ACTION][2])  # the cut-off step repeats the last label
    third = data[2]  # frame 3: the operator's own again at frames 6 and 7, but after the policy's 4 and 5
    assert third[keys.ACTION + keys.PAD_SUFFIX].tolist() == [False, True, True, True]
    assert all(torch.equal(a, torch.from_numpy(ep.frames[keys.ACTION][3])) for a in third[keys.ACTION])
    last = data[4]  # frame 7: past the episode's end is padding as always
    assert last[keys.ACTION + keys.PAD_SUFFIX].tolist() == [False, True, True, True]
    assert len(WindowDataset(reader, action_horizon=4, image_keys=[keys.image_key("corner2")])) == 8  # without it: every frame
    with pytest.raises(DatasetError, match="label_key: feature 'nope' is not in"):
        WindowDataset(reader, image_keys=[keys.image_key("corner2")], label_key="nope")


def test_action_key_reads_the_labels_from_another_column(tmp_path, make_episode):
    ep = make_episode(6, 0)
    ep.frames[INTERVENTION] = np.zeros((6, 1), bool)
    ep.frames[EXPERT_ACTION] = ep.frames[keys.ACTION][::-1].copy() + 5.0  # labels unlike what was sent
    DatasetWriter(tmp_path / "d").add_episode(ep)
    reader = DatasetReader(tmp_path / "d")
    cams = [keys.image_key("corner2")]
    data = WindowDataset(reader, action_horizon=3, image_keys=cams, action_key=EXPERT_ACTION)
    assert len(data) == 6  # every frame, the policy's included
    assert torch.allclose(data[2][keys.ACTION], torch.from_numpy(ep.frames[EXPERT_ACTION][2:5]))
    sent = WindowDataset(reader, action_horizon=3, image_keys=cams)
    assert torch.allclose(sent[2][keys.ACTION], torch.from_numpy(ep.frames[keys.ACTION][2:5]))
    with pytest.raises(DatasetError, match="action_key: feature 'nope' is not in"):
        WindowDataset(reader, image_keys=cams, action_key="nope")


def test_a_run_with_init_from_starts_from_that_policys_weights(tmp_path, make_episode):
    from vlastack.policies import load_policy
    from vlastack.policies.presets import PRESETS
    from vlastack.policies.registry import make_policy
    from vlastack.training.loop import train

    reader, _ = _dataset(tmp_path / "d", make_episode, [1] * 12)
    preset = PRESETS.get("l1-debug")
    cfg = preset.policy
    data = WindowDataset(reader, action_horizon=cfg.horizon, image_keys=[keys.image_key(c) for c in cfg.cameras])
    first = train(cfg, preset.train, data, collate, tmp_path / "a", stats=reader.stats, progress=False, instructions=reader.tasks)
    start = load_policy(first.checkpoint)
    from dataclasses import replace

    tiny_lr = replace(preset.train, steps=1, lr=1e-12, warmup_steps=0, save_every=1, seed=7)
    second = train(cfg, tiny_lr, data, collate, tmp_path / "b", init_from=first.checkpoint, progress=False, instructions=reader.tasks)
    tuned = load_policy(second.checkpoint)
    fresh = make_policy(cfg, stats=reader.stats)
    name = next(k for k, v in start.state_dict().items() if v.is_floating_point() and v.numel() > 16 and "norm" not in k)
    assert torch.allclose(tuned.state_dict()[name], start.state_dict()[name], atol=1e-6)
    assert not torch.allclose(fresh.state_dict()[name], start.state_dict()[name], atol=1e-3)
