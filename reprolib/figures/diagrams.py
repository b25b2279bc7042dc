"""DEC's pipeline (He et al. 2018, Fig. 2) as one diagram, drawn once and shown by notebooks 02, 03 and 05.

Boxes are the stages, arrows the tensors between them, named with the paper's symbols: the gray target T_L and
the reference R_Lab enter the gray-VGG; the similarity sub-net turns their features into the fields
phi_T->R, phi_R->T, the warped chrominance R'_ab and the similarity maps sim_T->R, sim_T<->R; the colorization
sub-net reads T_L, R'_ab and the maps and predicts P_ab; P_Lab = (T_L, P_ab). Below, the two training
branches: chrominance (T'_ab, the target's own colour sent to R and back, as R'_ab; smooth-L1 to T_ab) and
perceptual (features of P_Lab against those of the ground truth).
"""
from __future__ import annotations

import matplotlib.pyplot as plt
from matplotlib.figure import Figure
from matplotlib.patches import FancyBboxPatch

# (x, y, width, height, label, colour) of each stage, in axis units (the figure is 12 x 4.6)
STAGES = {
    "inputs": (0.1, 2.2, 1.7, 1.6, "$T_L$  (gray target)\n$R_{Lab}$  (colour\nreference)", "#e8e8e8"),
    "vgg": (2.4, 2.2, 1.9, 1.6, "gray-VGG\nfeatures of $T_L$, $R_L$\nrelu1_1 ... relu5_1", "#dbe9f6"),
    "similarity": (4.9, 2.0, 2.6, 2.0, "similarity sub-net\n$\\phi_{T\\to R}$, $\\phi_{R\\to T}$\n"
                   "$R'_{ab}(p) = R_{ab}(\\phi_{T\\to R}(p))$\n$sim_{T\\to R}$, $sim_{T\\leftrightarrow R}$ (5 + 5)",
                   "#dbe9f6"),
    "colornet": (8.1, 2.2, 2.0, 1.6, "colorization sub-net\n13 channels in:\n$T_L$, $R'_{ab}$, 10 maps", "#fde9d9"),
    "output": (10.6, 2.2, 1.3, 1.6, "$P_{ab}$\n$P_{Lab} =$\n$(T_L, P_{ab})$", "#e8e8e8"),
    "chrominance": (4.9, 0.2, 3.2, 1.2, "chrominance branch: $R = T$'s own colour\n$T'_{ab} = T_{ab}(\\phi_{R\\to T}"
                    "(\\phi_{T\\to R}(p)))$ in,\nsmooth-L1$(P_{ab}, T_{ab})$", "#eef6e8"),
    "perceptual": (8.5, 0.2, 3.4, 1.2, "perceptual branch: another $R$\nVGG features of $P_{Lab}$ against\n"
                   "the ground truth's (relu5_1, $\\lambda_{perc}$)", "#eef6e8"),
}
ARROWS = (("inputs", "vgg"), ("vgg", "similarity"), ("similarity", "colornet"), ("colornet", "output"))


def _box(ax, x: float, y: float, w: float, h: float, label: str, colour: str) -> None:
    ax.add_patch(FancyBboxPatch((x, y), w, h, boxstyle="round,pad=0.05", facecolor=colour, edgecolor="#555555"))
    ax.text(x + w / 2, y + h / 2, label, ha="center", va="center", fontsize=8.5)


def _arrows(ax, stages: dict, arrows: tuple) -> None:
    """An arrow from the right side of each stage a to the left side of stage b, for each (a, b) of ``arrows``."""
    for a, b in arrows:
        xa, ya, wa, ha = stages[a][:4]
        xb, yb, _, hb = stages[b][:4]
        ax.annotate("", xy=(xb - 0.05, yb + hb / 2), xytext=(xa + wa + 0.05, ya + ha / 2),
                    arrowprops=dict(arrowstyle="-|>", color="#333333", lw=1.4))


def dec_pipeline(training: bool = True) -> Figure:
    """DEC's Fig. 2 as boxes and arrows (``training``: with the two training branches below)."""
    fig, ax = plt.subplots(figsize=(12, 4.6 if training else 2.6))
    for name, (x, y, w, h, label, colour) in STAGES.items():
        if training or name not in ("chrominance", "perceptual"):
            _box(ax, x, y, w, h, label, colour)
    _arrows(ax, STAGES, ARROWS)
    if training:
        for name, target in (("chrominance", "similarity"), ("perceptual", "colornet")):
            x, y, w, h = STAGES[name][:4]
            tx, ty, tw, _ = STAGES[target][:4]
            ax.annotate("", xy=(tx + tw / 2, ty - 0.05), xytext=(x + w / 2, y + h + 0.05),
                        arrowprops=dict(arrowstyle="<|-|>", color="#6a8f4e", lw=1.2, linestyle="--"))
        ax.text(0.1, 0.8, "training only\n(alternating\nbranches)", fontsize=8.5, color="#6a8f4e", va="center")
    ax.set_xlim(0, 12)
    ax.set_ylim(0 if training else 2.0, 4.3)
    ax.set_aspect("equal")
    ax.axis("off")
    ax.set_title("Deep Exemplar-based Colorization (He et al. 2018, Fig. 2): the pipeline", fontsize=10)
    fig.tight_layout()
    return fig


# the photo pipeline of colorize (notebook 05): (x, y, width, height, label, colour)
PHOTO_STAGES = {
    "inputs": (0.1, 1.1, 1.6, 1.5, "$T_L$\n$R^1 \\,|\\, R^2 \\ldots$\n(one or several\nreferences)", "#e8e8e8"),
    "vgg": (2.2, 1.1, 1.7, 1.5, "gray-VGG, once\nper image: $T$, $R$,\nmirrored $R$", "#dbe9f6"),
    "matchers": (4.4, 0.2, 2.2, 3.3, "three exact matchers\n(hypercolumns, mirrored\ncandidates)\n\n"
                 "$R'^{1}_{ab}$: relu3_1+4_1+5_1\n$R'^{2}_{ab}$: relu2_1+3_1+4_1\n$R'^{3}_{ab}$: relu4_1+5_1\n"
                 "+ 10 maps each", "#dbe9f6"),
    "chooser": (7.1, 1.0, 2.1, 1.7, "Chooser: softmax\nweights over $R'^{k}_{ab}$\n+ residual, then a\n"
                "guided filter on $T_L$", "#fde9d9"),
    "hedge": (9.7, 1.0, 1.6, 1.7, "hedge: less chroma\nwhere the match's\ncosine is low", "#fde9d9"),
    "output": (11.8, 1.1, 1.1, 1.5, "$P_{ab}$\nupsampled,\n$(T_L, P_{ab})$", "#e8e8e8"),
}
PHOTO_ARROWS = (("inputs", "vgg"), ("vgg", "matchers"), ("matchers", "chooser"), ("chooser", "hedge"),
                ("hedge", "output"))


def photo_pipeline() -> Figure:
    """``colorize``'s default on photographs as boxes and arrows: matchers -> warps -> Chooser -> guided filter ->
    hedge (:mod:`reprolib.colorization.pipelines`, :mod:`reprolib.colorization.confidence`)."""
    fig, ax = plt.subplots(figsize=(13, 3.6))
    for x, y, w, h, label, colour in PHOTO_STAGES.values():
        _box(ax, x, y, w, h, label, colour)
    _arrows(ax, PHOTO_STAGES, PHOTO_ARROWS)
    ax.set_xlim(0, 13)
    ax.set_ylim(0, 3.7)
    ax.set_aspect("equal")
    ax.axis("off")
    ax.set_title("colorize's default on photographs (a deviation from DEC's single-warp sub-net)", fontsize=10)
    fig.tight_layout()
    return fig
