"""Signal handling shared by the long-running commands (collect, eval)."""

from __future__ import annotations

import signal


def stop_on_sigterm() -> None:
    """Treat SIGTERM (``kill PID``, how a background run is stopped) as Ctrl-C, so the command
    stops through its KeyboardInterrupt path: what is finished stays saved and worker processes
    are shut down. Without this the main process would die at once and leave its workers running."""

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)
