"""The three pipelines that colour a target from a reference, each a named object: working size, cost, run.

    warp_smoothed:  P_ab = S(R'_ab)                                  one matcher, no network
    colornet:       P_ab = S(ColorNet(sim_T<->R, T_L, R'_ab))        DEC's colorization sub-net (Sec. 3.2)
    chooser:        P_ab = Chooser(T_L, R'_ab^1..K, sims^1..K)       K matchers, a net that picks among their warps

(S: the edge-aware smoothing along T_L, :mod:`.smoothing`.) Every pipeline :meth:`~Pipeline.match`\\ es first (the
similarity sub-net, :mod:`.matching`: the gray-VGG pyramids of T_L, R_L and the mirrored R_L computed once, then
each of its matchers), then :meth:`~Pipeline.predict`\\ s P_ab from those matches; :meth:`~Pipeline.run` does both.
Several pipelines can share one match (``photo_study`` scores R'_ab, R'_ab smoothed and two ColorNets on one).
:func:`plan` chooses the pipeline, working size and correspondences for ``colorize`` (``--chooser``,
``--colornet``, ``--method``, ``--size``), saying why when it falls back.

Where we deviate from DEC: its pipeline is the colornet one; on held-out photos the single-warp ColorNets trained
here did not beat R'_ab smoothed and the Chooser did (results.json["photos"]), so the Chooser is colorize's default
where the gray-VGG has a shipped one and its exact search fits ``EXACT_BUDGET``, else warp_smoothed.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar, NamedTuple

from torch import Tensor

from ..core.photos import short_side_size
from . import confidence
from .chooser import FIELDS, Chooser, ChooserWeights, chooser_for
from .colornet import ColorNet, ColorNetWeights, check_pairing, colornet_for, colornet_input, load_colornet, predict_ab
from .grayvgg import VID_LAYERS, GrayVGG
from .matching import (
    FIELD_LAYER,
    METHODS,
    PHOTO_ROUTE,
    Field,
    Matched,
    Pyramids,
    exact_cost,
    field_layers,
    match,
    match_fields,
    reference_pyramids,
)
from .smoothing import DEFAULT_FILTER, FILTERS, smooth_ab

COLORIZE_METHODS = ("auto", *METHODS)  # "auto": the exact photo route where it is cheap, else PatchMatch
DEFAULT_METHOD = "auto"
# Exact search compares every target position with every reference position. Beyond this many multiply-adds
# "auto" switches to PatchMatch, whose cost grows linearly, and an explicit "exact" is refused with the figure.
# Measured by `make bench` on 2 cores: a 384 x 512 pair with VGG-16 (5.8e11) took 27 s end to end; a 256 short
# side costs about 1.1e11 with VGG-16's hypercolumn.
EXACT_BUDGET = 10**12
FAST_SPEEDUP = 3  # bfloat16 cosines against float32 on 2 cores (matching.exact_nn(fast=True)), for the budget


def exact_route_cost(model: GrayVGG, size_T: tuple[int, int], size_R: tuple[int, int],
                     field: Field = PHOTO_ROUTE) -> int:
    """Multiply-adds of one exact matcher (``matching.exact_cost``) between images of these sizes, in float32
    units: a bfloat16 field (``field.fast``) counts a ``FAST_SPEEDUP``-th of its own."""
    stride = min(model.stride(k) for k in field.layers)
    n_T = (size_T[0] // stride) * (size_T[1] // stride)
    n_R = (size_R[0] // stride) * (size_R[1] // stride)
    cost = exact_cost(n_T, n_R, sum(model.channels(k) for k in field.layers), field.mirror)
    return cost // (FAST_SPEEDUP if field.fast else 1)


@dataclass
class Pipeline:
    """What every pipeline is: a ``name``, its default ``working_size`` (short side), its matchers (``fields`` of
    the exact route, or ``method``'s one matcher), their ``cost``, ``match``, ``predict`` and ``run``."""

    method: str = "exact"  # the correspondences: "exact" (the fields below), "patchmatch" or "attention"
    smoothing: str = DEFAULT_FILTER  # the post-hoc smoothing of P_ab along T_L (smoothing.FILTERS)
    name: ClassVar[str] = ""
    working_size: ClassVar[int] = 256  # DEC's demos: short side 256
    reads_maps: ClassVar[bool] = False  # whether predict reads the similarity maps
    fields: ClassVar[tuple[Field, ...]] = (PHOTO_ROUTE,)

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ValueError(f"method must be one of {METHODS}, got {self.method!r}")
        if self.smoothing not in FILTERS:
            raise ValueError(f"smoothing must be one of {', '.join(FILTERS)}, got {self.smoothing!r}")

    @property
    def net_name(self) -> str:
        """The registry name (or file name) of the net that runs; "none" for R'_ab alone."""
        return "none"

    @classmethod
    def cost(cls, model: GrayVGG, size_T: tuple[int, int], size_R: tuple[int, int]) -> int:
        """Multiply-adds of the exact route's searches between images of these sizes (:func:`exact_route_cost`)."""
        return sum(exact_route_cost(model, size_T, size_R, field) for field in cls.fields)

    def to(self, device) -> Pipeline:
        """The pipeline with its network on ``device``."""
        return self

    def reference_features(self, model: GrayVGG, R_lab: Tensor, splits: Sequence[int] = ()) -> Pyramids | None:
        """R's gray-VGG features for :meth:`match`'s ``reference`` (the exact route; None for the other methods,
        which compute them in every call): a video's frames are all coloured from one R."""
        if self.method != "exact":
            return None
        return reference_pyramids(model, R_lab[:, :1], *field_layers(self.fields), splits)

    def match(self, model: GrayVGG, T_L: Tensor, R_lab: Tensor, maps: bool = True,
              splits: Sequence[int] = (), reference: Pyramids | None = None) -> list[Matched]:
        """The similarity sub-net for T_L (B, 1, h, w) and R_lab (B, 3, h', w'): one :class:`Matched` per matcher,
        the similarity maps made when ``maps`` or when ``predict`` reads them; ``splits``: R_lab is several
        references side by side, these widths (:mod:`.references`); ``reference``: R_lab's features from
        :meth:`reference_features`, not computed again."""
        maps = maps or self.reads_maps
        if self.method == "exact":
            return match_fields(model, T_L, R_lab, self.fields, maps=maps, splits=splits, reference=reference)
        return [match(model, T_L, R_lab[:, :1], R_lab[:, 1:], method=self.method, field_layer=FIELD_LAYER, maps=maps,
                      splits=splits)]

    def predict(self, T_L: Tensor, matched: list[Matched]) -> Tensor:
        """P_ab (B, 2, h, w) from T_L and the matches of :meth:`match`."""
        raise NotImplementedError

    def run(self, model: GrayVGG, T_L: Tensor, R_lab: Tensor, maps: bool = True,
            splits: Sequence[int] = (), reference: Pyramids | None = None) -> tuple[Tensor, list[Matched]]:
        """P_ab and the matches it came from: :meth:`match` then :meth:`predict`."""
        matched = self.match(model, T_L, R_lab, maps, splits, reference)
        return self.predict(T_L, matched), matched


@dataclass
class WarpSmoothed(Pipeline):
    """P_ab = R'_ab of the photo route (``PHOTO_FIELD`` hypercolumn, mirrored candidates) smoothed along T_L."""

    name: ClassVar[str] = "warp_smoothed"

    def predict(self, T_L: Tensor, matched: list[Matched]) -> Tensor:
        R_ab_warped = matched[0].R_ab_warped
        return smooth_ab(R_ab_warped, T_L.to(R_ab_warped), self.smoothing)


@dataclass
class DecColorNet(Pipeline):
    """P_ab = ColorNet(sims, T_L, R'_ab) on the photo route's match (DEC's colorization sub-net), then smoothed
    (default: none after a net with its own guided filter layer, :func:`smoothing_for`)."""

    net: ColorNet | None = None
    smoothing: str | None = None  # type: ignore[assignment]  # None: smoothing_for(net)
    name: ClassVar[str] = "colornet"
    reads_maps: ClassVar[bool] = True

    def __post_init__(self) -> None:
        if not isinstance(self.net, ColorNet):
            raise ValueError(f"the colornet pipeline needs a ColorNet, got {type(self.net).__name__}")
        self.smoothing = self.smoothing or smoothing_for(self.net)
        super().__post_init__()

    @property
    def net_name(self) -> str:
        return getattr(self.net, "name", "ColorNet")

    def to(self, device) -> DecColorNet:
        self.net.to(device)
        return self

    def predict(self, T_L: Tensor, matched: list[Matched]) -> Tensor:
        m = matched[0]
        P_ab = predict_ab(self.net, colornet_input(T_L, m.R_ab_warped, m.sims))
        return smooth_ab(P_ab, T_L.to(P_ab), self.smoothing)


@dataclass
class ChooserPipeline(Pipeline):
    """P_ab = Chooser(T_L, the warps and maps of the K matchers of ``chooser.FIELDS``), which ends in its own guided
    filter layer (so no smoothing after it by default)."""

    net: Chooser | None = None
    smoothing: str = "none"
    hedge: bool = True  # fall back where the match is not trusted (colorization.confidence)
    name: ClassVar[str] = "chooser"
    working_size: ClassVar[int] = 192  # its training views' side; a 384 x 512 photo in about 2 s on 2 cores
    reads_maps: ClassVar[bool] = True
    fields: ClassVar[tuple[Field, ...]] = FIELDS

    def __post_init__(self) -> None:
        if not isinstance(self.net, Chooser):
            raise ValueError(f"the chooser pipeline needs a Chooser, got {type(self.net).__name__}")
        if self.method != "exact":
            raise ValueError(f"the Chooser needs the exact route, not method {self.method!r}")
        super().__post_init__()

    @property
    def net_name(self) -> str:
        return self.net.name

    def to(self, device) -> ChooserPipeline:
        self.net.to(device)
        return self

    def predict(self, T_L: Tensor, matched: list[Matched]) -> Tensor:
        p = next(self.net.parameters())
        P_ab = self.net.choose_matched(T_L.to(p), [m.to(p.device) for m in matched])
        return smooth_ab(P_ab, T_L.to(P_ab), self.smoothing)

    def run(self, model: GrayVGG, T_L: Tensor, R_lab: Tensor, maps: bool = True,
            splits: Sequence[int] = (), reference: Pyramids | None = None) -> tuple[Tensor, list[Matched]]:
        """P_ab and the matches: the Chooser's prediction, hedged where the photo route's match is not trusted
        (``hedge``: :func:`~.confidence.hedge`, half the chroma where the coarse match is not close)."""
        P_ab, matched = super().run(model, T_L, R_lab, maps, splits, reference)
        if self.hedge:
            P_ab = confidence.hedge(P_ab, matched[confidence.CONFIDENCE_FIELD].cosine)
        return P_ab, matched


def smoothing_for(net: ColorNet | None) -> str:
    """The default post-hoc smoothing: none after a ColorNet with its own guided filter layer (``net.guided``;
    a second filter on top measured worse on validation photos, notebook 05), else ``DEFAULT_FILTER``."""
    return "none" if getattr(net, "guided", 0) else DEFAULT_FILTER


def methods_for(model: GrayVGG) -> tuple[str, ...]:
    """The methods of ``COLORIZE_METHODS`` that gray-VGG ``model`` can run: "attention" compares VID's layers
    (relu2_2 ... relu5_2), which the distilled photo gray-VGG (up to conv5_1) does not have."""
    return tuple(m for m in COLORIZE_METHODS if m != "attention" or all(k in model.layer_names for k in VID_LAYERS))


def check_method(method: str, model: GrayVGG) -> str:
    """``method`` when gray-VGG ``model`` can run it (:func:`methods_for`); else one line saying why."""
    if method not in COLORIZE_METHODS:
        raise ValueError(f"method must be one of {COLORIZE_METHODS}, got {method!r}")
    if method not in methods_for(model):
        missing = [k for k in VID_LAYERS if k not in model.layer_names]
        raise ValueError(f"method 'attention' compares {', '.join(VID_LAYERS)}, and this gray-VGG has no "
                         f"{', '.join(missing)} ({model.describe()}); use --features small or vgg16, or another method")
    return method


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
    ``budget`` multiply-adds for its matchers (:meth:`Pipeline.cost`)."""
    if method not in ("auto", "exact"):
        return f"the Chooser needs the exact route, not method {method!r}"
    cost = ChooserPipeline.cost(model, size_T, size_R)
    if cost <= budget:
        return ""
    return (f"the Chooser's three matchers at {size_T[0]} x {size_T[1]} would take {cost:.1e} multiply-adds "
            f"(budget {budget:.0e})")


class Plan(NamedTuple):
    """What ``colorize`` runs: the pipeline, the working size (short side) and why it fell back ("" if it did not)."""

    pipeline: Pipeline
    size: int
    note: str


def shipped_colornet(model: GrayVGG, allow_mismatch: bool = False) -> ColorNet:
    """The shipped ColorNet trained on the maps of gray-VGG ``model``; with ``allow_mismatch`` DEC's synthetic net
    when there is none; else one line naming the gray-VGGs that have one."""
    net = colornet_for(model.extractor)
    if net is not None:
        return net
    if allow_mismatch:
        return load_colornet()
    have = sorted({e.features for e in ColorNetWeights if e.features})
    raise ValueError(f"no shipped ColorNet was trained on the maps of gray-VGG {model.extractor!r} (ColorNets exist "
                     f"for {', '.join(have)}); choose those --features, or pass --allow-feature-mismatch to use "
                     f"{ColorNetWeights.COLORNET_FULL.value.name} anyway")


def shipped_chooser(model: GrayVGG, required: bool) -> Chooser | None:
    """The shipped Chooser of gray-VGG ``model``, or None; one line saying which gray-VGGs have one when
    ``required`` and there is none."""
    picker = chooser_for(model.extractor)
    if picker is None and required:
        have = ", ".join(sorted(e.features for e in ChooserWeights if e.status() != "missing"))
        raise ValueError(f"no shipped Chooser reads the warps of gray-VGG {model.extractor!r} (there are "
                         f"Choosers for {have or 'no extractor here'}); use --features photo or vgg16, or --no-chooser")
    return picker


def plan(model: GrayVGG, target_hw: tuple[int, int], reference_hw: tuple[int, int], size: int | None = None,
         method: str = DEFAULT_METHOD, chooser: bool | None = None, colornet: bool = False, net: ColorNet | None = None,
         allow_mismatch: bool = False, smoothing: str | None = None, budget: int = EXACT_BUDGET,
         hedge: bool = True) -> Plan:
    """The pipeline for a target and a reference of these sizes (H, W): the Chooser where gray-VGG ``model`` has
    one (``chooser`` None: when it fits ``budget``; True: it or an error; False: never), DEC's ColorNet with
    ``colornet`` or ``net`` (default: the shipped one trained on ``model``'s maps, :func:`shipped_colornet`), else
    R'_ab smoothed; at working size ``size`` (None: the pipeline's own), by ``method`` ("auto": exact up to the
    budget, else PatchMatch, :func:`choose_method`)."""
    colornet = colornet or net is not None
    if colornet and chooser:
        raise ValueError("chooser=True and a ColorNet are two pipelines; choose one (--colornet or --chooser)")
    picker = None if colornet or chooser is False else shipped_chooser(model, bool(chooser))
    check_method(method, model)
    if colornet:
        net = net if net is not None else shipped_colornet(model, allow_mismatch)
        check_pairing(net, model.extractor, allow_mismatch)

    def sizes(side: int) -> tuple[tuple[int, int], tuple[int, int]]:
        return short_side_size(*target_hw, side), short_side_size(*reference_hw, side)

    why_not = ""
    if picker is not None:
        side = size or ChooserPipeline.working_size
        why_not = chooser_fits(method, model, *sizes(side), budget)
        if not why_not:
            return Plan(ChooserPipeline(net=picker, smoothing=smoothing or "none", hedge=hedge), side, "")
        if chooser:
            raise ValueError(f"{why_not}; use --method auto and a smaller --size, or --no-chooser")
    side = size or Pipeline.working_size
    chosen, note = choose_method(method, model, *sizes(side), budget)
    if why_not and method in ("auto", "exact"):
        note = "; ".join(filter(None, (f"{why_not}, so R'_ab smoothed ran instead", note)))
    if colornet:
        return Plan(DecColorNet(method=chosen, net=net, smoothing=smoothing), side, note)
    return Plan(WarpSmoothed(method=chosen, smoothing=smoothing or DEFAULT_FILTER), side, note)
