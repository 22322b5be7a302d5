"""The world model's offline evaluations as reports, for ``vlastack wm eval`` and the benchmark scripts
benchmarks/world_model_horizon.py and benchmarks/world_model_heads.py: each ``*_report`` measures one
run on its held-out episodes (``world_model.evaluate``) and returns a JSON-ready dict; each
``*_markdown`` renders such a dict as the tables they print; :func:`markdown` renders a whole evaluation
(``vlastack wm eval --json`` writes that dict).

- :func:`dynamics_report`: embedding prediction error against horizon beside copy-last and linear
  extrapolation; object and goal positions read out (cm) from predicted embeddings.
- :func:`latent_report_of`: a latent-action run's codebook use, forward errors and action read-outs.
- :func:`heads_eval`: reward and safety heads k steps ahead (AUROC, AP, onsets) per dataset, and the
  guardrail's offline replay per chunk length.
"""

from __future__ import annotations

import json
import math
import statistics
import time
from pathlib import Path

import torch

from vlastack.errors import ConfigError
from vlastack.world_model import checkpoint
from vlastack.world_model.embeddings import EPISODE_OFFSET
from vlastack.world_model.evaluate import fit_guardrail, guardrail_report, heads_report, horizon_errors, latent_report, position_readout
from vlastack.world_model.heads import EVENTS
from vlastack.world_model.runs import DynamicsRun, load_run

HORIZONS = [1, 2, 4, 8, 16, 32, 64]
"""Default steps ahead of the prediction-error table."""
READOUT_HORIZONS = [8, 16, 32]
"""Default steps ahead of the position read-out table."""
HEADS_HORIZONS = [1, 8, 16]
"""Default steps ahead of the heads table (80 Hz: 8 steps = 0.1 s)."""
GUARD_HORIZONS = [8]
"""Default chunk lengths of the guardrail replay."""
TARGETS = {"object": slice(4, 7), "goal": slice(36, 39)}
"""Slices of Meta-World's 39-d state (metres): the first object's xyz and the goal's xyz."""
SOURCE_NAMES = {"true": "true", "model": "predicted", "copy_last": "now"}
"""Inputs of the heads (``evaluate.SOURCES``) as the tables name them."""


def fmt(v: float | None, digits: int = 2) -> str:
    """``v`` with ``digits`` decimals; "-" for None or NaN."""
    return "-" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.{digits}f}"


def dynamics_report(run: DynamicsRun, horizons: list[int] = HORIZONS, readout_horizons: list[int] = READOUT_HORIZONS) -> dict:
    """Prediction error (``horizon_mse``) and, when the datasets record Meta-World's 39-d environment state,
    position read-outs (``position_readout_cm``) on the run's held-out episodes."""
    train, held = run.table.select(run.train_episodes), run.table.select(run.held_out)
    rep = {
        "dynamics": {"checkpoint": str(run.checkpoint), "train_frames": len(train.z), "held_out_frames": len(held.z)},
        "horizon_mse": horizon_errors(run.model, held, horizons),
    }
    if train.env_state is not None and train.env_state.shape[1] >= 39:
        rep["position_readout_cm"] = position_readout(run.model, train, held, TARGETS, readout_horizons)
    return rep


def dynamics_markdown(rep: dict) -> str:
    lines = [f"## Embedding prediction error (MSE, normalised units), held-out episodes, {rep['dynamics']['checkpoint']}"]
    lines += ["| horizon (steps) | pairs | model | copy-last | linear |", "|---|---|---|---|---|"]
    lines += [f"| {r['horizon']} | {r['n']} | {r['model']:.4f} | {r['copy_last']:.4f} | {r['linear']:.4f} |" for r in rep["horizon_mse"]]
    if "position_readout_cm" not in rep:
        return "\n".join(lines)
    lines += ["", "## Positions read from embeddings (mean error, cm), held-out episodes"]
    lines += ["| horizon | target | n | predicted z(t+h) | copy-last z(t) | true z(t+h) | training mean |", "|---|---|---|---|---|---|---|"]
    lines += [
        f"| {r['horizon']} | {r['target']} | {r['n']} | {r['model']:.2f} | {r['copy_last']:.2f} | {r['true']:.2f} | {r['train_mean']:.2f} |"
        for r in rep["position_readout_cm"]
    ]
    return "\n".join(lines)


def latent_report_of(path: str | Path, dynamics: DynamicsRun | None = None) -> dict:
    """``evaluate.latent_report`` of a ``vlastack wm latent`` run. With ``dynamics`` (a run on the labelled
    copy of the same frames and split) the latent run must be action-free, and the action read-outs use the
    dynamics run's actions; without it, the latent run's own embeddings (read-outs only if they carry actions)."""
    ckpt, model, meta, table = load_run(path, "latent_actions", "vlastack wm latent")
    ltrain, lheld = table.select(meta["train_episodes"]), table.select(meta["held_out_episodes"])
    if dynamics is None:
        return {**latent_report(model, ltrain, lheld), "checkpoint": str(ckpt)}
    train, held = dynamics.table.select(dynamics.train_episodes), dynamics.table.select(dynamics.held_out)
    if ltrain.action is not None:
        raise ConfigError(f"latent run {path} was trained on a dataset with actions; beside a dynamics run it must be an action-free one")
    if not (torch.equal(ltrain.episode, train.episode) and torch.equal(lheld.episode, held.episode)):
        raise ConfigError(f"latent run {path}: its episode split differs from the dynamics run's ({dynamics.checkpoint})")
    same = max(float((ltrain.z - train.z).abs().max()), float((lheld.z - held.z).abs().max()))
    rep = latent_report(model, train, held)
    rep["checkpoint"] = str(ckpt)
    rep["max_abs_embedding_difference_action_free_vs_labelled"] = same
    return rep


def latent_markdown(rep: dict) -> str:
    return f"## Latent actions, {rep['checkpoint']}\n" + json.dumps(rep, indent=1)


def _check_ms(guard, run: DynamicsRun, horizon: int, repeats: int = 300) -> float:
    """Median time of one guardrail check (batch 1) in ms, after a warm-up of the first 50."""
    z, a = run.table.z[0], torch.zeros(horizon, run.table.action.shape[1])
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        guard.check(z, a)
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times[50:])


def heads_eval(
    path: str | Path, horizons: list[int] = HEADS_HORIZONS, guard_horizons: list[int] = GUARD_HORIZONS, dynamics: DynamicsRun | None = None
) -> dict:
    """Heads of a ``vlastack wm heads`` run on the held-out episodes of each dataset of its dynamics run
    (``per_dataset``: positive frames, ``heads_report`` rows, rollout MSE), and a guardrail replay per chunk
    length in ``guard_horizons`` (``guardrail``: thresholds fitted on the training episodes, time of one
    check, ``guardrail_report`` per dataset). ``dynamics``: that run, if already loaded."""
    ckpt, heads, meta = checkpoint.load_kind(path, "heads", "vlastack wm heads")
    same = dynamics is not None and dynamics.checkpoint.resolve() == Path(meta["dynamics"]).resolve()
    run = dynamics if same else DynamicsRun.load(meta["dynamics"])
    labels, _ = run.labels(heads.config)
    train_rows = run.rows(run.train_episodes)
    train, train_labels = run.table.select(run.train_episodes), labels[train_rows]
    held_by_dataset = {d: [e for e in run.held_out if e // EPISODE_OFFSET == i] for i, d in enumerate(run.datasets)}
    held_by_dataset = {d: held for d, held in held_by_dataset.items() if held}
    result: dict = {"heads": str(ckpt), "dynamics": str(run.checkpoint), "datasets": run.datasets, "per_dataset": {}}
    for dataset, held in held_by_dataset.items():
        held_rows, held_table = run.rows(held), run.table.select(held)
        result["per_dataset"][dataset] = {
            "held_out_episodes": len(held),
            "held_out_frames": len(held_rows),
            "positive_frames": {e: int(n) for e, n in zip(EVENTS, labels[held_rows].sum(0).tolist(), strict=True)},
            "rows": heads_report(heads, run.model, train, train_labels, held_table, labels[held_rows], horizons),
            "rollout_mse": horizon_errors(run.model, held_table, horizons),
        }
    for h in guard_horizons:
        guard = fit_guardrail(run.model, heads, train, train_labels, h)
        g = result.setdefault("guardrail", {})[h] = {"check_ms_median": _check_ms(guard, run, h), "thresholds": guard.thresholds}
        for dataset, held in held_by_dataset.items():
            g[dataset] = guardrail_report(guard, run.table.select(held), labels[run.rows(held)], h)
    return result


def _heads_table(rows: list[dict]) -> list[str]:
    lines = [
        "| event | k | pairs | positives (rate) | AUROC true / predicted / now | AP true / predicted / now "
        "| precision / recall, predicted | onset pairs (positives) | onset AUROC predicted / now | onset AP predicted / now |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        if r["positives"] == 0:
            lines.append(f"| {r['event']} | {r['horizon']} | {r['n']} | 0 | no positives | | | | | |")
            continue
        a = " / ".join(fmt(r[s]["auroc"], 3) for s in SOURCE_NAMES)
        p = " / ".join(fmt(r[s]["ap"], 3) for s in SOURCE_NAMES)
        m, now = r["model"], r["copy_last"]
        lines.append(
            f"| {r['event']} | {r['horizon']} | {r['n']} | {r['positives']} ({100 * r['rate']:.1f} %) | {a} | {p} "
            f"| {fmt(m['precision'])} / {fmt(m['recall'])} | {r['onset_n']} ({r['onset_positives']}) "
            f"| {fmt(m['onset_auroc'], 3)} / {fmt(now['onset_auroc'], 3)} | {fmt(m['onset_ap'], 3)} / {fmt(now['onset_ap'], 3)} |"
        )
    return lines


def _guardrail_table(result: dict, h: int, g: dict) -> list[str]:
    lines = [f"## Guardrail replay, chunks of {h} steps; one check {g['check_ms_median']:.2f} ms (median, batch 1, 1 thread)", ""]
    lines.append(
        "| dataset | event | checks (positive) | flagged | precision | recall | onsets | flagged before onset "
        "| lead steps median / mean | false alarms / episode | episodes with a false alarm |"
    )
    lines.append("|---|---|---|---|---|---|---|---|---|---|---|")
    for dataset in (d for d in result["datasets"] if d in g):
        rep = g[dataset]
        for name in [*rep["thresholds"], "any"]:
            r = rep[name]
            lines.append(
                f"| {dataset} | {name} | {rep['checks']} ({r['positive_checks']}) | {r['flagged_checks']} | {fmt(r['precision'])} "
                f"| {fmt(r['recall'])} | {r['onsets']} | {r['onsets_flagged']} | {fmt(r['lead_steps_median'], 1)} / {fmt(r['lead_steps_mean'], 1)} "
                f"| {r['false_alarms_per_episode']:.2f} | {r['episodes_with_false_alarm']} of {rep['episodes']} |"
            )
    return lines


def heads_markdown(result: dict) -> str:
    lines = [f"heads {result['heads']}, dynamics {result['dynamics']}"]
    for dataset, d in result["per_dataset"].items():
        lines += [
            "",
            f"## {dataset}: {d['held_out_episodes']} held-out episodes, {d['held_out_frames']} frames; positive frames {d['positive_frames']}",
        ]
        mse = ", ".join(f"k={r['horizon']} {r['model']:.4f} / {r['copy_last']:.4f}" for r in d["rollout_mse"])
        lines += [f"rollout MSE (normalised units) predicted / copy-last: {mse}", "", *_heads_table(d["rows"])]
    for h, g in result.get("guardrail", {}).items():
        lines += ["", *_guardrail_table(result, h, g)]
    return "\n".join(lines)


def markdown(result: dict) -> str:
    """The tables of an evaluation dict, each part if present: :func:`dynamics_report`'s keys,
    ``latent_actions`` (:func:`latent_report_of`) and ``heads`` (:func:`heads_eval`)."""
    parts = [dynamics_markdown(result)] if "horizon_mse" in result else []
    parts += [latent_markdown(result["latent_actions"])] if "latent_actions" in result else []
    parts += [heads_markdown(result["heads"])] if "heads" in result else []
    return "\n\n".join(parts)
