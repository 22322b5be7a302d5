"""run_jobs: the pool loop shared by collection and assisted episodes."""

from __future__ import annotations

import os

import pytest

from vlastack.errors import DatasetError
from vlastack.workers import run_jobs


def test_every_job_runs_once_and_is_handled_here():
    jobs = iter([(n, 2) for n in range(7)])
    results: list[int] = []
    run_jobs(2, lambda: next(jobs, None), pow, results.append, "run again")
    assert sorted(results) == [n * n for n in range(7)]


def test_a_dead_worker_is_a_clear_error_with_the_resume_hint():
    jobs = iter([(3,)])  # os._exit(3): the worker process dies mid-call
    with pytest.raises(DatasetError, match="a simulator worker died .*; running the same command again continues"):
        run_jobs(1, lambda: next(jobs, None), os._exit, lambda r: None, "running the same command again continues")
