"""Exemplar-based colorization of a photograph, end to end: the paper's whole pipeline (Fig. 2).

    T, R  ->  T_L, R_L, R_ab (Lab)  ->  gray-VGG features of T_L and R_L  ->  phi_T->R, phi_R->T
          ->  R'_ab, sim_T->R, sim_T<->R  (similarity sub-net)  ->  P_ab = ColorNet(sims, T_L, R'_ab)
              (by default: P_ab = Chooser(T_L, R'_ab^1..3, sims^1..3), three matchers, :mod:`.chooser`)
          ->  P_lab = (T_L, P_ab)  ->  sRGB

:func:`colorize` reads as validate -> choose -> run -> upsample: it checks the images and options, chooses one
of the three pipelines of :mod:`.pipelines` with its working size and correspondences (:func:`.pipelines.plan`),
runs it at the working size (short side: the pipeline's own, 192 for the Chooser, 256 as in DEC's demos for the
others), and upsamples P_ab bilinearly to the target's own size, joined with the target's own full-resolution L,
so the result keeps the target's size and luminance (a colour target is used through its L only); colours outside
the sRGB gamut lose chroma, not lightness (:func:`reprolib.core.color.fit_to_gamut`).

Where we deviate: by default the colorization sub-net is the Chooser (:mod:`.chooser`), which reads the warps
of three hypercolumns and chooses among them per pixel, where the shipped Chooser of the gray-VGG exists and
its exact route fits the budget (:func:`.pipelines.chooser_fits`); else P_ab = R'_ab smoothed along T_L. On the
held-out photos (results.json["photos"]) the single-warp ColorNets trained here did not beat R'_ab smoothed, the
Chooser did; ``colornet=True`` runs DEC's single-warp pipeline, ``chooser=False`` R'_ab smoothed.
"""
from __future__ import annotations

import os
import time
from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from ..core import checks
from ..core.color import fit_to_gamut, lab_to_rgb, rgb_to_lab
from ..core.devices import resolve_device
from ..core.photos import resize_short_side
from .colornet import ColorNet
from .grayvgg import GrayVGG
from .grayvgg_weights import load_extractor
from .pipelines import COLORIZE_METHODS, DEFAULT_METHOD, plan
from .references import aspect, join_references
from .smoothing import DEFAULT_FILTER, FILTERS

DEFAULT_FEATURES = "grayvgg_small_photo"  # the offline gray-VGG of colorize: distilled from VGG-16 on photos, shipped
DEFAULT_COLORNET = False  # DEC's ColorNet only when asked (--colornet): the held-out photos ranked it below the others


@dataclass
class Colorization:
    """The result and the intermediates, at the working size (h, w) unless said otherwise."""

    rgb: Tensor  # (3, H, W) at the target's size: P_L = T_L, P_ab upsampled
    P_ab: Tensor  # (2, h, w) the network's chrominance
    T_L: Tensor  # (1, h, w) the target's luminance at the working size
    reference_rgb: Tensor  # (3, h', w') the reference at the working size (several: side by side)
    R_ab_warped: Tensor  # (2, h, w) R'_ab = R_ab(phi_T->R(p)) (the photo route's, the first of the Chooser's)
    sims: Tensor  # (10, h, w) sim_T->R then sim_T<->R, relu1_1 ... relu5_1 (0 channels: not made, maps=False)
    phi_TR: Tensor  # (2, h, w) (y, x) into the working-size reference
    features: str  # which gray-VGG matched (its source)
    seconds: float  # wall time of the pipeline (features, matching, network, colour conversion)
    colornet: str = "none"  # the net's registry name (or file name): a Chooser or a ColorNet; "none": R'_ab alone
    method: str = "exact"  # the correspondences used (what "auto" chose)
    note: str = ""  # why "auto" chose it, when it did not take the exact route
    smoothing: str = DEFAULT_FILTER  # the post-hoc smoothing of P_ab that ran (smoothing.FILTERS)

    def warped_rgb(self) -> Tensor:
        """T_L with R'_ab: what the matching alone gives, before the colorization sub-net."""
        return lab_to_rgb(torch.cat((self.T_L, self.R_ab_warped)))

    def pictures(self) -> dict[str, Tensor]:
        """What the picker and the photo page show, in [0, 1]: "target" (T_L as gray), "reference", "warped"
        (T_L + R'_ab) and "similarity" (the mean of the bidirectional maps sim_T<->R, (1, h, w)) at the working
        size, and "result" at the target's size (needs the maps: ``colorize(maps=True)``)."""
        h, w = self.T_L.shape[-2:]
        if self.sims.shape[0] == 0:
            raise ValueError("this colorization was made without its similarity maps (maps=False)")
        return {"target": (self.T_L / 100).expand(3, h, w), "reference": self.reference_rgb,
                "warped": self.warped_rgb().clamp(0, 1),
                "similarity": self.sims[self.sims.shape[0] // 2:].mean(0, keepdim=True).clamp(0, 1),
                "result": self.rgb}


def check_options(size: int | None, method: str, smoothing: str | None) -> None:
    """One line naming a working size, method or smoothing that :func:`colorize` cannot take."""
    if size is not None and (not checks.is_int(size) or not 16 <= size <= 2048):
        raise ValueError(f"size must be an int in 16..2048, got {size!r}")
    if method not in COLORIZE_METHODS:
        raise ValueError(f"method must be one of {COLORIZE_METHODS}, got {method!r}")
    if smoothing is not None and smoothing not in FILTERS:
        raise ValueError(f"smoothing must be one of {', '.join(FILTERS)}, got {smoothing!r}")


def upsample_ab(P_ab: Tensor, T_L_full: Tensor) -> Tensor:
    """sRGB (3, H, W) of the target's own L* (1, H, W) with P_ab (1, 2, h, w) upsampled bilinearly to (H, W);
    colours outside the sRGB gamut lose chroma, not lightness."""
    P_ab_full = F.interpolate(P_ab, size=tuple(T_L_full.shape[-2:]), mode="bilinear", align_corners=False)[0]
    return lab_to_rgb(fit_to_gamut(torch.cat((T_L_full, P_ab_full)))).clamp(0, 1)


@torch.no_grad()
def colorize(target: Tensor, reference: Tensor | Sequence[Tensor],
             features: str | os.PathLike | GrayVGG = DEFAULT_FEATURES, net: ColorNet | None = None,
             size: int | None = None, method: str = DEFAULT_METHOD,
             smoothing: str | None = None, allow_mismatch: bool = False, colornet: bool = DEFAULT_COLORNET,
             device: str = "cpu", maps: bool = True, chooser: bool | None = None, hedge: bool = True) -> Colorization:
    """Colour the gray ``target`` (3, H, W) RGB in [0, 1] (only its L is used) from ``reference`` (3, H', W'), or
    from several references at once (a list: side by side, every matcher searching all of them, :mod:`.references`).

    The pipeline (:func:`reprolib.colorization.pipelines.plan`): the Chooser where the gray-VGG ``features``
    (:func:`reprolib.colorization.grayvgg_weights.load_extractor`; default: the offline photo extractor) has one and its
    exact search fits the budget (``chooser`` None; True: it or an error; False: never); DEC's ColorNet with
    ``colornet`` or a given ``net`` (default: the shipped one trained on that gray-VGG's maps; a net trained on
    another's is refused unless ``allow_mismatch``); else R'_ab smoothed. Both images are resized to a short side
    of ``size`` (None: the pipeline's own working size) for matching (``method``: "exact" takes the photo route,
    the ``PHOTO_FIELD`` hypercolumn with mirrored candidates; "patchmatch", "attention": see
    :func:`reprolib.colorization.matching.match`; "auto", the default, takes the exact route up to ``EXACT_BUDGET``
    multiply-adds and PatchMatch above) and for the network. Then ``smoothing`` cleans P_ab along T_L's edges
    (None: the pipeline's own: none after the Chooser or a ColorNet with a guided filter layer); the returned
    ``rgb`` has the target's size and its exact L*. ``device`` ("cpu", "cuda", "auto":
    :func:`reprolib.core.devices.resolve_device`) runs the networks and the matching there; the result comes back
    on the CPU. ``maps=False`` skips the similarity maps where no network reads them (``sims`` then has 0
    channels; the CLI makes them only for a net or ``--save-intermediates``): at 1024 x 768 they take about a
    sixth of the time. ``hedge`` (the Chooser only): less chroma where its coarse match's cosine says the colour is
    a guess (:mod:`.confidence`; False: the Chooser's colours everywhere).
    """
    target = checks.rgb_image(target, "target")
    references = [reference] if isinstance(reference, Tensor) else list(reference)
    if not references:
        raise ValueError("no reference image given")
    if len(references) == 1:
        references = [checks.rgb_image(references[0], "reference")]
    check_options(size, method, smoothing)
    where = resolve_device(device)
    model = load_extractor(features)
    reference_hw = tuple(references[0].shape[-2:]) if len(references) == 1 else aspect(references)
    chosen = plan(model, tuple(target.shape[-2:]), reference_hw, size, method, chooser, colornet, net,
                  allow_mismatch, smoothing, hedge=hedge)
    start = time.perf_counter()
    t_lab = rgb_to_lab(resize_short_side(target, chosen.size).clamp(0, 1))
    if len(references) == 1:
        r_small, splits = resize_short_side(references[0], chosen.size).clamp(0, 1), ()
    else:
        r_small, splits = join_references(references, chosen.size)
    pipeline = chosen.pipeline.to(where)
    P_ab, matched = pipeline.run(model.to(where), t_lab[None, :1].to(where), rgb_to_lab(r_small)[None].to(where), maps,
                                 splits)
    m = [x.cpu()[0] for x in matched[0][:4]]
    rgb = upsample_ab(P_ab.cpu(), rgb_to_lab(target)[:1])
    return Colorization(rgb=rgb, P_ab=P_ab.cpu()[0], T_L=t_lab[:1], reference_rgb=r_small, R_ab_warped=m[2],
                        sims=m[3], phi_TR=m[0], features=model.source, seconds=time.perf_counter() - start,
                        colornet=pipeline.net_name, method=pipeline.method, note=chosen.note,
                        smoothing=pipeline.smoothing)
