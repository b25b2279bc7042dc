"""What every study shares: the progress callback type and the Markdown table of ``REPORT.md``.

A study is a function ``run(out, quick, step) -> (results, markdown)``: it writes its figures into ``out``
(an :class:`reprolib.core.files.OutputDir`, which refuses names outside the folder), reports progress
through ``step``, and returns its numbers for ``results.json`` and its section of ``REPORT.md``. Most
studies also have ``jobs(quick) -> {name: Job}``, their independent computations (:mod:`reprolib.core.jobs`),
which ``reproduce`` runs side by side before calling ``run(out, quick, step, done={name: result})``; called
without ``done``, ``run`` runs its jobs itself, one after another. Timings stay in ``run``.
"""
from __future__ import annotations

from collections.abc import Callable

Step = Callable[[str], None]


def table(header: tuple[str, ...], rows: list[tuple]) -> str:
    """A Markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)
