"""The photo protocol: which photos train, which choose settings and which are held out; the matched pairs the
photo trainers learn from; and :func:`evaluate_views`, the one loop that scores a predictor on held-out pairs.

Splits of the 16 shipped photos (``world.photo_views`` makes their views):

* ``HELDOUT_PHOTOS`` (6, two of each kind: animals, landscapes, food and objects): no shipped photo model trains
  on them; every photo number of the project is measured on them ("same scene, other view" pairs,
  :func:`evaluate_views`);
* ``VALIDATION_PHOTOS`` (2 of the training photos): settings are chosen on them (``benchmarks/``), never on the
  held-out ones;
* :func:`train_photos` (10): every shipped photo but the held-out ones, what the shipped photo models learn from;
  :func:`fit_photos` (8): those less the validation photos, what a net compared on validation learns from.

The matched-pair cache (:func:`build_cache`): pairs of two views of each training image (:func:`matched_views`),
matched once by matchers of ``matching.match_fields`` (one for the photo ColorNet, the Chooser's three) and kept
in memory: T_L, T_ab and each matcher's warp R'_ab^k ("W0", "W1", ..., float16), the similarity maps of every
matcher (uint8), and for DEC's chrominance branch T'_ab = T_ab(phi_R->T(phi_T->R(p))) of the first ("T_ab_w").
:func:`sample` draws augmented batches from it: a crop, a flip, and one a*b* rotation for every colour map of a
pair (matching reads L only, so a hue turn is a new photo for free).
"""
from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor

from ..colorization.matching import Field, match_fields, warp
from ..core import color
from ..core.configs import setting
from ..core.photos import IMAGE_SUFFIXES, list_photos
from ..world.photo_views import CROP, ViewPairs, other_view_pairs, random_views

HELDOUT_PHOTOS = ("chelsea.jpg", "friends_by_Aitzol_Berasategi.jpg", "life_by_Aitzol_Berasategi.jpg",
                  "sunset_by_Aitzol_Berasategi.jpg", "coffee.jpg", "Picture_0B_by_freespace.jpg")
# the ten photos every shipped photo model learned from (the first 16 of the manifest less HELDOUT_PHOTOS)
TRAIN_PHOTOS = ("astronaut.jpg", "rocket.jpg", "grace_hopper.jpg", "china.jpg", "flower.jpg",
                "aitzgorri_by_Aitzol_Berasategi.jpg", "picosdeeuropa_by_Aitzol_Berasategi.jpg",
                "Picture_1A_by_freespace.jpg", "Wine_by_Jakkub_Mede.jpg", "seeding_by_Clements_Engelhardt.jpg")
VALIDATION_PHOTOS = ("china.jpg", "picosdeeuropa_by_Aitzol_Berasategi.jpg")
# added photos on which the different-photo settings were chosen (colorization.confidence); not in the tiers' test
DEVELOPMENT_PHOTOS = ("gcompris_red_panda.jpg", "palapeli_european-honey-bee.jpg", "gcompris_colosseum.jpg",
                      "scratch_tree.jpg", "scratch_wave.jpg")
SHIPPED = {"shipped": "the shipped training photos (photo_pairs.train_photos())",
           "fit": "the shipped training photos less the validation photos (photo_pairs.fit_photos())"}
GRAY_KEYS = ("sims", "T_L")  # the cache's maps that are not a*b*


def train_photos() -> list[str]:
    """The shipped photos that training may use: ``TRAIN_PHOTOS``, in manifest order (photos added to the
    manifest later are held out until a model is retrained on them and this list says so)."""
    return [name for name in list_photos() if name in TRAIN_PHOTOS]


def unseen_photos() -> list[str]:
    """Every shipped photo that no shipped model trained on: ``HELDOUT_PHOTOS`` and every photo added since."""
    return [name for name in list_photos() if name not in TRAIN_PHOTOS]


def tier_photos() -> list[str]:
    """The photos that measure colouring from a different photo (``studies.photo_tiers``): the unseen ones less
    ``DEVELOPMENT_PHOTOS``."""
    return [name for name in unseen_photos() if name not in DEVELOPMENT_PHOTOS]


def fit_photos() -> list[str]:
    """The training photos less ``VALIDATION_PHOTOS``: what a net whose settings are compared on validation learns."""
    return [name for name in train_photos() if name not in VALIDATION_PHOTOS]


def image_folder(folder: str | Path) -> list[Path]:
    """Every image file below ``folder`` (an ImageNet-style tree of class folders, or a flat one), sorted: the
    training images of ``train ... --images``. A file named as one of ``HELDOUT_PHOTOS`` is refused: every photo
    model is measured on those."""
    root = Path(folder)
    if not root.is_dir():
        raise FileNotFoundError(f"--images {root} is not a folder")
    files = sorted(p for p in root.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
    if not files:
        raise ValueError(f"--images {root} holds no image files ({', '.join(IMAGE_SUFFIXES)})")
    heldout = sorted({p.name for p in files} & set(unseen_photos()))
    if heldout:
        raise ValueError(f"--images {root} holds held-out photos ({', '.join(heldout)}), on which every photo "
                         f"model is measured; train on a folder without them")
    return files


def sources(images: str, extra_images: str = "") -> list:
    """The training images: "shipped" (:func:`train_photos`), "fit" (:func:`fit_photos`) or every image of a
    folder; and every image of the folder ``extra_images`` when given."""
    chosen = {"shipped": train_photos, "fit": fit_photos}.get(images, lambda: image_folder(images))()
    return chosen + (image_folder(extra_images) if extra_images else [])


def described(images: str, extra_images: str = "") -> str:
    """The training images of :func:`sources`, in words (for the provenance)."""
    where = SHIPPED.get(images, images)
    return f"{where} and {extra_images}" if extra_images else where


@dataclass
class PhotoConfig:
    """The settings every photo trainer shares (``train photo-colornet``, ``train chooser``): the matched pairs of
    the protocol, their crops, the net's width and the schedule, where it trains and what it is measured on."""

    steps: int = setting(1200, "optimiser steps")
    batch_size: int = setting(8, "pairs per step, over all processes")
    size: int = setting(128, "training crop of the cached maps")
    crop: int = setting(CROP, "the views' side (the protocol's)")
    width: float = setting(0.125, "width multiplier of DEC's net")
    lr: float = setting(1e-3, "peak Adam learning rate")
    hue: float = setting(1.0, "probability of one random a*b* turn per pair")
    features: str = setting("vgg16", "the gray-VGG whose warps and maps the net learns, a --features choice of "
                                     "colorize")
    images: str = setting("shipped", "an image folder (ImageNet-style or flat), 'shipped' (the training photos) or "
                                     "'fit' (those less the validation photos); never the held-out ones")
    extra_images: str = setting("", "a second image folder whose images are added to --images")
    pairs_per_image: int = setting(48, "pairs of two views drawn from each image, matched once")
    seed: int = setting(0, "seed of the model and the data stream")
    eval_n: int = setting(4, "held-out pairs per held-out photo for the final CIEDE2000 (0: skip)")
    device: str = setting("cpu", "where the networks train (the held-out evaluation runs on the CPU; one GPU per "
                                 "torchrun process, nccl)", choices=("cpu", "cuda"))

    def check(self) -> PhotoConfig:
        if self.steps < 1 or self.batch_size < 1 or self.pairs_per_image < 1 or not 16 <= self.size <= self.crop:
            raise ValueError(f"steps, batch_size and pairs_per_image must be >= 1 and size in 16..crop, got "
                             f"{self.steps}, {self.batch_size}, {self.pairs_per_image}, {self.size}")
        if not 0.0 <= self.hue <= 1.0:
            raise ValueError(f"hue must be a probability in 0..1, got {self.hue}")
        if self.device not in ("cpu", "cuda"):
            raise ValueError(f"device must be 'cpu' or 'cuda', got {self.device!r}")
        return self


def warp_keys(k: int) -> tuple[str, ...]:
    """The cache's names of the warps R'_ab^1 .. R'_ab^k: "W0", "W1", ..."""
    return tuple(f"W{i}" for i in range(k))


@torch.no_grad()
def match_views(model, fields: Sequence[Field], T_lab: Tensor, R_lab: Tensor, chunk: int = 1,
                round_trip: bool = False) -> dict[str, Tensor]:
    """The cached maps (module docstring) of pairs (N, 3, c, c), ``chunk`` pairs per call of ``match_fields``."""
    out: dict[str, list] = {k: [] for k in ("sims", "T_L", "T_ab", *warp_keys(len(fields)))}
    for i in range(0, len(T_lab), chunk):
        T, R = T_lab[i:i + chunk], R_lab[i:i + chunk]
        matched = match_fields(model, T[:, :1], R, fields)
        sims = torch.cat([m.sims for m in matched], 1)
        out["sims"].append((sims.clamp(0, 1) * 255).round().to(torch.uint8))
        out["T_L"].append(T[:, :1].half())
        out["T_ab"].append(T[:, 1:].half())
        for key, m in zip(warp_keys(len(fields)), matched):
            out[key].append(m.R_ab_warped.half())
        if round_trip:  # T'_ab = T_ab(phi_R->T(phi_T->R(p))), the chrominance branch's reference
            out.setdefault("T_ab_w", []).append(warp(T[:, 1:], warp(matched[0].phi_RT, matched[0].phi_TR)).half())
    return {k: torch.cat(v) for k, v in out.items()}


def matched_views(model, fields: Sequence[Field], source, n: int, g: torch.Generator, crop: int = CROP,
                  chunk: int = 1, round_trip: bool = False) -> dict[str, Tensor]:
    """``n`` pairs of two views of one image (``world.photo_views.random_views``, unturned: the hue turns at
    training time, on the maps), matched by :func:`match_views`."""
    pairs = random_views(source, n, g, crop=crop, short=max(crop * 4 // 3, crop + 32), hue=False)
    return match_views(model, fields, pairs.T_lab, pairs.R_lab, chunk, round_trip)


def build_cache(model, fields: Sequence[Field], images: list, pairs_per_image: int, seed: int, crop: int = CROP,
                chunk: int = 1, round_trip: bool = False) -> dict[str, Tensor]:
    """``pairs_per_image`` matched pairs of every image of ``images`` (:func:`matched_views`), deterministic from
    ``seed``."""
    g = torch.Generator().manual_seed(seed)
    parts = [matched_views(model, fields, source, pairs_per_image, g, crop, chunk, round_trip) for source in images]
    return {k: torch.cat([p[k] for p in parts]) for k in parts[0]}


def _rotate(ab: Tensor, c: Tensor, s: Tensor) -> Tensor:
    return torch.cat((c * ab[:, :1] - s * ab[:, 1:], s * ab[:, :1] + c * ab[:, 1:]), dim=1)


def sample(cache: Mapping[str, Tensor], n: int, size: int, hue: float, g: torch.Generator,
           ab_keys: Sequence[str] | None = None) -> dict[str, Tensor]:
    """``n`` augmented pairs from the cache, sims back to cosines, all float32: every map of a pair cropped
    (``size``) and flipped alike, and with probability ``hue`` the a*b* maps ``ab_keys`` (default: every map but
    sims and T_L) turned by one angle, then fitted into the gamut (chroma cut, L* kept). The draws come from ``g``
    (a CPU generator); the batch is made where the cache is."""
    ab_keys = tuple(k for k in cache if k not in GRAY_KEYS) if ab_keys is None else tuple(ab_keys)
    H = cache["sims"].shape[-1]
    idx = torch.randint(0, cache["sims"].shape[0], (n,), generator=g)
    parts: dict[str, list] = {k: [] for k in cache}
    for i in idx.tolist():
        y, x = torch.randint(0, H - size + 1, (2,), generator=g).tolist()
        flip = bool(torch.rand((), generator=g) < 0.5)
        for k in cache:
            v = cache[k][i, :, y:y + size, x:x + size].float()
            parts[k].append(v.flip(-1) if flip else v)
    b = {k: torch.stack(v) for k, v in parts.items()}
    b["sims"] = b["sims"] / 255.0
    turn = torch.rand(n, 1, 1, 1, generator=g) < hue
    angle = torch.where(turn, torch.rand(n, 1, 1, 1, generator=g) * 2 * math.pi - math.pi, torch.zeros(n, 1, 1, 1))
    rows = turn.flatten().nonzero().flatten()
    if len(rows):  # the same rotation for the ab maps of a pair, then one gamut fit (chroma cut, L* kept)
        device = b["T_L"].device
        rows, angle = rows.to(device), angle.to(device)
        c, s = angle[rows].cos(), angle[rows].sin()
        lab = torch.cat((b["T_L"][rows].repeat(len(ab_keys), 1, 1, 1),
                         torch.cat([_rotate(b[k][rows], c, s) for k in ab_keys])), 1)
        for k, ab in zip(ab_keys, color.fit_to_gamut(lab, iters=6)[:, 1:].chunk(len(ab_keys))):
            b[k][rows] = ab
    return b


def delta_e2000(T_lab: Tensor, P_ab: Tensor) -> float:
    """Mean CIEDE2000 of (T_L, P_ab) against the truth T_lab: the protocol's measure."""
    return color.delta_e2000(torch.cat((T_lab[:, :1], P_ab.to(T_lab)), 1), T_lab).mean().item()


Predict = Callable[[Tensor, Tensor], Mapping[str, Tensor]]


@torch.no_grad()
def evaluate_views(predict: Predict, names: Sequence[str] = HELDOUT_PHOTOS, n_per: int = 4,
                   measure: Callable[[Tensor, Tensor], object] = delta_e2000,
                   pairs: ViewPairs | None = None) -> dict[str, list]:
    """Score a predictor on the "same scene, other view" pairs of ``names`` (``other_view_pairs(names, n_per)``,
    or ``pairs`` when given), one at a time: ``predict(T_L (1, 1, h, w), R_lab (1, 3, h, w))`` returns
    {row: P_ab (1, 2, h, w)} (one row per pipeline it runs, so that pipelines can share a match), and each row gets
    the list over pairs of ``measure(T_lab, P_ab)`` (default: mean CIEDE2000 against the photo's own colours)."""
    pairs = other_view_pairs(names, n_per) if pairs is None else pairs
    out: dict[str, list] = {}
    for i in range(len(pairs)):
        T, R = pairs.T_lab[i:i + 1], pairs.R_lab[i:i + 1]
        for row, P_ab in predict(T[:, :1], R).items():
            out.setdefault(row, []).append(measure(T, P_ab))
    return out


def mean(values: Sequence[float]) -> float:
    """The mean of a row of :func:`evaluate_views` (in order, as the trainers' metrics have always summed)."""
    return sum(values) / len(values)
