"""Dataset write -> read round trips, resume, and errors for broken files."""

from __future__ import annotations

import json

import numpy as np
import pytest

from vlastack import keys
from vlastack.episodes import layout
from vlastack.episodes.reader import DatasetReader
from vlastack.episodes.video import VideoSettings
from vlastack.episodes.writer import DatasetWriter
from vlastack.errors import DatasetError

LOSSLESS = VideoSettings(codec="h264-lossless", crf=0)


def test_lossless_roundtrip_is_exact(tmp_path, make_episode):
    eps = [make_episode(9, 0, depth=True), make_episode(5, 1, task="push the puck", depth=True)]
    writer = DatasetWriter(tmp_path / "ds", robot_type="sawyer", video=LOSSLESS)
    for ep in eps:
        writer.add_episode(ep)
    reader = DatasetReader(tmp_path / "ds")
    assert reader.num_episodes == 2 and reader.num_frames == 14
    assert reader.tasks == ["reach the goal position", "push the puck"]
    for e, ep in enumerate(eps):
        back = reader.episode(e)
        assert back.task == ep.task and back.seed == ep.seed and back.env_task == "reach-v3"
        assert set(back.frames) == set(ep.frames)
        for k, v in ep.frames.items():
            assert back.frames[k].dtype == v.dtype, k
            np.testing.assert_array_equal(back.frames[k], v, err_msg=k)
    cols = reader.read_columns(1)
    np.testing.assert_array_equal(cols[keys.INDEX], np.arange(9, 14))
    np.testing.assert_allclose(cols[keys.TIMESTAMP], np.arange(5) / 80, rtol=1e-6)


def test_default_codec_is_close(tmp_path, make_episode):
    # Smooth images, as cameras see them: lossy H.264 must stay within a few grey levels.
    ep = make_episode(6, 0, size=32)
    x = np.linspace(0, 1, 32)
    smooth = (np.add.outer(x, x)[None, :, :, None] * 120 + np.arange(6)[:, None, None, None] * 5).astype(np.uint8)
    ep.frames[keys.image_key("corner2")] = np.repeat(smooth, 3, axis=3)
    DatasetWriter(tmp_path / "ds").add_episode(ep)
    back = DatasetReader(tmp_path / "ds").read_video(0, keys.image_key("corner2"))
    err = np.abs(back.astype(int) - ep.frames[keys.image_key("corner2")])
    assert err.mean() < 2.0 and np.percentile(err, 99) <= 10  # a few grey levels; rare edge pixels more


def test_info_matches_lerobot_layout(tmp_path, make_episode):
    DatasetWriter(tmp_path / "ds", robot_type="sawyer").add_episode(make_episode(4, 0))
    info = json.loads((tmp_path / "ds" / layout.INFO_PATH).read_text())
    assert info["codebase_version"] == "v3.0" and info["total_episodes"] == 1 and info["total_frames"] == 4
    assert info["features"][keys.image_key("corner2")]["dtype"] == "video"
    assert info["features"][keys.STATE] == {"dtype": "float32", "shape": [4], "names": None}
    for rel in (
        "meta/tasks.parquet",
        "meta/stats.json",
        "meta/episodes/chunk-000/file-000.parquet",
        "data/chunk-000/file-000.parquet",
        "videos/observation.images.corner2/chunk-000/file-000.mp4",
    ):
        assert (tmp_path / "ds" / rel).is_file(), rel


def test_resume_appends_and_rejects_mismatched_features(tmp_path, make_episode):
    DatasetWriter(tmp_path / "ds").add_episode(make_episode(4, 0))
    writer = DatasetWriter(tmp_path / "ds")
    assert writer.num_episodes == 1
    writer.add_episode(make_episode(3, 1))
    assert DatasetReader(tmp_path / "ds").num_episodes == 2
    with pytest.raises(DatasetError, match="observation.depth.corner2"):
        writer.add_episode(make_episode(3, 2, depth=True))


def test_orphans_of_an_interrupted_write_are_removed(tmp_path, make_episode):
    root = tmp_path / "ds"
    writer = DatasetWriter(root, video=LOSSLESS)
    writer.add_episode(make_episode(4, 0))
    writer.add_episode(make_episode(4, 1))
    # Simulate a crash after episode 1's data and video were written but before its commit point.
    layout.episodes_path(root, 1).unlink()
    (root / "data/chunk-000/.tmp-file-002.parquet").write_bytes(b"half a file")
    reader = DatasetReader(root, trust_episodes_dir=True)
    assert reader.num_episodes == 1
    resumed = DatasetWriter(root, video=LOSSLESS)
    assert resumed.num_episodes == 1
    assert not layout.data_path(root, 1).exists() and not (root / "data/chunk-000/.tmp-file-002.parquet").exists()
    resumed.add_episode(make_episode(4, 5))
    assert DatasetReader(root).episode(1).seed == 5


def test_broken_files_name_the_file(tmp_path, make_episode):
    root = tmp_path / "ds"
    DatasetWriter(root).add_episode(make_episode(4, 0))
    with pytest.raises(DatasetError, match="does not exist"):
        DatasetReader(tmp_path / "nothing")
    layout.data_path(root, 0).write_bytes(b"not parquet")
    with pytest.raises(DatasetError, match="file-000.parquet is corrupt"):
        DatasetReader(root).read_columns(0)
    layout.video_path(root, keys.image_key("corner2"), 0).unlink()
    with pytest.raises(DatasetError, match="file-000.mp4 is missing"):
        DatasetReader(root)
    (root / layout.INFO_PATH).write_text("{ not json")
    with pytest.raises(DatasetError, match="info.json is corrupt"):
        DatasetReader(root)


def test_episode_without_actions_reads(tmp_path, make_episode):
    ep = make_episode(4, 0)
    del ep.frames[keys.ACTION]
    DatasetWriter(tmp_path / "ds").add_episode(ep)
    reader = DatasetReader(tmp_path / "ds")
    assert keys.ACTION not in reader.episode(0).frames
    with pytest.raises(DatasetError, match="video-only"):
        reader.episode_actions()


def test_crash_right_after_the_first_commit_leaves_a_readable_dataset(tmp_path, make_episode, monkeypatch):
    root = tmp_path / "ds"
    writer = DatasetWriter(root, video=LOSSLESS)
    calls, write_info = {"n": 0}, DatasetWriter._write_info

    def killed(self):
        calls["n"] += 1
        if calls["n"] == 2:  # the first call writes the empty dataset; the second follows the commit point
            raise KeyboardInterrupt  # stands for SIGKILL between the commit point and the totals
        write_info(self)

    monkeypatch.setattr(DatasetWriter, "_write_info", killed)
    with pytest.raises(KeyboardInterrupt):
        writer.add_episode(make_episode(4, 0))
    monkeypatch.undo()
    assert layout.episodes_path(root, 0).exists()  # the crash did land after the commit point
    reader = DatasetReader(root)
    assert reader.num_episodes == 1 and reader.info["total_episodes"] == 0  # totals lag, which readers accept
    assert reader.tasks == ["reach the goal position"] and reader.stats[keys.ACTION]["count"] == [4]
    assert reader.episode(0).seed == 0
    resumed = DatasetWriter(root, video=LOSSLESS)
    assert resumed.num_episodes == 1
    assert json.loads((root / layout.INFO_PATH).read_text())["total_episodes"] == 1  # reopening repaired them
    resumed.add_episode(make_episode(4, 1))
    reader = DatasetReader(root)
    assert reader.num_episodes == 2 and json.loads((root / layout.INFO_PATH).read_text())["total_episodes"] == 2


def test_stopped_before_the_first_commit_starts_afresh_with_new_features(tmp_path, make_episode, monkeypatch):
    root = tmp_path / "ds"

    def killed(self, path, table):
        raise KeyboardInterrupt

    monkeypatch.setattr(DatasetWriter, "_write_data", killed)
    with pytest.raises(KeyboardInterrupt):
        DatasetWriter(root, video=LOSSLESS).add_episode(make_episode(4, 0))
    monkeypatch.undo()
    assert DatasetReader(root).num_episodes == 0
    writer = DatasetWriter(root, video=LOSSLESS)
    writer.add_episode(make_episode(4, 0, depth=True))  # a different feature set is fine: nothing was kept
    assert "observation.depth.corner2" in DatasetReader(root).features


def test_resume_with_one_value_features_stored_as_n_by_1(tmp_path, make_episode):
    # Rollouts may hold a one-value feature as [N, 1]; the reader gives it back as [N]. Statistics
    # over resumed episodes and a new one must still concatenate (this crashed the resume before).
    def episode(seed):
        ep = make_episode(4, seed)
        ep.frames["safety.held"] = np.zeros((4, 1), dtype=bool)
        ep.frames["safety.interventions"] = np.arange(4, dtype=np.int64)[:, None]
        return ep

    DatasetWriter(tmp_path / "ds", video=LOSSLESS).add_episode(episode(0))
    resumed = DatasetWriter(tmp_path / "ds", video=LOSSLESS)
    resumed.add_episode(episode(1))
    reader = DatasetReader(tmp_path / "ds")
    assert reader.features["safety.interventions"]["shape"] == [1]
    np.testing.assert_array_equal(reader.read_columns(1)["safety.interventions"], np.arange(4))
    assert reader.stats["safety.interventions"]["count"] == [8] and reader.stats["safety.interventions"]["max"] == [3]


def test_depth_statistics_are_merged_per_episode_and_never_accumulated(tmp_path, make_episode):
    """Depth maps get per-pixel statistics merged from each episode's, like images; the writer keeps only
    the small vector columns in memory (exact quantiles over every depth pixel grew quadratically)."""
    from vlastack.episodes.stats import merge_image_stats, vector_stats

    eps = [make_episode(9, 0, depth=True), make_episode(5, 1, depth=True)]
    writer = DatasetWriter(tmp_path / "ds", video=LOSSLESS)
    for ep in eps:
        writer.add_episode(ep)
    key = keys.depth_key("corner2")
    assert key not in writer._vectors and keys.STATE in writer._vectors
    saved = json.loads((tmp_path / "ds" / layout.STATS_PATH).read_text())[key]
    per_episode = [vector_stats(ep.frames[key]) for ep in eps]
    merged = merge_image_stats(per_episode)
    for name in ("min", "max", "mean", "std", "q50"):
        np.testing.assert_allclose(np.asarray(saved[name]), merged[name], rtol=1e-6, atol=1e-9, err_msg=name)
    exact = vector_stats(np.concatenate([ep.frames[key] for ep in eps]))
    np.testing.assert_allclose(np.asarray(saved["mean"]), exact["mean"], rtol=1e-6)  # mean and extremes stay exact
    np.testing.assert_allclose(np.asarray(saved["max"]), exact["max"], rtol=1e-6)
    reopened = DatasetWriter(tmp_path / "ds", video=LOSSLESS)  # recovery keeps the same rule
    assert key not in reopened._vectors
