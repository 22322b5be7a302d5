"""What the model expected beside what happened: PSNR / SSIM of decoded predictions against the true
frames at several horizons, and a PNG strip of one chunk (used by ``vlastack wm preview show`` and
benchmarks/world_model_preview.py).

Images are float [N, 3, S, S] in [0, 1] (a data range of 1). PSNR and SSIM are computed per image and
averaged over images; SSIM is Wang et al. (2004): an 11-tap Gaussian window (sigma 1.5), K1 = 0.01,
K2 = 0.03, over the window positions that fit inside the image ("valid"), per channel, then the
mean over channels and positions.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from vlastack.world_model.dynamics import ChunkPredictor
from vlastack.world_model.embeddings import EmbeddingTable
from vlastack.world_model.guardrail import rollout_every_step
from vlastack.world_model.preview import PreviewDecoder
from vlastack.world_model.train import Spans

SOURCES = ("model", "copy_last", "decoded_copy_last", "ceiling")
"""What frame t+k is compared with: the decoded rollout of z(t) with the recorded actions a(t..t+k-1); the
true frame t (copy-last); the decoded true z(t) (copy-last through the decoder, so with its blur); the
decoded true z(t+k) (the decoder's own ceiling)."""


def psnr(x: torch.Tensor, y: torch.Tensor, eps: float = 1e-10) -> torch.Tensor:
    """Per-image PSNR (dB) of [N, C, H, W] images in [0, 1]: 10 log10(1 / MSE); identical images give 100 dB."""
    mse = ((x.float() - y.float()) ** 2).flatten(1).mean(1)
    return 10 * torch.log10(1.0 / mse.clamp_min(eps))


def _gaussian(size: int = 11, sigma: float = 1.5) -> torch.Tensor:
    g = torch.exp(-((torch.arange(size, dtype=torch.float64) - (size - 1) / 2) ** 2) / (2 * sigma**2))
    return g / g.sum()


def ssim(x: torch.Tensor, y: torch.Tensor, size: int = 11, sigma: float = 1.5, k1: float = 0.01, k2: float = 0.03) -> torch.Tensor:
    """Per-image SSIM of [N, C, H, W] images in [0, 1] (H, W >= ``size``); 1 for identical images."""
    if x.shape != y.shape or x.dim() != 4 or min(x.shape[-2:]) < size:
        raise ValueError(f"ssim needs two [N, C, H, W] images of one shape with H, W >= {size}; got {tuple(x.shape)}, {tuple(y.shape)}")
    c = x.shape[1]
    g = _gaussian(size, sigma)
    rows, cols = g.view(1, 1, size, 1).expand(c, 1, size, 1), g.view(1, 1, 1, size).expand(c, 1, 1, size)

    def blur(v: torch.Tensor) -> torch.Tensor:
        return F.conv2d(F.conv2d(v, rows, groups=c), cols, groups=c)  # separable, per channel, valid positions only

    x, y = x.double(), y.double()  # float64: the variances are differences of close numbers
    mx, my = blur(x), blur(y)
    vx, vy, cov = blur(x * x) - mx**2, blur(y * y) - my**2, blur(x * y) - mx * my
    c1, c2 = k1**2, k2**2  # (K L)^2 with the data range L = 1
    s = ((2 * mx * my + c1) * (2 * cov + c2)) / ((mx**2 + my**2 + c1) * (vx + vy + c2))
    return s.flatten(1).mean(1).float()


def _anchors(spans: Spans, horizon: int, stride: int) -> torch.Tensor:
    return torch.nonzero((spans.t + horizon <= spans.length - 1) & (spans.t % stride == 0)).flatten()


@torch.no_grad()
def decoded_sources(
    decoder: PreviewDecoder, dynamics: ChunkPredictor, table: EmbeddingTable, frames: torch.Tensor, rows: torch.Tensor, horizon: int
) -> dict[str, torch.Tensor]:
    """For anchor ``rows`` t of ``table``: every image of :data:`SOURCES` for frame t + ``horizon``, and the
    true frame (``"true"``), float [n, 3, S, S] in [0, 1]. ``frames``: uint8, one per row of ``table``."""
    z = dynamics.norm.normalize(table.z)
    act = table.action[(rows.unsqueeze(1) + torch.arange(horizon)).flatten()].view(len(rows), horizon, -1)
    return {
        "model": decoder.decode(dynamics.rollout(z[rows], act, horizon)),
        "copy_last": frames[rows].float() / 255.0,
        "decoded_copy_last": decoder.decode(z[rows]),
        "ceiling": decoder.decode(z[rows + horizon]),
        "true": frames[rows + horizon].float() / 255.0,
    }


def preview_metrics(
    decoder: PreviewDecoder,
    dynamics: ChunkPredictor,
    table: EmbeddingTable,
    frames: torch.Tensor,
    horizons: list[int],
    stride: int = 1,
    batch: int = 1024,
) -> list[dict]:
    """One row per horizon k: the pairs (t, t+k) (every ``stride``-th frame t with t + k in its episode),
    and per source of :data:`SOURCES` the mean PSNR (dB) and SSIM against the true frame t+k."""
    spans = Spans(table)
    out = []
    for k in horizons:
        rows = _anchors(spans, k, stride)
        sums = {s: [0.0, 0.0] for s in SOURCES}
        for i in range(0, len(rows), batch):
            d = decoded_sources(decoder, dynamics, table, frames, rows[i : i + batch], k)
            for s in SOURCES:
                sums[s][0] += float(psnr(d[s], d["true"]).sum())
                sums[s][1] += float(ssim(d[s], d["true"]).sum())
        n = len(rows)
        row: dict = {"horizon": k, "n": n}
        for s in SOURCES:
            row[s] = {"psnr": sums[s][0] / n if n else float("nan"), "ssim": sums[s][1] / n if n else float("nan")}
        out.append(row)
    return out


def chunk_strip(
    decoder: PreviewDecoder, dynamics: ChunkPredictor, table: EmbeddingTable, frames: torch.Tensor, episode: int, start: int, steps: int
) -> tuple[dict[str, torch.Tensor], list[dict]]:
    """The chunk a(start..start+steps-1) of ``episode``: for each step j = 1..steps, the decoded rollout of
    z(start) (``expected``), the true frame start+j (``happened``) and the decoded true z(start+j) (``ceiling``),
    float [steps, 3, S, S]; and per step its PSNR / SSIM against the true frame."""
    spans = table.spans()
    if episode not in spans:
        raise ValueError(f"episode {episode} is not in the run's embedding table")
    first, n = spans[episode]
    if start < 0 or steps < 1 or start + steps > n - 1:
        raise ValueError(f"start {start} + steps {steps} must stay inside episode {episode}'s {n} frames (0..{n - 1}), steps >= 1")
    z = dynamics.norm.normalize(table.z[first : first + n])
    act = table.action[first + start : first + start + steps].unsqueeze(0)
    with torch.no_grad():
        pred = rollout_every_step(dynamics, z[start : start + 1], act)[0]  # row j-1: dynamics.rollout(..., j)
    imgs = {
        "expected": decoder.decode(pred),
        "happened": frames[first + start + 1 : first + start + steps + 1].float() / 255.0,
        "ceiling": decoder.decode(z[start + 1 : start + steps + 1]),
    }
    per_step = [
        {
            "step": j + 1,
            "frame": start + j + 1,
            "psnr_expected": float(psnr(imgs["expected"][j : j + 1], imgs["happened"][j : j + 1])),
            "ssim_expected": float(ssim(imgs["expected"][j : j + 1], imgs["happened"][j : j + 1])),
            "psnr_copy_last": float(psnr(frames[first + start : first + start + 1].float() / 255, imgs["happened"][j : j + 1])),
        }
        for j in range(steps)
    ]
    return imgs, per_step


def save_strip(imgs: dict[str, torch.Tensor], path: str | Path, scale: int = 3, title: str = "") -> Path:
    """A PNG grid: one row per entry of ``imgs`` (labelled with its name), one column per step (t+1, t+2, ...),
    each tile upscaled ``scale`` times (nearest), 2 px white gaps."""
    from PIL import Image, ImageDraw

    names = list(imgs)
    steps, _, s, _ = imgs[names[0]].shape
    tile, gap, left, top = s * scale, 2, 70, 14 + (12 if title else 0)
    w, h = left + steps * (tile + gap), top + len(names) * (tile + gap)
    canvas = Image.new("RGB", (w, h), "white")
    draw = ImageDraw.Draw(canvas)
    if title:
        draw.text((2, 1), title, fill="black")
    for j in range(steps):
        draw.text((left + j * (tile + gap) + 2, top - 12), f"t+{j + 1}", fill="black")
    for r, name in enumerate(names):
        y = top + r * (tile + gap)
        draw.text((2, y + tile // 2 - 5), name, fill="black")
        arr = (imgs[name].clamp(0, 1) * 255).round().to(torch.uint8).permute(0, 2, 3, 1).numpy()
        for j in range(steps):
            im = Image.fromarray(np.ascontiguousarray(arr[j])).resize((tile, tile), Image.NEAREST)
            canvas.paste(im, (left + j * (tile + gap), y))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    canvas.save(path)
    return path


def load_preview(path: str | Path) -> tuple[Path, PreviewDecoder, dict]:
    """(checkpoint, decoder in eval mode, meta) of a preview run directory or one of its checkpoints."""
    from vlastack.world_model import checkpoint

    return checkpoint.load_kind(path, "preview", "vlastack wm preview train")
