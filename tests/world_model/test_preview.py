"""Preview decoder: shapes, image metrics with known values, a tiny run that learns, checkpoints that
round-trip and resume exactly, and the CLI end to end on a tiny dataset."""

from __future__ import annotations

import json
import math
import shutil

import pytest
import torch
from typer.testing import CliRunner

from vlastack.errors import CheckpointError, ConfigError, DatasetError
from vlastack.world_model import checkpoint
from vlastack.world_model.config import DynamicsConfig, PreviewConfig
from vlastack.world_model.embeddings import EmbeddingTable
from vlastack.world_model.preview import PreviewDecoder, downsize, train_preview
from vlastack.world_model.preview_eval import SOURCES, chunk_strip, preview_metrics, psnr, save_strip, ssim
from vlastack.world_model.train import train_dynamics

TINY = PreviewConfig(image_size=16, channels=(16, 8, 8, 8), steps=200, batch_size=32, lr=3e-3, save_every=100, max_rollout=4)


def square_table(episodes: int = 4, length: int = 24, seed: int = 0) -> tuple[EmbeddingTable, torch.Tensor]:
    """z = a 2-d position moved by the actions; the frame is a bright 4 x 4 square at that position
    on a dark background, so the embedding says everything the 16 px frame shows."""
    g = torch.Generator().manual_seed(seed)
    zs, acts, frames = [], [], []
    for _ in range(episodes):
        a = torch.rand(length, 2, generator=g) * 2 - 1
        p0 = torch.rand(1, 2, generator=g) * 8 + 2
        p = torch.cat([p0, p0 + (a[:-1] * 0.5).cumsum(0)]).clamp(0, 11)
        img = torch.full((length, 3, 16, 16), 20, dtype=torch.uint8)
        for t, (x, y) in enumerate(p.round().long().tolist()):
            img[t, :, y : y + 4, x : x + 4] = 230
        zs.append(p)
        acts.append(a)
        frames.append(img)
    n = episodes * length
    eps = torch.arange(episodes).repeat_interleave(length)
    table = EmbeddingTable(z=torch.cat(zs), episode=eps, frame=torch.arange(length).repeat(episodes), action=torch.cat(acts))
    assert len(table.z) == n
    return table, torch.cat(frames)


def test_decoder_shapes_and_range():
    for size, s in ((16, 2), (32, 4), (48, 6)):
        cfg = PreviewConfig(image_size=size, channels=(8, 8, 8, 8))
        model = PreviewDecoder(cfg, 5)
        assert model.fc.out_features == 8 * s * s
        out = model.decode(torch.randn(7, 5), batch=3)
        assert out.shape == (7, 3, size, size) and out.min() >= 0 and out.max() <= 1
    assert PreviewDecoder(TINY, 5).decode(torch.zeros(0, 5)).shape == (0, 3, 16, 16)
    assert downsize(torch.full((2, 3, 128, 128), 7, dtype=torch.uint8), 32).eq(7).all()


def test_bad_preview_config_names_the_field():
    with pytest.raises(ConfigError, match="PreviewConfig.image_size"):
        PreviewConfig(image_size=30)
    with pytest.raises(ConfigError, match="PreviewConfig.channels"):
        PreviewConfig(channels=(8, 8))
    with pytest.raises(ConfigError, match="PreviewConfig.loss"):
        PreviewConfig(loss="ssim")
    with pytest.raises(ConfigError, match="PreviewConfig.frames"):
        PreviewConfig(frames="disk")
    with pytest.raises(ConfigError, match="predicted_prob"):
        PreviewConfig(predicted_prob=2.0)
    assert PreviewConfig.from_dict(json.loads(json.dumps(TINY.to_dict()))) == TINY  # JSON lists back to tuples


def test_psnr_and_ssim_give_known_values():
    x = torch.rand(3, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    assert torch.allclose(ssim(x, x), torch.ones(3), atol=1e-5)
    # every pixel off by 0.1: MSE 0.01, PSNR = 10 log10(1 / 0.01) = 20 dB
    y = (x + 0.1).clamp(max=2.0)
    assert torch.allclose(psnr(x, y), torch.full((3,), 20.0), atol=1e-4)
    assert psnr(x, x).min() >= 99.0
    noisy = (x + 0.2 * torch.randn(x.shape, generator=torch.Generator().manual_seed(1))).clamp(0, 1)
    noisier = (x + 0.5 * torch.randn(x.shape, generator=torch.Generator().manual_seed(1))).clamp(0, 1)
    assert (ssim(x, noisy) < 0.95).all() and (ssim(x, noisier) < ssim(x, noisy)).all()
    # constant images: SSIM reduces to the luminance term (2 a b + C1) / (a^2 + b^2 + C1)
    a, b = torch.full((1, 3, 11, 11), 0.2), torch.full((1, 3, 11, 11), 0.6)
    c1 = 0.01**2
    assert float(ssim(a, b)) == pytest.approx((2 * 0.2 * 0.6 + c1) / (0.2**2 + 0.6**2 + c1), rel=1e-5)
    # against the definition written out: SSIM of each 11 x 11 window (Gaussian weights), averaged
    img1, img2 = x[:1, :, :13, :12].double(), noisy[:1, :, :13, :12].double()
    g = torch.exp(-((torch.arange(11.0) - 5) ** 2) / (2 * 1.5**2)).double()
    w = torch.outer(g, g) / torch.outer(g, g).sum()
    vals = []
    for ch in range(3):
        for i in range(3):
            for j in range(2):
                p, q = img1[0, ch, i : i + 11, j : j + 11], img2[0, ch, i : i + 11, j : j + 11]
                mp, mq = (w * p).sum(), (w * q).sum()
                vp, vq, cpq = (w * (p - mp) ** 2).sum(), (w * (q - mq) ** 2).sum(), (w * (p - mp) * (q - mq)).sum()
                vals.append((2 * mp * mq + c1) * (2 * cpq + 0.03**2) / ((mp**2 + mq**2 + c1) * (vp + vq + 0.03**2)))
    assert float(ssim(img1, img2)) == pytest.approx(float(torch.stack(vals).mean()), rel=1e-5)
    with pytest.raises(ValueError, match="H, W >= 11"):
        ssim(torch.zeros(1, 3, 8, 8), torch.zeros(1, 3, 8, 8))


def test_tiny_training_lowers_the_loss_and_beats_a_blank_guess(tmp_path):
    table, frames = square_table()
    dyn_cfg = DynamicsConfig(chunk=4, hidden=32, layers=1, rollout_chunks=2, steps=100, batch_size=32, save_every=100)
    dynamics, _ = checkpoint.load(train_dynamics(table, dyn_cfg, tmp_path / "dyn", {}, log=lambda s: None))
    ckpt = train_preview(table, frames, dynamics, TINY, tmp_path / "pv", {"source": "squares"}, log=lambda s: None)
    rows = [json.loads(line) for line in (tmp_path / "pv" / "metrics.jsonl").read_text().splitlines()]
    assert rows[-1]["loss"] < 0.5 * rows[0]["loss"], rows
    decoder, meta = checkpoint.load(ckpt)
    assert isinstance(decoder, PreviewDecoder) and meta["embed_dim"] == 2 and meta["source"] == "squares"
    assert torch.equal(decoder.norm.mean, dynamics.norm.mean)  # the dynamics model's units
    report = preview_metrics(decoder, dynamics, table, frames, [1, 4], stride=2)
    assert [r["horizon"] for r in report] == [1, 4] and report[0]["n"] == 4 * 12
    for r in report:
        assert set(SOURCES) <= set(r) and r["ceiling"]["psnr"] > 15  # a flat grey guess scores about 8 dB here
        assert -1 <= r["model"]["ssim"] <= 1
    imgs, per_step = chunk_strip(decoder, dynamics, table, frames, 1, 3, 5)
    assert imgs["expected"].shape == imgs["happened"].shape == (5, 3, 16, 16)
    assert torch.equal(imgs["happened"][0], frames[24 + 4].float() / 255)  # episode 1's frame 4
    assert [s["frame"] for s in per_step] == [4, 5, 6, 7, 8] and all(math.isfinite(s["psnr_expected"]) for s in per_step)
    with pytest.raises(ValueError, match="inside episode"):
        chunk_strip(decoder, dynamics, table, frames, 1, 20, 5)
    png = save_strip(imgs, tmp_path / "strip.png", title="t")
    from PIL import Image

    w, h = Image.open(png).size
    assert w > 5 * 48 and h > 3 * 48
    with pytest.raises(DatasetError, match="frames are"):
        train_preview(table, frames[:5], dynamics, TINY, tmp_path / "bad", {}, log=lambda s: None)


def test_checkpoint_round_trip_and_exact_resume(tmp_path):
    table, frames = square_table(episodes=2)
    cfg = PreviewConfig(image_size=16, channels=(8, 8, 8, 8), steps=20, batch_size=8, save_every=10, max_rollout=2, predicted_prob=0.0)
    full = train_preview(table, frames, None, cfg, tmp_path / "a", {}, log=lambda s: None)
    train_preview(table, frames, None, cfg, tmp_path / "b", {}, log=lambda s: None)
    shutil.rmtree(tmp_path / "b" / "checkpoints" / "step_00000020")
    resumed = train_preview(table, frames, None, cfg, tmp_path / "b", {}, resume=True, log=lambda s: None)
    a, _ = checkpoint.load(full)
    b, _ = checkpoint.load(resumed)
    for (name, x), (_, y) in zip(a.state_dict().items(), b.state_dict().items(), strict=True):
        assert torch.allclose(x, y, atol=1e-6), name
    z = torch.randn(3, 2)
    assert torch.equal(a.decode(z), checkpoint.load(full)[0].decode(z))
    with pytest.raises(ConfigError, match="resume"):
        train_preview(table, frames, None, cfg, tmp_path / "a", {}, log=lambda s: None)


def tiny_preview_runs(root, save_every: int = 2):
    """Made through the CLI under ``root``: 4 synthetic 20-step episodes (``ds``), an untrained l1-debug encoder
    (``enc``), a 4-step dynamics run (``dyn``, every 2nd episode held out) and a 4-step preview run (``pv``).
    Returns (enc, dyn, pv, the preview's training command) and the preview training's output."""
    from tests.conftest import synthetic_episode
    from vlastack.cli import app
    from vlastack.episodes.video import VideoSettings
    from vlastack.episodes.writer import DatasetWriter
    from vlastack.policies.presets import PRESETS
    from vlastack.policies.untrained import untrained_policy

    writer = DatasetWriter(root / "ds", video=VideoSettings(codec="h264-lossless", crf=0))
    for i in range(4):
        writer.add_episode(synthetic_episode(20, i))
    untrained_policy(PRESETS.get("l1-debug").policy).save_pretrained(root / "enc")
    small = ["--set", "steps=4", "--set", f"save_every={save_every}", "--set", "batch_size=8"]
    train = ["wm", "train", "--dataset", str(root / "ds"), "--encoder", str(root / "enc"), "--out", str(root / "dyn")]
    result = CliRunner().invoke(app, [*train, "--held-out-every", "2", *small, "--set", "hidden=16", "--set", "chunk=4"])
    assert result.exit_code == 0, result.output
    pv = ["wm", "preview", "train", "--dynamics", str(root / "dyn"), "--out", str(root / "pv"), *small]
    pv += ["--set", "image_size=16", "--set", "channels=[8,8,8,8]", "--set", "max_rollout=4"]
    result = CliRunner().invoke(app, pv)
    assert result.exit_code == 0, result.output
    return (root / "enc", root / "dyn", root / "pv", pv), result.output


def test_preview_cli_trains_resumes_and_draws_a_chunk(tmp_path):
    from vlastack.cli import app
    from vlastack.world_model.preview_eval import load_preview

    (_, _, _, pv), output = tiny_preview_runs(tmp_path)  # asserts both trainings exit 0
    assert "observation.images.corner2 at 16 px" in output
    ckpt, decoder, meta = load_preview(tmp_path / "pv")
    assert ckpt.name == "step_00000004" and decoder.config.channels == (8, 8, 8, 8)
    assert meta["held_out_episodes"] == [1, 3] and meta["camera"] == "observation.images.corner2"
    assert CliRunner().invoke(app, [*pv, "--resume"]).exit_code == 0
    refused = CliRunner().invoke(app, pv)
    assert refused.exit_code != 0 and "resume" in str(refused.exception)

    show = ["wm", "preview", "show", "--preview", str(tmp_path / "pv"), "--out", str(tmp_path / "s.png")]
    result = CliRunner().invoke(app, [*show, "--start", "2", "--steps", "6"])
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "s.json").read_text())
    assert report["episode"] == 1 and [s["frame"] for s in report["steps"]] == [3, 4, 5, 6, 7, 8]
    assert (tmp_path / "s.png").stat().st_size > 0
    bad = CliRunner().invoke(app, [*show, "--episode", "0"])
    assert bad.exit_code != 0 and "--episode 0 is not a held-out episode" in str(bad.exception)
    bad = CliRunner().invoke(app, [*show, "--start", "15", "--steps", "8"])
    assert bad.exit_code != 0 and "--start/--steps" in str(bad.exception)
    with pytest.raises(CheckpointError, match="not a preview checkpoint"):
        load_preview(tmp_path / "dyn")
