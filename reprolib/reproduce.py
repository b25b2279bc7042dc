"""``python -m reprolib reproduce``: run every experiment, write ``results.json``, ``results.md`` and ``REPORT.md``.

Each experiment is a study's ``run(out, quick, step) -> (results, markdown)`` (:mod:`reprolib.studies`): it
writes its figures into ``out`` (an OutputDir, which refuses names outside the folder), reports progress
through ``step``, and returns its numbers for ``results.json`` (one top-level key per experiment) and its
section of ``REPORT.md`` (kept as ``report/NAME.md``); ``results.md`` is the README's results tables read from
results.json (:mod:`reprolib.results_tables`). The benchmarks of ``OPTIONAL`` run only when named
(``--only scaling``, ``make bench``). A run with ``only`` updates its experiments in an existing
results.json and REPORT.md and keeps the others, each with its own run's meta (``meta["runs"]``).

Two phases: first every experiment's independent computations (a study's ``jobs(quick)``, see
:mod:`reprolib.core.jobs`) run side by side, ``--jobs N`` processes at one thread each (the same numbers
for any N); then each study's ``run(out, quick, step, done)`` turns their results into numbers and figures
and measures its speeds alone on the machine, at the default thread count, one study after another.
"""
from __future__ import annotations

import json
import platform
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import torch
from tqdm.auto import tqdm

from .core.files import OutputDir
from .core.jobs import JOB_THREADS, Job, check_workers, default_workers, run_jobs
from .results_tables import results_page
from .studies import (
    colour_eval,
    different_photos,
    features_study,
    insertion_study,
    lab_study,
    matching_study,
    photo_study,
    scaling,
    video_study,
)
from .studies.report import Step

EXPERIMENTS: dict[str, Callable[[OutputDir, bool, Step], tuple[dict, str]]] = {
    "lab": lab_study.run,
    "features": features_study.run,
    "matching": matching_study.run,
    "colorization": colour_eval.run,
    "insertion": insertion_study.run,
    "photos": photo_study.run,
    "photo_tiers": different_photos.run,
    "video": video_study.run,
    "scaling": scaling.run,
}
OPTIONAL = ("scaling",)  # timings that need a quiet machine and minutes: run when named (make bench)
# The studies' independent computations, (quick, device) -> jobs. ``device`` is where trainings run: of the
# studies, only the insertion one trains; the others evaluate shipped models on the CPU.
JOBS: dict[str, Callable[[bool, str], dict[str, Job]]] = {
    "lab": lambda quick, device: lab_study.jobs(quick),
    "features": lambda quick, device: features_study.jobs(quick),
    "matching": lambda quick, device: matching_study.jobs(quick),
    "colorization": lambda quick, device: colour_eval.jobs(quick),
    "insertion": lambda quick, device: insertion_study.jobs(quick, device),
    "photos": lambda quick, device: photo_study.jobs(quick),
    "photo_tiers": lambda quick, device: different_photos.jobs(quick),
    "video": lambda quick, device: video_study.jobs(quick),
}


def reproduce(out_dir: str = "results", quick: bool = False, progress: bool = True,
              only: Sequence[str] | None = None, workers: int | None = None, device: str = "cpu") -> dict:
    """Run every experiment but ``OPTIONAL`` (or those named in ``only``) into ``out_dir``, their jobs in
    ``workers`` processes (default: one per core), their trainings on ``device``; returns what it wrote to
    results.json (with ``only``: the file's other experiments kept from their earlier runs)."""
    workers = default_workers() if workers is None else check_workers(workers)
    unknown = sorted(set(only or ()) - set(EXPERIMENTS))
    if unknown or (only is not None and not only):
        raise ValueError(f"unknown experiment {', '.join(unknown) or '(none named)'}; known: {', '.join(EXPERIMENTS)}")
    chosen = {name: run for name, run in EXPERIMENTS.items()
              if (name in only if only is not None else name not in OPTIONAL)}
    out = OutputDir(out_dir)
    kept = _earlier(out.root) if only is not None else {}
    torch.manual_seed(0)
    started = time.perf_counter()
    command = "python -m reprolib reproduce" + (" --quick" if quick else "") + (
        f" --only {','.join(chosen)}" if only is not None else "")
    results: dict = {k: v for k, v in kept.items() if k in EXPERIMENTS and k not in chosen}
    runs = {k: v for k, v in kept.get("meta", {}).get("runs", {}).items() if k in results}
    plans = {name: JOBS[name](quick, device) for name in chosen if name in JOBS}
    flat = {f"{name}: {key}": job for name, plan in plans.items() for key, job in plan.items()}
    with tqdm(total=len(flat), desc=f"jobs ({workers} processes)", unit="job", disable=not progress or not flat) as bar:
        done, job_seconds = run_jobs(flat, workers, lambda msg: (bar.set_postfix_str(msg, refresh=False), bar.update()))
    jobs_wall = round(time.perf_counter() - started, 1)
    with tqdm(total=len(chosen), desc="reproduce", unit="experiment", disable=not progress) as bar:
        for name, experiment in chosen.items():
            step = lambda msg: bar.set_postfix_str(msg, refresh=True)  # noqa: E731
            results[name], runs[name] = _run_one(name, experiment, plans.get(name, {}), done, job_seconds, out,
                                                 quick, step, command)
            bar.update()
    meta = {"quick": quick, "experiments": list(chosen), "seconds": round(time.perf_counter() - started, 1),
            "torch": torch.__version__, "threads": torch.get_num_threads(), "workers": workers, "device": device,
            "job_threads": JOB_THREADS, "jobs_seconds": jobs_wall, "machine": platform.machine(),
            "python": platform.python_version(), "runs": {k: runs[k] for k in EXPERIMENTS if k in runs}}
    results = {k: results[k] for k in EXPERIMENTS if k in results} | {"meta": meta}
    _write(out, results, command, workers, jobs_wall, [k for k in results if k in EXPERIMENTS and k not in chosen])
    return results


def _run_one(name: str, experiment: Callable, plan: dict, done: dict, job_seconds: dict, out: OutputDir,
             quick: bool, step: Step, command: str) -> tuple[dict, dict]:
    """One study's ``run`` (with the results of its jobs), its report section, and its entry of meta.runs."""
    t0 = time.perf_counter()
    if plan:
        res, md = experiment(out, quick, step, done={k: done[f"{name}: {k}"] for k in plan})
    else:
        res, md = experiment(out, quick, step)
    run = {"command": command, "quick": quick, "seconds": round(time.perf_counter() - t0, 1),
           "job_seconds": round(sum(job_seconds[f"{name}: {k}"] for k in plan), 1),
           "jobs": {k: job_seconds[f"{name}: {k}"] for k in plan}}
    out.write_text(f"report/{name}.md", md)
    return res, run


def _write(out: OutputDir, results: dict, command: str, workers: int, jobs_wall: float, others: list[str]) -> None:
    """results.json, results.md (the results tables read from it) and REPORT.md (every study's section)."""
    meta = results["meta"]
    out.write_text("results.json", json.dumps(results, indent=2) + "\n")
    out.write_text("results.md", results_page(json.loads(out.path("results.json").read_text())))
    header = (
        f"# Reproduction report\n\nWritten by `{command}` in {meta['seconds']} s (torch {meta['torch']}; "
        f"the jobs in {workers} processes at {JOB_THREADS} thread each, {jobs_wall} s; then each study's figures "
        f"and timings at {meta['threads']} threads)"
        + (f"; kept from earlier runs in this folder: {', '.join(others)} (their commands in results.json, "
           "meta.runs)" if others else "")
        + ". Figures are in `figures/`; every number is in `results.json`, and `results.md` has the README's "
        "results tables, read from it.\n\n"
    )
    sections = [out.path(f"report/{k}.md").read_text() for k in results if k in EXPERIMENTS]
    out.write_text("REPORT.md", header + "\n".join(sections))


def _earlier(folder: Path) -> dict:
    """The results.json already in ``folder`` whose experiments still have their report sections, else {}."""
    try:
        earlier = json.loads((folder / "results.json").read_text())
    except (OSError, ValueError):
        return {}
    return {k: v for k, v in earlier.items() if k == "meta" or (folder / "report" / f"{k}.md").is_file()}
