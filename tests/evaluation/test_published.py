"""The published figures drawn beside our results are the protocol's table, number for number."""

from __future__ import annotations

from pathlib import Path

from vlastack.evaluation.published import ROWS

PROTOCOL = Path(__file__).resolve().parents[2] / "docs" / "benchmarks" / "METAWORLD.md"


def test_published_rows_match_the_protocol_table():
    text = PROTOCOL.read_text()
    table = text[text.index("## Published results") :].split("\n\n")[1]
    rows = [[c.strip() for c in line.strip("|").split("|")] for line in table.splitlines()[2:]]
    assert [(r[0], r[1], *map(float, r[2:])) for r in rows] == [
        (p.policy, p.params, p.easy, p.medium, p.hard, p.very_hard, p.avg) for p in ROWS
    ]
    for p in ROWS:  # the published Avg is the plain mean of the four group rates
        assert abs(sum(p.groups().values()) / 4 - p.avg / 100) < 0.001, p
