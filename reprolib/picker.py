"""The exemplar picker of notebook 03: a slider over candidate references, best recommended first (synthetic world).

The logic is :func:`picker_panel`, a plain function (tested by pytest): for candidate ``index`` it
colorizes the target and returns the five pictures the picker shows, target, reference, warped reference
(T_L with R'_ab), similarity (the mean bidirectional map sim_T<->R) and result. :func:`exemplar_picker`
binds it to an ``ipywidgets.IntSlider`` (description "exemplar") and an ``ipywidgets.Image`` (PNG) in a
``VBox``; :func:`demo_picker` builds one from the shipped photos.
"""
from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass

import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F
from torch import Tensor

from .colorization.colorize import Colorization, colorize
from .colorization.colornet import ColorNet, colornet_for
from .colorization.grayvgg import GrayVGG
from .colorization.grayvgg_weights import load_extractor
from .colorization.retrieval import recommend_photos
from .core import checks
from .core.photos import load_photo
from .studies.plots import picker_panel_figure

DEMO_TARGET = "aitzgorri_by_Aitzol_Berasategi.jpg"
DEMO_CANDIDATES = ("picosdeeuropa_by_Aitzol_Berasategi.jpg", "sunset_by_Aitzol_Berasategi.jpg",
                   "seeding_by_Clements_Engelhardt.jpg", "flower.jpg", "coffee.jpg", "rocket.jpg")


@dataclass
class Picker:
    """A target, its candidate references ranked by :func:`reprolib.colorization.retrieval.recommend`, and the nets."""

    target: Tensor  # (3, H, W) RGB
    candidates: list[Tensor]  # RGB (3, H_i, W_i), best recommended first
    names: list[str]
    scores: list[float]
    features: GrayVGG
    net: ColorNet
    size: int = 256

    def __len__(self) -> int:
        return len(self.candidates)


def _as_rgb(x: Tensor | str) -> Tensor:
    return load_photo(x) if isinstance(x, str) else x


def make_picker(target: Tensor | str, candidates: Sequence[Tensor | str], names: Sequence[str] | None = None,
                features: str | GrayVGG = "grayvgg_small_synthetic", net: ColorNet | None = None,
                size: int = 256) -> Picker:
    """Load photos by name (the shipped photos) or take RGB tensors, and rank the candidates for the target;
    the ColorNet is the one trained on the maps of ``features`` unless ``net`` is given."""
    if len(candidates) == 0:
        raise ValueError("the picker needs at least one candidate reference")
    names = ([c if isinstance(c, str) else f"candidate {i}" for i, c in enumerate(candidates)] if names is None
             else list(names))
    if len(names) != len(candidates):
        raise ValueError(f"{len(names)} names for {len(candidates)} candidates")
    t = _as_rgb(target)
    cands = [_as_rgb(c) for c in candidates]
    model = load_extractor(features)
    ranked = recommend_photos(model, t, cands, size)
    return Picker(target=t, candidates=[cands[i] for i, _ in ranked], names=[names[i] for i, _ in ranked],
                  scores=[s for _, s in ranked], features=model,
                  net=colornet_for(model.extractor) if net is None else net, size=size)


def picker_panel(picker: Picker, index: int) -> dict[str, Tensor]:
    """The five pictures for candidate ``index`` (0 = best recommended), each RGB (3, h, w) in [0, 1] at the
    working size: "target" (gray), "reference", "warped" (T_L + R'_ab), "similarity" (mean sim_T<->R,
    (1, h, w), shown with a colour map) and "result"."""
    if not checks.is_int(index) or not 0 <= index < len(picker):
        raise ValueError(f"index must be an int in 0..{len(picker) - 1}, got {index!r}")
    c: Colorization = colorize(picker.target, picker.candidates[index], features=picker.features, net=picker.net,
                               size=picker.size)
    pictures = c.pictures()
    pictures["result"] = F.interpolate(c.rgb[None], size=tuple(c.T_L.shape[-2:]), mode="area")[0]
    return pictures


def panel_png(panel: dict[str, Tensor], title: str = "") -> bytes:
    """The pictures of :func:`picker_panel` side by side, as PNG bytes (100 dpi)."""
    fig = picker_panel_figure(panel, title)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    plt.close(fig)
    return buf.getvalue()


def exemplar_picker(target: Tensor | str, candidates: Sequence[Tensor | str], names: Sequence[str] | None = None,
                    features: str | GrayVGG = "grayvgg_small_synthetic", size: int = 256):
    """An ipywidgets VBox: a slider "exemplar" (1 = best recommended) over the ranked candidates and the
    panel of the chosen one.
    Panels are computed in the kernel when the slider moves and cached."""
    import ipywidgets as widgets

    picker = make_picker(target, candidates, names, features=features, size=size)
    cache: dict[int, bytes] = {}

    def png(i: int) -> bytes:
        if i not in cache:
            cache[i] = panel_png(picker_panel(picker, i),
                                 f"exemplar {i + 1}/{len(picker)}: {picker.names[i]} "
                                 f"(recommendation score {picker.scores[i]:.3f})")
        return cache[i]

    slider = widgets.IntSlider(value=1, min=1, max=len(picker), description="exemplar", continuous_update=False)
    image = widgets.Image(value=png(0), format="png")  # the slider counts from 1, as the panel's title
    slider.observe(lambda change: setattr(image, "value", png(change["new"] - 1)), names="value")
    box = widgets.VBox([slider, image])
    box.picker = picker
    return box


def demo_picker(size: int = 192, features: str | GrayVGG = "grayvgg_small_synthetic"):
    """The picker on the shipped photos: a mountain target and six candidate references, ranked and
    matched with the gray-VGG ``features`` (default: the shipped small net, whose maps the shipped ColorNet
    was trained on)."""
    with torch.no_grad():
        return exemplar_picker(DEMO_TARGET, list(DEMO_CANDIDATES), size=size, features=features)
