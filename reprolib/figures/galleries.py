"""Galleries of photo pairs (one pair per row, labelled in words, each output with its error when there is a truth)
and filmstrips of clips (one row per method)."""
from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import torch
from matplotlib.figure import Figure
from torch import Tensor

from ..core.color import fit_to_gamut, lab_to_rgb


def tier_gallery(rows: Sequence[dict], title: str = "") -> Figure:
    """Rows of ``reprolib.studies.reference_choice.c_gallery`` / ``d_gallery``: the target as the pipeline sees
    it (T_L), the reference, each output (T_L with its P_ab, CIEDE2000 to the truth below it when there is one),
    and the truth; the row's title on the left."""
    heads = ["target T_L", "reference R", *rows[0]["outputs"], *(["truth"] if rows[0]["truth"] is not None else [])]
    fig, axes = plt.subplots(len(rows), len(heads), figsize=(1.6 * len(heads), 1.3 * len(rows) + 0.4),
                             constrained_layout=True, squeeze=False)
    for i, row in enumerate(rows):
        T_L = row["T_lab"][0, :1]
        images = [T_L.expand(3, -1, -1) / 100, lab_to_rgb(row["R_lab"][0])]
        images += [lab_to_rgb(fit_to_gamut(torch.cat((T_L, P[0].to(T_L))))) for P in row["outputs"].values()]
        if row["truth"] is not None:
            images.append(lab_to_rgb(row["truth"][0]))
        notes = ["", "", *(f"CIEDE2000 {row['errors'][k]:.1f}" if k in row["errors"] else "" for k in row["outputs"])]
        for j, (ax, img) in enumerate(zip(axes[i], images)):
            ax.imshow(img.clamp(0, 1).permute(1, 2, 0).numpy())
            ax.set_xticks([])
            ax.set_yticks([])
            if i == 0:
                ax.set_title(heads[j], fontsize=8)
            if j < len(notes) and notes[j]:
                ax.set_xlabel(notes[j], fontsize=7)
        axes[i, 0].set_ylabel(row["title"].replace(" from ", "\nfrom "), fontsize=7)
    if title:
        fig.suptitle(title, fontsize=9)
    return fig


def filmstrip(rows: dict[str, Tensor], frames: Sequence[int], notes: dict[str, str] | None = None,
              title: str = "", picked: bool = False) -> Figure:
    """A clip as a filmstrip: one row per name of ``rows`` ((T, 3, H, W) sRGB clips: the gray input, each method,
    the truth), the columns the frames ``frames`` (``picked``: the rows hold only those frames, in that order);
    ``notes`` (per row) under the row's name."""
    notes = notes or {}
    names = list(rows)
    first = rows[names[0]]
    aspect = first.shape[-1] / first.shape[-2]
    size = (1.2 * aspect * len(frames) + 0.6, 1.2 * len(names) + 0.4)
    fig, axes = plt.subplots(len(names), len(frames), figsize=size, constrained_layout=True, squeeze=False)
    for i, name in enumerate(names):
        for j, t in enumerate(frames):
            ax = axes[i, j]
            ax.imshow(rows[name][j if picked else t].clamp(0, 1).permute(1, 2, 0).numpy())
            ax.set_xticks([])
            ax.set_yticks([])
            if i == 0:
                ax.set_title(f"frame {t}", fontsize=8)
        label = name + (f"\n{notes[name]}" if notes.get(name) else "")
        axes[i, 0].set_ylabel(label, fontsize=7)
    if title:
        fig.suptitle(title, fontsize=9)
    return fig
