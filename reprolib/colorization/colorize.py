"""Exemplar-based colorization of a photograph, end to end: the paper's whole pipeline (Fig. 2).

    T, R  ->  T_L, R_L, R_ab (Lab)  ->  gray-VGG features of T_L and R_L  ->  phi_T->R, phi_R->T
          ->  R'_ab, sim_T->R, sim_T<->R  (similarity sub-net)  ->  P_ab = ColorNet(sims, T_L, R'_ab)
              (by default: P_ab = Chooser(T_L, R'_ab^1..3, sims^1..3), three matchers, :mod:`.chooser`)
          ->  P_lab = (T_L, P_ab)  ->  sRGB

Matching and the network run at a working size (short side ``size``: 192 for the Chooser, 256 as in DEC's demos
otherwise, ``DEFAULT_SIZES``), matching by
the photo route (the ``PHOTO_FIELD`` hypercolumn with mirrored candidates), then P_ab is smoothed along the
edges of T_L (:mod:`.smoothing`), upsampled bilinearly to the target's own size and joined with the target's
own full-resolution L, so the result keeps the target's size and luminance (a colour target is used through
its L only); colours outside the sRGB gamut lose chroma, not lightness (:func:`reprolib.core.color.fit_to_gamut`).

Where we deviate: by default the colorization sub-net is the Chooser (:mod:`.chooser`), which reads the warps
of three hypercolumns and chooses among them per pixel, where the shipped Chooser of the gray-VGG exists and
its exact route fits the budget (:func:`chooser_fits`); else P_ab = R'_ab smoothed along T_L. On the held-out
photos (results.json["photos"]) the single-warp ColorNets trained here did not beat R'_ab smoothed, the Chooser
did; ``colornet=True`` runs DEC's single-warp pipeline, ``chooser=False`` R'_ab smoothed.
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from ..core import checks
from ..core.color import fit_to_gamut, lab_to_rgb, rgb_to_lab
from ..core.devices import resolve_device
from ..core.photos import resize_short_side
from .chooser import FAST, FIELDS, Chooser, ChooserWeights, choose_pairs, chooser_for
from .colornet import ColorNet, ColorNetWeights, check_pairing, colornet_input, load_colornet, predict_ab
from .extractors import load_extractor
from .features import VID_LAYERS, GrayVGG
from .matching import FIELD_LAYER, METHODS, PHOTO_FIELD, Matched, exact_cost, match
from .smoothing import DEFAULT_FILTER, FILTERS, smooth_ab

DEFAULT_FEATURES = "photo"  # the offline gray-VGG of colorize: distilled from VGG-16 on photographs, shipped
# Measured on the held-out photos (results.json["photos"], 24 pairs, CIEDE2000): the photo ColorNets do not
# beat R'_ab smoothed along T_L (offline 3.94 against 3.79, VGG-16 3.43 against 3.41), so colorize's default
# is that, without the network; colornet=True (--colornet) runs the sub-net as DEC does.
DEFAULT_COLORNET = False
COLORIZE_METHODS = ("auto", *METHODS)  # "auto": the exact photo route where it is cheap, else PatchMatch
DEFAULT_METHOD = "auto"
# Exact search compares every target position with every reference position. Beyond this many multiply-adds
# "auto" switches to PatchMatch, whose cost grows linearly, and an explicit "exact" is refused with the figure.
# Measured by `make bench` on 2 cores: a 384 x 512 pair with VGG-16 (5.8e11) took 27 s end to end; a 256 short
# side costs about 1.1e11 with VGG-16's hypercolumn.
EXACT_BUDGET = 10**12
FAST_SPEEDUP = 3  # bfloat16 cosines against float32 on 2 cores (matching.exact_nn(fast=True)), for the budget
# The working size when none is given: the Chooser's is the side of its training views and of the photo study, and
# keeps a 384 x 512 photo at about 2 s on 2 cores with the student (4.4 s at 256, where it measured better still:
# benchmarks/chooser_working_size.py, notebook 05); the one-matcher pipelines keep DEC's 256.
DEFAULT_SIZES = {"chooser": 192, "other": 256}


@dataclass
class Colorization:
    """The result and the intermediates, at the working size (h, w) unless said otherwise."""

    rgb: Tensor  # (3, H, W) at the target's size: P_L = T_L, P_ab upsampled
    P_ab: Tensor  # (2, h, w) the network's chrominance
    T_L: Tensor  # (1, h, w) the target's luminance at the working size
    reference_rgb: Tensor  # (3, h', w') the reference at the working size
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


def colornet_for(extractor: str) -> ColorNet:
    """The shipped ColorNet trained on the similarity maps of gray-VGG ``extractor`` (one line naming the
    extractors that have one when there is none)."""
    for entry in ColorNetWeights:
        if entry.features == extractor and entry.status() != "missing":
            return load_colornet(entry)
    have = sorted({e.features for e in ColorNetWeights if e.features})
    raise ValueError(f"no shipped ColorNet was trained on the maps of gray-VGG {extractor!r} (ColorNets exist for "
                     f"{', '.join(have)}); choose those --features, or pass --allow-feature-mismatch to use "
                     f"{ColorNetWeights.FULL.value.name} anyway")


def photo_match(model: GrayVGG, T_L: Tensor, R_lab: Tensor, method: str = "exact",
                field: str | tuple[str, ...] = PHOTO_FIELD, mirror: bool = True, maps: bool = True) -> Matched:
    """The similarity sub-net on T_L (B, 1, h, w) and R_lab (B, 3, h', w'), by the photo route when ``method``
    is "exact" (``field``, ``mirror`` and ``maps`` of :func:`reprolib.colorization.matching.match`)."""
    exact = method == "exact"
    return match(model, T_L, R_lab[:, :1], R_lab[:, 1:], method=method, field_layer=field if exact else FIELD_LAYER,
                 mirror=mirror and exact, maps=maps)


def colorize_matched(net: ColorNet | None, T_L: Tensor, m: Matched, smoothing: str | None = None) -> Tensor:
    """P_ab = ColorNet(sims, T_L, R'_ab) (``net=None``: R'_ab alone), smoothed along T_L's edges (:mod:`.smoothing`;
    None: :func:`smoothing_for` the net)."""
    P_ab = m.R_ab_warped if net is None else predict_ab(net, colornet_input(T_L, m.R_ab_warped, m.sims))
    return smooth_ab(P_ab, T_L.to(P_ab), smoothing or smoothing_for(net))


def smoothing_for(net: ColorNet | None) -> str:
    """The default post-hoc smoothing: none after a ColorNet with its own guided filter layer (``net.guided``;
    a second filter on top measured worse on validation photos, notebook 05), else ``DEFAULT_FILTER``."""
    return "none" if getattr(net, "guided", 0) else DEFAULT_FILTER


@torch.no_grad()
def colorize_lab(model: GrayVGG, net: ColorNet | None, T_L: Tensor, R_lab: Tensor, method: str = "exact",
                 smoothing: str | None = None, maps: bool = True) -> tuple[Tensor, Matched]:
    """The pipeline at the working size: T_L (B, 1, h, w), R_lab (B, 3, h', w') -> P_ab (B, 2, h, w) and the
    similarity sub-net's output (:func:`photo_match` then :func:`colorize_matched`; the maps are always made
    when ``net`` runs)."""
    m = photo_match(model, T_L, R_lab, method, maps=maps or net is not None)
    return colorize_matched(net, T_L, m, smoothing), m


def methods_for(model: GrayVGG) -> tuple[str, ...]:
    """The methods of ``COLORIZE_METHODS`` that gray-VGG ``model`` can run: "attention" compares VID's layers
    (relu2_2 ... relu5_2), which the distilled photo gray-VGG (up to conv5_1) does not have."""
    return tuple(m for m in COLORIZE_METHODS if m != "attention" or all(k in model.layer_names for k in VID_LAYERS))


def exact_route_cost(model: GrayVGG, size_T: tuple[int, int], size_R: tuple[int, int],
                     field: tuple[str, ...] = PHOTO_FIELD, mirror: bool = True) -> int:
    """Multiply-adds of :func:`photo_match`'s exact route (``matching.exact_cost``) for images of these sizes."""
    stride = min(model.stride(k) for k in field)
    n_T = (size_T[0] // stride) * (size_T[1] // stride)
    n_R = (size_R[0] // stride) * (size_R[1] // stride)
    return exact_cost(n_T, n_R, sum(model.channels(k) for k in field), mirror)


def chooser_route_cost(model: GrayVGG, size_T: tuple[int, int], size_R: tuple[int, int]) -> int:
    """The Chooser's exact matching (every hypercolumn of ``chooser.FIELDS``), in float32 multiply-adds: a
    bfloat16 field counts a ``FAST_SPEEDUP``-th of its own."""
    return sum(exact_route_cost(model, size_T, size_R, field) // (FAST_SPEEDUP if fast else 1)
               for field, fast in zip(FIELDS, FAST))


def choose_method(method: str, model: GrayVGG, size_T: tuple[int, int], size_R: tuple[int, int],
                  budget: int = EXACT_BUDGET) -> tuple[str, str]:
    """The correspondences to run and a note: "auto" is "exact" up to ``budget`` multiply-adds, else
    "patchmatch" (saying why); an explicit "exact" above the budget is refused in one line."""
    if method not in COLORIZE_METHODS:
        raise ValueError(f"method must be one of {COLORIZE_METHODS}, got {method!r}")
    if method not in ("auto", "exact"):
        return method, ""
    cost = exact_route_cost(model, size_T, size_R)
    if cost <= budget:
        return "exact", ""
    why = (f"exact search at {size_T[0]} x {size_T[1]} would take {cost:.1e} multiply-adds (budget {budget:.0e}: "
           f"minutes on a laptop CPU)")
    if method == "exact":
        raise ValueError(f"{why}; use --method patchmatch (its cost grows linearly) or auto, or a smaller --size")
    return "patchmatch", f"{why}, so PatchMatch ran instead"


def chooser_fits(method: str, model: GrayVGG, size_T: tuple[int, int], size_R: tuple[int, int],
                 budget: int = EXACT_BUDGET) -> str:
    """Why the Chooser cannot run here ("" when it can): it needs the exact route ("auto" or "exact"), within
    ``budget`` multiply-adds for its three matchers (:func:`chooser_route_cost`)."""
    if method not in ("auto", "exact"):
        return f"the Chooser needs the exact route, not method {method!r}"
    cost = chooser_route_cost(model, size_T, size_R)
    if cost <= budget:
        return ""
    return (f"the Chooser's three matchers at {size_T[0]} x {size_T[1]} would take {cost:.1e} multiply-adds "
            f"(budget {budget:.0e})")


@torch.no_grad()
def colorize(target: Tensor, reference: Tensor, features: str | os.PathLike | GrayVGG = DEFAULT_FEATURES,
             net: ColorNet | None = None, size: int | None = None, method: str = DEFAULT_METHOD,
             smoothing: str | None = None, allow_mismatch: bool = False, colornet: bool = DEFAULT_COLORNET,
             device: str = "cpu", maps: bool = True, chooser: bool | None = None) -> Colorization:
    """Colour the gray ``target`` (3, H, W) RGB in [0, 1] (only its L is used) from ``reference`` (3, H', W').

    Both are resized to a short side of ``size`` (None: ``DEFAULT_SIZES`` of the pipeline that runs) for
    matching (``method``: "exact", "patchmatch" or
    "attention", see :func:`reprolib.colorization.matching.match`; "exact" takes the photo route, the
    ``PHOTO_FIELD`` hypercolumn with mirrored candidates; "auto", the default, takes it up to ``EXACT_BUDGET``
    multiply-adds and PatchMatch above, see :func:`choose_method`) with the gray-VGG ``features``
    (:func:`reprolib.colorization.extractors.load_extractor`; default: the offline photo extractor) and for
    the network (default: the shipped ColorNet trained on that gray-VGG's maps; a net trained on another's
    is refused unless ``allow_mismatch``; used when ``colornet`` is true or ``net`` is given, else
    P_ab = R'_ab smoothed: ``DEFAULT_COLORNET``). ``chooser`` (None: when the shipped Chooser of these
    features exists and the exact route fits the budget; True: it or an error; False: never) runs the
    Chooser instead, the measured best on photos (:mod:`.chooser`). Then ``smoothing`` cleans P_ab along
    T_L's edges (None: :func:`smoothing_for` the net that runs; "none" after the Chooser, which ends in its
    own guided filter layer); the returned ``rgb`` has the target's size and its exact L*.
    ``device`` ("cpu", "cuda", "auto": :func:`reprolib.core.devices.resolve_device`) runs the networks and
    the matching there; the result comes back on the CPU. ``maps=False`` skips the similarity maps when no
    network runs (``sims`` then has 0 channels; the CLI makes them only for ``--colornet`` or
    ``--save-intermediates``): at 1024 x 768 they take about a sixth of the time.
    """
    target, reference = checks.rgb_image(target, "target"), checks.rgb_image(reference, "reference")
    if size is not None and (not checks.is_int(size) or not 16 <= size <= 2048):
        raise ValueError(f"size must be an int in 16..2048, got {size!r}")
    if method not in COLORIZE_METHODS:
        raise ValueError(f"method must be one of {COLORIZE_METHODS}, got {method!r}")
    if smoothing is not None and smoothing not in FILTERS:
        raise ValueError(f"smoothing must be one of {', '.join(FILTERS)}, got {smoothing!r}")
    colornet = colornet or net is not None
    if colornet and chooser:
        raise ValueError("chooser=True and a ColorNet are two pipelines; choose one (--colornet or --chooser)")
    where = resolve_device(device)
    model = load_extractor(features)
    picker: Chooser | None = None if colornet or chooser is False else chooser_for(model.extractor)
    if chooser and picker is None:
        have = ", ".join(sorted(e.features for e in ChooserWeights if e.status() != "missing"))
        raise ValueError(f"no shipped Chooser reads the warps of gray-VGG {model.extractor!r} (there are "
                         f"Choosers for {have or 'no extractor here'}); use --features photo or vgg16, or --no-chooser")
    if method not in methods_for(model):
        missing = [k for k in VID_LAYERS if k not in model.layer_names]
        raise ValueError(f"method 'attention' compares {', '.join(VID_LAYERS)}, and this gray-VGG has no "
                         f"{', '.join(missing)} ({model.describe()}); use --features small or vgg16, or another method")
    if colornet and net is None:
        try:
            net = colornet_for(model.extractor)
        except ValueError:
            if not allow_mismatch:
                raise
            net = load_colornet()
    if colornet:
        check_pairing(net, model.extractor, allow_mismatch)
    start = time.perf_counter()
    T_L_full = rgb_to_lab(target)[:1]

    def working(side: int) -> tuple[Tensor, Tensor, tuple]:
        t, r = rgb_to_lab(resize_short_side(target, side).clamp(0, 1)), resize_short_side(reference, side).clamp(0, 1)
        return t, r, (tuple(t.shape[-2:]), tuple(r.shape[-2:]))

    t_lab, r_small, sizes = working(size or DEFAULT_SIZES["chooser" if picker is not None else "other"])
    asked, why_not = method, chooser_fits(method, model, *sizes) if picker is not None else ""
    if why_not and chooser:
        raise ValueError(f"{why_not}; use --method auto and a smaller --size, or --no-chooser")
    if why_not:
        picker = None
        if size is None:  # the one-matcher pipeline's own working size
            t_lab, r_small, sizes = working(DEFAULT_SIZES["other"])
    method, note = choose_method(method, model, *sizes)
    if why_not and asked in ("auto", "exact"):
        note = "; ".join(filter(None, (f"{why_not}, so R'_ab smoothed ran instead", note)))
    smoothing = smoothing or ("none" if picker is not None else smoothing_for(net if colornet else None))
    model.to(where)
    T_L, R_lab = t_lab[None, :1].to(where), rgb_to_lab(r_small)[None].to(where)
    if picker is not None:
        P_ab, matched = choose_pairs(picker.to(where), model, T_L, R_lab)
        P_ab, m = smooth_ab(P_ab, T_L, smoothing), matched[0]
    else:
        if net is not None:
            net.to(where)
        P_ab, m = colorize_lab(model, net, T_L, R_lab, method, smoothing=smoothing, maps=maps)
    P_ab, m = P_ab.cpu(), Matched(*(x.cpu() for x in m))
    P_ab_full = F.interpolate(P_ab, size=tuple(target.shape[-2:]), mode="bilinear", align_corners=False)[0]
    rgb = lab_to_rgb(fit_to_gamut(torch.cat((T_L_full, P_ab_full)))).clamp(0, 1)  # L* kept, chroma cut to fit
    seconds = time.perf_counter() - start
    return Colorization(rgb=rgb, P_ab=P_ab[0], T_L=t_lab[:1], reference_rgb=r_small, R_ab_warped=m.R_ab_warped[0],
                        sims=m.sims[0], phi_TR=m.phi_TR[0], features=model.source, seconds=seconds,
                        colornet=picker.name if picker is not None else getattr(net, "name", "ColorNet") if colornet
                        else "none", method=method, note=note, smoothing=smoothing)
