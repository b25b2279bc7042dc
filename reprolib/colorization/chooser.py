"""A colorization sub-net that chooses, per pixel, among the warps of several matchers (notebook 05).

DEC's sub-net reads one warp R'_ab and its similarity maps. On photographs the photo route's warp
(``PHOTO_FIELD``) is often wrong where another hypercolumn is right, so this net reads K warps of the
same reference, R'_ab^k = R_ab(phi^k_T->R(p)), one per hypercolumn of ``FIELDS`` (each matched with
mirrored candidates, all on one set of gray-VGG pyramids), with T_L and all K sets of similarity maps
(sim_T->R and sim_T<->R, 10 per field), and mixes them:

    P_ab = GF_T_L( sum_k softmax_k(y_k(p)) R'_ab^k(p) + r(p) ),    (y, r) = U-Net(T_L, R'_ab^1..K, sims^1..K)

(the U-Net is ColorNet's trunk, GF its guided filter layer with guide T_L, r a residual; at initialisation
the first warp dominates, so an untrained net returns about R'_ab^1 filtered). It is trained like the photo
ColorNet's real branch (:mod:`reprolib.training.chooser`): smooth L1 against the target's own colours on
pairs of views of the training photos. The pipeline that runs it is
:class:`reprolib.colorization.pipelines.ChooserPipeline`.

Where we deviate from DEC: K warps instead of one, the per-pixel softmax over them, the trained guided
filter layer (no post-hoc smoothing after it), and the stride-2 field (relu2_1 + relu3_1 + relu4_1) searched
with bfloat16 cosines (``Field.fast``, :func:`~reprolib.colorization.matching.exact_nn`): three times faster on
2 CPU cores, and on 16 validation pairs its R'_ab smoothed measured 3.580 against 3.560 CIEDE2000 in float32.
Measured on the held-out photos: ``results.json["photos"]``, row "chooser".
"""
from __future__ import annotations

import os

import torch
from torch import Tensor, nn

from ..core.weights import Weights, WeightsEnum, load_checkpoint
from .colornet import ColorNet
from .matching import PHOTO_ROUTE, Field, Matched
from .smoothing import RADIUS, guided_layer

# R'_ab^1 .. R'_ab^K: the photo route, a stride-2 hypercolumn searched with bfloat16 cosines (the expensive one),
# and a coarse one; each with mirrored candidates
FIELDS = (PHOTO_ROUTE, Field(("relu2_1", "relu3_1", "relu4_1"), fast=True), Field(("relu4_1", "relu5_1")))
FORMAT = "reprolib.chooser/1"


class Chooser(ColorNet):
    """ColorNet's trunk with K + 2 outputs: the weights of the K warps and a residual r (module docstring)."""

    def __init__(self, k: int = len(FIELDS), n_sims: int = 10 * len(FIELDS), width: float = 0.125):
        super().__init__(1 + 2 * k + n_sims, width)
        self.k, self.n_sims = k, n_sims
        self.out = nn.Conv2d(self.out.in_channels, k + 2, 1)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)
        with torch.no_grad():
            self.out.bias[0] = 2.0  # the first warp (the photo route's R'_ab) dominates at the start

    def forward(self, T_L: Tensor, warps: list[Tensor], sims: Tensor) -> Tensor:
        """P_ab (B, 2, H, W) from T_L (B, 1, H, W), the K warps R'_ab^k (B, 2, H, W) and the sims (B, n_sims,
        H, W) as cosines (clamped to [0, 1], as the training cache keeps them)."""
        if len(warps) != self.k or sims.shape[1] != self.n_sims:
            raise ValueError(f"this Chooser reads {self.k} warps and {self.n_sims} similarity maps, got "
                             f"{len(warps)} and {sims.shape[1]}")
        H, W = T_L.shape[-2:]
        x = torch.cat(((T_L - 50) / 50, *(w / 50 for w in warps), sims.clamp(0, 1) * 4 - 3), 1)
        y = self.out(self.trunk(x))[..., :H, :W]
        weights = torch.softmax(y[:, :self.k], 1).unsqueeze(2)
        P_ab = (weights * torch.stack(warps, 1)).sum(1) + y[:, self.k:]
        return guided_layer(P_ab, T_L, RADIUS)

    def choose_matched(self, T_L: Tensor, matched: list[Matched]) -> Tensor:
        """P_ab from the K matches of ``FIELDS`` (``matching.match_fields``, with the maps)."""
        return self(T_L, [m.R_ab_warped for m in matched], torch.cat([m.sims for m in matched], 1))


def checkpoint_dict(net: Chooser, **meta) -> dict:
    """What the trainer saves: format, config, float32 state_dict and provenance (``meta["features"]``)."""
    return {"format": FORMAT, "config": {"k": net.k, "n_sims": net.n_sims, "width": net.width,
                                         "fields": [list(f.layers) for f in FIELDS]},
            "state_dict": {k: v.detach().float().cpu().clone() for k, v in net.state_dict().items()}, "meta": meta}


def _entry(name: str, choice: str, features: str, sha256: str, pairs: int) -> Weights:
    file = f"chooser_{name}.pt"
    return Weights(
        name=f"chooser_{name}", kind="Chooser", file=file, format=FORMAT, seed=0, sha256=sha256,
        licence="MIT (trained by this project)", features=features,
        command=f"python -m reprolib train chooser --features {choice} --pairs-per-image {pairs} --out {file} "
                f"--steps 1200 --batch-size 8 --seed 0",
        source=f"1200 steps on {pairs} pairs of two views of each training photo, the warps and maps of {choice}")


class ChooserWeights(WeightsEnum):
    """The shipped Choosers, one per gray-VGG whose warps and maps they read (``train chooser`` made them)."""

    CHOOSER_SMALL = _entry("small", "photo", "grayvgg_small_photo",
                         "28fb2368705da6e91cf285e9ff5fed1d2a18fab17217e7d6a2e3c68f8d71e60a", 48)
    CHOOSER_VGG16 = _entry("vgg16", "vgg16", "vgg16_imagenet_caffe",
                         "75a1dc0d26580b6a33a4b2154e5935f0cabcbfed99e8850752afeb48d4841aa5", 16)


def load_chooser(path: str | os.PathLike | ChooserWeights) -> Chooser:
    """A trained Chooser in eval mode from a registry entry or a ``train chooser`` file (weights_only, sha256
    checked for entries); ``net.features`` names the gray-VGG whose warps and maps it was trained on."""
    entry = path if isinstance(path, ChooserWeights) else None
    where = entry.path if entry else os.fspath(path)
    obj = load_checkpoint(path, FORMAT, "chooser checkpoint", make=f"python -m reprolib train chooser --out {where}")
    try:
        cfg = obj["config"]
        if [tuple(f) for f in cfg["fields"]] != [f.layers for f in FIELDS]:
            raise ValueError(f"{where} reads the warps of {cfg['fields']}, not of {[list(f.layers) for f in FIELDS]}")
        net = Chooser(int(cfg["k"]), int(cfg["n_sims"]), float(cfg["width"]))
        net.load_state_dict(obj["state_dict"])
    except (KeyError, TypeError, RuntimeError) as err:
        raise ValueError(f"{where}: malformed chooser checkpoint ({str(err).splitlines()[0][:160]})") from None
    net.meta = dict(obj.get("meta", {}))
    net.name = entry.value.name if entry else os.path.basename(where)
    net.features = entry.features if entry else net.meta.get("features")
    return net.eval()


def chooser_for(extractor: str) -> Chooser | None:
    """The shipped Chooser trained on the warps of gray-VGG ``extractor``, or None."""
    for entry in ChooserWeights:
        if entry.features == extractor and entry.status() != "missing":
            return load_chooser(entry)
    return None

