"""Study: how the cost of ``colorize`` and of the similarity sub-net grows with the pixel count (``make bench``,
results.json["scaling"]).

For each working size of ``SIZES`` (target and reference both that size), each extractor (the offline photo
gray-VGG, and VGG-16: ImageNet's when this machine has it, else the same layout with random weights, whose
time is the same) and each method, one fresh process measures, in this order:

* ``features``: the gray-VGG forward passes of the two images alone, the floor that no matching can beat;
* ``match``: the similarity sub-net (features, both fields, R'_ab, the 10 maps) by colorize's route;
* ``colorize``: the whole pipeline as the command line runs it with ``--no-chooser`` (that method, one matcher,
  no network, so no similarity maps); the Chooser's three matchers are timed in notebook 05 and the README.

Wall seconds after one warm-up call at 64 x 64, and the process's peak resident memory above its baseline
after each stage (the stages include one another, so the peaks only grow). A cell whose exhaustive search
(exact or attention) would pass ``colorize.EXACT_BUDGET`` multiply-adds is not run: colorize refuses it, and
the study reports the estimate.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time

import torch

from ..core.files import OutputDir
from .matchbench import current_rss_mb, peak_rss_mb
from .report import Step, table

SIZES = ((256, 256), (384, 512), (768, 1024))  # (H, W) working sizes: 0.07, 0.2 and 0.8 megapixels
EXTRACTORS = ("photo", "vgg16")
METHODS = ("exact", "patchmatch", "attention")
PAIR = ("flower.jpg", "rocket.jpg")  # data/photos


def _above(base: float) -> float:
    """The peak resident memory above ``base`` MB; the two counters round differently, so a peak that has not
    grown can read a fraction of a MB below the baseline: that is 0."""
    return round(max(0.0, peak_rss_mb() - base), 1)


def _extractor(name: str):
    """(gray-VGG, what it is): "vgg16" falls back to VGG-16's layout with random weights when no weights are here."""
    from ..colorization.grayvgg import ARCHS, GrayVGG
    from ..colorization.grayvgg_weights import load_extractor

    try:
        model = load_extractor(name)
        return model, re.sub(r"(/[^\s/()]+)+/", "", model.source)  # no machine paths in results.json
    except (FileNotFoundError, ValueError):
        if name != "vgg16":
            raise
        torch.manual_seed(0)
        return GrayVGG(ARCHS["vgg16"]).eval(), "VGG-16 layout, random weights (no ImageNet weights here)"


def search_cost(model, method: str, size: tuple[int, int]) -> int:
    """Multiply-adds of the exhaustive search of ``method`` at ``size`` (0 for PatchMatch, which is linear)."""
    from ..colorization.grayvgg import VID_LAYERS
    from ..colorization.matching import ATTENTION_STRIDE, exact_cost
    from ..colorization.pipelines import exact_route_cost

    if method == "exact":
        return exact_route_cost(model, size, size)
    if method == "attention":
        n = (size[0] // ATTENTION_STRIDE) * (size[1] // ATTENTION_STRIDE)
        return exact_cost(n, n, sum(model.channels(k) for k in VID_LAYERS if k in model.layer_names))
    return 0


def measure(extractor: str, method: str, size: tuple[int, int], device: str = "cpu") -> dict:
    """One cell, in this process: seconds and peak MB of the forward passes, ``match`` and ``colorize``."""
    import torch.nn.functional as F

    from ..colorization.colorize import colorize
    from ..colorization.grayvgg import DEC_LAYERS
    from ..colorization.matching import PHOTO_FIELD, method_layers
    from ..colorization.pipelines import WarpSmoothed
    from ..core.color import rgb_to_lab
    from ..core.devices import resolve_device
    from ..core.photos import load_photo

    where = resolve_device(device)
    model, source = _extractor(extractor)
    model.to(where)
    rgb = [F.interpolate(load_photo(n)[None], size=size, mode="area")[0].clamp(0, 1) for n in PAIR]
    lab = [rgb_to_lab(x)[None].to(where) for x in rgb]
    extra = method_layers(method, PHOTO_FIELD)
    layers = tuple(dict.fromkeys(k for k in (*DEC_LAYERS, *extra) if k in model.layer_names))
    route = WarpSmoothed(method=method)  # colorize --no-chooser: one matcher
    small = [x[..., :64, :64] for x in lab]

    def sync() -> None:
        if where.type == "cuda":
            torch.cuda.synchronize()

    def timed(fn) -> float:
        sync()
        start = time.perf_counter()
        fn()
        sync()
        return round(time.perf_counter() - start, 3)

    out: dict = {"extractor": extractor, "source": source, "method": method, "size": list(size),
                 "megapixels": round(size[0] * size[1] / 1e6, 3), "device": str(where),
                 "threads": torch.get_num_threads()}
    with torch.no_grad():
        route.match(model, small[0][:, :1], small[1])  # warm-up, small
        base = current_rss_mb()
        out["features_s"] = timed(lambda: (model(lab[0][:, :1], layers), model(lab[1][:, :1], layers)))
        out["features_peak_mb"] = _above(base)
        out["match_s"] = timed(lambda: route.match(model, lab[0][:, :1], lab[1]))
        out["match_peak_mb"] = _above(base)
        out["colorize_s"] = timed(lambda: colorize(rgb[0], rgb[1], features=model, size=min(size), method=method,
                                                   device=device, maps=False, chooser=False))  # one matcher
        out["colorize_peak_mb"] = _above(base)
    out["colorize_over_features"] = round(out["colorize_s"] / out["features_s"], 2)
    return out


def measure_in_subprocess(extractor: str, method: str, size: tuple[int, int], device: str = "cpu",
                          timeout: float = 900) -> dict:
    """:func:`measure` in a fresh interpreter (its own peak memory); raises RuntimeError if it fails."""
    cmd = [sys.executable, "-m", "reprolib.studies.scaling", extractor, method, f"{size[0]}x{size[1]}", device]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=dict(os.environ))
    if done.returncode != 0:
        raise RuntimeError(f"scaling {extractor} {method} {size}: {done.stderr.strip().splitlines()[-1:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def study(sizes=SIZES, extractors=EXTRACTORS, methods=METHODS, device: str = "cpu", step: Step = print) -> dict:
    """Every cell (or its estimated search cost where colorize would refuse it), keyed "extractor/method/HxW"."""
    from ..colorization.pipelines import EXACT_BUDGET

    cells = {}
    for extractor in extractors:
        model, _ = _extractor(extractor)
        for size in sizes:
            for method in methods:
                key = f"{extractor}/{method}/{size[0]}x{size[1]}"
                cost = search_cost(model, method, size)
                if method == "attention" and "relu5_2" not in model.layer_names:
                    cells[key] = {"skipped": "this gray-VGG has no relu5_2 (attention compares relu2_2 ... relu5_2)"}
                elif cost > EXACT_BUDGET:
                    cells[key] = {"skipped": f"search of {cost:.1e} multiply-adds, over colorize's budget of "
                                             f"{EXACT_BUDGET:.0e}", "search_multiply_adds": cost}
                else:
                    step(f"scaling: {key}")
                    cells[key] = measure_in_subprocess(extractor, method, size, device)
    return cells


def run(out: OutputDir, quick: bool, step: Step) -> tuple[dict, str]:
    """The scaling benchmark (the two smaller sizes with ``quick``) and its figure."""
    from ..figures import plots

    sizes = SIZES[:2] if quick else SIZES
    device = os.environ.get("REPROLIB_DEVICE", "cpu")
    cells = study(sizes, device=device, step=step)
    out.save_figure("figures/scaling.png", plots.scaling_plot(cells))
    rows = []
    for key, c in cells.items():
        if "skipped" in c:
            rows.append((key, "-", "-", "-", "-", c["skipped"]))
        else:
            rows.append((key, f"{c['features_s']:.2f}", f"{c['match_s']:.2f}", f"{c['colorize_s']:.2f}",
                         f"{c['colorize_over_features']:.2f}", f"peak {c['colorize_peak_mb']:.0f} MB"))
    gpu = ("on " + device) if device != "cpu" else "on the CPU only (no GPU was at hand for this run)"
    md = f"""## Scaling: seconds and memory against the pixel count (`make bench`)

Target and reference both at the working size; one fresh process per row, {gpu},
{torch.get_num_threads()} threads. features: the gray-VGG forward passes of the two images alone (the floor);
match: the similarity sub-net by colorize's route; colorize: end to end. Rows over colorize's exact-search
budget are not run (colorize refuses them; `--method auto` takes PatchMatch there).

{table(("extractor/method/size", "features s", "match s", "colorize s", "colorize / features", "memory / note"), rows)}

![scaling](figures/scaling.png)
"""
    return {"cells": cells, "device": device}, md


if __name__ == "__main__":
    extractor, method, hw, device = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
    h, w = (int(v) for v in hw.split("x"))
    print(json.dumps(measure(extractor, method, (h, w), device)))
