"""Where R'_ab's error on photographs lies, and how much of it a net that only distrusts and refills R'_ab could remove.

On the validation pairs (``other_view_pairs(VALIDATION_PHOTOS, --n-per)``, two training photos set aside by
``reprolib.training.photo_pairs``; the held-out photos of the study are not read), for each ``--features``, mean
CIEDE2000 of:

* R'_ab raw, and smoothed along T_L (median + guided, the shipped post-hoc filter): the floor's baselines;
* the field's resolution: the target's own a*b* area-pooled to the stride of the field (4) and upsampled
  bilinearly, what a perfect phi_T->R on that grid would give;
* oracle refill: a normalised guided filter GF(w R'_ab) / GF(w) (OpenCV's, guide T_L, r = 2) with w = 1 where
  R'_ab is within a threshold of ``WRONG`` of the truth and 0 elsewhere: a net that knew exactly which matches
  to distrust and refilled them from trusted neighbours along T_L (best near 4 among 2, 3, 4, 5, 7, 10, 15);
* oracle prior: the truth in those wrong pixels, then the guided filter: a net that also knew the colours
  the reference lacks (what DEC's nets learn from ImageNet);

and the share of pixels whose R'_ab is wrong (CIEDE2000 above the threshold) with their share of the error, and the
strongest Pearson correlation between a similarity map and the per-pixel error (how well the sims a ColorNet
reads flag the wrong matches). Measures and prints markdown; asserts nothing. About 30 s for both extractors.
Usage:
    python benchmarks/photo_error_budget.py [--features photo vgg16] [--n-per 8]
"""
from __future__ import annotations

import argparse

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from reprolib.colorization.grayvgg_weights import load_extractor
from reprolib.colorization.pipelines import WarpSmoothed
from reprolib.colorization.smoothing import EPS, RADIUS, smooth_ab
from reprolib.core import color
from reprolib.training.photo_pairs import VALIDATION_PHOTOS
from reprolib.world.photo_views import other_view_pairs

BASELINE = "R'_ab smoothed"
WRONG = (4.0, 10.0)  # CIEDE2000 above which a pixel of R'_ab counts as a wrong match (the refill is best near 4)
STRIDE = 4  # the field's grid (relu3_1 of PHOTO_FIELD)


def refill(R_ab_w: torch.Tensor, T_L: torch.Tensor, trust: torch.Tensor) -> torch.Tensor:
    """GF(w R'_ab) / GF(w): R'_ab where trusted, its trusted neighbours along T_L's edges elsewhere."""
    guide = np.ascontiguousarray(T_L[0, 0].numpy() / 100.0, dtype=np.float32)
    w = np.ascontiguousarray(trust[0].numpy(), dtype=np.float32)
    ab = R_ab_w[0].permute(1, 2, 0).numpy().astype(np.float32)
    num = cv2.ximgproc.guidedFilter(guide, np.ascontiguousarray(ab * w[..., None]), RADIUS, EPS)
    den = cv2.ximgproc.guidedFilter(guide, w, RADIUS, EPS)
    return torch.from_numpy(num / np.maximum(den, 1e-3)[..., None]).permute(2, 0, 1)[None]


def error(T: torch.Tensor, ab: torch.Tensor) -> torch.Tensor:
    """Per-pixel CIEDE2000 of (T_L, ab) against the target's own colours T (1, 3, H, W)."""
    return color.delta_e2000(torch.cat((T[:, :1], ab.to(T)), 1), T)


@torch.no_grad()
def budget(extractor, n_per: int) -> dict[str, float]:
    pairs = other_view_pairs(VALIDATION_PHOTOS, n_per)
    out: dict[str, float] = {}

    def add(key: str, value: float) -> None:
        out[key] = out.get(key, 0.0) + value / len(pairs)

    for i in range(len(pairs)):
        T, R = pairs.T_lab[i:i + 1], pairs.R_lab[i:i + 1]
        T_L, T_ab = T[:, :1], T[:, 1:]

        m = WarpSmoothed().match(extractor, T_L, R)[0]  # colorize's one matcher, the photo route
        e = error(T, m.R_ab_warped)
        pooled = F.interpolate(F.avg_pool2d(T_ab, STRIDE), size=T_ab.shape[-2:], mode="bilinear", align_corners=False)
        add("R'_ab raw", e.mean().item())
        add(BASELINE, error(T, smooth_ab(m.R_ab_warped, T_L)).mean().item())
        add("field resolution (truth pooled x4)", error(T, pooled).mean().item())
        for t in WRONG:
            wrong = e > t
            add(f"wrong (> {t:g}): oracle refill", error(T, refill(m.R_ab_warped, T_L, (~wrong).float())).mean().item())
            add(f"wrong (> {t:g}): oracle colours, guided", error(T, smooth_ab(
                torch.where(wrong.unsqueeze(1), T_ab, m.R_ab_warped), T_L, "guided")).mean().item())
            add(f"wrong (> {t:g}): share of the pixels", wrong.float().mean().item())
            add(f"wrong (> {t:g}): share of R'_ab's error", (e * wrong).sum().item() / e.sum().item())
        corr = [torch.corrcoef(torch.stack((s.flatten(), e.flatten())))[0, 1].item() for s in m.sims[0]]
        add("strongest sim-error correlation", min(corr))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--features", nargs="+", default=["grayvgg_small_photo", "vgg16"],
                        help="extractors (default: %(default)s)")
    parser.add_argument("--n-per", type=int, default=8, help="validation pairs per photo (default: %(default)s)")
    args = parser.parse_args()
    results = {}
    for name in args.features:
        extractor = load_extractor(name)
        results[extractor.extractor] = budget(extractor, args.n_per)
    print(f"validation: {', '.join(VALIDATION_PHOTOS)}, {args.n_per} other-view pairs each; wrong: CIEDE2000 of R'_ab "
          f"above the threshold; percentages against {BASELINE}\n")
    print("| | " + " | ".join(results) + " |")
    print("|---|" + "---:|" * len(results))
    for key in next(iter(results.values())):
        cells = []
        for r in results.values():
            v = r[key]
            is_error = "share" not in key and not key.startswith("strongest")
            cells.append(f"{v:.3f} ({100 * (v / r[BASELINE] - 1):+.0f} %)" if is_error else f"{v:.3f}")
        print(f"| {key} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
