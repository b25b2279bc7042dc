"""The exemplar picker of notebook 03: a slider over candidate references, best recommended first (synthetic world).

It is the page's :class:`~.session.Session` with the synthetic world's gray-VGG and the ColorNet trained on its
maps (:func:`picker_session`), and its panels (:func:`~.session.compute_panel`, drawn by
``figures.plots.panel_figure``): target, reference, warped reference (T_L with R'_ab), similarity (the mean
bidirectional map sim_T<->R, with its colour scale) and result. :func:`exemplar_picker` binds the panel to an
``ipywidgets.IntSlider`` (description "exemplar") and an ``ipywidgets.Image`` (PNG) in a ``VBox``;
:func:`demo_picker` builds one from the shipped photos.
"""
from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from ..colorization.colornet import ColorNet, colornet_for
from ..colorization.grayvgg import GrayVGG
from ..colorization.grayvgg_weights import load_extractor
from ..core.photos import load_photo
from .session import DEFAULT_REFERENCES, DEFAULT_TARGET, Photo, Session, compute_panel, make_session, panel_png

SYNTHETIC = "grayvgg_small_synthetic"  # the gray-VGG of notebooks 02-03


def _photo(x: Tensor | str, name: str) -> Photo:
    return Photo(x, load_photo(x)) if isinstance(x, str) else Photo(name, x, "given")


def picker_session(target: Tensor | str, candidates: Sequence[Tensor | str], names: Sequence[str] | None = None,
                   features: str | GrayVGG = SYNTHETIC, net: ColorNet | None = None) -> Session:
    """A session of shipped photos (by name) or RGB tensors: the candidates ranked for the target, coloured by
    ``net`` (default: the shipped ColorNet trained on the maps of ``features``)."""
    names = [c if isinstance(c, str) else f"candidate {i}" for i, c in enumerate(candidates)] if names is None \
        else list(names)
    if len(names) != len(candidates):
        raise ValueError(f"{len(names)} names for {len(candidates)} candidates")
    model = load_extractor(features)
    references = [_photo(c, n) for c, n in zip(candidates, names)]
    return make_session(_photo(target, "target"), references, model,
                        colornet_for(model.extractor) if net is None else net)


def exemplar_picker(target: Tensor | str, candidates: Sequence[Tensor | str], names: Sequence[str] | None = None,
                    features: str | GrayVGG = SYNTHETIC, size: int = 256):
    """An ipywidgets VBox: a slider "exemplar" (1 = best recommended) over the ranked candidates and the
    panel of the chosen one. Panels are computed in the kernel when the slider moves and cached."""
    import ipywidgets as widgets

    session = picker_session(target, candidates, names, features)
    cache: dict[int, bytes] = {}

    def png(i: int) -> bytes:
        if i not in cache:
            with torch.no_grad():
                cache[i] = panel_png(compute_panel(session, i, size))
        return cache[i]

    slider = widgets.IntSlider(value=1, min=1, max=len(session), description="exemplar", continuous_update=False)
    image = widgets.Image(value=png(0), format="png")  # the slider counts from 1, as the panel's title
    slider.observe(lambda change: setattr(image, "value", png(change["new"] - 1)), names="value")
    box = widgets.VBox([slider, image])
    box.session = session
    return box


def demo_picker(size: int = 192, features: str | GrayVGG = SYNTHETIC):
    """The picker on the shipped photos: a mountain target and six candidate references (the page's defaults),
    ranked and matched with the gray-VGG ``features`` (default: the shipped small net of the synthetic world, whose
    maps the shipped ColorNet was trained on)."""
    return exemplar_picker(DEFAULT_TARGET, list(DEFAULT_REFERENCES), size=size, features=features)
