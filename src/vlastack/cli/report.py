"""``vlastack report``: several evaluation results side by side, in the terminal and as one HTML page."""

from __future__ import annotations

from pathlib import Path

import typer

from vlastack.cli.app import app


@app.command()
def report(
    runs: list[Path] = typer.Argument(
        ...,
        help="Evaluation results: report folders of `vlastack eval --report`, their results.json, or saved `vlastack eval --json` output.",
    ),
    out: Path = typer.Option(Path("outputs/compare"), help="Folder for the comparison page (report.html)."),
    label: list[str] = typer.Option([], "--label", help="Name of a run's column, once per run in order (default: the checkpoint's name)."),
    as_markdown: bool = typer.Option(False, "--markdown", help="Print the group and per-task tables as markdown (for BENCHMARKS.md)."),
) -> None:
    """Compare evaluations per difficulty group and per task; writes OUT/report.html."""
    from vlastack.episodes.layout import write_text_atomic
    from vlastack.evaluation.compare import load_runs, markdown_tables
    from vlastack.evaluation.compare_html import render_comparison
    from vlastack.evaluation.terminal import print_comparison

    loaded = load_runs(runs, label)
    title = "Comparison of " + ", ".join(r.label for r in loaded) if len(loaded) <= 4 else f"Comparison of {len(loaded)} evaluations"
    out.mkdir(parents=True, exist_ok=True)
    write_text_atomic(out / "report.html", render_comparison(loaded, title))
    if as_markdown:
        print(markdown_tables(loaded), end="")
        print(f"\nreport: {out / 'report.html'}")
    else:
        print_comparison([r.label for r in loaded], [r.summary for r in loaded], page=out / "report.html")
