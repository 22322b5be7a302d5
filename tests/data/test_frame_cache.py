"""The on-disk frame cache: the same samples as frames held in memory, rebuilt when the dataset
changes, never read half-built, and cheap to hand to DataLoader workers."""

from __future__ import annotations

import os
import pickle

import numpy as np
import pytest
import torch

from vlastack import keys
from vlastack.data import frame_cache
from vlastack.data.windows import WindowDataset, collate
from vlastack.episodes.reader import DatasetReader
from vlastack.episodes.video import VideoSettings
from vlastack.episodes.writer import DatasetWriter
from vlastack.errors import ConfigError, DatasetError

VIDEO = VideoSettings(codec="h264-lossless", crf=0)
OPTIONS = dict(obs_history=2, action_horizon=4, touch=True, depth=True)


@pytest.fixture
def root(tmp_path, make_episode):
    writer = DatasetWriter(tmp_path / "ds", video=VIDEO)
    for ep in (make_episode(5, 0, depth=True), make_episode(7, 1, task="other", depth=True), make_episode(3, 2, depth=True)):
        writer.add_episode(ep)
    return tmp_path / "ds"


def assert_same_samples(a: WindowDataset, b: WindowDataset) -> None:
    assert len(a) == len(b) > 0
    for i in range(len(a)):
        x, y = a[i], b[i]
        assert x.keys() == y.keys()
        for k in x:
            if isinstance(x[k], torch.Tensor):
                assert x[k].dtype == y[k].dtype and torch.equal(x[k], y[k]), (i, k)
            else:
                assert x[k] == y[k], (i, k)


def cache_files(cache_dir):
    return sorted(p.name for p in cache_dir.iterdir()) if cache_dir.exists() else []


def test_memmap_samples_equal_in_memory_samples_bit_for_bit(root, tmp_path):
    reader = DatasetReader(root)
    memory = WindowDataset(reader, **OPTIONS)
    cached = WindowDataset(reader, **OPTIONS, frames="memmap", cache_dir=tmp_path / "cache")
    assert_same_samples(memory, cached)
    # A subset of episodes maps onto the cache of the whole dataset.
    assert_same_samples(
        WindowDataset(reader, **OPTIONS, episodes=[2, 1]),
        WindowDataset(reader, **OPTIONS, episodes=[2, 1], frames="memmap", cache_dir=tmp_path / "cache"),
    )
    # The cached images really are the decoded video (not, say, zeros on both sides of a bug).
    img = cached[5][keys.image_key("corner2")][1]  # episode 1, frame 0
    np.testing.assert_array_equal(
        (img * 255).round().to(torch.uint8).permute(1, 2, 0).numpy(), reader.read_video(1, keys.image_key("corner2"))[0]
    )
    names = cache_files(tmp_path / "cache")
    assert len(names) == 4 and not [n for n in names if ".tmp-" in n]  # image + depth, .bin + .json each
    assert {n.rsplit("-", 1)[0] for n in names} == {keys.image_key("corner2"), keys.depth_key("corner2")}


def test_dataloader_workers_read_the_cache_and_get_the_same_batches(root, tmp_path):
    reader = DatasetReader(root)
    memory = WindowDataset(reader, **OPTIONS)
    cached = WindowDataset(reader, **OPTIONS, frames="memmap", cache_dir=tmp_path / "cache")
    # Handing the dataset to a worker sends paths, not frames.
    frame_bytes = sum(
        t.numel() * t.element_size() for ep in memory._data for k, t in ep.items() if k in memory.image_keys + memory.depth_keys
    )
    assert len(pickle.dumps(memory)) - len(pickle.dumps(cached)) >= frame_bytes
    expected = list(torch.utils.data.DataLoader(memory, batch_size=4, collate_fn=collate))
    got = list(torch.utils.data.DataLoader(cached, batch_size=4, collate_fn=collate, num_workers=2))
    assert len(got) == len(expected) == 4
    for b, e in zip(got, expected):
        assert b.instruction == e.instruction and b.features.keys() == e.features.keys()
        for k in e.features:
            assert torch.equal(b.features[k], e.features[k]), k


def test_cache_is_reused_then_rebuilt_when_the_dataset_changes(root, tmp_path, make_episode):
    cache_dir = tmp_path / "cache"
    WindowDataset(DatasetReader(root), **OPTIONS, frames="memmap", cache_dir=cache_dir)
    first = {p.name: p.stat().st_mtime_ns for p in cache_dir.iterdir()}
    WindowDataset(DatasetReader(root), **OPTIONS, frames="memmap", cache_dir=cache_dir)
    assert {p.name: p.stat().st_mtime_ns for p in cache_dir.iterdir()} == first  # reused, not rewritten

    DatasetWriter(root, video=VIDEO).add_episode(make_episode(4, 3, depth=True))
    reader = DatasetReader(root)
    cached = WindowDataset(reader, **OPTIONS, frames="memmap", cache_dir=cache_dir)
    assert len(cached) == 19
    second = set(cache_files(cache_dir))
    assert second.isdisjoint(first)  # the stale cache was replaced and removed
    assert_same_samples(WindowDataset(reader, **OPTIONS), cached)

    # An episode file rewritten in place (same name, new contents) also selects a new cache.
    video = next((root / "videos").rglob("*.mp4"))
    os.utime(video, ns=(video.stat().st_atime_ns, video.stat().st_mtime_ns + 1_000_000_000))
    WindowDataset(DatasetReader(root), **OPTIONS, frames="memmap", cache_dir=cache_dir)
    assert set(cache_files(cache_dir)).isdisjoint(second)


def test_a_cache_can_be_built_while_episodes_are_appended(root, tmp_path, make_episode):
    reader = DatasetReader(root)  # opened before the append: it reads the first three episodes
    DatasetWriter(root, video=VIDEO).add_episode(make_episode(4, 3, depth=True))
    cached = WindowDataset(reader, **OPTIONS, frames="memmap", cache_dir=tmp_path / "cache")
    assert_same_samples(WindowDataset(reader, **OPTIONS), cached)


def test_a_read_only_dataset_caches_under_the_user_cache(root, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "home_cache"))
    assert frame_cache.default_cache_dir(root) == root.resolve() / "cache"
    monkeypatch.setattr(frame_cache.os, "access", lambda path, mode: False)
    elsewhere = frame_cache.default_cache_dir(root)
    assert elsewhere.parent == tmp_path / "home_cache" / "vlastack" / "frames"
    assert frame_cache.default_cache_dir(root.parent / "other") != elsewhere  # one folder per dataset


def test_default_cache_lives_in_the_dataset_and_does_not_invalidate_itself(root):
    reader = DatasetReader(root)
    WindowDataset(reader, image_keys=[keys.image_key("corner2")], frames="memmap")
    built = {p.name: p.stat().st_mtime_ns for p in (root / "cache").iterdir()}
    assert len(built) == 2
    again = WindowDataset(DatasetReader(root), image_keys=[keys.image_key("corner2")], frames="memmap")
    assert {p.name: p.stat().st_mtime_ns for p in (root / "cache").iterdir()} == built
    assert_same_samples(WindowDataset(reader), again)


def test_an_interrupted_build_leaves_nothing_that_is_read_later(root, tmp_path, monkeypatch):
    cache_dir = tmp_path / "cache"
    real = frame_cache.frame_array

    def crash_on_episode_1(reader, e, key, columns=None):
        if e == 1:
            raise KeyboardInterrupt
        return real(reader, e, key, columns)

    monkeypatch.setattr(frame_cache, "frame_array", crash_on_episode_1)
    with pytest.raises(KeyboardInterrupt):
        WindowDataset(DatasetReader(root), **OPTIONS, frames="memmap", cache_dir=cache_dir)
    assert cache_files(cache_dir) == []
    monkeypatch.setattr(frame_cache, "frame_array", real)
    reader = DatasetReader(root)
    assert_same_samples(WindowDataset(reader, **OPTIONS), WindowDataset(reader, **OPTIONS, frames="memmap", cache_dir=cache_dir))


def test_a_truncated_cache_file_is_rebuilt(root, tmp_path):
    cache_dir = tmp_path / "cache"
    reader = DatasetReader(root)
    WindowDataset(reader, **OPTIONS, frames="memmap", cache_dir=cache_dir)
    for path in cache_dir.glob("*.bin"):
        path.write_bytes(path.read_bytes()[:100])
    cached = WindowDataset(reader, **OPTIONS, frames="memmap", cache_dir=cache_dir)
    assert_same_samples(WindowDataset(reader, **OPTIONS), cached)


def test_bad_options_are_named(root, tmp_path):
    reader = DatasetReader(root)
    with pytest.raises(ConfigError, match="frames must be one of"):
        WindowDataset(reader, frames="disk")
    with pytest.raises(ConfigError, match="cache_dir is only used with frames='memmap'"):
        WindowDataset(reader, cache_dir=tmp_path / "cache")
    with pytest.raises(DatasetError, match="episodes: episode 7 does not exist"):
        WindowDataset(reader, episodes=[7], frames="memmap", cache_dir=tmp_path / "cache")
    (tmp_path / "file").write_text("not a directory")
    with pytest.raises(DatasetError, match="cache_dir"):
        WindowDataset(reader, frames="memmap", cache_dir=tmp_path / "file" / "cache")
