"""Simulator worker processes, shared by collection and evaluation.

Both run MuJoCo in a pool of *spawned* processes (a fresh interpreter each: no inherited GL context,
no forked torch thread pool) whose workers end with the process that started them, even when it is
killed with SIGKILL, so no simulator is ever left running without anyone to report to. Collection
and assisted episodes (``vlastack improve``) stop on a dead worker and share :func:`run_jobs`;
evaluation records the lost episodes and starts a new pool, so its scheduling loop stays with it.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
import sys
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from vlastack.errors import DatasetError


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


def run_jobs(
    workers: int,
    next_job: Callable[[], tuple | None],
    run: Callable[..., Any],
    handle: Callable[[Any], None],
    resume_hint: str,
) -> None:
    """``run(*job)`` for every job ``next_job()`` gives (None: no more) in ``workers`` spawned processes,
    keeping ``2 * workers`` in flight (each worker busy, one job queued for it); ``handle(result)`` runs
    here, as each finishes, so the caller saves every episode as soon as it exists.

    A dead worker raises :class:`DatasetError` ending with ``resume_hint``; on that, Ctrl-C or any
    error the running calls are stopped at once, not waited for."""
    with spawn_pool(workers) as pool:
        in_flight: set[Future] = set()
        try:
            while True:
                while len(in_flight) < 2 * workers and (job := next_job()) is not None:
                    in_flight.add(pool.submit(run, *job))
                if not in_flight:
                    return
                finished, in_flight = wait(in_flight, return_when=FIRST_COMPLETED)
                for f in finished:
                    try:
                        result = f.result()
                    except BrokenProcessPool as err:
                        raise DatasetError(f"a simulator worker died ({err}); {resume_hint}") from err
                    handle(result)
        except BaseException:
            terminate_workers(pool)
            raise


def _die_with_parent(parent: int) -> None:
    """Worker initializer: on Linux, ask the kernel for SIGTERM when the parent dies (PR_SET_PDEATHSIG)."""
    import ctypes

    if sys.platform.startswith("linux"):
        pr_set_pdeathsig = 1
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)
    if os.getppid() != parent:  # it died before the request above was in place
        os._exit(1)
