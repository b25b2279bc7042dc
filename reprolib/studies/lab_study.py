"""Study: Lab colour (notebook 01). Exactness and speed of ``rgb_to_lab``, perceptual uniformity, why L1 goes gray."""
from __future__ import annotations

from ..core.files import OutputDir
from ..core.jobs import Job, run_jobs
from ..core.photos import load_photo
from ..figures import lab as lab_figures
from . import colorbench, lab
from .report import Step, table

# The photo shown in the Lab figure (data/photos, CC BY 2.0, see its README).
LAB_PHOTO = "flower.jpg"


def jobs(quick: bool) -> dict[str, Job]:
    """Exactness over the RGB cube, perceptual uniformity and regression to the mean (the speed is not a job)."""
    return {"exactness": Job(colorbench.exactness, dict(step=8 if quick else 1), cost=15),
            "uniformity": Job(lab.step_uniformity, cost=2), "l1_gray": Job(lab.regression_to_the_mean, cost=5),
            "l1_warm": Job(lab.regression_to_the_mean, dict(ab=lab.WARM_COLOURS_AB, L=lab.WARM_L), cost=5)}


def run(out: OutputDir, quick: bool, step: Step, done: dict | None = None) -> tuple[dict, str]:
    """Study note points 1-2: exact Lab, its speed, perceptual uniformity, why L1 goes gray (``done``: the
    results of :func:`jobs`, when ``reproduce`` ran them; the speed is measured here)."""
    done = run_jobs(jobs(quick), 1, step)[0] if done is None else done
    exact, uniformity, gray, warm = done["exactness"], done["uniformity"], done["l1_gray"], done["l1_warm"]
    step("Lab: rgb_to_lab speed on 1024 x 1024 against OpenCV and scikit-image")
    timing = colorbench.time_rgb_to_lab(size=1024, repeats=3 if quick else 10)
    step("Lab: figures")
    figures = {
        "figures/lab_channels.png": lab_figures.rgb_vs_lab_channels(load_photo(LAB_PHOTO)),
        "figures/ab_planes.png": lab_figures.ab_planes(lab.ab_planes()),
        "figures/step_uniformity.png": lab_figures.step_uniformity_plot(lab.ramp_steps()),
        "figures/l1_gray.png": lab_figures.regression_to_the_mean_plot(lab.CAR_COLOURS_AB, lab.CAR_L, gray),
        "figures/l1_warm.png": lab_figures.regression_to_the_mean_plot(lab.WARM_COLOURS_AB, lab.WARM_L, warm),
    }
    for name, fig in figures.items():
        out.save_figure(name, fig)
    results = {"exactness": exact, "timing_ms": timing, "step_uniformity_cv": uniformity, "l1_gray": gray,
               "l1_warm": warm}

    ms = {k: v for k, v in timing.items() if k in colorbench.IMPLEMENTATIONS and v is not None}
    opencv = timing.get("opencv_float32")
    speed_rows = [(k, f"{v:.1f}", f"{v / opencv:.2f}x" if opencv else "n/a") for k, v in ms.items()]
    uni_rows = [(ramp, *(f"{cv:.3f}" for cv in by_space.values())) for ramp, by_space in uniformity.items()]
    md = f"""## Lab colour (notebook 01)

Exactness (float64, {exact['grid_points']:,} points of the RGB cube): max |Lab - scikit-image| =
{exact['max_abs_diff_skimage']:.2e}; round trip max |rgb - lab_to_rgb(rgb_to_lab(rgb))| = \
{exact['roundtrip_max_abs']:.2e}.

`rgb_to_lab` on a 1024 x 1024 float32 image, median of repeated runs
(OpenCV's float32 conversion is {timing.get('opencv_max_delta_e76', float('nan')):.2f} dE76 off at worst; \
ours matches scikit-image to float rounding):

{table(("implementation", "ms", "vs OpenCV"), speed_rows)}

Equal steps along three ramps: coefficient of variation of the CIEDE2000 step sizes (0 = perceptually uniform):

{table(("ramp", "sRGB", "linear RGB", "Lab"), uni_rows)}

![steps](figures/step_uniformity.png)

Why regression desaturates: the {len(lab.CAR_COLOURS_AB)} plausible colours of an object, all at L* = {lab.CAR_L:g}
and around the gray axis, have mean chroma {gray['mean_chroma_of_colours']:.1f}; the L2-optimal single prediction
(their mean) has chroma {gray['l2_prediction_chroma']:.1f}, the per-channel L1 optimum (their median)
{gray['l1_prediction_chroma']:.1f}, the Euclidean L1 optimum (geometric median)
{gray['l1_euclidean_prediction_chroma']:.1f}.
For {len(lab.WARM_COLOURS_AB)} warm colours on one side of the gray axis (L* = {lab.WARM_L:g}, mean chroma
{warm['mean_chroma_of_colours']:.1f}) the three optima keep chroma {warm['l2_prediction_chroma']:.1f} /
{warm['l1_prediction_chroma']:.1f} / {warm['l1_euclidean_prediction_chroma']:.1f}: desaturated (and of a mean hue),
not gray.

![gray](figures/l1_gray.png)

![warm](figures/l1_warm.png)

![channels](figures/lab_channels.png)

![ab planes](figures/ab_planes.png)
"""
    return results, md
