"""Every figure of the notebooks, the report (``reproduce``), the command line and the pages but those of Lab colour
(:mod:`.lab`), the loss curves (:mod:`.curves`) and DEC's diagram (:mod:`.diagrams`): each function returns a
matplotlib Figure."""
from __future__ import annotations

from collections.abc import Sequence
from types import SimpleNamespace

import matplotlib.pyplot as plt
import torch
from matplotlib.figure import Figure
from torch import Tensor

from ..colorization.matching import warp
from ..core.color import lab_to_rgb, rgb_to_lab


def show(ax, image: Tensor, title: str, **kwargs) -> None:
    """Draw a (3, H, W) RGB or (H, W) single-channel tensor on ax, without ticks."""
    data = image.detach().cpu()
    ax.imshow(data.permute(1, 2, 0).numpy() if data.dim() == 3 else data.numpy(), **kwargs)
    ax.set_title(title, fontsize=9)
    ax.set_xticks([])
    ax.set_yticks([])


def feature_maps(features: dict[str, Tensor], channels: int = 4) -> Figure:
    """A few channels of each named activation of one image (rows: layers)."""
    fig, axes = plt.subplots(len(features), channels, figsize=(1.8 * channels, 1.8 * len(features)),
                             constrained_layout=True, squeeze=False)
    for row, (name, fmap) in zip(axes, features.items()):
        fmap = fmap[0].detach()
        strongest = fmap.flatten(1).std(dim=1).argsort(descending=True)[:channels]  # most varied channels
        for ax, c in zip(row, strongest.tolist()):
            show(ax, fmap[c], f"{name} ch {c}  ({fmap.shape[-2]}x{fmap.shape[-1]})", cmap="magma")
            fig.colorbar(ax.images[-1], ax=ax, shrink=0.8).ax.tick_params(labelsize=7)
    return fig


def nn_label_transfer(target, reference, matches: dict[str, Tensor], num_classes: int) -> Figure:
    """Per pair (rows): target, reference, target classes, and for each matcher (a field phi_T->R at pixel
    resolution, (B, 2, H, W)) the classes and the reference colours it finds (T_L with R'_ab)."""
    outs = {name: SimpleNamespace(phi_TR=nn, R_ab_warped=warp(reference.ab, nn)) for name, nn in matches.items()}
    return method_comparison(target, reference, outs, num_classes)


def scene_grid(scene, num_classes: int) -> Figure:
    """Synthetic scenes (columns): colour, L* (all a network sees), and the class map."""
    n = len(scene)
    fig, axes = plt.subplots(3, n, figsize=(1.6 * n, 5.0), constrained_layout=True, squeeze=False)
    for i in range(n):
        show(axes[0, i], scene.rgb[i], "scene" if i == 0 else "")
        show(axes[1, i], scene.L[i, 0], "L*" if i == 0 else "", cmap="gray", vmin=0, vmax=100)
        show(axes[2, i], scene.labels[i], "classes" if i == 0 else "", cmap="tab10", vmin=0,
              vmax=max(num_classes - 1, 9), interpolation="nearest")
    _class_legend(fig, num_classes)
    return fig


def recolorings(versions: dict[str, Tensor]) -> Figure:
    """The same layout rendered with several palette choices: {title: rgb (3, H, W)}."""
    fig, axes = plt.subplots(1, len(versions), figsize=(2.2 * len(versions), 2.4), constrained_layout=True,
                             squeeze=False)
    for ax, (title, rgb) in zip(axes[0], versions.items()):
        show(ax, rgb, title)
    return fig


def photo_matches(target_rgb: Tensor, reference_rgb: Tensor, warped_rgb: Tensor, title: str) -> Figure:
    """Target photo (shown gray: its L* is all the matcher sees), reference, and T_L with warped R_ab."""
    fig, axes = plt.subplots(1, 3, figsize=(10, 2.6), constrained_layout=True)
    L = rgb_to_lab(target_rgb)[:1]
    show(axes[0], L[0], "target T (L* only)", cmap="gray", vmin=0, vmax=100)
    show(axes[1], reference_rgb, "reference R")
    show(axes[2], warped_rgb, title)
    return fig


def method_comparison(target, reference, outs: dict, num_classes: int) -> Figure:
    """Per pair (rows): target, reference, target classes, then for each route of ``matching.match``
    (``outs``: name -> Matched, or anything with phi_TR and R_ab_warped) the classes found through
    phi_T->R and T_L with its R'_ab."""
    n = len(target)
    cols = 3 + 2 * len(outs)
    fig, axes = plt.subplots(n, cols, figsize=(1.7 * cols, 1.8 * n), constrained_layout=True, squeeze=False)
    labels = dict(cmap="tab10", vmin=0, vmax=max(num_classes - 1, 9), interpolation="nearest")
    for i in range(n):
        t, r = target[i], reference[i]
        head = (lambda title: title) if i == 0 else (lambda title: "")  # column titles on the first row
        show(axes[i, 0], t.rgb[0], head("target T"))
        show(axes[i, 1], r.rgb[0], head("reference R"))
        show(axes[i, 2], t.labels[0], head("classes of T"), **labels)
        for j, (name, out) in enumerate(outs.items()):
            show(axes[i, 3 + 2 * j], warp(r.labels[:, None], out.phi_TR[i:i + 1])[0, 0], head(f"classes, {name}"),
                  **labels)
            show(axes[i, 4 + 2 * j], lab_to_rgb(torch.cat((t.L[0], out.R_ab_warped[i]))), head(f"T_L + R'_ab, {name}"))
    _class_legend(fig, num_classes)
    return fig


def similarity_maps_plot(sims: Tensor, wrong: Tensor, layers: Sequence[str],
                         round_trip: Tensor | None = None) -> Figure:
    """One pair: the wrong matches of phi_T->R (white), then forward (top) and bidirectional (bottom)
    similarity maps per layer on one colour scale. sims (2 L, H, W), wrong (H, W) bool; ``round_trip`` (H, W),
    e.g. the round-trip distance |phi_R->T(phi_T->R(p)) - p| in pixels, is drawn under the wrong matches."""
    import matplotlib.patches as mpatches

    L = len(layers)
    fig, axes = plt.subplots(2, L + 1, figsize=(1.9 * (L + 1) + 1.2, 4.2), constrained_layout=True, squeeze=False)
    show(axes[0, 0], wrong.float(), "wrong matches", cmap="gray", vmin=0, vmax=1, interpolation="nearest")
    axes[0, 0].legend(handles=[mpatches.Patch(facecolor=c, edgecolor="0.5", label=n)
                               for c, n in (("white", "wrong"), ("black", "correct"))],
                      loc="upper center", bbox_to_anchor=(0.5, -0.02), fontsize=7, ncol=2, frameon=False)
    if round_trip is None:
        axes[1, 0].axis("off")
    else:
        show(axes[1, 0], round_trip, "round-trip distance", cmap="viridis", interpolation="nearest")
        fig.colorbar(axes[1, 0].images[-1], ax=axes[1, 0], shrink=0.8, label="pixels")
    for k, layer in enumerate(layers):
        show(axes[0, k + 1], sims[k], f"sim T->R {layer}", cmap="magma", vmin=0, vmax=1)
        show(axes[1, k + 1], sims[L + k], f"sim T<->R {layer}", cmap="magma", vmin=0, vmax=1)
    fig.colorbar(axes[0, 1].images[-1], ax=axes[:, 1:], shrink=0.8, label="cosine similarity")
    return fig


def roc_plot(curves: dict[str, tuple[Tensor, Tensor, float]]) -> Figure:
    """ROC curves: name -> (false-positive rate, true-positive rate, AUC)."""
    fig, ax = plt.subplots(figsize=(3.8, 3.6), constrained_layout=True)
    for name, (fpr, tpr, auc) in curves.items():
        ax.plot(fpr.numpy(), tpr.numpy(), label=f"{name} (AUC {auc:.3f})")
    ax.plot([0, 1], [0, 1], color="gray", linestyle=":", label="chance (AUC 0.5)")
    ax.set_xlabel("false-positive rate (wrong matches kept)")
    ax.set_ylabel("true-positive rate (correct matches kept)")
    ax.legend(loc="lower right", fontsize=8)
    return fig


def photo_methods(T_L: Tensor, reference_rgb: Tensor, outs: dict) -> Figure:
    """One photo pair: gray target, reference, and T_L with each route's R'_ab (``outs``: name -> Matched,
    batch of one). T_L (1, 1, H, W) in L*."""
    n = 2 + len(outs)
    fig, axes = plt.subplots(1, n, figsize=(2.6 * n, 2.4), constrained_layout=True)
    show(axes[0], T_L[0, 0], "target T_L", cmap="gray", vmin=0, vmax=100)
    show(axes[1], reference_rgb, "reference R")
    for ax, (name, out) in zip(axes[2:], outs.items()):
        show(ax, lab_to_rgb(torch.cat((T_L[0], out.R_ab_warped[0]))), f"T_L + R'_ab, {name}")
    return fig


def net_input_channels(net_input: Tensor, layers: Sequence[str]) -> Figure:
    """The 13 channels of one colorization input ("dec" numbers, (13, H, W)): 5 forward and 5
    bidirectional similarity maps, T_L - 50, and R'_ab (a*, b*)."""
    L = len(layers)
    names = [f"sim T->R {k}" for k in layers] + [f"sim T<->R {k}" for k in layers] + ["T_L - 50", "R'_a", "R'_b"]
    fig, axes = plt.subplots(2, L + 2, figsize=(1.7 * (L + 2), 3.8), constrained_layout=True, squeeze=False)
    for k, (name, ch) in enumerate(zip(names, net_input)):
        ax = axes[k // L, k % L] if k < 2 * L else axes[(k - 2 * L) % 2, L + (k - 2 * L) // 2]
        cmap = "magma" if k < 2 * L else ("gray" if name == "T_L - 50" else "coolwarm")
        show(ax, ch, name, cmap=cmap)
    axes[1, L + 1].axis("off")
    return fig


def two_branches(T_L: Tensor, R_ab_warped: Tensor, T_ab_warped: Tensor, T_ab: Tensor, GT_ab: Tensor) -> Figure:
    """One pair: what each training branch sees and is compared with (top: chrominance, bottom: perceptual),
    and the pixels where the input colour differs from that target (T_L (1, H, W), ab (2, H, W))."""
    rows = [("chrominance input: T_L + T'_ab", T_ab_warped, "its target: T_ab", T_ab, "T'_ab vs T_ab"),
            ("perceptual input: T_L + R'_ab", R_ab_warped, "its target: ground truth", GT_ab, "R'_ab vs ground truth")]
    fig, axes = plt.subplots(2, 3, figsize=(7.2, 5.4), constrained_layout=True)
    for ax, (title_in, ab_in, title_out, ab_out, title_diff) in zip(axes, rows):
        show(ax[0], lab_to_rgb(torch.cat((T_L, ab_in))), title_in)
        show(ax[1], lab_to_rgb(torch.cat((T_L, ab_out))), title_out)
        _differs(ax[2], ab_in, ab_out, title_diff)
    return fig


def rows_figure(target, reference, labs: dict[str, Tensor], truth: Tensor | None = None) -> Figure:
    """A grid, one pair per row: target gray (T_L), reference, then each row's result (ground truth first).
    With ``truth`` (Lab (B, 3, H, W)) each result but the ground truth shows its mean CIEDE2000 against it."""
    from ..core.color import delta_e2000

    n = len(target)
    cols = 2 + len(labs)
    fig, axes = plt.subplots(n, cols, figsize=(1.6 * cols, (1.95 if truth is not None else 1.75) * n),
                             constrained_layout=True, squeeze=False)
    for i in range(n):
        images = [("target T_L", target.L[i, 0].clamp(0, 100) / 100, None), ("reference R", reference.rgb[i], None)]
        images += [(name, lab_to_rgb(lab[i]), None if truth is None or name == "ground_truth" else
                    delta_e2000(lab[i], truth[i].to(lab)).mean().item()) for name, lab in labs.items()]
        for j, (title, img, error) in enumerate(images):
            ax = axes[i, j]
            if img.dim() == 2:
                ax.imshow(img.numpy(), cmap="gray", vmin=0, vmax=1)
            else:
                ax.imshow(img.permute(1, 2, 0).clamp(0, 1).numpy())
            ax.set_axis_off()
            if i == 0:
                ax.set_title(title, fontsize=7)
            if error is not None:
                ax.text(0.5, -0.03, f"CIEDE2000 {error:.1f}", transform=ax.transAxes, ha="center", va="top",
                        fontsize=7)
    return fig


def image_rows(rows: dict, n: int = 8, scale: float = 1.1, columns: Sequence[str] | None = None,
               title: str = "", notes: dict | None = None) -> Figure:
    """A grid of images: one row per entry of ``rows`` (title -> (N, 3, H, W) or (N, 1, H, W) in [0, 1]), the
    first ``n`` items; ``columns``: a label above each column (n of them); ``title``: above the grid; ``notes``:
    row title -> n short texts, one under each of that row's panels (e.g. each panel's error)."""
    if columns is not None and len(columns) != n:
        raise ValueError(f"columns: need {n} labels, got {len(columns)}")
    notes = notes or {}
    if any(key not in rows or len(texts) != n for key, texts in notes.items()):
        counts = {k: len(v) for k, v in notes.items()}
        raise ValueError(f"notes: need {n} texts for rows among {list(rows)}, got {counts}")
    top = 0.3 * (columns is not None) + 0.3 * bool(title)  # inches above the grid for the labels
    height = (0.82 + 0.15 * bool(notes)) * scale * len(rows) + top + 0.1  # square images fill 80% of the width
    fig, axes = plt.subplots(len(rows), n, figsize=(scale * n, height), squeeze=False)
    for r, (label, images) in enumerate(rows.items()):
        for i in range(n):
            ax = axes[r, i]
            img = images[i].detach().clamp(0, 1)
            ax.imshow(img.expand(3, -1, -1).permute(1, 2, 0).numpy(), interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
        axes[r, 0].set_ylabel(label, rotation=0, ha="right", va="center", fontsize=8)
        for i, text in enumerate(notes.get(label, ())):
            axes[r, i].set_xlabel(text, fontsize=min(7.0, 5.0 * scale), labelpad=1)
    for i, label in enumerate(columns or ()):
        axes[0, i].set_title(label, fontsize=min(7.0, 5.0 * scale))
    if title:
        fig.suptitle(title, fontsize=9, y=1 - 0.1 / height)
    fig.subplots_adjust(wspace=0.05, hspace=0.3 if notes else 0.05, left=0.2, right=0.99,
                        bottom=(0.05 + 0.15 * bool(notes)) / height,
                        top=1 - (top + 0.05) / height)
    return fig


PAGE_CAPTIONS = {
    "target": "target T (its L* only)",
    "reference": "reference R",
    "warped": "R'_ab: R's colours warped onto T",
    "similarity": "similarity sim T<->R",
    "result": "result",
}


def panel_figure(pictures: dict[str, Tensor], title: str = "") -> Figure:
    """The panel of the pickers and the photo page (:func:`reprolib.ui.session.compute_panel`): target, reference,
    R'_ab and the similarity map (with its colour bar) in a 2 x 2 grid, the result twice as large beside them."""
    fig = plt.figure(figsize=(12, 5.6), constrained_layout=True)
    grid = fig.add_gridspec(2, 3, width_ratios=(1, 1, 2))
    places = {"target": grid[0, 0], "reference": grid[0, 1], "warped": grid[1, 0], "similarity": grid[1, 1],
              "result": grid[:, 2]}
    for name, place in places.items():
        ax = fig.add_subplot(place)
        img = pictures[name].detach().cpu()
        if img.shape[0] == 1:
            shown = ax.imshow(img[0].numpy(), cmap="magma", vmin=0, vmax=1)
            bar = fig.colorbar(shown, ax=ax, shrink=0.85)
            bar.set_label("cosine (mean of 5 layers)", fontsize=8)
            bar.ax.tick_params(labelsize=8)
        else:
            ax.imshow(img.permute(1, 2, 0).clamp(0, 1).numpy())
        ax.set_title(PAGE_CAPTIONS[name], fontsize=11 if name == "result" else 9)
        ax.set_xticks([])
        ax.set_yticks([])
    if title:
        fig.suptitle(title, fontsize=10)
    return fig


def similarity_figure(sims: Tensor, layers: Sequence[str]) -> Figure:
    """The 2 L similarity maps of one pair (2 L, H, W): forward sim_T->R (top) and bidirectional sim_T<->R
    (bottom) per layer, on one colour scale from 0 to 1 (cosines of ReLU features)."""
    L = len(layers)
    fig, axes = plt.subplots(2, L, figsize=(2.0 * L + 0.8, 4.0), constrained_layout=True, squeeze=False)
    image = None
    for k, layer in enumerate(layers):
        show(axes[0, k], sims[k], f"sim T->R {layer}", cmap="magma", vmin=0, vmax=1)
        image = axes[1, k].imshow(sims[L + k].detach().cpu().numpy(), cmap="magma", vmin=0, vmax=1)
        axes[1, k].set_title(f"sim T<->R {layer}", fontsize=9)
        axes[1, k].set_xticks([])
        axes[1, k].set_yticks([])
    fig.colorbar(image, ax=axes, shrink=0.8, label="cosine similarity")
    return fig


def _position_code(h: int, w: int) -> Tensor:
    """An RGB code of positions (3, h, w): red grows with x, green with y, blue is constant."""
    ys = torch.linspace(0, 1, h).view(h, 1).expand(h, w)
    xs = torch.linspace(0, 1, w).view(1, w).expand(h, w)
    return torch.stack((xs, ys, torch.full((h, w), 0.35)))


def field_figure(phi_TR: Tensor, reference_rgb: Tensor) -> Figure:
    """A correspondence field phi_T->R (2, h, w) of (y, x) indices into the reference (3, h', w'): the
    reference's position code, the code of the position each target pixel takes (the field as an image),
    and the reference's own pixels warped through it, R(phi_T->R(p))."""
    h_R, w_R = reference_rgb.shape[-2:]
    code = _position_code(h_R, w_R)
    flat = (phi_TR[0] * w_R + phi_TR[1]).flatten()
    taken = code.flatten(1)[:, flat].view(3, *phi_TR.shape[-2:])
    warped = reference_rgb.flatten(1)[:, flat].view(3, *phi_TR.shape[-2:])
    fig, axes = plt.subplots(1, 3, figsize=(9.5, 2.8), constrained_layout=True)
    show(axes[0], code, "reference positions (red: x, green: y)")
    show(axes[1], taken, "phi_T->R: the position each target pixel takes")
    show(axes[2], warped.clamp(0, 1), "R(phi_T->R(p))")
    return fig


def photo_gallery(items: Sequence[tuple[Tensor, Tensor, Tensor, Tensor]], titles: Sequence[str]) -> Figure:
    """One pair per row, (T_lab, R_lab, R'_ab, P_ab) each batch-of-one Lab / ab: the target as the network
    sees it (T_L), the reference, T_L with R'_ab (matching alone), the result and the target's true colours."""
    n = len(items)
    fig, axes = plt.subplots(n, 5, figsize=(10.5, 2.2 * n), constrained_layout=True, squeeze=False)
    heads = ("target T_L", "reference R", "T_L + R'_ab", "result", "truth (the photo)")
    for i, ((T, R, R_ab_warped, P_ab), title) in enumerate(zip(items, titles)):
        T_L = T[0, :1]
        images = (T_L[0] / 100, lab_to_rgb(R[0]), lab_to_rgb(torch.cat((T_L, R_ab_warped[0].to(T_L)))),
                  lab_to_rgb(torch.cat((T_L, P_ab[0].to(T_L)))), lab_to_rgb(T[0]))
        for j, (img, head) in enumerate(zip(images, heads)):
            kwargs = dict(cmap="gray", vmin=0, vmax=1) if img.dim() == 2 else {}
            show(axes[i, j], img.clamp(0, 1), head if i == 0 else "", **kwargs)
        axes[i, 0].set_ylabel(title, fontsize=7)
    return fig


def scaling_plot(cells: dict[str, dict]) -> Figure:
    """Seconds against megapixels (log-log), one panel per extractor: colorize per method (solid, one colour per
    method) and the gray-VGG forward passes alone (dashed, the floor), from
    :func:`reprolib.studies.scaling.study`'s cells."""
    from matplotlib.ticker import FixedLocator, NullLocator

    measured = {k: c for k, c in cells.items() if "skipped" not in c}
    extractors = sorted({c["extractor"] for c in measured.values()})
    colours = {"exact": "tab:blue", "patchmatch": "tab:green", "attention": "tab:orange"}
    fig, axes = plt.subplots(1, max(1, len(extractors)), figsize=(4.2 * max(1, len(extractors)), 3.6),
                             constrained_layout=True, squeeze=False)
    for ax, extractor in zip(axes[0], extractors):
        mine = [c for c in measured.values() if c["extractor"] == extractor]
        for method in sorted({c["method"] for c in mine}):
            pts = sorted((c["megapixels"], c["colorize_s"]) for c in mine if c["method"] == method)
            ax.plot(*zip(*pts), marker="o", color=colours.get(method), label=f"colorize, {method}")
        floor = sorted({mp: min(c["features_s"] for c in mine if c["megapixels"] == mp)
                        for mp in {c["megapixels"] for c in mine}}.items())  # the fastest run of each size
        ax.plot(*zip(*floor), color="black", linestyle="--", marker=".", label="gray-VGG forward passes alone")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ticks = sorted({c["megapixels"] for c in mine})
        ax.xaxis.set_major_locator(FixedLocator(ticks))
        ax.xaxis.set_minor_locator(NullLocator())
        ax.set_xticklabels([f"{t:.2f}" for t in ticks])
        ax.set_xlabel("megapixels per image (target and reference alike)")
        ax.set_ylabel("seconds")
        ax.set_title(f"gray-VGG {extractor}", fontsize=10)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7)
    return fig


def _differs(ax, a: Tensor, b: Tensor, title: str) -> None:
    """A two-class map of the pixels where the a*b* maps a and b (2, H, W) differ by more than 0.5, with its legend."""
    from matplotlib.patches import Patch

    wrong = ((a - b).abs().amax(0) > 0.5).float()
    show(ax, wrong, f"{title}: {wrong.mean().item():.0%} differ", cmap="gray", vmin=0, vmax=1, interpolation="nearest")
    ax.legend(handles=[Patch(facecolor="black", edgecolor="gray", label="same colour"),
                       Patch(facecolor="white", edgecolor="gray", label="other colour")],
              loc="upper center", bbox_to_anchor=(0.5, -0.02), fontsize=7, ncol=2, frameon=False)


def _class_legend(fig: Figure, num_classes: int) -> None:
    """A legend of the class colours of the label maps (tab10, vmin 0, vmax max(num_classes - 1, 9)) under the
    figure, named after the synthetic world's classes when there are as many."""
    import matplotlib.patches as mpatches
    from matplotlib.colors import Normalize

    from ..world.scenes import CLASSES

    names = CLASSES if len(CLASSES) == num_classes else [f"class {k}" for k in range(num_classes)]
    cmap, norm = plt.get_cmap("tab10"), Normalize(0, max(num_classes - 1, 9))
    fig.legend(handles=[mpatches.Patch(color=cmap(norm(k)), label=n) for k, n in enumerate(names)],
               loc="outside lower center", ncol=min(num_classes, 9), fontsize=8, frameon=False)
