"""report.html of one evaluation: summary cards, charts, a sortable per-task table, the episode
gallery with each episode's safety timeline, and the latency histogram.

Everything is drawn from ``summary`` and ``episodes`` as results.json stores them, so ``vlastack
report`` can draw a page again from the JSON. Fields added after the first results.json format
(instruction, safety_timeline, video, preview, the latency histogram, the policy description) are optional.
"""

from __future__ import annotations

from typing import Any

from vlastack.envs.tasks import DIFFICULTY_GROUPS, resolve_tasks
from vlastack.evaluation import charts
from vlastack.evaluation.html_parts import Cell, cards, esc, page, pct, rate_class, sortable_table
from vlastack.evaluation.published import CPU_FLOOR_MT10, ROWS, SOURCE
from vlastack.evaluation.run_info import checkpoint_name, describe

EFFECT_COLOURS = {
    "held": "#c0362c",
    "exceeded": "#7a1f1a",
    "shortened": "#e39b3a",
    "clipped": "#4c8dbf",
    "repeated": "#7a4e9c",
    "backed_off": "#3a9a5b",
}
"""Timeline mark colour by what the safety layer did (holds stand out; clipping is mild)."""


def task_set(per_task: dict[str, Any]) -> str | None:
    """``mt10`` or ``mt50`` when the run covers exactly that task set, else None."""
    names = set(per_task)
    for group in ("mt10", "mt50"):
        if names == set(resolve_tasks(group)):
            return group
    return None


def render_run(summary: dict[str, Any], episodes: list[dict[str, Any]], title: str) -> str:
    """The whole page for one evaluation."""
    body = [
        f"<h1>{esc(title)}</h1>",
        f"<p class='sub'>{_settings_line(summary.get('config', {}))}</p>",
        _summary_cards(summary),
        "<h2>Success per task</h2>",
        f"<div class='charts'><div>{_task_table(summary, episodes)}</div>{_task_chart(summary)}</div>",
        _published(summary),
        "<h2>Episodes</h2>",
        _gallery(episodes),
        "<h2>Policy latency</h2>",
        _latency(summary),
        "<dialog id='enlarged'><form method='dialog'><button>close</button></form><video controls loop muted playsinline></video></dialog>",
    ]
    return page(title, "\n".join(body))


def _settings_line(config: dict[str, Any]) -> str:
    policy = config.get("policy") or {}
    parts = [f"policy <code>{esc(describe(config))}</code>"]
    if policy.get("cameras"):
        size = policy.get("image_size")
        parts.append(f"cameras {esc(', '.join(policy['cameras']))}" + (f" at {size[0]}x{size[1]} px" if size else ""))
    if policy.get("horizon"):
        parts.append(f"chunks of {policy['horizon']} actions")
    executed = config.get("execute_steps") or policy.get("execute_steps")
    parts.append(f"executor <code>{esc(config.get('executor', '?'))}</code>" + (f" running {executed} per chunk" if executed else ""))
    safety = config.get("safety")
    parts.append("no safety layer" if safety == "none" else f"safety layer <code>{esc(safety or '?')}</code>")
    if "seed_offset" in config:
        parts.append(f"seeds from {config['seed_offset']}")
    if "max_steps" in config:
        parts.append(f"up to {config['max_steps']} steps")
    if "instruction_variant" in config:
        parts.append(f"instruction phrasing {config['instruction_variant']}")
    if config.get("date"):
        parts.append(esc(config["date"]))
    return " · ".join(parts)


def _summary_cards(summary: dict[str, Any]) -> str:
    lat = summary.get("latency_ms", {})
    items = [("Avg", pct(summary["avg"], 1) + " %", "main")]
    items += [(g.replace("_", " "), pct(v, 1) + " %", "") for g, v in summary["per_group"].items()]
    items.append(("mean over tasks", pct(summary.get("mean_success_over_tasks"), 1) + " %", ""))
    items.append(("episodes", str(summary["episodes"]), ""))
    items.append(("crashed", str(summary["crashed_episodes"]), "bad" if summary["crashed_episodes"] else ""))
    for key in ("p50", "p99"):
        value = lat.get(key)
        items.append((f"latency {key}", "-" if value is None else f"{value:.2f} ms", ""))
    note = ""
    if len(summary["per_group"]) < len(DIFFICULTY_GROUPS):
        note = f"<p class='sub'>Avg is the mean of the {len(summary['per_group'])} group rates present ({', '.join(summary['per_group'])}).</p>"
    return cards(items) + note


def _task_chart(summary: dict[str, Any]) -> str:
    return (
        f"<figure class='chart' id='task-chart'>{charts.task_success_chart(summary['per_task'])}"
        "<figcaption>Success % of episodes per task, grouped by difficulty.</figcaption></figure>"
    )


def _published(summary: dict[str, Any]) -> str:
    """The group rates beside the protocol's published rows, for an MT10 or MT50 run only."""
    which = task_set(summary["per_task"])
    if which is None:
        return ""
    config = summary.get("config", {})
    name = config.get("checkpoint_name") or checkpoint_name(config.get("checkpoint")) or "this run"
    rows = [(r.label, r.groups(), r.avg / 100) for r in ROWS]
    svg = charts.published_comparison_chart(summary["per_group"], summary["avg"], f"{name} ({which.upper()})", rows)
    caveat = (
        "The published rows are MT50 figures (all 50 tasks); this run is MT10, whose group rates cover only the MT10 tasks "
        f"of each group, so read them as a guide. On MT10 the protocol's CPU floor reaches a mean over tasks of "
        f"{100 * CPU_FLOOR_MT10[0]:.0f}-{100 * CPU_FLOOR_MT10[1]:.0f} % (this run: {pct(summary.get('mean_success_over_tasks'))} %)."
        if which == "mt10"
        else "Same tasks and group split as the published rows."
    )
    if len(summary["per_group"]) < len(DIFFICULTY_GROUPS):
        caveat += f" Our Avg is the mean of the {len(summary['per_group'])} groups this task set has; the published Avg of all four."
    if config.get("safety") not in (None, "none"):
        caveat += " The published rows ran without a safety layer; this run ran behind one."
    return (
        f"<h2>Beside the published results</h2><figure class='chart' id='published-chart'>{svg}<figcaption>Success % per "
        f"difficulty group (dots) and Avg (bar), from {esc(SOURCE)}. {esc(caveat)}</figcaption></figure>"
    )


def _task_table(summary: dict[str, Any], episodes: list[dict[str, Any]]) -> str:
    rank = {g: i for i, g in enumerate(DIFFICULTY_GROUPS)}
    rows = []
    for task, v in summary["per_task"].items():
        eps = [e for e in episodes if e.get("task") == task]
        interventions = sum(int((e.get("safety") or {}).get("interventions", 0)) for e in eps)
        held = sum(int((e.get("safety") or {}).get("steps_held", 0)) for e in eps)
        crashed = v.get("crashed") or []
        rows.append(
            [
                Cell(esc(task), cls="text"),
                Cell(esc(v["group"].replace("_", " ")), rank.get(v["group"], 9), "text"),
                Cell(pct(v["success"]), v["success"], rate_class(v["success"])),
                Cell(str(v.get("episodes", len(eps)))),
                Cell(f"{v['mean_length']:.0f}", v["mean_length"]),
                Cell(str(interventions), interventions),
                Cell(str(held), held),
                Cell(esc(", ".join(map(str, crashed))), len(crashed), "bad" if crashed else ""),
            ]
        )
    headers = [
        ("task", "text"),
        ("group", "rank"),
        ("success %", "num"),
        ("episodes", "num"),
        ("mean length", "num"),
        ("interventions", "num"),
        ("held steps", "num"),
        ("crashed seeds", "num"),
    ]
    return sortable_table(headers, rows, "tasks") + "<p class='sub'>Click a column to sort.</p>"


def _gallery(episodes: list[dict[str, Any]]) -> str:
    recorded = [e for e in episodes if e.get("video")]
    if not recorded:
        return "<p class='none'>No episode was recorded (eval records the first episode of the first --videos tasks).</p>"
    legend = "".join(f"<span><i style='background:{c}'></i>{esc(k.replace('_', ' '))}</span>" for k, c in EFFECT_COLOURS.items())
    cards_html = "".join(_episode_card(e) for e in recorded)
    return (
        f"<p class='sub'>The first episode of each recorded task. Under each video, what the safety layer did and when "
        f"(click a mark or a line to jump there). <span class='legend'>{legend}</span></p><div class='gallery'>{cards_html}</div>"
    )


def _episode_card(e: dict[str, Any]) -> str:
    video = e["video"]
    fps, steps = float(video.get("fps", 80)), max(1, int(e.get("steps", 1)))
    ok = bool(e.get("success"))
    badge = f"<span class='badge {'ok' if ok else 'bad'}'>{'success' if ok else 'failure'}</span>"
    instruction = e.get("instruction")
    lines = [
        f"<video src='{esc(video['file'])}' width='{int(video['width'])}' height='{int(video['height'])}' "
        "controls muted loop playsinline preload='auto'></video>",
        f"<h3>{esc(e['task'])} {badge}<button class='enlarge' type='button'>enlarge</button></h3>",
        f"<p class='instr'>“{esc(instruction)}”</p>" if instruction else "<p class='meta'>instruction not recorded</p>",
        f"<p class='meta'>seed {esc(e['seed'])} · {steps} steps ({steps / fps:.2f} s at {fps:.0f} Hz)"
        + (f" · <span class='bad'>crashed: {esc(e['error'])}</span>" if e.get("error") else "")
        + "</p>",
        _timeline(e, steps, fps),
        _preview(e),
    ]
    return f"<div class='episode' data-fps='{fps}' data-steps='{steps}'>{''.join(lines)}</div>"


def _preview(e: dict[str, Any]) -> str:
    """The chunk preview (``evaluation.chunk_preview``) with its one-line caption, its note, or nothing."""
    p = e.get("preview")
    if not p:
        return ""
    if "file" not in p:
        return f"<p class='none'>no world-model preview: {esc(p.get('note', '?'))}</p>"
    caption = (
        f"World model's expectation (top row) beside what happened: {esc(e['task'])}, seed {esc(e['seed'])}, "
        f"{int(p['horizon'])} executed actions from step {int(p['start'])}; PSNR {p['psnr']:.1f} dB "
        f"(copy-last {p['psnr_copy_last']:.1f} dB)"
    )
    return (
        f"<figure class='preview'><a href='{esc(p['file'])}'><img src='{esc(p['file'])}' alt='chunk preview'></a>"
        f"<figcaption>{caption}</figcaption></figure>"
    )


def _timeline(e: dict[str, Any], steps: int, fps: float) -> str:
    safety = e.get("safety") or {}
    spans = e.get("safety_timeline")
    if not safety:
        return "<p class='none'>run without the safety layer</p>"
    if spans is None:
        return f"<p class='none'>{int(safety.get('interventions', 0))} safety interventions (no timeline in this results file)</p>"
    marks, items = ["<div class='cursor'></div>"], []
    for s in spans:
        left, width = 100 * s["start_step"] / steps, 100 * (s["end_step"] + 1 - s["start_step"]) / steps
        colour = EFFECT_COLOURS.get(s["effect"], "#59636e")
        when = f"step {s['start_step']}" + (f"-{s['end_step']}" if s["end_step"] > s["start_step"] else "")
        tip = f"{when}: {s['check']} {s['effect']} ({s['limit']}) {s['message']}"
        marks.append(
            f"<div class='mark' data-step='{s['start_step']}' title='{esc(tip)}' "
            f"style='left:{left:.2f}%;width:{width:.2f}%;background:{colour}'></div>"
        )
        seconds = f"{s['start_step'] / fps:.2f} s"
        items.append(
            f"<li data-step='{s['start_step']}'><b>{esc(when)}</b> ({seconds}) · <code>{esc(s['check'])}</code> "
            f"{esc(s['effect'].replace('_', ' '))} · {esc(s['limit'])} · {esc(s['message'])}</li>"
        )
    total = int(safety.get("interventions", 0))
    head = f"<p class='meta'>safety: {total} interventions on {int(safety.get('steps_changed', 0))} of {steps} steps" + (
        f", {int(safety.get('steps_held', 0))} held" if safety.get("steps_held") else ""
    )
    head += f" · {len(spans)} spans</p>" if spans else " · none</p>"
    axis = f"<div class='axis'><span>0</span><span>step {steps}</span></div>"
    listing = f"<ol class='events'>{''.join(items)}</ol>" if items else ""
    return f"{head}<div class='track'>{''.join(marks)}</div>{axis}{listing}"


def _latency(summary: dict[str, Any]) -> str:
    lat = summary.get("latency_ms", {})
    config = summary.get("config", {})
    hist = lat.get("histogram")
    chart = charts.latency_histogram(hist, lat.get("p50"), lat.get("p99")) if hist and hist.get("counts") else ""
    where = "as a round trip to the policy server" if config.get("server") else "in the evaluation process"
    text = (
        f"<p class='sub'>Time of each policy call (one action chunk), measured {where}: {lat.get('calls', 0)} calls, "
        f"executor <code>{esc(config.get('executor', '?'))}</code>. Simulator time is not included.</p>"
    )
    return text + (
        f"<figure class='chart' id='latency-chart'>{chart}</figure>" if chart else "<p class='none'>no histogram in this results file</p>"
    )
