"""Command-line entry point: ``vlastack <command>``; thin wrappers over library functions."""

from __future__ import annotations

import sys

# Importing a command module registers its commands on ``app``.
import vlastack.cli.console  # noqa: E402,F401  (the operator console)
from vlastack.cli import annotate, collect, data, dataset, demo, eval, export, ground, improve, report, serve, tokenizer, train, world_model  # noqa: E402,F401
from vlastack.cli.app import app


def main() -> None:
    """Run the CLI; expected errors (bad names, missing files) print one line, not a traceback."""
    from vlastack.errors import VlastackError

    try:
        app()
    except VlastackError as err:
        print(f"error: {err}", file=sys.stderr)
        sys.exit(2)
