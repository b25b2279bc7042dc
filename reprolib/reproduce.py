"""``python -m reprolib reproduce``: run every experiment, write ``results.json`` and ``REPORT.md``.

Each experiment is a function ``(out, quick, step) -> (results, markdown)``: it writes its figures into
``out`` (an OutputDir, which refuses names outside the folder), reports progress through ``step``,
and returns its figures for ``results.json`` (one top-level key per experiment) and a REPORT section.
"""
from __future__ import annotations

import json
import platform
import time
from collections.abc import Callable

import torch
from tqdm.auto import tqdm

from . import colorbench, evaluation, features, labstudy, matchbench, matching, metrics, plots, scenes, train
from .files import OutputDir
from .photos import load_photo

Step = Callable[[str], None]

# The photo shown in the Lab figure (data/photos, CC BY 2.0, see data/photos/README.md).
LAB_PHOTO = "flower.jpg"


def _table(header: tuple[str, ...], rows: list[tuple]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def lab_experiment(out: OutputDir, quick: bool, step: Step) -> tuple[dict, str]:
    """Study note points 1-2: exact Lab, its speed, perceptual uniformity, why L1 goes gray."""
    step("Lab: exactness against scikit-image over the RGB cube")
    exact = colorbench.exactness(step=8 if quick else 1)
    step("Lab: rgb_to_lab speed on 1024 x 1024 against OpenCV and scikit-image")
    timing = colorbench.time_rgb_to_lab(size=1024, repeats=3 if quick else 10)
    step("Lab: perceptual uniformity and regression to the mean")
    uniformity = labstudy.step_uniformity()
    gray = labstudy.regression_to_the_mean()
    step("Lab: figures")
    figures = {
        "figures/lab_channels.png": plots.rgb_vs_lab_channels(load_photo(LAB_PHOTO)),
        "figures/ab_planes.png": plots.ab_planes(),
        "figures/step_uniformity.png": plots.step_uniformity_plot(),
        "figures/l1_gray.png": plots.regression_to_the_mean_plot(labstudy.CAR_COLOURS_AB, labstudy.CAR_L, gray),
    }
    for name, fig in figures.items():
        out.save_figure(name, fig)
    results = {"exactness": exact, "timing_ms": timing, "step_uniformity_cv": uniformity, "l1_gray": gray}

    ms = {k: v for k, v in timing.items() if k in colorbench.IMPLEMENTATIONS and v is not None}
    opencv = timing.get("opencv_float32")
    speed_rows = [(k, f"{v:.1f}", f"{v / opencv:.2f}x" if opencv else "n/a") for k, v in ms.items()]
    uni_rows = [(ramp, *(f"{cv:.3f}" for cv in by_space.values())) for ramp, by_space in uniformity.items()]
    md = f"""## Lab colour (notebook 01)

Exactness (float64, {exact['grid_points']:,} points of the RGB cube): max |Lab - scikit-image| =
{exact['max_abs_diff_skimage']:.2e}; round trip max |rgb - lab_to_rgb(rgb_to_lab(rgb))| = {exact['roundtrip_max_abs']:.2e}.

`rgb_to_lab` on a 1024 x 1024 float32 image, median of repeated runs
(OpenCV's float32 conversion is {timing.get('opencv_max_delta_e76', float('nan')):.2f} dE76 off at worst; ours matches scikit-image to float rounding):

{_table(("implementation", "ms", "vs OpenCV"), speed_rows)}

Equal steps along three ramps: coefficient of variation of the CIEDE2000 step sizes (0 = perceptually uniform):

{_table(("ramp", "sRGB", "linear RGB", "Lab"), uni_rows)}

![steps](figures/step_uniformity.png)

Why L1 goes gray: the {len(labstudy.CAR_COLOURS_AB)} plausible colours of an object, all at L* = {labstudy.CAR_L:g},
have mean chroma {gray['mean_chroma_of_colours']:.1f}; the L2-optimal single prediction (their mean) has chroma
{gray['l2_prediction_chroma']:.1f}, the L1-optimal one (their median) {gray['l1_prediction_chroma']:.1f}.

![gray](figures/l1_gray.png)

![channels](figures/lab_channels.png)

![ab planes](figures/ab_planes.png)
"""
    return results, md


def features_experiment(out: OutputDir, quick: bool, step: Step) -> tuple[dict, str]:
    """The synthetic world and the gray-VGG: do features of L alone find the same class in another scene?"""
    step("features: scenes per second")
    scenes_per_s = scenes.scenes_per_second(size=64, n=256 if quick else 1024, repeats=3, threads=1)
    step("features: held-out accuracy of the shipped small gray-VGG")
    model = features.grayvgg_small()
    accuracy = train.evaluate_grayvgg(model, n=64 if quick else 256)
    step("features: nearest-neighbour label agreement, trained vs random weights")
    n_pairs = 8 if quick else 32
    random = features.random_like(model, seed=0)
    agreement = {"layer": metrics.DEFAULT_LAYER, "n_pairs": n_pairs,
                 "trained": metrics.nn_label_agreement(model, n_pairs=n_pairs),
                 "random": metrics.nn_label_agreement(random, n_pairs=n_pairs),
                 "chance": metrics.chance_agreement(n_pairs=n_pairs)}
    step("features: figures")
    target, reference = scenes.sample_pairs(train.heldout_seed(0), 4)
    matches = {name: metrics.nearest_neighbours(net, target.L, reference.L)
               for name, net in (("trained", model), ("random", random))}
    out.save_figure("figures/nn_label_transfer.png",
                    plots.nn_label_transfer(target, reference, matches, len(scenes.CLASSES)))
    results = {"grayvgg_heldout_accuracy": accuracy, "nn_label_agreement": agreement,
               "scenes_per_second_64": scenes_per_s, "grayvgg": model.source}
    md = f"""## Synthetic world and gray-VGG features (notebook 02, first half)

- Synthetic scenes: {len(scenes.CLASSES)} classes ({", ".join(scenes.CLASSES)}), {scenes_per_s:,.0f} scenes/s at 64 x 64 (one thread).
- Shipped small gray-VGG (`data/grayvgg_small.pt`, trained from L only): held-out per-pixel class accuracy
  **{accuracy:.3f}** on {64 if quick else 256} fresh scenes.
- Cosine nearest neighbour at {agreement['layer']} (features upsampled to pixels) lands on the same class for
  **{agreement['trained']:.3f}** of target pixels with the trained weights, {agreement['random']:.3f} with the
  same net at random weights, {agreement['chance']:.3f} by chance ({n_pairs} held-out pairs).

![nearest neighbours](figures/nn_label_transfer.png)
"""
    return results, md


def insertion_experiment(out: OutputDir, quick: bool, step: Step) -> tuple[dict, str]:
    """Inserting Videos into Videos in miniature: real- and fake-pair errors with and without the pair discriminator."""
    from . import insertion_train

    settings = dict(seeds=(0, 1), steps=150, direct_seeds=(0,), reversal_seeds=(), oracle_seeds=(), eval_n=128) \
        if quick else dict(seeds=(0, 1, 2), steps=300, direct_seeds=(0,), reversal_seeds=(0,), oracle_seeds=(0,), eval_n=256)
    res = insertion_train.experiment(**settings, progress=False, step_note=step)
    step("insertion: figure")
    fake, real = insertion_train.eval_pairs(8)
    rows = {"real pair u_A + r_B": real.composite, "ground truth": real.target}
    generators = {key[1:-len("_generator")]: res.pop(key) for key in list(res) if key.startswith("_")}
    for name in ("without_pair_discriminator", "with_pair_discriminator"):
        rows[name.replace("_", " ")] = insertion_train.generate(generators[name], real)
    out.save_figure("figures/insertion_real_pairs.png", insertion_train.show(rows))
    rows_md = [(name.replace("_", " "), f"{r['real_pair_error_mean']:.2f} ± {r['real_pair_error_std']:.2f}",
                f"{r['fake_pair_error_mean']:.2f}", f"{r['pair_classifier_accuracy']:.3f}", len(r["seeds"]))
               for name, r in res.items() if isinstance(r, dict) and "real_pair_error_mean" in r]
    ref = res["references"]
    md = f"""## Inserting Videos into Videos: the pair discriminator (notebook 04)

Mean CIE76 Delta E over the inserted box on {settings['eval_n']} held-out pairs of each kind; real pairs are
scored against the rendered ground truth (A's object under B's light), never seen in training.
{settings['steps']} steps per run. References: pasting the object with its true mask but unchanged gives
{ref['copy_real_pair_error']:.2f} on real pairs; the raw composite {ref['composite_real_pair_error']:.2f}.

{_table(("run", "real-pair error", "fake-pair error", "pair classifier accuracy", "seeds"), rows_md)}

![insertion](figures/insertion_real_pairs.png)
"""
    return res, md


def matching_experiment(out: OutputDir, quick: bool, step: Step) -> tuple[dict, str]:
    """The similarity sub-net: label agreement of exact / PatchMatch / attention fields on held-out
    synthetic pairs, the ROC AUC of the similarity maps for correct matches, and speed at 256 x 256."""
    n_pairs = 16 if quick else 128
    step(f"matching: label agreement and ROC AUC on {n_pairs} held-out pairs")
    model = features.grayvgg_small()
    study = metrics.matching_study(model, n_pairs=n_pairs)
    curve = study.pop("_curve_data")
    step("matching: seconds and peak memory at 256 x 256, VGG-19 sizes (one process per method)")
    speed = {m: matchbench.measure_in_subprocess(m, 256, repeats=1 if quick else 3) for m in matching.METHODS}
    step("matching: figures")
    curves = {name: (*metrics.roc_curve(curve[name], curve["correct"]), study[f"{name}_auc"])
              for name in ("bidirectional", "forward")}
    out.save_figure("figures/matching_roc.png", plots.roc_plot(curves))
    target, reference = scenes.sample_pairs(train.heldout_seed(0), 3)
    outs = {m: matching.match(model, target.L, reference.L, reference.ab, method=m) for m in matching.METHODS}
    out.save_figure("figures/matching_methods.png",
                    plots.method_comparison(target, reference, outs, len(scenes.CLASSES)))
    results = {"n_pairs": n_pairs, "chance": study["chance"], "label_agreement": study["label_agreement"],
               "bidirectional_auc": study["bidirectional_auc"], "forward_auc": study["forward_auc"],
               "auc_per_layer": study["auc_per_layer"], "seconds_256": {m: v["seconds"] for m, v in speed.items()},
               "peak_mb_256": {m: v["peak_mb"] for m, v in speed.items()}, "threads": speed["exact"]["threads"],
               "patchmatch_over_exact": study["label_agreement"]["patchmatch"] / study["label_agreement"]["exact"]}
    agree_rows = [(m, f"{study['label_agreement'][m]:.3f}", f"{speed[m]['seconds']:.2f}", f"{speed[m]['peak_mb']:.0f}")
                  for m in matching.METHODS]
    md = f"""## Similarity sub-net: correspondences and similarity maps (notebook 02, second half)

Label agreement: fraction of target pixels whose phi_T->R lands on the same class ({n_pairs} held-out
64 x 64 pairs, shipped small gray-VGG; chance {study['chance']:.3f}). Seconds: one full `matching.match`
call (features of both images, phi_T->R and phi_R->T, R'_ab, the 10 similarity maps) on a 256 x 256 photo
pair with a VGG-19-sized network, {speed['exact']['threads']} threads; peak memory above the process's
baseline, one process per method.

{_table(("method", "label agreement", "seconds at 256", "peak MB"), agree_rows)}

PatchMatch reaches {results['patchmatch_over_exact']:.1%} of the exact nearest neighbour's agreement.

Do the similarity maps tell a wrong match (phi_T->R lands on another class) from a correct one? ROC AUC
over all target pixels (exact route): mean of the 5 bidirectional maps **{study['bidirectional_auc']:.3f}**,
mean of the 5 forward maps {study['forward_auc']:.3f}.

![roc](figures/matching_roc.png)

![methods](figures/matching_methods.png)
"""
    return results, md


def colorization_experiment(out: OutputDir, quick: bool, step: Step) -> tuple[dict, str]:
    """The paper's evaluation in miniature (:func:`reprolib.evaluation.colorization_experiment`) plus the
    end-to-end speed of ``colorize`` on a 256 x 256 photo pair."""
    results, md = evaluation.colorization_experiment(out, quick, step)
    step("colorization: seconds for a 256 x 256 photo, end to end")
    results["seconds_colorize_256"] = matchbench.time_colorize(256, repeats=1 if quick else 3)
    md += (f"\n`colorize` on a 256 x 256 photo pair, end to end (small gray-VGG features, exact matching, "
           f"ColorNet, Lab -> sRGB): **{results['seconds_colorize_256']:.2f} s** ({torch.get_num_threads()} threads).\n")
    return results, md


EXPERIMENTS: dict[str, Callable[[OutputDir, bool, Step], tuple[dict, str]]] = {
    "lab": lab_experiment,
    "features": features_experiment,
    "matching": matching_experiment,
    "colorization": colorization_experiment,
    "insertion": insertion_experiment,
}


def reproduce(out_dir: str = "results", quick: bool = False, progress: bool = True) -> dict:
    """Run every experiment into ``out_dir``; returns what it wrote to results.json."""
    out = OutputDir(out_dir)
    torch.manual_seed(0)
    started = time.perf_counter()
    results: dict = {}
    sections = []
    with tqdm(total=len(EXPERIMENTS), desc="reproduce", unit="experiment", disable=not progress) as bar:
        for name, experiment in EXPERIMENTS.items():
            res, md = experiment(out, quick, lambda msg: bar.set_postfix_str(msg, refresh=True))
            results[name] = res
            sections.append(md)
            bar.update()
    meta = {
        "quick": quick,
        "seconds": round(time.perf_counter() - started, 1),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "machine": platform.machine(),
        "python": platform.python_version(),
    }
    results["meta"] = meta
    out.write_text("results.json", json.dumps(results, indent=2) + "\n")
    header = (
        "# Reproduction report\n\nWritten by `python -m reprolib reproduce"
        + (" --quick" if quick else "")
        + f"` in {meta['seconds']} s (torch {meta['torch']}, {meta['threads']} threads). "
        "Figures are in `figures/`; every number is in `results.json`.\n\n"
    )
    out.write_text("REPORT.md", header + "\n".join(sections))
    return results
