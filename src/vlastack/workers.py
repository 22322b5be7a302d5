"""Simulator worker processes, shared by collection and evaluation.

Both run MuJoCo in a pool of *spawned* processes (a fresh interpreter each: no inherited GL context,
no forked torch thread pool) whose workers end with the process that started them, even when it is
killed with SIGKILL, so no simulator is ever left running without anyone to report to. What each
does with a finished or lost episode differs (collection stops on a dead worker, evaluation records
the lost episodes and starts a new pool), so the scheduling loops stay with them.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
import sys
from concurrent.futures import ProcessPoolExecutor


def spawn_pool(workers: int) -> ProcessPoolExecutor:
    """``workers`` spawned processes that the kernel ends when this process dies (Linux)."""
    return ProcessPoolExecutor(
        max_workers=workers, mp_context=mp.get_context("spawn"), initializer=_die_with_parent, initargs=(os.getpid(),)
    )


def terminate_workers(pool: ProcessPoolExecutor) -> None:
    """Stop every worker now (their running calls are lost) and shut the pool down without waiting."""
    # ProcessPoolExecutor has no public way to stop running calls; its worker map is stable across versions.
    for proc in list((getattr(pool, "_processes", None) or {}).values()):
        proc.terminate()
    pool.shutdown(wait=False, cancel_futures=True)


def _die_with_parent(parent: int) -> None:
    """Worker initializer: on Linux, ask the kernel for SIGTERM when the parent dies (PR_SET_PDEATHSIG)."""
    import ctypes

    if sys.platform.startswith("linux"):
        pr_set_pdeathsig = 1
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)
    if os.getppid() != parent:  # it died before the request above was in place
        os._exit(1)
