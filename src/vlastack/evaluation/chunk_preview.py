"""The report's chunk preview (issue 14, item 7): for a recorded episode, what the world model expected one
chunk of the executed actions to do, beside what happened.

``vlastack eval --report DIR --preview RUN`` (RUN a ``vlastack wm preview train`` run; its meta names the
dynamics run, whose meta names the encoder policy). After the episodes finish, in the main process, each
recorded episode (``runner.Recording``) gets ``DIR/<task>_preview.png``: the frame the chunk starts from is
encoded with the encoder policy's ``image_features`` on the inputs the dynamics run's embeddings were made
from (``embeddings.encode_dataset``: the encoder's cameras and observation history, clamped at the episode's
start, the state and the instruction), the actions the safety layer sent are rolled out by the dynamics model
and decoded, as ``vlastack wm preview show`` draws a dataset chunk (``preview_eval.chunk_strip`` and
``save_strip``: rows expected, happened and the decoder's ceiling). An episode that lacks what this needs is
given a note instead; nothing here stops the report from being written.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from vlastack import keys
from vlastack.errors import ConfigError, VlastackError

STEPS = 16
"""Steps of the chunk rolled out, as ``vlastack wm preview show`` draws by default (the l1 policy's chunk);
fewer when the episode is shorter."""


def pick_start(actions: np.ndarray, steps: int) -> int:
    """Start s of the chunk a(s..s+steps-1) whose executed actions are largest (sum of per-step L2 norms; the
    earliest of equals), with frame s+steps recorded (s + steps <= N - 1).

    Where the arm is driven hardest the model has motion to predict; a fixed point (a third of the way in)
    often lands on a hold or on an arm at rest at its goal, where every prediction looks right. The chunk is
    chosen by its inputs, not by how much the frames changed, so the strip's PSNR against copy-last is not
    selected to flatter the model."""
    norms = np.linalg.norm(np.asarray(actions, dtype=np.float64)[: len(actions) - 1], axis=1)
    return int(np.argmax(np.convolve(norms, np.ones(steps), "valid")))


@dataclass
class ChunkPreview:
    """A preview decoder with its dynamics model and encoder policy, loaded once for every recorded episode."""

    decoder: Any
    dynamics: Any
    encoder: Any
    camera: str
    """Image key of the camera the decoder draws (its run's meta)."""

    @classmethod
    def load(cls, run: str | Path) -> ChunkPreview:
        """The models of a ``vlastack wm preview train`` run; anything else is a ConfigError naming ``--preview``."""
        from vlastack.checkpoint import resolve_checkpoint
        from vlastack.policies import load_policy
        from vlastack.world_model.checkpoint import load_kind
        from vlastack.world_model.preview_eval import load_preview

        try:
            _, decoder, meta = load_preview(run)
            _, dynamics, dyn_meta = load_kind(meta["dynamics"], "dynamics", "vlastack wm train")
            encoder = load_policy(resolve_checkpoint(dyn_meta["encoder"])).eval()
        except KeyError as err:
            raise ConfigError(f"--preview {run}: its meta names no {err} (made by `vlastack wm preview train`?)") from err
        except VlastackError as err:
            raise ConfigError(f"--preview {run}: {err}") from err
        return cls(decoder, dynamics, encoder, meta["camera"])

    def missing(self, episode: Any) -> str | None:
        """Why ``episode`` cannot be previewed (a camera, depth or the actions missing, too short), or None."""
        c, f = self.encoder.config, episode.frames
        need = [keys.image_key(cam) for cam in c.cameras] + [self.camera, keys.STATE, keys.ACTION]
        need += [keys.depth_key(cam) for cam in c.cameras] if c.use_depth else []
        absent = [k for k in dict.fromkeys(need) if k not in f]
        if absent:
            return f"the recorded episode has no {', '.join(absent)} (it has {', '.join(sorted(f))})"
        if f[keys.ACTION].shape[1] != self.dynamics.action_dim:
            return f"its actions have {f[keys.ACTION].shape[1]} dimensions, the world model's {self.dynamics.action_dim}"
        if len(f[keys.ACTION]) < 2:
            return f"{len(f[keys.ACTION])} step recorded; a chunk needs 2 frames at least"
        return None

    @torch.no_grad()
    def embed(self, episode: Any, rows: range) -> torch.Tensor:
        """z [len(rows), F] of frames ``rows`` of ``episode``, in encoder units."""
        from vlastack.policies import batch_from_observation
        from vlastack.types import Observation

        c, f = self.encoder.config, episode.frames

        def obs(i: int) -> Observation:
            depth = {cam: f[keys.depth_key(cam)][i] for cam in c.cameras} if c.use_depth else {}
            images = {cam: f[keys.image_key(cam)][i] for cam in c.cameras}
            return Observation(images=images, state=f[keys.STATE][i], instruction=episode.task, depth=depth)

        t = int(c.obs_history)
        with torch.inference_mode():
            z = [self.encoder.image_features(batch_from_observation([obs(max(i - k, 0)) for k in range(t - 1, -1, -1)])) for i in rows]
        return torch.cat(z).float()

    def draw(self, episode: Any, path: Path) -> dict[str, Any]:
        """Write the strip of ``episode``'s chunk to ``path``; the report's entry: file, start, horizon, the mean
        PSNR (dB) of the expected frames and of copy-last against what happened; or ``{"note": why not}``."""
        from vlastack.world_model.embeddings import EmbeddingTable
        from vlastack.world_model.preview import downsize
        from vlastack.world_model.preview_eval import chunk_strip, save_strip

        why = self.missing(episode)
        if why is not None:
            return {"note": why}
        actions = np.asarray(episode.frames[keys.ACTION], dtype=np.float32)
        steps = min(STEPS, len(actions) - 1)
        start = pick_start(actions, steps)
        rows = range(start, start + steps + 1)
        table = EmbeddingTable(
            z=self.embed(episode, rows),
            episode=torch.zeros(len(rows), dtype=torch.long),
            frame=torch.tensor(list(rows)),
            action=torch.from_numpy(actions[start : start + steps + 1]),
        )
        raw = torch.from_numpy(np.ascontiguousarray(episode.frames[self.camera][start : start + steps + 1])).permute(0, 3, 1, 2)
        frames = downsize(raw, self.decoder.config.image_size)
        imgs, per_step = chunk_strip(self.decoder, self.dynamics, table, frames, 0, 0, steps)
        title = f"{episode.env_task} seed {episode.seed}: frames {start + 1}..{start + steps} after step {start}"
        save_strip(imgs, path, title=title)
        return {
            "file": path.name,
            "start": start,
            "horizon": steps,
            "camera": self.camera,
            "psnr": float(np.mean([s["psnr_expected"] for s in per_step])),
            "psnr_copy_last": float(np.mean([s["psnr_copy_last"] for s in per_step])),
        }


def draw_previews(run: ChunkPreview, recordings: dict[str, Any], out: Path) -> dict[str, dict[str, Any]]:
    """task -> the preview entry of its recorded episode (``ChunkPreview.draw``), the PNGs written into ``out``.
    A failure becomes that episode's note: the report is still written."""
    entries = {}
    for task, rec in recordings.items():
        if rec.episode is None:
            entries[task] = {"note": "the episode came back without its frames"}
            continue
        try:
            entries[task] = run.draw(rec.episode, out / f"{task}_preview.png")
        except Exception as err:  # noqa: BLE001 - a preview is an annex of the report, never fatal to it
            entries[task] = {"note": f"drawing it failed: {type(err).__name__}: {err}"}
    return entries
