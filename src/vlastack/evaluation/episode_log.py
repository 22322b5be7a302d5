"""Finished evaluation episodes, one JSON line each, so an interrupted evaluation can resume.

A 500-episode MT50 evaluation takes about an hour on a 2-core machine; a kill near its end should
cost the episode that was running, not the hour. The first line records the settings the episodes
were run with; a resume with other settings (or a retrained checkpoint) is refused, since mixing
the two would report a success rate that no single configuration produced.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from vlastack.episodes.layout import write_text_atomic
from vlastack.errors import ConfigError
from vlastack.evaluation.protocol import EpisodeResult

LOG_NAME = "episodes.jsonl"


def settings_of(config: Any) -> dict[str, Any]:
    """What makes two evaluations' episodes interchangeable: the settings and the checkpoint's weights file."""
    # Not the task list or episode count: each episode's seed follows from its index, so a resume
    # may ask for more tasks or episodes and keeps those already run.
    out = {
        k: getattr(config, k)
        for k in ("server", "max_steps", "executor", "instruction_variant", "image_size", "safety_spec", "seed_offset", "execute_steps")
    }
    # The spec by what it resolves to (``EvalConfig.safety_label``): a Meta-World run under the default
    # ("embodiment") records metaworld_sawyer, as logs written before that default did, and resumes them.
    out["safety_spec"] = getattr(config, "safety_label", config.safety_spec)
    out["checkpoint"] = None if config.checkpoint is None else str(config.checkpoint)
    perturb = [n for n in getattr(config, "perturb", ()) if n != "none"]
    if perturb:  # only when set, so logs written before perturbations existed still resume
        out["perturb"] = perturb
    if getattr(config, "base_arm_layer", False):  # only when on, so logs written before it existed still resume
        out["base_arm_layer"] = True
    if config.checkpoint is not None:
        weights = Path(config.checkpoint) / "model.safetensors"
        if weights.exists():  # size and mtime (ns) tell a retrained checkpoint in the same directory apart
            st = weights.stat()
            out["weights"] = [st.st_size, st.st_mtime_ns]
    return out


class EpisodeLog:
    """Appends finished episodes to ``path``; ``load`` reads back those of a run with the same settings."""

    def __init__(self, path: Path, settings: dict[str, Any]) -> None:
        self.path = Path(path)
        self.settings = settings

    def load(self) -> list[EpisodeResult]:
        """Episodes already finished; empty if there is no log. Raises if the log's settings differ."""
        if not self.path.exists():
            return []
        lines = self.path.read_text().splitlines()
        if not lines:
            return []
        try:
            header = json.loads(lines[0])
        except json.JSONDecodeError as err:
            raise ConfigError(f"{self.path}: first line is not JSON ({err}); delete the file to start afresh") from err
        theirs = header.get("settings", {})
        diff = sorted(k for k in set(theirs) | set(self.settings) if theirs.get(k) != self.settings.get(k))
        if diff:
            shown = ", ".join(f"{k}: logged {theirs.get(k)!r}, now {self.settings.get(k)!r}" for k in diff)
            raise ConfigError(
                f"cannot resume from {self.path}: it was run with other settings ({shown}); run without --resume to start afresh"
            )
        results = []
        for n, line in enumerate(lines[1:], start=2):
            try:
                results.append(EpisodeResult(**json.loads(line)))
            except (json.JSONDecodeError, TypeError):
                if n == len(lines):  # a line cut short by the kill itself: that episode runs again
                    break
                raise ConfigError(f"{self.path}: line {n} is not an episode record; delete the file to start afresh") from None
        return results

    def start(self, kept: list[EpisodeResult]) -> None:
        """Rewrite the log with its header and the episodes kept (dropping any half-written last line)."""
        lines = [json.dumps({"settings": self.settings}), *(json.dumps(_record(r)) for r in kept)]
        write_text_atomic(self.path, "\n".join(lines) + "\n")

    def append(self, result: EpisodeResult) -> None:
        with open(self.path, "a") as f:
            f.write(json.dumps(_record(result)) + "\n")
            f.flush()
            os.fsync(f.fileno())


def _record(r: EpisodeResult) -> dict[str, Any]:
    return {
        "task": r.task,
        "seed": r.seed,
        "success": bool(r.success),
        "steps": int(r.steps),
        "latency_ms": [float(x) for x in r.latency_ms],
        "error": r.error,
        "safety": r.safety,
        "instruction": r.instruction,
        "safety_timeline": r.safety_timeline,
        "limits": r.limits,
        "base_arm": r.base_arm,
    }
