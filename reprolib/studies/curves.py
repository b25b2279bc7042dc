"""The loss curves of the shipped trainings, from the logs in their provenance (``training.loop.loss_log``,
read with ``registry.training_logs``).

A log holds every number a run logged, averaged over windows of ``every`` steps; files trained before logs
were kept have ``"log": null``, and the notebooks say so rather than draw anything.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
from matplotlib.figure import Figure


def loss_curves(logs: Mapping[str, Mapping], series: Sequence[str] | None = None, log_y: bool = True) -> Figure:
    """One panel per run: each logged series (or only ``series``) against the step, window means."""
    fig, axes = plt.subplots(1, len(logs), figsize=(3.6 * len(logs), 2.8), constrained_layout=True, squeeze=False)
    for ax, (name, log) in zip(axes[0], logs.items()):
        for key, points in log["series"].items():
            if series is not None and key not in series:
                continue
            steps, values = zip(*points)
            ax.plot(steps, values, label=key, linewidth=1.2)
        ax.set_title(name, fontsize=9)
        ax.set_xlabel(f"step (means over {log['every']} steps)", fontsize=8)
        ax.set_ylabel("loss", fontsize=8)
        if log_y:
            ax.set_yscale("log")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    return fig
