"""The loss curves of the shipped trainings, from the logs in their provenance (``training.loop.loss_log``,
read with ``registry.training_logs``).

A log holds every number a run logged, averaged over windows of ``every`` steps; files trained before logs
were kept have ``"log": null``, and the notebooks say so rather than draw anything.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter


def _running_mean(values: Sequence[float], k: int) -> list[float]:
    """Mean of each value with its neighbours, k in all (fewer at the ends)."""
    half = k // 2
    return [sum(values[max(0, i - half):i + half + 1]) / len(values[max(0, i - half):i + half + 1])
            for i in range(len(values))]


def loss_curves(logs: Mapping[str, Mapping], series: Sequence[str] | None = None, log_y: bool = True,
                columns: int = 3, smooth: int = 9) -> Figure:
    """One panel per run (``columns`` per row): each logged series (or only ``series``) against the step, its
    window means faint and their running mean over ``smooth`` windows solid."""
    cols = min(columns, len(logs))
    rows = -(-len(logs) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.6 * cols, 2.8 * rows), constrained_layout=True, squeeze=False)
    for ax in axes.flat[len(logs):]:
        ax.set_axis_off()
    for ax, (name, log) in zip(axes.flat, logs.items()):
        for key, points in log["series"].items():
            steps, values = zip(*points)
            if (series is not None and key not in series) or not any(values):  # all zero: a term this run lacks
                continue
            line, = ax.plot(steps, values, linewidth=0.8, alpha=0.35)
            ax.plot(steps, _running_mean(values, smooth), color=line.get_color(), linewidth=1.4,
                    label=f"{key} (running mean of {smooth})" if smooth > 1 else key)
        ax.set_title(name, fontsize=9)
        ax.set_xlabel(f"step (means over {log['every']} steps)", fontsize=8)
        ax.set_ylabel("loss (log scale)" if log_y else "loss", fontsize=8)
        if log_y:
            ax.set_yscale("log")
            ax.yaxis.set_major_locator(LogLocator(subs=(1.0, 1.5, 2.0, 3.0, 5.0, 7.0)))  # labelled ticks
            ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:.3g}"))
            ax.yaxis.set_minor_formatter(NullFormatter())
            ax.tick_params(axis="y", which="both", labelsize=7)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    return fig
