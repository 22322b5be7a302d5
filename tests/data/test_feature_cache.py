"""The on-disk cache of a frozen trunk's maps: built once, the maps of the decoded frames, rebuilt when the
dataset or the trunk changes, never read half-built, served by WindowDataset in place of the images."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
import torch

from vlastack import keys
from vlastack.data import feature_cache
from vlastack.data.frame_cache import frame_array
from vlastack.data.windows import WindowDataset, collate
from vlastack.episodes.reader import DatasetReader
from vlastack.episodes.video import VideoSettings
from vlastack.episodes.writer import DatasetWriter
from vlastack.errors import ConfigError, DatasetError

VIDEO = VideoSettings(codec="h264-lossless", crf=0)
CAM = keys.image_key("corner2")


class PoolEncoder:
    """A stand-in trunk: each frame's 16x16 image average-pooled to 4x4 cells, scaled to [0, 1]; counts its calls."""

    frame_shape = (3, 4, 4)

    def __init__(self, weights: str = "a", fail_after: int | None = None) -> None:
        self.name = "pool-s4-16x16"
        self.identity = {"trunk": "pool", "weights_sha256": weights}
        self.calls, self.fail_after = 0, fail_after

    def __call__(self, frames: np.ndarray) -> np.ndarray:
        self.calls += 1
        if self.fail_after is not None and self.calls > self.fail_after:
            raise KeyboardInterrupt  # a crash mid-build
        return torch.nn.functional.avg_pool2d(torch.from_numpy(frames).float() / 255.0, 4).numpy()


@pytest.fixture
def root(tmp_path, make_episode):
    writer = DatasetWriter(tmp_path / "ds", video=VIDEO)
    for ep in (make_episode(5, 0), make_episode(7, 1, task="other"), make_episode(3, 2)):
        writer.add_episode(ep)
    return tmp_path / "ds"


def files(cache_dir):
    return sorted(p.name for p in cache_dir.iterdir()) if cache_dir.exists() else []


def test_the_cache_holds_each_frames_maps_in_float16_and_is_built_once(root, tmp_path):
    reader, enc = DatasetReader(root), PoolEncoder()
    cache = feature_cache.open_feature_cache(reader, CAM, enc, tmp_path / "c")
    assert cache.shape == (15, 3, 4, 4) and cache.dtype == "float16" and cache.offsets == [0, 5, 12, 15]
    want = enc(frame_array(reader, 1, CAM))
    got = cache.rows(1, np.arange(7))
    assert got.dtype == np.float16
    np.testing.assert_allclose(got, want, rtol=1e-3, atol=1e-3)  # fp16 rounding of values in [0, 1]
    assert np.abs(want).max() > 0.1  # real maps, not zeros on both sides
    calls = enc.calls
    again = feature_cache.open_feature_cache(DatasetReader(root), CAM, enc, tmp_path / "c")
    assert enc.calls == calls and again.path == cache.path  # reused, not rebuilt
    meta = json.loads(cache.path.with_suffix(".json").read_text())
    assert meta["identity"] == enc.identity and meta["encoder"] == "pool-s4-16x16"


def test_another_trunk_or_a_changed_dataset_selects_a_new_cache_and_frees_the_stale_one(root, tmp_path):
    cache_dir = tmp_path / "c"
    first = feature_cache.open_feature_cache(DatasetReader(root), CAM, PoolEncoder("a"), cache_dir)
    other_weights = PoolEncoder("b")
    second = feature_cache.open_feature_cache(DatasetReader(root), CAM, other_weights, cache_dir)
    assert other_weights.calls > 0 and second.path != first.path
    assert files(cache_dir) == sorted([second.path.name, second.path.with_suffix(".json").name])  # the stale one is gone
    data_file = next((root / "data").rglob("*.parquet"))
    st = data_file.stat()
    os.utime(data_file, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))  # the dataset changed
    rebuilt = PoolEncoder("b")
    third = feature_cache.open_feature_cache(DatasetReader(root), CAM, rebuilt, cache_dir)
    assert rebuilt.calls > 0 and third.path != second.path and len(files(cache_dir)) == 2


def test_an_interrupted_build_leaves_nothing_that_is_trusted_later(root, tmp_path):
    cache_dir = tmp_path / "c"
    with pytest.raises(KeyboardInterrupt):
        feature_cache.open_feature_cache(DatasetReader(root), CAM, PoolEncoder(fail_after=1), cache_dir)
    assert files(cache_dir) == []  # no manifest, no data file, no temporary
    # A build killed outright (SIGKILL: no cleanup ran) leaves a temporary file; the next build deletes it
    # unless its process still runs (a concurrent build).
    killed = cache_dir / f"{CAM}.pool-s4-16x16-{'0' * 20}.bin.tmp-999999999"
    running = cache_dir / f"{CAM}.pool-s4-16x16-{'0' * 20}.bin.tmp-{os.getppid()}"
    killed.write_bytes(b"half")
    running.write_bytes(b"half")
    feature_cache.open_feature_cache(DatasetReader(root), CAM, PoolEncoder(), cache_dir)
    assert not killed.exists() and running.exists()
    running.unlink()
    # A data file that made it into place without its manifest (a crash between the two) is not read either.
    enc = PoolEncoder()
    cache = feature_cache.open_feature_cache(DatasetReader(root), CAM, enc, cache_dir)
    cache.path.with_suffix(".json").unlink()
    rebuilt = PoolEncoder()
    feature_cache.open_feature_cache(DatasetReader(root), CAM, rebuilt, cache_dir)
    assert rebuilt.calls > 0
    # A truncated data file is rebuilt, not mapped.
    cache.path.write_bytes(cache.path.read_bytes()[:100])
    truncated = PoolEncoder()
    again = feature_cache.open_feature_cache(DatasetReader(root), CAM, truncated, cache_dir)
    assert truncated.calls > 0 and again.path.stat().st_size == 15 * 48 * 2


def test_window_dataset_serves_the_maps_for_the_window_and_the_frames_ahead_instead_of_images(root, tmp_path):
    reader = DatasetReader(root)
    cache = feature_cache.open_feature_cache(reader, CAM, PoolEncoder(), tmp_path / "c")
    plain = WindowDataset(reader, obs_history=2, action_horizon=3, future_offsets=(2,))
    cached = WindowDataset(reader, obs_history=2, action_horizon=3, future_offsets=(2,), feature_caches={CAM: cache})
    fut_cached = keys.future_key(keys.cached_key(CAM))
    for i in (0, 6, 14):  # episode starts (padded history), the middle, the very last frame (clamped future)
        a, b = plain[i], cached[i]
        assert CAM not in b and keys.future_key(CAM) not in b
        assert b[keys.cached_key(CAM)].shape == (2, 3, 4, 4) and b[fut_cached].shape == (1, 3, 4, 4)
        for img, maps in ((a[CAM], b[keys.cached_key(CAM)]), (a[keys.future_key(CAM)], b[fut_cached])):
            want = torch.nn.functional.avg_pool2d(img, 4)  # the stand-in trunk on the very frames the images are
            torch.testing.assert_close(maps.float(), want, rtol=0, atol=1e-3)
        assert torch.equal(a[keys.ACTION], b[keys.ACTION]) and torch.equal(a[keys.STATE], b[keys.STATE])
    batch = collate([cached[0], cached[1]])
    assert batch.features[keys.cached_key(CAM)].shape == (2, 2, 3, 4, 4)


def test_bad_inputs_are_named(root, tmp_path):
    reader = DatasetReader(root)
    cache = feature_cache.open_feature_cache(reader, CAM, PoolEncoder(), tmp_path / "c")
    with pytest.raises(DatasetError, match="feature cache: 'observation.state' is not a camera stream"):
        feature_cache.open_feature_cache(reader, keys.STATE, PoolEncoder(), tmp_path / "c")
    bad_name = PoolEncoder()
    bad_name.name = "../escape"
    with pytest.raises(ConfigError, match="encoder's name"):
        feature_cache.open_feature_cache(reader, CAM, bad_name, tmp_path / "c")
    wrong_shape = PoolEncoder()
    wrong_shape.frame_shape = (3, 2, 2)
    with pytest.raises(DatasetError, match="gave maps of shape"):
        feature_cache.open_feature_cache(reader, CAM, wrong_shape, tmp_path / "c2")
    with pytest.raises(ConfigError, match="feature_caches: 'observation.images.gripperPOV' is not one of the camera streams"):
        WindowDataset(reader, feature_caches={keys.image_key("gripperPOV"): cache})
    with pytest.raises(DatasetError, match="feature_caches: the cache of 'observation.images.corner2' was not built from"):
        WindowDataset(reader, episodes=[0], feature_caches={CAM: feature_cache.CachedFrames(cache.path, "float16", (5, 3, 4, 4), [0, 5])})
    (tmp_path / "file").write_text("not a directory")
    with pytest.raises(DatasetError, match="cache_dir"):
        feature_cache.open_feature_cache(reader, CAM, PoolEncoder(), tmp_path / "file" / "c")


def test_a_copy_with_the_same_frames_is_given_the_maps_and_other_frames_are_not(root, tmp_path, make_episode):
    """share_feature_caches: a copy whose videos are the source's (hard links) reads the source's maps, encoding
    nothing; a stale source cache, or a dataset with other frames of the same lengths, gets nothing."""
    from vlastack.world_model.action_free import strip_actions

    src, enc = DatasetReader(root), PoolEncoder()
    built = feature_cache.open_feature_cache(src, CAM, enc)  # the default place: <dataset>/cache
    copy = strip_actions(root, tmp_path / "copy")  # other data files and features, the same videos
    assert files(copy.root / "cache") == []
    (shared,) = feature_cache.share_feature_caches(src, copy)
    calls = enc.calls
    opened = feature_cache.open_feature_cache(copy, CAM, enc)
    assert enc.calls == calls and opened.path == shared and shared.parent == copy.root / "cache"
    assert shared.stat().st_ino == built.path.stat().st_ino  # a hard link: no second copy of the maps on disk
    np.testing.assert_array_equal(opened.rows(1, np.arange(7)), built.rows(1, np.arange(7)))
    assert json.loads(shared.with_suffix(".json").read_text())["shared_from"] == str(root.resolve())
    assert feature_cache.share_feature_caches(src, copy) == []  # already there

    writer = DatasetWriter(tmp_path / "other", video=VIDEO)  # the same episode lengths, other frames
    for ep in (make_episode(5, 10), make_episode(7, 11, task="other"), make_episode(3, 12)):
        writer.add_episode(ep)
    assert feature_cache.share_feature_caches(src, DatasetReader(tmp_path / "other")) == []
    data_file = next((root / "data").rglob("*.parquet"))
    st = data_file.stat()
    os.utime(data_file, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))  # the source changed: its cache is stale
    assert feature_cache.share_feature_caches(DatasetReader(root), strip_actions(root, tmp_path / "copy2")) == []
