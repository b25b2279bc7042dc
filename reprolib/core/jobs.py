"""Independent computations side by side: ``reproduce --jobs N`` runs the experiments' jobs in N processes.

A :class:`Job` is a call of a module-level function (so that a spawned worker can find it by name) whose
result depends only on its arguments: every job starts from ``torch.manual_seed(0)`` and runs at one
thread, in a worker process or in this one. Its numbers are therefore the same, bit for bit, whatever the
number of workers and whatever order the jobs run in (PyTorch's CPU results can change with the thread
count, not with the process). Timings do not belong in jobs: a job shares the machine with the others.
"""
from __future__ import annotations

import contextlib
import multiprocessing
import os
import time
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any

import torch

JOB_THREADS = 1


@dataclass(frozen=True)
class Job:
    """``fn(**kwargs)``, with ``cost`` (rough seconds) to start the longest jobs first."""

    fn: Callable[..., Any]
    kwargs: dict = field(default_factory=dict)
    cost: float = 1.0


def default_workers() -> int:
    """One worker per CPU core this process may use."""
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)


def check_workers(workers: int) -> int:
    """``workers`` if it is an integer >= 1, else ValueError naming ``--jobs``."""
    if not isinstance(workers, int) or isinstance(workers, bool) or workers < 1:
        raise ValueError(f"workers (--jobs) must be an integer >= 1, got {workers!r}")
    return workers


@contextlib.contextmanager
def one_thread() -> Iterator[None]:
    """Run the body at JOB_THREADS intra-op threads, then restore the thread count."""
    before = torch.get_num_threads()
    torch.set_num_threads(JOB_THREADS)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _call(job: Job) -> tuple[Any, float]:
    """A job's result and its wall seconds, from the same starting state wherever it runs."""
    with one_thread():
        torch.manual_seed(0)
        t0 = time.perf_counter()
        value = job.fn(**job.kwargs)
        return value, time.perf_counter() - t0


def _worker_init() -> None:
    os.environ["OMP_NUM_THREADS"] = str(JOB_THREADS)
    torch.set_num_threads(JOB_THREADS)


def run_jobs(jobs: Mapping[str, Job], workers: int = 1,
             step: Callable[[str], None] | None = None) -> tuple[dict[str, Any], dict[str, float]]:
    """Run every job (longest ``cost`` first) and return ({name: result}, {name: seconds}).

    ``workers`` > 1: that many spawned processes at one thread each; 1: one after another in this process,
    also at one thread (the same numbers). ``step(message)`` is called as each job ends. A job that raises
    stops the run with its error, the queued jobs cancelled."""
    check_workers(workers)
    order = sorted(jobs, key=lambda name: -jobs[name].cost)
    results: dict[str, Any] = {}
    seconds: dict[str, float] = {}

    def done(name: str, value: tuple[Any, float]) -> None:
        results[name], seconds[name] = value[0], round(value[1], 1)
        if step:
            step(f"{len(results)}/{len(jobs)} jobs done ({name})")

    if workers == 1 or len(jobs) <= 1:
        for name in order:
            done(name, _call(jobs[name]))
    else:
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=min(workers, len(jobs)), mp_context=context,
                                 initializer=_worker_init) as pool:
            running: dict[Future, str] = {pool.submit(_call, jobs[name]): name for name in order}
            try:
                while running:
                    finished, _ = wait(running, return_when=FIRST_COMPLETED)
                    for future in finished:
                        done(running.pop(future), future.result())
            except BaseException:
                pool.shutdown(wait=False, cancel_futures=True)
                raise
    return {name: results[name] for name in jobs}, {name: seconds[name] for name in jobs}
