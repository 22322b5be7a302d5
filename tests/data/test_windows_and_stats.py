"""Training windows (history, horizon, padding masks) and normalisation statistics."""

from __future__ import annotations

import numpy as np
import pytest

from vlastack import keys
from vlastack.data.windows import WindowDataset, collate, window
from vlastack.episodes.reader import DatasetReader
from vlastack.episodes.stats import vector_stats
from vlastack.episodes.video import VideoSettings
from vlastack.episodes.writer import DatasetWriter
from vlastack.errors import DatasetError


@pytest.fixture
def dataset(tmp_path, make_episode):
    writer = DatasetWriter(tmp_path / "ds", video=VideoSettings(codec="h264-lossless", crf=0))
    eps = [make_episode(5, 0), make_episode(7, 1, task="other")]
    for ep in eps:
        writer.add_episode(ep)
    return DatasetReader(tmp_path / "ds"), eps


def test_window_clamps_and_flags():
    idx, pad = window(5, 3, np.arange(4))
    np.testing.assert_array_equal(idx, [3, 4, 4, 4])
    np.testing.assert_array_equal(pad, [False, False, True, True])
    idx, pad = window(5, 0, np.arange(-2, 1))
    np.testing.assert_array_equal(idx, [0, 0, 0])
    np.testing.assert_array_equal(pad, [True, True, False])


def test_window_shapes_and_masks_at_episode_ends(dataset):
    reader, eps = dataset
    ds = WindowDataset(reader, obs_history=2, action_horizon=4, touch=True)
    assert len(ds) == 12
    first = ds[0]  # episode 0, frame 0: history reaches before the start
    assert first[keys.image_key("corner2")].shape == (2, 3, 16, 16)
    assert first[keys.STATE].shape == (2, 4) and first[keys.TOUCH].shape == (2, 2)
    assert first[keys.STATE + keys.PAD_SUFFIX].tolist() == [True, False]
    np.testing.assert_allclose(first[keys.STATE][0], eps[0].frames[keys.STATE][0])
    last = ds[11]  # episode 1, frame 6: the horizon runs past the end
    assert last[keys.ACTION].shape == (4, 4)
    assert last[keys.ACTION + keys.PAD_SUFFIX].tolist() == [False, True, True, True]
    np.testing.assert_allclose(last[keys.ACTION][3], eps[1].frames[keys.ACTION][6])
    assert last["instruction"] == "other"
    img = last[keys.image_key("corner2")][1]
    np.testing.assert_allclose(img.permute(1, 2, 0).numpy(), eps[1].frames[keys.image_key("corner2")][6] / 255.0, atol=1e-6)
    batch = collate([first, last])
    assert batch.features[keys.ACTION].shape == (2, 4, 4) and batch.instruction == ["reach the goal position", "other"]


def test_missing_feature_is_named(dataset):
    reader, _ = dataset
    with pytest.raises(DatasetError, match="observation.images.wrist"):
        WindowDataset(reader, image_keys=["observation.images.wrist"])


def test_stats_match_numpy(dataset):
    reader, eps = dataset
    stats = reader.stats
    for key in (keys.STATE, keys.ACTION, keys.TOUCH):
        allv = np.concatenate([e.frames[key] for e in eps]).astype(np.float64)
        np.testing.assert_allclose(stats[key]["mean"], allv.mean(0), rtol=1e-6)
        np.testing.assert_allclose(stats[key]["std"], allv.std(0), rtol=1e-6)
        np.testing.assert_allclose(stats[key]["min"], allv.min(0), rtol=1e-6)
        np.testing.assert_allclose(stats[key]["max"], allv.max(0), rtol=1e-6)
        np.testing.assert_allclose(stats[key]["q01"], np.quantile(allv, 0.01, axis=0), rtol=1e-6)
        np.testing.assert_allclose(stats[key]["q99"], np.quantile(allv, 0.99, axis=0), rtol=1e-6)
        assert stats[key]["count"].tolist() == [12]
    img = stats[keys.image_key("corner2")]
    assert img["mean"].shape == (3, 1, 1)
    px = np.concatenate([e.frames[keys.image_key("corner2")] for e in eps]).reshape(-1, 3) / 255.0
    np.testing.assert_allclose(img["mean"].ravel(), px.mean(0), rtol=1e-6)
    np.testing.assert_allclose(img["std"].ravel(), px.std(0), rtol=1e-6)


def test_vector_stats_scalar_feature():
    st = vector_stats(np.array([1.0, 2.0, 3.0]))
    assert st["mean"].tolist() == [2.0] and st["q50"].tolist() == [2.0]
