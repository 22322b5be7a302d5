"""Building blocks shared by the run report and the comparison page: the page shell (with its CSS and
JavaScript inlined, so one file works offline), summary cards, and sortable tables."""

from __future__ import annotations

import html
from dataclasses import dataclass
from importlib import resources

import vlastack


def esc(x: object) -> str:
    return html.escape(str(x), quote=True)


def pct(x: float | None, digits: int = 0) -> str:
    """A success fraction as a percentage for people ("-" when unknown)."""
    return "-" if x is None else f"{100 * x:.{digits}f}"


def rate_class(x: float | None) -> str:
    """CSS class colouring a success rate: all episodes passed, none did, or some."""
    if x is None:
        return ""
    return "ok" if x >= 1.0 else "bad" if x <= 0.0 else "mid"


def _static(name: str) -> str:
    return resources.files("vlastack.evaluation").joinpath("static", name).read_text()


def page(title: str, body: str, files: str = "One file with its videos beside it") -> str:
    """A complete, self-contained HTML document; ``files`` says what it needs beside it."""
    return (
        "<!doctype html>\n<html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>{esc(title)}</title><style>{_static('report.css')}</style></head>\n<body>\n{body}\n"
        f"<footer>Written by vlastack {esc(vlastack.__version__)}. {esc(files)}; no network needed.</footer>\n"
        f"<script>{_static('report.js')}</script>\n</body></html>\n"
    )


def cards(items: list[tuple[str, str, str]]) -> str:
    """Summary cards from (label, value, extra CSS class)."""
    out = "".join(f"<div class='card {esc(cls)}'><div class='k'>{esc(k)}</div><div class='v'>{esc(v)}</div></div>" for k, v, cls in items)
    return f"<div class='cards'>{out}</div>"


@dataclass(frozen=True)
class Cell:
    """One table cell: the HTML shown, and the value the column sorts by."""

    html: str
    """Inner HTML, already escaped."""
    sort: float | str | None = None
    """Sort key (numbers for numeric columns); None sorts by the text shown."""
    cls: str = ""
    """CSS class (``ok``, ``bad``, ``mid``, ``best``, ``text``)."""


def sortable_table(headers: list[tuple[str, str]], rows: list[list[Cell]], table_id: str) -> str:
    """A table whose columns sort on click; ``headers`` are (label, kind): ``num`` (right-aligned numbers),
    ``text`` (alphabetical) or ``rank`` (left-aligned words sorted by their cells' numeric keys, e.g. difficulty)."""
    head = "".join(f"<th data-kind='{esc(kind)}' class='{'' if kind == 'num' else 'text'}'>{esc(label)}</th>" for label, kind in headers)
    body = []
    for row in rows:
        cells = "".join(
            f"<td class='{esc(c.cls)}'{'' if c.sort is None else f' data-v={chr(39)}{esc(c.sort)}{chr(39)}'}>{c.html}</td>" for c in row
        )
        body.append(f"<tr>{cells}</tr>")
    return f"<table class='sortable' id='{esc(table_id)}'><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"
