"""rl-wm's pure parts with hand-checked numbers: candidate scores, the choice and its advantage, the copies of kept
frames, the candidates and start frames drawn; the labelled samples (the chosen chunk is the target at a kept frame,
the scored steps only, and no other frame is a sample); the settings and a resumed run's compatibility."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest
import torch

from vlastack import keys
from vlastack.errors import ConfigError, DatasetError
from vlastack.improve.explore import explore_action, ou_noise
from vlastack.improve.imagine import (
    ImagineConfig,
    ImaginedLabels,
    candidate_scores,
    choose,
    frame_copies,
    label_tensors,
    make_candidates,
    sample_frames,
)


def test_scores_add_success_and_progress_and_take_off_the_unsafe_penalty():
    success = np.array([[0.1, 0.6], [0.2, 0.3], [0.9, 0.95]])
    progress = np.array([[0.2, 0.4], [0.5, 0.7], [0.0, 0.0]])
    flagged = np.array([False, False, True])
    # max success + mean progress - flag: 0.6 + 0.3, 0.3 + 0.6, 0.95 + 0 - 1
    assert candidate_scores(success, progress, flagged, ImagineConfig()) == pytest.approx([0.9, 0.9, -0.05])
    assert candidate_scores(success, None, flagged, ImagineConfig()) == pytest.approx([0.6, 0.3, -0.05])  # no progress head
    cfg = ImagineConfig(progress_weight=2.0, unsafe_penalty=0.5, success_bonus=0.5)
    assert candidate_scores(success, progress, flagged, cfg) == pytest.approx([0.9, 1.35, -0.025])


def test_the_choice_is_the_best_candidate_and_the_policys_own_chunk_wins_ties():
    assert choose(np.array([0.9, 0.9, -0.05])) == (0, 0.0)
    best, gain = choose(np.array([0.9, 1.35, -0.025]))
    assert best == 1 and gain == pytest.approx(0.45)
    assert choose(np.array([0.2, 0.1])) == (0, 0.0)  # nothing beats the policy: no advantage


def test_copies_keep_frames_above_the_margin_weighted_by_their_gain():
    cfg = ImagineConfig(temperature=0.1, max_weight=3.0)
    # kept: gains 0.2 and 0.3 (0.04 is under the margin); weights exp(-1), exp(0) over their mean: 0.538, 1.462
    assert frame_copies([0.0, 0.2, 0.04, 0.3, -0.1], 0.05, 4, cfg) == [0, 2, 0, 6, 0]
    # one clear winner: its weight 3 (the mean-1 normalisation), the others at least one copy each
    assert frame_copies([0.2, 0.2, 0.5], 0.05, 4, replace(cfg, temperature=0.01)) == [1, 1, 12]
    assert frame_copies([0.2, 0.2, 0.5], 0.05, 4, replace(cfg, temperature=0.01, max_weight=2.0)) == [1, 1, 8]
    assert frame_copies([0.01, 0.0], 0.05, 4, cfg) == [0, 0]
    assert frame_copies([], 0.05, 4, cfg) == []


def test_candidates_are_the_policys_chunk_then_seeded_alternatives():
    chunk = np.tile(np.array([0.5, -0.2, 0.9, 1.0], np.float32), (16, 1))
    cfg = ImagineConfig(candidates=3, noise_std=0.3)
    c = make_candidates(chunk, cfg, (1, 7, 42))
    assert c.shape == (4, 16, 4) and c.dtype == np.float32
    assert np.array_equal(c[0], chunk)
    assert np.array_equal(c, make_candidates(chunk, cfg, (1, 7, 42)))  # the same frame of the same round: the same
    assert not np.allclose(c[1:], make_candidates(chunk, cfg, (2, 7, 42))[1:])  # another round: other noise
    assert np.abs(c).max() <= 1.0 and not np.allclose(c[1], c[2])
    # each alternative is rl-sim's noisy action over the chunk's steps (one OU draw per candidate, clipped)
    seeds = np.random.SeedSequence([0x1A61, 1, 7, 42]).generate_state(3)
    assert np.allclose(c[1], explore_action(chunk, ou_noise(16, 4, 0.3, 20.0, int(seeds[0]))))
    # the planner's alternatives: half speed, then constant offsets of size spread; the gripper column never changes
    shifted = make_candidates(chunk, replace(cfg, alternatives="shift", spread=0.2), (1, 7, 42))
    assert np.allclose(shifted[1, :, :3], chunk[:, :3] * 0.5) and (shifted[:, :, 3] == 1.0).all()
    still = chunk.copy()
    still[:, :3] = 0.0
    offsets = make_candidates(still, replace(cfg, alternatives="shift", spread=0.2), (1, 7, 42))[2:, :, :3]
    assert np.allclose(np.linalg.norm(offsets, axis=2), 0.2) and np.allclose(offsets, offsets[:, :1])


def test_start_frames_are_a_seeded_sample_of_distinct_frames():
    lengths = {3: 5, 8: 4}
    a = sample_frames(lengths, 6, np.random.default_rng(0))
    assert len(a) == len(set(a)) == 6 and a == sorted(a)
    assert all(0 <= t < lengths[e] for e, t in a)
    assert a == sample_frames(lengths, 6, np.random.default_rng(0))
    assert sample_frames(lengths, 100, np.random.default_rng(1)) == [(3, t) for t in range(5)] + [(8, t) for t in range(4)]


def _dataset(root, make_episode):
    from vlastack.data.windows import WindowDataset
    from vlastack.episodes.reader import DatasetReader
    from vlastack.episodes.writer import DatasetWriter

    writer = DatasetWriter(root)
    for i in range(2):
        writer.add_episode(make_episode(6, i, size=8))
    return WindowDataset(DatasetReader(root), action_horizon=4, frames="memory")


def test_the_chosen_chunk_is_the_target_at_kept_frames_only_its_scored_steps_and_nothing_else(tmp_path, make_episode):
    base = _dataset(tmp_path / "d", make_episode)
    chunks = torch.arange(2 * 4 * 4, dtype=torch.float32).view(2, 4, 4) / 100
    labels = {
        "episode": torch.tensor([1, 0]),
        "frame": torch.tensor([3, 5]),
        "chunk": chunks,
        "steps": torch.tensor([3, 4]),
        "copies": torch.tensor([2, 1]),
    }
    data = ImaginedLabels(base, labels)
    assert len(data) == 3
    samples = [data[i] for i in range(3)]
    assert [(s[keys.EPISODE_INDEX], s[keys.FRAME_INDEX]) for s in samples] == [(1, 3), (1, 3), (0, 5)]  # only the kept frames
    first, last = samples[0], samples[2]
    # frame 3 of episode 1: the first 3 steps are the chosen chunk's, the 4th (not scored) is padding repeating step 3
    assert torch.equal(first[keys.ACTION][:3], chunks[0, :3]) and torch.equal(first[keys.ACTION][3], chunks[0, 2])
    assert first[keys.ACTION + keys.PAD_SUFFIX].tolist() == [False, False, False, True]
    # frame 5 is the episode's last: the demonstration's window would pad 3 steps; the chosen chunk covers all 4
    assert torch.equal(last[keys.ACTION], chunks[1]) and not last[keys.ACTION + keys.PAD_SUFFIX].any()
    assert base[base.sample_index(0, 5)][keys.ACTION + keys.PAD_SUFFIX].tolist() == [False, True, True, True]
    # everything else is the demonstrations' own sample of that frame
    own = base[base.sample_index(1, 3)]
    assert torch.equal(first[keys.STATE], own[keys.STATE]) and first["instruction"] == own["instruction"]
    assert not torch.equal(own[keys.ACTION], first[keys.ACTION])
    empty = label_tensors({k: [] for k in labels}, 4, 4)  # a round that kept nothing
    assert empty["chunk"].shape == (0, 4, 4) and len(ImaginedLabels(base, empty)) == 0
    with pytest.raises(DatasetError, match="policy's targets"):
        ImaginedLabels(base, {**labels, "chunk": torch.zeros(2, 5, 4)})[0]


def test_sample_index_finds_each_frame_and_names_what_is_wrong(tmp_path, make_episode):
    from vlastack.data.windows import WindowDataset
    from vlastack.episodes.reader import DatasetReader

    base = _dataset(tmp_path / "d", make_episode)
    for e in (0, 1):
        for t in range(6):
            s = base[base.sample_index(e, t)]
            assert (s[keys.EPISODE_INDEX], s[keys.FRAME_INDEX]) == (e, t)
    reader = DatasetReader(tmp_path / "d")
    one = WindowDataset(reader, episodes=[1])
    assert one.sample_index(1, 2) == 2
    with pytest.raises(DatasetError, match="episode 0 is not"):
        one.sample_index(0, 0)
    with pytest.raises(DatasetError, match="frames 0..5"):
        base.sample_index(1, 6)
    labelled = WindowDataset(reader, label_key=keys.SUCCESS)
    with pytest.raises(DatasetError, match="label_key"):
        labelled.sample_index(0, 5)


def test_settings_are_checked_with_the_field_named(tmp_path):
    from vlastack.improve.rounds import ImproveConfig

    for bad, match in [
        ({"candidates": 0}, "ImagineConfig.candidates"),
        ({"frames_per_task": 0}, "ImagineConfig.frames_per_task"),
        ({"alternatives": "random"}, "ImagineConfig.alternatives"),
        ({"temperature": 0.0}, "ImagineConfig.temperature"),
        ({"margin": -0.1}, "ImagineConfig.margin"),
        ({"max_weight": 0.5}, "ImagineConfig.max_weight"),
        ({"spread": 3.0}, "ImagineConfig.spread"),
    ]:
        with pytest.raises(ConfigError, match=match):
            ImagineConfig(**bad)
    (tmp_path / "ckpt").mkdir(), (tmp_path / "demos").mkdir(), (tmp_path / "wm").mkdir()
    base = dict(checkpoint=tmp_path / "ckpt", demos=tmp_path / "demos", tasks=("reach-v3",), out=tmp_path / "out")
    with pytest.raises(ConfigError, match="rl-wm needs world_model"):
        ImproveConfig(**base, method="rl-wm")
    with pytest.raises(ConfigError, match="world_model is read only by method rl-wm"):
        ImproveConfig(**base, method="rl-sim", world_model=tmp_path / "wm")
    with pytest.raises(ConfigError, match="progress_head: .* is not a directory"):
        ImproveConfig(**base, method="rl-wm", world_model=tmp_path / "wm", progress_head=tmp_path / "nowhere")
    ImproveConfig(**base, method="rl-wm", world_model=tmp_path / "wm")


def test_a_run_started_before_rl_wm_existed_resumes_while_its_settings_keep_their_defaults(tmp_path):
    from vlastack.improve.rounds import ImproveConfig, _check_same_run

    (tmp_path / "ckpt").mkdir(), (tmp_path / "demos").mkdir()
    config = ImproveConfig(
        checkpoint=tmp_path / "ckpt", demos=tmp_path / "demos", tasks=("reach-v3",), out=tmp_path / "out", method="rl-sim"
    )
    config.out.mkdir()
    _check_same_run(config)
    saved = json.loads((config.out / "improve_config.json").read_text())
    assert saved["imagine"]["candidates"] == ImagineConfig().candidates and saved["world_model"] is None
    for name in ("imagine", "world_model", "progress_head"):  # as an older vlastack wrote it
        saved.pop(name)
    (config.out / "improve_config.json").write_text(json.dumps(saved))
    _check_same_run(config)  # no complaint
    with pytest.raises(ConfigError, match=r"other settings \(imagine\)"):
        _check_same_run(replace(config, imagine=ImagineConfig(candidates=4)))
