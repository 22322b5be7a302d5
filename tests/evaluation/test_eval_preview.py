"""``vlastack eval --report DIR --preview RUN``: under a recorded episode's video the report shows what the world
model expected one chunk of the executed actions to do, beside what happened. A tiny world model made through
the CLI (as tests/world_model/test_preview.py makes one) and its untrained encoder as the policy: seconds."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from tests.conftest import synthetic_episode
from vlastack import keys
from vlastack.errors import ConfigError
from vlastack.evaluation.chunk_preview import ChunkPreview, pick_start

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """(encoder policy, dynamics run, preview run): an untrained l1-debug policy (32 px, corner2, hash text) and
    4-step world-model runs on 4 synthetic episodes."""
    from tests.world_model.test_preview import tiny_preview_runs

    (enc, dyn, pv, _), _ = tiny_preview_runs(tmp_path_factory.mktemp("preview_runs"), save_every=4)
    yield enc, dyn, pv
    from vlastack.evaluation import runner

    runner.close_envs()  # the simulator's scenes closed now, not at interpreter exit


def test_the_report_shows_the_chunk_preview_under_the_video(runs, tmp_path, monkeypatch):
    from vlastack.cli.eval import run_eval

    monkeypatch.setenv("MUJOCO_GL", "egl")
    enc, _, pv = runs
    report = tmp_path / "report"
    run_eval(checkpoint=enc, tasks="reach-v3", episodes=1, max_steps=12, videos=1, report=report, preview=pv, no_progress=True)
    results = json.loads((report / "results.json").read_text())
    assert results["summary"]["config"]["preview"] == str(pv)
    (episode,) = results["episodes"]
    entry = episode["preview"]
    assert entry["file"] == "reach-v3_preview.png" and entry["horizon"] == 11 and entry["start"] == 0  # 12 frames: one chunk fits
    assert np.isfinite(entry["psnr"]) and np.isfinite(entry["psnr_copy_last"])
    from PIL import Image

    w, h = Image.open(report / entry["file"]).size
    assert w > 11 * 48 and h > 3 * 48  # 11 steps, rows expected / happened / ceiling, 16 px tiles at 3x
    page = (report / "report.html").read_text()
    assert "<img src='reach-v3_preview.png'" in page and "seed 100000, 11 executed actions from step 0" in page
    assert page.index("reach-v3.mp4") < page.index("reach-v3_preview.png")


def test_an_episode_without_what_the_preview_needs_gets_a_note(runs, tmp_path):
    _, _, pv = runs
    run = ChunkPreview.load(pv)
    ep = synthetic_episode(10, 0)
    assert run.draw(ep, tmp_path / "ok.png")["horizon"] == 9 and (tmp_path / "ok.png").is_file()
    del ep.frames[keys.image_key("corner2")]
    assert "has no observation.images.corner2" in run.draw(ep, tmp_path / "a.png")["note"]
    assert "a chunk needs 2 frames" in run.draw(synthetic_episode(1, 0), tmp_path / "b.png")["note"]
    wide = synthetic_episode(10, 0)
    wide.frames[keys.ACTION] = np.zeros((10, 7), dtype=np.float32)
    assert "7 dimensions" in run.draw(wide, tmp_path / "c.png")["note"]
    assert not any((tmp_path / n).exists() for n in ("a.png", "b.png", "c.png"))


def test_frames_are_encoded_as_the_dynamics_run_encoded_its_dataset(runs):
    """The embeddings the preview rolls out from are the ones the world model was trained on, for the same frames."""
    from vlastack.data.frame_cache import frame_array
    from vlastack.episodes.reader import DatasetReader
    from vlastack.types import Episode
    from vlastack.world_model.runs import DynamicsRun

    _, dyn, pv = runs
    run = DynamicsRun.load(dyn)
    reader = DatasetReader(run.datasets[0])
    key = keys.image_key("corner2")
    frames = {key: frame_array(reader, 1, key).transpose(0, 2, 3, 1), keys.STATE: reader.read_columns(1)[keys.STATE]}
    episode = Episode(task=reader.episode_meta(1)["tasks"][0], frames=frames, fps=80, success=False)
    z = ChunkPreview.load(pv).embed(episode, range(3, 8))
    first, _ = run.table.spans()[1]
    assert torch.allclose(z, run.table.z[first + 3 : first + 8], atol=1e-5)


def test_the_chunk_is_where_the_executed_actions_are_largest():
    actions = np.zeros((30, 4), dtype=np.float32)
    actions[20:24, 0] = 1.0
    assert pick_start(actions, 4) == 20
    assert pick_start(actions, 8) == 16  # the earliest window that holds all four
    assert pick_start(np.zeros((5, 4)), 4) == 0  # frame 4 is the last recorded: one window only


def test_bad_preview_options_name_preview(runs, tmp_path):
    from vlastack.cli.eval import run_eval

    enc, dyn, pv = runs
    with pytest.raises(ConfigError, match="--preview .*--report"):
        run_eval(checkpoint=enc, tasks="reach-v3", episodes=1, max_steps=4, preview=pv, no_progress=True)
    for wrong in (dyn, enc, tmp_path / "nothing"):
        with pytest.raises(ConfigError, match=f"--preview {wrong}"):
            run_eval(checkpoint=enc, tasks="reach-v3", episodes=1, max_steps=4, report=tmp_path / "r", preview=wrong, no_progress=True)
    assert not (tmp_path / "r" / "episodes.jsonl").exists()  # refused before any episode ran
