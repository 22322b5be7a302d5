"""Latent-action labels: every frame of a dataset labelled with the latent-action model's code for it and the frame
k steps later (the last frame standing in past the episode's end); ``vlastack train`` reads the copy."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from tests.conftest import synthetic_episode
from vlastack import keys
from vlastack.checkpoint import latest_checkpoint
from vlastack.episodes.reader import DatasetReader
from vlastack.episodes.stats import vector_stats
from vlastack.episodes.video import VideoSettings
from vlastack.episodes.writer import DatasetWriter
from vlastack.errors import CheckpointError, DatasetError
from vlastack.world_model import checkpoint
from vlastack.world_model.embeddings import EmbeddingTable
from vlastack.world_model.latent_labels import REPORT_PATH, latent_label

GAP, LEVELS = 4, (3, 3)  # 2 latent dimensions, against the recorded actions' 4


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Root holding ``src`` (4 episodes with actions), ``noaction`` (its stripped copy), ``enc`` (an untrained
    l1-debug encoder), ``lam`` (a latent-action run on ``noaction``) and ``lab`` (``src`` latent-labelled by the CLI)."""
    from vlastack.cli import app
    from vlastack.policies.presets import PRESETS
    from vlastack.policies.untrained import untrained_policy
    from vlastack.world_model.action_free import strip_actions

    root = tmp_path_factory.mktemp("latent_labels")
    writer = DatasetWriter(root / "src", video=VideoSettings(codec="h264-lossless", crf=0))
    for i in range(4):
        writer.add_episode(synthetic_episode(12 + i, i, task="reach the goal position" if i % 2 else "open the drawer"))
    strip_actions(root / "src", root / "noaction")
    untrained_policy(PRESETS.get("l1-debug").policy).save_pretrained(root / "enc")
    small = [f"--set={k}={v}" for k, v in (("steps", 4), ("save_every", 4), ("hidden", 16), ("batch_size", 8), ("gap", GAP))]
    lam = ["wm", "latent", "--dataset", str(root / "noaction"), "--encoder", str(root / "enc"), "--out", str(root / "lam")]
    done = CliRunner().invoke(app, [*lam, "--held-out-every", "2", *small, f"--set=levels={list(LEVELS)}"])
    assert done.exit_code == 0, done.output
    done = CliRunner().invoke(
        app, ["wm", "latent-label", "--latent", str(root / "lam"), "--dataset", str(root / "src"), "--out", str(root / "lab")]
    )
    assert done.exit_code == 0, done.output
    assert "action = latent action [2] (k = 4)" in done.output
    return root


def test_labels_are_the_models_codes_of_each_frame_and_the_frame_k_later(runs):
    src, out = DatasetReader(runs / "src"), DatasetReader(runs / "lab")
    assert out.features[keys.ACTION] == {"dtype": "float32", "shape": [2], "names": ["latent_0", "latent_1"]}
    assert out.num_episodes == 4 and out.num_frames == src.num_frames
    # independently: the model on the embeddings its own run cached (of the stripped copy, the same frames)
    model, _ = checkpoint.load(latest_checkpoint(runs / "lam"))
    table = EmbeddingTable.load(runs / "lam" / "embeddings.safetensors")
    first, n = table.spans()[1]
    z = model.norm.normalize(table.z[first : first + n])
    labels = out.read_columns(1)[keys.ACTION]
    assert labels.shape == (13, 2) and set(np.unique(labels)) <= {-1.0, 0.0, 1.0}
    for t in (0, 5, 9, 10, 12):  # 9 + 4 = 12 is the last frame; from 10 on, the last frame stands in
        want, _ = model.encode(z[t : t + 1], z[min(t + GAP, n - 1) : min(t + GAP, n - 1) + 1])
        np.testing.assert_array_equal(labels[t], want[0].detach().numpy(), err_msg=f"frame {t}")
    # the rest of the dataset is the source's; the action statistics describe the latent actions
    for e in range(4):
        np.testing.assert_array_equal(out.read_columns(e)[keys.STATE], src.read_columns(e)[keys.STATE])
    np.testing.assert_array_equal(out.read_video(2, keys.image_key("corner2")), src.read_video(2, keys.image_key("corner2")))
    every = np.concatenate(out.episode_actions())
    np.testing.assert_allclose(out.stats[keys.ACTION]["q99"], vector_stats(every)["q99"])
    np.testing.assert_allclose(out.episode_meta(3)[f"stats/{keys.ACTION}/min"], out.read_columns(3)[keys.ACTION].min(0))
    report = json.loads((runs / "lab" / REPORT_PATH).read_text())
    assert report["gap"] == GAP and report["levels"] == list(LEVELS) and report["embeddings"] == "encoded"
    assert report["latent_model"] == str(latest_checkpoint(runs / "lam").resolve()) and report["frames"] == out.num_frames
    assert report["replaced_action_feature"]["shape"] == [4] and report["codebook"]["size"] == 9
    assert report["codebook"]["used"] >= 2  # the labels compared above are not one constant code


def test_the_models_own_action_free_dataset_reuses_its_embeddings_and_gains_an_action_column(runs, tmp_path):
    out = latent_label(runs / "lam", runs / "noaction", tmp_path / "lab2", log=lambda s: None)
    report = json.loads((tmp_path / "lab2" / REPORT_PATH).read_text())
    assert report["embeddings"].endswith("embeddings.safetensors") and report["replaced_action_feature"] is None
    for e in range(4):  # the same frames, so the same labels as the copy of the source
        np.testing.assert_array_equal(out.read_columns(e)[keys.ACTION], DatasetReader(runs / "lab").read_columns(e)[keys.ACTION])
    assert f"stats/{keys.ACTION}/mean" in out.episode_meta(0)


def test_vlastack_train_reads_the_copy_with_the_latent_dimension(runs, tmp_path):
    from vlastack.cli import app
    from vlastack.policies import load_policy

    args = ["train", "--preset", "l1-debug", "--dataset", str(runs / "lab"), "--steps", "2", "--save-every", "2", "--no-progress"]
    refused = CliRunner().invoke(app, [*args, "--out", str(tmp_path / "no")])
    assert isinstance(refused.exception, DatasetError) and "--set policy.action_dim=2" in str(refused.exception)
    done = CliRunner().invoke(app, [*args, "--out", str(tmp_path / "run"), "--set", "policy.action_dim=2"])
    assert done.exit_code == 0, done.output
    policy = load_policy(tmp_path / "run" / "checkpoints" / "step_00000002")
    assert policy.config.action_dim == 2 and torch.isfinite(policy.normalizer.offset(keys.ACTION)).all()


def test_bad_inputs_are_named_and_leave_nothing(runs, tmp_path):
    with pytest.raises(DatasetError, match="already exists"):
        latent_label(runs / "lam", runs / "src", runs / "lab")
    with pytest.raises(CheckpointError, match="kind is None"):
        latent_label(runs / "enc", runs / "src", tmp_path / "x")  # a policy, not a latent-action run
    with pytest.raises(CheckpointError, match="holds no checkpoint"):
        latent_label(runs / "src", runs / "src", tmp_path / "x")
    assert not (tmp_path / "x").exists() and not (tmp_path / "x.tmp").exists()
