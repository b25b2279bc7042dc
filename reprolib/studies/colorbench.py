"""Exactness and speed of :func:`reprolib.core.color.rgb_to_lab`, shared by ``benchmarks/bench_color.py`` and
``python -m reprolib reproduce``.

* :func:`exactness` compares ``rgb_to_lab`` with scikit-image (the reference) over a grid of the RGB cube
  in float64, and checks the round trip through ``lab_to_rgb``. scikit-image is required (it comes with
  the ``test`` extra); without it :func:`exactness` raises ImportError, since there is nothing to compare with.
* :func:`time_rgb_to_lab` times ours against plain eager torch (:func:`rgb_to_lab_naive`), OpenCV's float32
  ``cvtColor`` and scikit-image, each only when importable (else its time is None).
"""
from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import numpy as np
import torch
from torch import Tensor

from ..core.color import WHITE_D65, XYZ_FROM_RGB, delta_e76, lab_to_rgb, rgb_to_lab

# The implementations time_rgb_to_lab reports a median time (ms) for, in report order.
IMPLEMENTATIONS = ("reprolib", "torch_naive", "opencv_float32", "skimage")


def rgb_to_lab_naive(rgb: Tensor) -> Tensor:
    """The textbook formula in plain eager torch (torch.where, **, einsum): the baseline of the benchmark."""
    lin = torch.where(rgb > 0.04045, ((rgb + 0.055) / 1.055) ** 2.4, rgb / 12.92)
    m = torch.tensor(XYZ_FROM_RGB, dtype=rgb.dtype, device=rgb.device)
    white = torch.tensor(WHITE_D65, dtype=rgb.dtype, device=rgb.device).view(3, 1, 1)
    t = torch.einsum("ij,...jhw->...ihw", m, lin) / white
    f = torch.where(t > 0.008856, t ** (1.0 / 3.0), 7.787 * t + 16.0 / 116.0)
    fx, fy, fz = f.unbind(-3)
    return torch.stack((116.0 * fy - 16.0, 500.0 * (fx - fy), 200.0 * (fy - fz)), dim=-3)


def _import_skimage_color():
    try:
        from skimage import color as skcolor
    except ImportError:
        return None
    return skcolor


def _import_cv2():
    try:
        import cv2
    except ImportError:
        return None
    return cv2


def exactness(step: int = 4, chunk_points: int = 1 << 20) -> dict:
    """Max |rgb_to_lab - skimage.color.rgb2lab| over the RGB cube in float64, and the round trip.

    The grid holds the 8-bit levels k/255 for k = 0, step, 2 step, ... plus 255, in R, G and B
    (step=1: all 256^3 = 16.8 M colours; step=4: 65^3), processed ``chunk_points`` colours at a time.
    Returns {"max_abs_diff_skimage", "max_abs_diff_skimage_float32" (ours in float32 against the float64
    reference), "roundtrip_max_abs" (max |lab_to_rgb(rgb_to_lab(x)) - x|, float64), "grid_points", "step"}.
    Raises ImportError when scikit-image is not installed.
    """
    skcolor = _import_skimage_color()
    if skcolor is None:
        raise ImportError("colorbench.exactness needs scikit-image as its reference: pip install -e '.[test]'")
    if step < 1:
        raise ValueError(f"step must be >= 1, got {step}")
    levels = sorted(set(range(0, 256, step)) | {255})
    v = torch.tensor(levels, dtype=torch.float64) / 255.0
    n = len(v)
    g, b = torch.meshgrid(v, v, indexing="ij")  # (n, n): one R plane of the cube
    r_per_chunk = max(1, chunk_points // (n * n))
    worst64 = worst32 = worst_rt = 0.0
    with torch.no_grad():
        for i in range(0, n, r_per_chunk):
            r = v[i : i + r_per_chunk].view(-1, 1, 1).expand(-1, n, n)
            rgb = torch.stack((r, g.expand_as(r), b.expand_as(r)), dim=0).reshape(3, -1, n)  # (3, k*n, n)
            ref = torch.from_numpy(skcolor.rgb2lab(rgb.permute(1, 2, 0).numpy())).permute(2, 0, 1)
            lab = rgb_to_lab(rgb)
            worst64 = max(worst64, (lab - ref).abs().max().item())
            worst32 = max(worst32, (rgb_to_lab(rgb.float()).double() - ref).abs().max().item())
            worst_rt = max(worst_rt, (lab_to_rgb(lab) - rgb).abs().max().item())
    return {
        "max_abs_diff_skimage": worst64,
        "max_abs_diff_skimage_float32": worst32,
        "roundtrip_max_abs": worst_rt,
        "grid_points": n**3,
        "step": step,
    }


def _median_ms(fns: dict[str, tuple[Callable[[], object], int]], repeats: int) -> dict[str, float]:
    """One warm-up call each, then ``repeats`` rounds in which every function (up to its own limit) runs once."""
    times: dict[str, list[float]] = {name: [] for name in fns}
    for fn, _ in fns.values():
        fn()
    for round_ in range(repeats):
        for name, (fn, limit) in fns.items():
            if round_ < limit:
                start = time.perf_counter()
                fn()
                times[name].append(time.perf_counter() - start)
    return {name: 1e3 * statistics.median(t) for name, t in times.items()}


def time_rgb_to_lab(size: int = 1024, repeats: int = 10, seed: int = 0) -> dict:
    """Median milliseconds of sRGB -> Lab on one seeded (3, size, size) float32 image.

    Keys: the names of IMPLEMENTATIONS (None where the library is missing; scikit-image runs at most
    3 times, it is slow), "ratio_to_opencv" (reprolib / opencv_float32), "opencv_max_delta_e76" (largest
    CIE76 difference between OpenCV's float32 result and the exact float64 one; NaN, like the ratio, without
    OpenCV), "size", "repeats", "threads" (torch.get_num_threads()).
    Runs without autograd (inputs do not require grad), with the default thread settings of each library.
    """
    gen = torch.Generator().manual_seed(seed)
    rgb = torch.rand(3, size, size, generator=gen, dtype=torch.float32)
    hwc = np.ascontiguousarray(rgb.permute(1, 2, 0).numpy())
    cv2 = _import_cv2()
    skcolor = _import_skimage_color()
    fns: dict[str, tuple[Callable[[], object], int]] = {
        "reprolib": (lambda: rgb_to_lab(rgb), repeats),
        "torch_naive": (lambda: rgb_to_lab_naive(rgb), repeats),
    }
    if cv2 is not None:
        fns["opencv_float32"] = (lambda: cv2.cvtColor(hwc, cv2.COLOR_RGB2Lab), repeats)
    if skcolor is not None:
        fns["skimage"] = (lambda: skcolor.rgb2lab(hwc), min(repeats, 3))
    ms = _median_ms(fns, max(1, repeats))
    result: dict = {name: ms.get(name) for name in IMPLEMENTATIONS}
    nan = float("nan")
    result["ratio_to_opencv"] = ms["reprolib"] / ms["opencv_float32"] if cv2 is not None else nan
    if cv2 is not None:
        cv_lab = torch.from_numpy(cv2.cvtColor(hwc, cv2.COLOR_RGB2Lab)).permute(2, 0, 1).double()
        result["opencv_max_delta_e76"] = delta_e76(cv_lab, rgb_to_lab(rgb.double())).max().item()
    else:
        result["opencv_max_delta_e76"] = nan
    result.update(size=size, repeats=repeats, threads=torch.get_num_threads())
    return result
