"""The session behind every picker: a target, its references ranked by retrieval, the gray-VGG and the net; and its
panel. The colour-your-own-photos page (:mod:`.page`, which ``make picker`` serves) and notebook 03's exemplar picker
(:mod:`.picker`) are both a :class:`Session` and its panels.

A visitor brings a target (gray or colour: a colour photo is used through its L* only) and references
(uploaded, :mod:`.uploads`, or among the shipped photos). :func:`make_session` ranks the references
for the target with :func:`reprolib.colorization.retrieval.recommend` (scores kept); :func:`compute_panel`
colours the target from candidate ``index`` (or from several jointly: the page's "top k") with
:func:`reprolib.colorization.colorize.colorize`: its defaults (the shipped photo gray-VGG and its Chooser; R'_ab
smoothed along T_L where the Chooser's exact search does not fit: above about 360 px for a 4:3 photo), or the
session's ColorNet when it has one (the picker's), at a working size and method; :func:`panel_png` draws its five
pictures (``figures.plots.panel_figure``: the similarity map with a colour scale) and :func:`result_png` encodes the
result at the target's full size.
"""
from __future__ import annotations

import io
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import matplotlib.pyplot as plt
import torch
from torch import Tensor

from ..colorization.colorize import DEFAULT_FEATURES, colorize
from ..colorization.colornet import ColorNet
from ..colorization.grayvgg import GrayVGG
from ..colorization.grayvgg_weights import load_extractor
from ..colorization.pipelines import DEFAULT_METHOD, methods_for
from ..colorization.retrieval import recommend_photos
from ..core import checks
from ..core.photos import list_photos, load_photo, resize_long_side
from ..figures.plots import panel_figure
from .uploads import display_name, image_from_bytes, is_colour, png_bytes

DEFAULT_TARGET = "aitzgorri_by_Aitzol_Berasategi.jpg"
DEFAULT_REFERENCES = ("picosdeeuropa_by_Aitzol_Berasategi.jpg", "sunset_by_Aitzol_Berasategi.jpg",
                      "seeding_by_Clements_Engelhardt.jpg", "flower.jpg", "coffee.jpg", "rocket.jpg")
SIZES = (128, 512)  # the page's working size control (short side, pixels)
DEFAULT_SIZE = 192  # colorize's working size for the Chooser (colorization.colorize.DEFAULT_SIZES)
RANK_SIZE = 256  # short side at which references are ranked, whatever the working size (the order stays put)
RESULT_SIDE = 640  # the panel shows the full-size result with its long side at most this
TOP_MAX = 4  # the page's "top k" control: each joint reference widens the exact search (its cost grows with the sum)


@dataclass
class Photo:
    """A picture on the page: its name, RGB (3, H, W) in [0, 1] and where it came from."""

    name: str
    rgb: Tensor
    source: str = "shipped"  # or "uploaded"


def shipped(name: str) -> Photo:
    """A shipped photograph (:func:`reprolib.core.photos.list_photos`) by file name or stem, named by its file."""
    rgb = load_photo(name)  # an ImageError naming the shipped photos when there is none of that name
    return Photo(next(n for n in list_photos() if name in (n, Path(n).stem)), rgb, "shipped")


def uploaded(data: bytes | memoryview, name: str) -> Photo:
    """A visitor's file, decoded with every check of :func:`.uploads.image_from_bytes` (``ImageError``)."""
    return Photo(display_name(name), image_from_bytes(data, name), "uploaded")


@dataclass
class Session:
    """A target, its candidate references best recommended first with their scores, the gray-VGG, and the ColorNet
    that colours (None: ``colorize``'s default pipeline for that gray-VGG)."""

    target: Photo
    candidates: list[Photo]
    scores: list[float]
    features: GrayVGG
    net: ColorNet | None = None
    colour_target: bool = field(init=False)

    def __post_init__(self) -> None:
        self.colour_target = is_colour(self.target.rgb)

    def __len__(self) -> int:
        return len(self.candidates)

    @property
    def methods(self) -> tuple[str, ...]:
        return methods_for(self.features)


def make_session(target: Photo, references: Sequence[Photo], features: str | GrayVGG = DEFAULT_FEATURES,
                 net: ColorNet | None = None) -> Session:
    """Rank ``references`` for ``target`` by retrieval on L* (at short side ``RANK_SIZE``) with ``features``; the
    panels are coloured by ``net`` (None: colorize's default pipeline)."""
    if len(references) == 0:
        raise ValueError("no reference: upload one or choose among the shipped photos")
    model = load_extractor(features)
    with torch.no_grad():
        ranked = recommend_photos(model, target.rgb, [r.rgb for r in references], RANK_SIZE)
    return Session(target, [references[i] for i, _ in ranked], [s for _, s in ranked], model, net)


@dataclass
class Panel:
    """The five pictures at the working size, the result at the target's size, and what produced them."""

    # "target" (L*), "reference", "warped" (T_L + R'_ab), "similarity" (1, h, w); "result": long side <= RESULT_SIDE
    pictures: dict[str, Tensor]
    result: Tensor  # (3, H, W): the target's size and L*
    title: str
    seconds: float


def chosen(session: Session, index: int | Sequence[int]) -> list[int]:
    """The candidates that ``index`` names (one, or several used jointly), checked: ints in 0..len - 1, each once."""
    indices = list(index) if isinstance(index, Sequence) else [index]
    if not indices or len(set(indices)) < len(indices) or not all(
            checks.is_int(i) and 0 <= i < len(session) for i in indices):
        raise ValueError(f"index must be an int in 0..{len(session) - 1}, or several different ones, got {index!r}")
    return indices


def compute_panel(session: Session, index: int | Sequence[int], size: int = DEFAULT_SIZE,
                  method: str = DEFAULT_METHOD) -> Panel:
    """Colour the target from candidate ``index`` (0 = best recommended), or from several candidates jointly
    (``index`` a sequence, e.g. ``range(k)``: the top k; colorize puts them side by side and every matcher searches
    them all), with the session's pipeline at working size ``size`` (16..2048; the page offers ``SIZES``) by
    ``method`` (one of ``session.methods``; else a ValueError saying why)."""
    indices = chosen(session, index)
    if not checks.is_int(size) or not 16 <= size <= 2048:
        raise ValueError(f"working size must be an int in 16..2048, got {size!r}")
    references = [session.candidates[i] for i in indices]
    c = colorize(session.target.rgb, [r.rgb for r in references], features=session.features, net=session.net,
                 size=size, method=method)
    pictures = c.pictures()
    pictures["result"] = resize_long_side(c.rgb, min(RESULT_SIDE, max(c.rgb.shape[-2:]))).clamp(0, 1)
    pipeline = "R'_ab smoothed" if c.colornet == "none" else c.colornet  # the Chooser where it runs
    title = (f"{_exemplars(session, indices)}; working size {size}, "
             f"{method if c.method == method else f'{method}: {c.method}'}, {pipeline}, {c.seconds:.1f} s")
    return Panel(pictures, c.rgb, title, c.seconds)


def _exemplars(session: Session, indices: Sequence[int]) -> str:
    """"exemplar i/n: NAME (score s)", or for several "exemplars i, j/n jointly: NAME, NAME (scores s, s)"."""
    names = ", ".join(session.candidates[i].name for i in indices)
    scores = ", ".join(f"{session.scores[i]:.3f}" for i in indices)
    numbers = ", ".join(str(i + 1) for i in indices)
    if len(indices) == 1:
        return f"exemplar {numbers}/{len(session)}: {names} (score {scores})"
    return f"exemplars {numbers}/{len(session)} jointly: {names} (scores {scores})"


def panel_png(panel: Panel, dpi: int = 100) -> bytes:
    """:func:`reprolib.figures.plots.panel_figure` of ``panel`` as PNG bytes."""
    fig = panel_figure(panel.pictures, panel.title)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    plt.close(fig)
    return buffer.getvalue()


def result_png(panel: Panel) -> bytes:
    """The result at the target's full size as PNG bytes."""
    return png_bytes(panel.result)


def result_filename(session: Session, index: int | Sequence[int]) -> str:
    """"<target>_from_<reference>.png" (several references: "<target>_from_<first>_and_<n - 1>_more.png"), with
    only letters, digits, '.', '_' and '-'."""
    def stem(name: str) -> str:
        return re.sub(r"[^A-Za-z0-9._-]+", "_", Path(name).stem)[:40].strip("._") or "photo"

    indices = chosen(session, index)
    more = f"_and_{len(indices) - 1}_more" if len(indices) > 1 else ""
    return f"{stem(session.target.name)}_from_{stem(session.candidates[indices[0]].name)}{more}.png"
