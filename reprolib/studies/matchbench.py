"""Speed and peak memory of :func:`reprolib.colorization.matching.match` on a 256 x 256 photo pair, shared by
``benchmarks/bench_matching.py`` and ``python -m reprolib reproduce``.

Each method runs in a fresh Python process (``python -m reprolib.studies.matchbench METHOD SIZE REPEATS [PAIR.pt]``),
so that its peak resident memory (``ru_maxrss``) is its own: the figure reported is that peak minus the
resident memory just before the first call (torch, the model, the two 256 x 256 inputs, which the parent
prepares, so that decoding the full-size photos does not set the peak). The model has the VGG-19
layout (the paper's gray-VGG-19 sizes: 64 ... 512 channels) with random weights: the time does not depend
on the weights. Times are wall-clock medians after one warm-up call, with torch's default threads.
"""
from __future__ import annotations

import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time

import torch

from ..colorization.matching import METHODS

PAIR = ("flower.jpg", "rocket.jpg")  # data/photos, see its README.md


def peak_rss_mb() -> float:
    """This process's peak resident memory so far, MB (ru_maxrss)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux: kilobytes


def current_rss_mb() -> float:
    """This process's resident memory now, MB."""
    with open("/proc/self/statm") as f:  # Linux: pages
        return int(f.read().split()[1]) * resource.getpagesize() / 2**20


def _pair(size: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    import torch.nn.functional as F

    from ..core.color import rgb_to_lab
    from ..core.photos import load_photo

    lab = [rgb_to_lab(F.interpolate(load_photo(n)[None], size=(size, size), mode="area").clamp(0, 1)) for n in PAIR]
    return lab[0][:, :1], lab[1][:, :1], lab[1][:, 1:]


def measure(method: str, size: int = 256, repeats: int = 3, pair: tuple | None = None) -> dict:
    """In this process: median seconds of ``match(model, T_L, R_L, R_ab, method=method)`` on a size x size
    pair with a VGG-19-sized gray-VGG, the stages (features, fields, maps) of one call, and the peak
    memory above the baseline."""
    from ..colorization import matching
    from ..colorization.grayvgg import GrayVGG

    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    torch.manual_seed(0)
    model = GrayVGG().eval()
    T_L, R_L, R_ab = _pair(size) if pair is None else pair
    base = current_rss_mb()
    matching.match(model, T_L, R_L, R_ab, method=method)  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        matching.match(model, T_L, R_L, R_ab, method=method)
        times.append(time.perf_counter() - start)
    return {"seconds": statistics.median(times), "peak_mb": round(peak_rss_mb() - base, 1),
            "threads": torch.get_num_threads()}


def measure_in_subprocess(method: str, size: int = 256, repeats: int = 3, timeout: float = 600) -> dict:
    """:func:`measure` in a fresh interpreter (its own peak memory); raises RuntimeError if it fails."""
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "pair.pt")
        torch.save(_pair(size), path)
        cmd = [sys.executable, "-m", "reprolib.studies.matchbench", method, str(size), str(repeats), path]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        raise RuntimeError(f"matchbench {method} failed: {done.stderr.strip().splitlines()[-1:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def time_colorize(size: int = 256, repeats: int = 3, features: str = "grayvgg_small_synthetic") -> float:
    """Median wall seconds of :func:`reprolib.colorization.colorize.colorize` on a size x size photo pair (features,
    matching, network, colour conversion; models loaded beforehand), after one warm-up call."""
    import torch.nn.functional as F

    from ..colorization.colorize import colorize
    from ..colorization.colornet import load_colornet
    from ..colorization.grayvgg_weights import load_extractor
    from ..core.photos import load_photo

    model, net = load_extractor(features), load_colornet()
    t, r = (F.interpolate(load_photo(n)[None], size=(size, size), mode="area")[0].clamp(0, 1) for n in PAIR)
    colorize(t, r, features=model, net=net, size=size)
    return statistics.median(colorize(t, r, features=model, net=net, size=size).seconds for _ in range(repeats))


if __name__ == "__main__":
    method, size, repeats = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    pair = tuple(torch.load(sys.argv[4], weights_only=True)) if len(sys.argv) > 4 else None
    print(json.dumps(measure(method, size, repeats, pair)))
