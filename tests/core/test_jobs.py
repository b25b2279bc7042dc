"""run_jobs: the same numbers in one process or in several, at one thread, whatever the order."""
import pytest
import torch

from reprolib.core.jobs import Job, run_jobs


def fit_line(steps: int, lr: float) -> dict:
    """A tiny seeded training (random data from the global RNG, which every job starts at seed 0)."""
    x = torch.randn(64, 8)
    y = x @ torch.randn(8, 1)
    w = torch.zeros(8, 1, requires_grad=True)
    opt = torch.optim.SGD([w], lr=lr)
    for _ in range(steps):
        loss = ((x @ w - y) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    return {"w": w.detach(), "threads": torch.get_num_threads()}


def fail(message: str) -> None:
    raise ValueError(message)


JOBS = {"short": Job(fit_line, dict(steps=3, lr=0.1), cost=1), "long": Job(fit_line, dict(steps=30, lr=0.05), cost=9)}


def test_workers_and_order_do_not_change_the_numbers():
    threads = torch.get_num_threads()
    serial, seconds = run_jobs(JOBS, workers=1)
    reversed_order, _ = run_jobs({k: JOBS[k] for k in reversed(JOBS)}, workers=1)
    pooled, _ = run_jobs(JOBS, workers=2)
    assert list(serial) == list(pooled) == ["short", "long"] and set(seconds) == {"short", "long"}
    for name in JOBS:
        assert serial[name]["threads"] == pooled[name]["threads"] == 1
        assert torch.equal(serial[name]["w"], pooled[name]["w"]) and torch.equal(serial[name]["w"],
                                                                                 reversed_order[name]["w"])
    assert not torch.equal(serial["short"]["w"], serial["long"]["w"])
    assert torch.get_num_threads() == threads  # restored after the serial run


def test_a_failing_job_stops_the_run_with_its_error():
    for workers in (1, 2):
        with pytest.raises(ValueError, match="bad input in a job"):
            run_jobs({"ok": JOBS["short"], "bad": Job(fail, dict(message="bad input in a job"))}, workers=workers)
    with pytest.raises(ValueError, match=r"workers \(--jobs\) must be an integer >= 1, got 0"):
        run_jobs(JOBS, workers=0)
