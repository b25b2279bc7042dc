"""Why colorize in Lab, and why does an L1-trained colorizer come out desaturated? (notebook 01)

Three measurements, used by notebook 01 and by ``reproduce``:

- ``step_uniformity``: walk a colour ramp in equal steps of sRGB, of linear RGB and of CIE Lab and
  measure each step's perceived size, CIEDE2000 dE00. A perceptually uniform space gives equal dE00
  for equal steps (coefficient of variation near 0).
- ``ab_plane``: the a*b* plane at a fixed L*, with the sRGB gamut marked. Colours that share L*
  (hence look the same to a gray-scale network) may differ strongly in a*b*.
- ``regression_to_the_mean``: an object whose plausible colours share L* but differ in a*b*.
  The L2-optimal prediction is their mean, the optimum of the per-channel L1 loss |a - a0| + |b - b0| their
  per-channel median, the optimum of the Euclidean L1 loss ||ab - ab0|| their geometric median; all three are
  fitted by gradient descent here and their chroma C* = sqrt(a*^2 + b*^2) is compared with the mean chroma of
  the plausible colours. Each lies in the convex hull of the colours, so its chroma is at most theirs
  (desaturated); it is gray only when the colours surround the gray axis (Zhang, Isola & Efros, "Colorful
  Image Colorization", ECCV 2016, section 2.1).
"""
from __future__ import annotations

import torch
from torch import Tensor

from ..core.color import chroma, delta_e2000, lab_to_rgb, linear_to_srgb, rgb_to_lab, srgb_to_linear

# Colour ramps (sRGB endpoints) walked by step_uniformity.
RAMPS = {
    "black->white": ((0.0, 0.0, 0.0), (1.0, 1.0, 1.0)),
    "black->red": ((0.0, 0.0, 0.0), (1.0, 0.0, 0.0)),
    "blue->yellow": ((0.0, 0.0, 1.0), (1.0, 1.0, 0.0)),
}

# Plausible colours of one object that share L* = 65: seven car paints around the hue circle at chroma 36
# (red, yellow, green, teal, cyan-blue, blue, purple), as (a*, b*); all inside the sRGB gamut.
CAR_COLOURS_AB = ((32.0, 16.0), (8.0, 35.0), (-22.0, 28.0), (-36.0, 0.0), (-22.0, -28.0), (8.0, -35.0), (32.0, -16.0))
CAR_L = 65.0
# Plausible colours of an object that are all warm (a tulip, say) at L* = 60: crimson, red, red-orange, orange,
# amber, yellow (hue angles 15..88 degrees, chroma 55..62) and a dull ochre (hue 65, chroma 30), as (a*, b*);
# all inside the sRGB gamut. Unlike the car paints they do NOT surround the gray axis.
WARM_COLOURS_AB = ((53.1, 14.2), (53.7, 31.0), (46.1, 41.5), (34.4, 49.1), (19.8, 54.5), (2.1, 60.0), (12.7, 27.2))
WARM_L = 60.0
# The losses regression_to_the_mean fits, on the differences d = T_ab - P_ab (n, 2): name -> loss.
LOSSES = {
    "l1": lambda d: d.abs().sum(1).mean(),  # |a - a0| + |b - b0|: per-channel median
    "l1_euclidean": lambda d: d.norm(dim=1).mean(),  # ||ab - ab0||: geometric median
    "l2": lambda d: (d**2).sum(1).mean(),  # ||ab - ab0||^2: mean
}


def _as_image(colours: Tensor) -> Tensor:
    """(n, 3) colours -> a (3, 1, n) image, the layout the colour functions take."""
    return colours.T.reshape(3, 1, -1)


def _as_colours(image: Tensor) -> Tensor:
    """(3, 1, n) image -> (n, 3) colours."""
    return image.reshape(3, -1).T


def _lab_path(start: Tensor, end: Tensor, n: int, space: str) -> Tensor:
    """n + 1 colours from start to end (sRGB triples) in equal steps of ``space``, as Lab (n + 1, 3)."""
    t = torch.linspace(0.0, 1.0, n + 1, dtype=torch.float64)[:, None]
    ends = _as_image(torch.stack((start, end)))
    if space == "srgb":
        a, b = _as_colours(ends)
        return _as_colours(rgb_to_lab(_as_image(a + t * (b - a))))
    if space == "linear_rgb":
        a, b = _as_colours(srgb_to_linear(ends))
        return _as_colours(rgb_to_lab(linear_to_srgb(_as_image(a + t * (b - a)))))
    if space == "lab":
        a, b = _as_colours(rgb_to_lab(ends))
        return a + t * (b - a)
    raise ValueError(f"unknown space {space!r}: use 'srgb', 'linear_rgb' or 'lab'")


def step_uniformity(n_steps: int = 16) -> dict[str, dict[str, float]]:
    """For each ramp and space: CIEDE2000 size of each of n_steps equal steps, summarised.

    Returns {ramp: {space: coefficient of variation of the step sizes (std / mean)}}; 0 = uniform.
    """
    return {name: {space: float(steps.std() / steps.mean()) for space, steps in by_space.items()}
            for name, by_space in ramp_steps(n_steps).items()}


def ramp_steps(n_steps: int = 16) -> dict[str, dict[str, Tensor]]:
    """{ramp: {space: the CIEDE2000 size of each of n_steps equal steps}} for every ramp of ``RAMPS`` stepped in
    sRGB, linear RGB and Lab."""
    out: dict[str, dict[str, Tensor]] = {}
    for name, (a, b) in RAMPS.items():
        start, end = torch.tensor(a, dtype=torch.float64), torch.tensor(b, dtype=torch.float64)
        out[name] = {space: step_sizes(start, end, n_steps, space) for space in ("srgb", "linear_rgb", "lab")}
    return out


def step_sizes(start: Tensor, end: Tensor, n_steps: int, space: str) -> Tensor:
    """dE00 between consecutive colours of an equal-step ramp from start to end (sRGB) in ``space``."""
    lab = _lab_path(start, end, n_steps, space)
    return delta_e2000(_as_image(lab[:-1]), _as_image(lab[1:])).reshape(-1)


def ab_planes(levels=(25.0, 50.0, 75.0, 95.0), extent: float = 110.0) -> dict[float, tuple[Tensor, Tensor]]:
    """{L*: :func:`ab_plane` at L*} for several luminances."""
    return {float(L): ab_plane(L, extent) for L in levels}


def ab_plane(L: float, extent: float = 110.0, n: int = 221) -> tuple[Tensor, Tensor]:
    """sRGB picture of the a*b* plane at luminance L (a* right, b* up) and its in-gamut mask (n, n)."""
    ab = torch.linspace(-extent, extent, n, dtype=torch.float64)
    b, a = torch.meshgrid(ab.flip(0), ab, indexing="ij")
    lab = torch.stack((torch.full_like(a, L), a, b))
    rgb, clipped = lab_to_rgb(lab, return_clipped=True)
    return rgb, ~clipped


def regression_to_the_mean(
    ab: tuple[tuple[float, float], ...] = CAR_COLOURS_AB, L: float = CAR_L, steps: int = 400
) -> dict[str, float]:
    """Fit one a*b* prediction P_ab to the plausible colours T_ab under each loss of ``LOSSES`` (Adam from 0).

    For a pixel whose colour is any of the plausible colours with equal probability, the prediction that
    minimises E(|P_a - T_a| + |P_b - T_b|) is the per-channel median, E||P_ab - T_ab|| the geometric median and
    E||P_ab - T_ab||^2 the mean. Returns the fitted predictions ("<loss>_prediction_a", "_b"), their chroma next
    to the mean chroma of the colours, and their mean CIEDE2000 to the colours.
    """
    colours = torch.tensor(ab, dtype=torch.float64)
    fitted = {}
    for name, loss in LOSSES.items():
        pred = torch.zeros(2, dtype=torch.float64, requires_grad=True)
        opt = torch.optim.Adam([pred], lr=2.0)
        decay = torch.optim.lr_scheduler.LambdaLR(opt, lambda i: 1.0 - i / steps)  # settles on the minimiser
        for _ in range(steps):
            opt.zero_grad()
            loss(colours - pred).backward()
            opt.step()
            decay.step()
        fitted[name] = pred.detach()

    def lab(ab2):
        return torch.cat((torch.tensor([L], dtype=torch.float64), ab2)).view(3, 1, 1)

    mean_chroma = float(colours.norm(dim=1).mean())
    out = {"mean_chroma_of_colours": mean_chroma}
    for name, pred in fitted.items():
        out[f"{name}_prediction_a"] = float(pred[0])
        out[f"{name}_prediction_b"] = float(pred[1])
        out[f"{name}_prediction_chroma"] = float(chroma(lab(pred)).squeeze())
        de = [float(delta_e2000(lab(pred), lab(c)).squeeze()) for c in colours]
        out[f"{name}_mean_delta_e2000_to_colours"] = sum(de) / len(de)
    return out
