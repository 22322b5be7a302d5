"""The dataset writer killed at every file it publishes: the dataset stays readable and resumes.

A kill is simulated by raising KeyboardInterrupt from ``os.replace`` (every file reaches its final
name through one rename), just before or just after the n-th rename. The patch is on ``os`` itself,
so the test does not depend on how the writer organises its writes.
"""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from vlastack import keys
from vlastack.episodes import layout
from vlastack.episodes.reader import DatasetReader
from vlastack.episodes.video import VideoSettings
from vlastack.episodes.writer import DatasetWriter

LOSSLESS = VideoSettings(codec="h264-lossless", crf=0)
TASKS = ("reach the goal position", "push the puck", "reach the goal position")
LENGTHS = (4, 3, 5)


class Killed(BaseException):
    """Stands for SIGKILL: not an Exception, so nothing in the writer can catch it."""


def episodes(make_episode):
    return [make_episode(n, seed, task=task) for seed, (n, task) in enumerate(zip(LENGTHS, TASKS))]


def count_renames(tmp_path, make_episode) -> int:
    renames = {"n": 0}
    real = os.replace

    def counting(src, dst):
        renames["n"] += 1
        real(src, dst)

    os.replace = counting
    try:
        writer = DatasetWriter(tmp_path / "count", video=LOSSLESS)
        for ep in episodes(make_episode):
            writer.add_episode(ep)
    finally:
        os.replace = real
    return renames["n"]


def check_readable(root, committed: int) -> None:
    """What ``vlastack dataset info`` and training read, for every committed episode."""
    reader = DatasetReader(root)
    assert reader.num_episodes == committed
    for e in range(committed):
        ep = reader.episode(e)
        assert ep.seed == e and ep.task == TASKS[e] and len(ep) == LENGTHS[e]
        assert ep.task in reader.tasks
    assert isinstance(reader.tasks, list) and isinstance(reader.stats, dict)
    if committed:
        assert reader.stats[keys.ACTION]["count"][0] >= sum(LENGTHS[:committed])


@pytest.mark.parametrize("after", [False, True], ids=["before-rename", "after-rename"])
def test_a_kill_at_any_rename_leaves_a_readable_dataset_that_resumes(tmp_path, make_episode, monkeypatch, after):
    total = count_renames(tmp_path, make_episode)
    assert total >= 3 * 4  # data, video, tasks, stats, episode meta, info per episode
    for kill_at in range(1, total + 1):
        root = tmp_path / f"ds-{kill_at}"
        renames = {"n": 0}
        real = os.replace

        def dying(src, dst, renames=renames, kill_at=kill_at, real=real):
            renames["n"] += 1
            if renames["n"] == kill_at and not after:
                raise Killed
            real(src, dst)
            if renames["n"] == kill_at:
                raise Killed

        monkeypatch.setattr(os, "replace", dying)
        writer = DatasetWriter(root, video=LOSSLESS)
        eps = episodes(make_episode)
        with pytest.raises(Killed):
            for ep in eps:
                writer.add_episode(ep)
        monkeypatch.undo()

        committed = sum(layout.episodes_path(root, e).exists() for e in range(len(eps)))
        if committed or (root / layout.INFO_PATH).exists():  # once info.json exists, the directory reads
            check_readable(root, committed)
        resumed = DatasetWriter(root, video=LOSSLESS)
        assert resumed.num_episodes == committed, f"kill at rename {kill_at}: committed episodes were lost"
        for ep in eps[committed:]:
            resumed.add_episode(ep)
        check_readable(root, len(eps))
        reader = DatasetReader(root)
        assert reader.tasks == list(dict.fromkeys(TASKS))
        assert reader.info["total_episodes"] == len(eps) and reader.info["total_frames"] == sum(LENGTHS)
        assert reader.stats[keys.ACTION]["count"] == [sum(LENGTHS)]
        leftovers = [p for p in root.rglob(".tmp-*")]
        assert not leftovers, f"kill at rename {kill_at}: temporary files left behind: {leftovers}"


def test_every_file_and_directory_is_flushed_before_the_commit_point(tmp_path, make_episode, monkeypatch):
    root = tmp_path / "ds"
    log: list[tuple[str, str]] = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd):
        log.append(("fsync", os.readlink(f"/proc/self/fd/{fd}")))
        real_fsync(fd)

    def replace(src, dst):
        log.append(("replace", os.fspath(dst)))
        real_replace(src, dst)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    DatasetWriter(root, video=LOSSLESS).add_episode(make_episode(4, 0))
    monkeypatch.undo()

    commit = log.index(("replace", str(layout.episodes_path(root, 0))))
    before = log[:commit]
    video = layout.video_path(root, keys.image_key("corner2"), 0)
    data = layout.data_path(root, 0)
    for path in (video, data, root / layout.TASKS_PATH, root / layout.STATS_PATH):
        tmp = path.with_name(".tmp-" + path.name)
        # the file's contents reach the disk before it gets its name, and the name before the commit
        assert ("fsync", str(tmp)) in before, f"{path.name} is not flushed before it is renamed"
        flushed = before.index(("fsync", str(tmp)))
        renamed = before.index(("replace", str(path)))
        assert flushed < renamed and ("fsync", str(path.parent)) in before[renamed:], f"{path.parent} not flushed"
    for new_dir in (video.parent, video.parent.parent, data.parent, root / "meta"):
        assert ("fsync", str(new_dir.parent)) in before, f"new directory {new_dir} is not flushed into its parent"
    # and the commit itself is made durable: its directory is flushed after the rename
    assert ("fsync", str(layout.episodes_path(root, 0).parent)) in log[commit:]


def test_metadata_files_are_never_half_written(tmp_path, make_episode, monkeypatch):
    root = tmp_path / "ds"
    writer = DatasetWriter(root, video=LOSSLESS)
    writer.add_episode(make_episode(4, 0))
    before = {p: (root / p).read_bytes() for p in (layout.INFO_PATH, layout.STATS_PATH, layout.TASKS_PATH)}

    def dying(src, dst):
        raise Killed

    monkeypatch.setattr(os, "replace", dying)  # every write gets as far as its temporary file
    with pytest.raises(Killed):
        writer.add_episode(make_episode(3, 1, task="push the puck"))
    monkeypatch.undo()
    for p, content in before.items():
        assert (root / p).read_bytes() == content, f"{p} changed although its write was never published"
    assert json.loads((root / layout.INFO_PATH).read_text())["total_episodes"] == 1
    np.testing.assert_array_equal(DatasetReader(root).read_columns(0)[keys.FRAME_INDEX], np.arange(4))
