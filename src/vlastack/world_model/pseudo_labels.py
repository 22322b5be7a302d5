"""Pseudo-labels (issue 14 item 3 (c)): label action-free episodes with an inverse-dynamics model
trained on a few labelled ones, and write the dataset a policy then trains on.

The first N episodes of each task are the labelled ones (data/subset.py, the rule ``vlastack train
--set train.episodes_per_task=N`` uses); the last of them per task is held out for early stopping.
The IDM reads the ``action`` column of labelled episodes only: the others' actions are read once,
after their pseudo-labels are final, to report how close those are (R^2 and MAE per dimension in
``meta/pseudo_labels.json``), and never reach the IDM or the copy.

The copy is written by relabel.py: videos and metadata hard-linked, the data parquet files rewritten
with the new ``action`` column, the action statistics rebuilt (meta/stats.json and the per-episode
ones in meta/episodes), all written to ``<out>.tmp`` and renamed into place when complete.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from vlastack import keys
from vlastack.data.subset import episode_task, first_per_task
from vlastack.episodes.reader import DatasetReader
from vlastack.errors import ConfigError, DatasetError
from vlastack.world_model.config import PseudoLabelConfig
from vlastack.world_model.inverse_dynamics import errors, fit_idm, idm_inputs
from vlastack.world_model.relabel import relabelled_copy

REPORT_PATH = "meta/pseudo_labels.json"


def split_labelled(reader: DatasetReader, labelled_per_task: int) -> tuple[list[int], list[int]]:
    """(fitting, validation) episodes among the first ``labelled_per_task`` of each task: the last of
    them per task validates (so at least 2 labelled episodes per task are needed)."""
    if labelled_per_task < 2:
        raise ConfigError(f"labelled_per_task must be >= 2 (one labelled episode per task validates the IDM), got {labelled_per_task}")
    labelled = first_per_task(reader, labelled_per_task, "labelled_per_task")
    last: dict[str, int] = {}
    for e in labelled:
        last[episode_task(reader, e)] = e  # labelled is sorted, so the last one wins
    val = sorted(last.values())
    return sorted(set(labelled) - set(val)), val


def _inputs(states: dict[int, np.ndarray], episodes: list[int], cfg: PseudoLabelConfig) -> torch.Tensor:
    return torch.from_numpy(np.concatenate([idm_inputs(states[e], cfg.offsets) for e in episodes]))


def _actions(reader: DatasetReader, episodes: list[int]) -> torch.Tensor:
    return torch.from_numpy(np.concatenate(reader.episode_actions(episodes)))


def label_episodes(reader: DatasetReader, labelled_per_task: int, cfg: PseudoLabelConfig) -> tuple[dict[int, np.ndarray], list[int], dict]:
    """(episode -> pseudo actions float32 [N_e, D] for every episode that is not labelled, the labelled
    episodes, what the IDM did). Reads the actions of labelled episodes only."""
    fit_eps, val_eps = split_labelled(reader, labelled_per_task)
    labelled = sorted(fit_eps + val_eps)
    states = {e: reader.read_columns(e)[keys.STATE] for e in range(reader.num_episodes)}
    x_fit, y_fit = _inputs(states, fit_eps, cfg), _actions(reader, fit_eps)
    x_val, y_val = _inputs(states, val_eps, cfg), _actions(reader, val_eps)
    first = fit_idm(x_fit, y_fit, cfg, val=(x_val, y_val))
    model = first.model
    if cfg.refit:
        model = fit_idm(torch.cat([x_fit, x_val]), torch.cat([y_fit, y_val]), cfg, steps=first.best_step).model
    unlabelled = sorted(set(range(reader.num_episodes)) - set(labelled))
    pseudo = {}
    for e in unlabelled:
        pred = model.predict(_inputs(states, [e], cfg)).numpy()
        pseudo[e] = (np.clip(pred, *cfg.clip) if cfg.clip is not None else pred).astype(np.float32)
    info = {
        "fit_episodes": fit_eps,
        "validation_episodes": val_eps,
        "fit_frames": len(x_fit),
        "best_step": first.best_step,
        # the first IDM (fitted without the validation episodes) on them: the honest validation error
        "validation": errors(first.model.predict(x_val).numpy(), y_val.numpy()),
        "validation_curve": first.curve,
        "refit_on_all_labelled": cfg.refit,
    }
    return pseudo, labelled, info


def pseudo_label(
    src: str | Path,
    dst: str | Path,
    labelled_per_task: int,
    cfg: PseudoLabelConfig = PseudoLabelConfig(),
    log: Callable[[str], None] = print,
) -> DatasetReader:
    """Write the pseudo-labelled copy of dataset ``src`` to the new directory ``dst`` and return its reader."""
    src, dst = Path(src), Path(dst)
    reader = DatasetReader(src)
    for key in (keys.ACTION, keys.STATE):
        if key not in reader.features:
            raise DatasetError(f"{src} has no {key!r} feature; pseudo-labelling needs both {keys.STATE!r} and {keys.ACTION!r}")
    if dst.exists():
        raise DatasetError(f"{dst} already exists; choose a new directory for the pseudo-labelled copy")
    start = time.perf_counter()
    pseudo, labelled, idm = label_episodes(reader, labelled_per_task, cfg)
    idm["seconds"] = round(time.perf_counter() - start, 1)
    log(f"IDM: best step {idm['best_step']}, validation {idm['validation']} ({idm['seconds']} s)")

    # Only now, with the pseudo-labels final, the true actions of the other episodes: for the report.
    unlabelled = sorted(pseudo)
    quality = None
    if unlabelled:
        true = dict(zip(unlabelled, reader.episode_actions(unlabelled), strict=True))
        by_task: dict[str, list[int]] = {}
        for e in unlabelled:
            by_task.setdefault(episode_task(reader, e), []).append(e)

        def score(eps: list[int]) -> dict:
            return errors(np.concatenate([pseudo[e] for e in eps]), np.concatenate([true[e] for e in eps]))

        quality = {
            "frames": sum(len(a) for a in true.values()),
            **score(unlabelled),
            "per_task": {task: score(eps) for task, eps in sorted(by_task.items())},
        }
    feature = reader.features[keys.ACTION]
    report = {
        "dataset": str(src.resolve()),
        "labelled_per_task": labelled_per_task,
        "labelled_episodes": labelled,
        "pseudo_labelled_episodes": len(unlabelled),
        "action_names": feature.get("names"),
        "config": cfg.to_dict(),
        "idm": idm,
        # computed from the source's true actions, which the IDM never saw: for the report only
        "pseudo_vs_true_actions": quality,
    }
    return relabelled_copy(src, dst, pseudo, REPORT_PATH, report, log=log)
