"""``python -m reprolib reproduce``: run every experiment, write ``results.json`` and ``REPORT.md``.

Each experiment is a study's ``run(out, quick, step) -> (results, markdown)`` (:mod:`reprolib.studies`): it
writes its figures into ``out`` (an OutputDir, which refuses names outside the folder), reports progress
through ``step``, and returns its numbers for ``results.json`` (one top-level key per experiment) and its
section of ``REPORT.md``.
"""
from __future__ import annotations

import json
import platform
import time
from collections.abc import Callable, Sequence

import torch
from tqdm.auto import tqdm

from .core.files import OutputDir
from .studies import colour_eval, features_study, insertion_study, lab_study, matching_study, photo_study
from .studies.report import Step

EXPERIMENTS: dict[str, Callable[[OutputDir, bool, Step], tuple[dict, str]]] = {
    "lab": lab_study.run,
    "features": features_study.run,
    "matching": matching_study.run,
    "colorization": colour_eval.run,
    "insertion": insertion_study.run,
    "photos": photo_study.run,
}


def reproduce(out_dir: str = "results", quick: bool = False, progress: bool = True,
              only: Sequence[str] | None = None) -> dict:
    """Run every experiment (or those named in ``only``) into ``out_dir``; returns what it wrote to results.json."""
    unknown = sorted(set(only or ()) - set(EXPERIMENTS))
    if unknown or (only is not None and not only):
        raise ValueError(f"unknown experiment {', '.join(unknown) or '(none named)'}; known: {', '.join(EXPERIMENTS)}")
    chosen = {name: run for name, run in EXPERIMENTS.items() if only is None or name in only}
    out = OutputDir(out_dir)
    torch.manual_seed(0)
    started = time.perf_counter()
    results: dict = {}
    sections = []
    with tqdm(total=len(chosen), desc="reproduce", unit="experiment", disable=not progress) as bar:
        for name, experiment in chosen.items():
            res, md = experiment(out, quick, lambda msg: bar.set_postfix_str(msg, refresh=True))
            results[name] = res
            sections.append(md)
            bar.update()
    meta = {
        "quick": quick,
        "experiments": list(chosen),
        "seconds": round(time.perf_counter() - started, 1),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "machine": platform.machine(),
        "python": platform.python_version(),
    }
    results["meta"] = meta
    out.write_text("results.json", json.dumps(results, indent=2) + "\n")
    header = (
        "# Reproduction report\n\nWritten by `python -m reprolib reproduce"
        + (" --quick" if quick else "")
        + (f" --only {','.join(chosen)}" if only is not None else "")
        + f"` in {meta['seconds']} s (torch {meta['torch']}, {meta['threads']} threads). "
        "Figures are in `figures/`; every number is in `results.json`.\n\n"
    )
    out.write_text("REPORT.md", header + "\n".join(sections))
    return results
