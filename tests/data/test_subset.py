"""The first N episodes of each task, and statistics over them alone (few-demonstration experiments)."""

from __future__ import annotations

import numpy as np
import pytest

from vlastack import keys
from vlastack.data.subset import first_per_task, subset_stats, task_episodes
from vlastack.episodes.reader import DatasetReader
from vlastack.episodes.stats import vector_stats
from vlastack.episodes.video import VideoSettings
from vlastack.episodes.writer import DatasetWriter
from vlastack.errors import ConfigError, DatasetError


@pytest.fixture(scope="module")
def reader(tmp_path_factory):
    """Seven episodes of two tasks, interleaved: reach-v3 at 0, 2, 3, 5 and drawer-open-v3 at 1, 4, 6."""
    from tests.conftest import synthetic_episode

    root = tmp_path_factory.mktemp("subset") / "ds"
    writer = DatasetWriter(root, video=VideoSettings(codec="h264-lossless", crf=0))
    for i, env_task in enumerate(["reach-v3", "drawer-open-v3", "reach-v3", "reach-v3", "drawer-open-v3", "reach-v3", "drawer-open-v3"]):
        ep = synthetic_episode(6 + i, i, depth=True)
        ep.env_task = env_task
        writer.add_episode(ep)
    return DatasetReader(root)


def test_first_per_task_takes_the_first_episodes_of_each_task_in_index_order(reader):
    assert first_per_task(reader, 1) == [0, 1]
    assert first_per_task(reader, 2) == [0, 1, 2, 4]
    assert first_per_task(reader, 3) == [0, 1, 2, 3, 4, 6]


def test_first_per_task_names_the_field_on_bad_input(reader):
    with pytest.raises(ConfigError, match=r"train\.episodes_per_task must be an integer >= 1, got 0"):
        first_per_task(reader, 0, "train.episodes_per_task")
    with pytest.raises(DatasetError, match=r"labelled_per_task=4: .*'drawer-open-v3': 3"):
        first_per_task(reader, 4, "labelled_per_task")


def test_task_episodes_keeps_the_named_tasks_and_first_per_task_counts_within_them(reader):
    assert task_episodes(reader, ("drawer-open-v3",)) == [1, 4, 6]
    assert task_episodes(reader, ["drawer-open-v3", "reach-v3"]) == list(range(7))
    assert first_per_task(reader, 2, tasks=("reach-v3",)) == [0, 2]
    # a task short of N is refused only when it is one of those chosen
    assert first_per_task(reader, 4, tasks=["reach-v3"]) == [0, 2, 3, 5]


def test_task_episodes_names_the_field_and_the_datasets_tasks(reader):
    with pytest.raises(
        DatasetError, match=r"train\.tasks: .* has no episodes of \['rs-lift-jaco'\]; its tasks: \['drawer-open-v3', 'reach-v3'\]"
    ):
        task_episodes(reader, ["reach-v3", "rs-lift-jaco"], "train.tasks")
    with pytest.raises(DatasetError, match=r"^train\.tasks: .*\['push-v3'\]"):
        first_per_task(reader, 1, "train.episodes_per_task", ("push-v3",), "train.tasks")
    with pytest.raises(ConfigError, match=r"train\.tasks must name at least one task, got \(\)"):
        task_episodes(reader, (), "train.tasks")


def test_subset_stats_over_every_episode_are_the_datasets_and_over_some_are_theirs(reader):
    everything = subset_stats(reader, list(range(reader.num_episodes)))
    assert set(everything) == set(reader.stats)
    for key, stats in reader.stats.items():
        for name, value in stats.items():
            np.testing.assert_allclose(everything[key][name], value, rtol=1e-6, atol=1e-9, err_msg=f"{key}/{name}")

    some = subset_stats(reader, [0, 1])
    actions = np.concatenate([reader.read_columns(e)[keys.ACTION] for e in (0, 1)])
    for name, value in vector_stats(actions).items():
        np.testing.assert_allclose(some[keys.ACTION][name], value)
    assert int(some[keys.ACTION]["count"][0]) == 6 + 7
    assert int(some[keys.image_key("corner2")]["count"][0]) == 6 + 7  # images merged from those episodes only
    assert not np.allclose(some[keys.ACTION]["max"], reader.stats[keys.ACTION]["max"])
