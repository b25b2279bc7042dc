"""The paper's evaluation in miniature (He et al. 2018, Sec. 5): exemplar colorization against baselines.

Every method colours the gray target T_L of a held-out synthetic pair (T, R); the ground truth is
``scenes.ground_truth(T, R)``, the target's layout rendered with the reference's palettes (G). Rows:

* ``ground_truth``: G itself, the ceiling (PSNR of identical images is infinite: reported as None).
* ``l1_auto``: the automatic colorization sub-net trained with a plain L1 loss on T_L only (no reference).
* ``welsh``: Welsh, Ashikhmin & Mueller 2002, "Transferring color to greyscale images"
  (:func:`reprolib.colorization.welsh.welsh`).
* ``warped_reference``: T_L with R'_ab alone, R'_ab(p) = R_ab(phi_T->R(p)) (``matching.match``, exact NN).
* ``chrominance_only``: the colorization sub-net trained with the chrominance branch only.
* ``full``: the colorization sub-net trained with both branches (chrominance + perceptual).

A method's output is P_lab = (T_L, P_ab) (P_L = T_L as in the paper) and its image lab_to_rgb(P_lab)
(clipped to the sRGB gamut). Metrics, each a mean over images:

* ``psnr``: 10 log10(1 / MSE) on sRGB in [0, 1] (peak 1) against rgb(G), per image;
* ``delta_e2000``: mean CIEDE2000 between P_lab and G_lab over all pixels (on Lab as predicted, like
  ``training.colornet.evaluate_colornet``);
* ``colorfulness``: Hasler & Suesstrunk 2003 (:func:`reprolib.studies.image_metrics.colorfulness`), of rgb(P_lab);
* ``classifier_accuracy``: the analogue of the paper's classification test (a VGG classifier trained on
  colour photos run on colorized photos): a small colour classifier
  (:class:`reprolib.training.colour_classifier.ColourClassifier`,
  trained on true-colour scenes) predicts per pixel WHICH PALETTE its class wears; accuracy against G's palettes.
  The palettes of a class share L* exactly, so a gray image (or luminance alone) can only guess: its
  accuracy is about the chance level mean_p 1 / P_{class(p)} (``classifier_chance``), while an image in
  the right colours scores about as high as G.
"""
from __future__ import annotations

import math
import time

import torch
from torch import Tensor, nn

from ..colorization import matching
from ..colorization.colornet import MODES, colornet_input, load_colornet, predict_ab
from ..colorization.grayvgg_weights import grayvgg_small
from ..colorization.welsh import welsh
from ..core import checks, color
from ..core.files import OutputDir
from ..core.jobs import Job, run_jobs
from ..core.seeds import heldout_seed
from ..figures import plots
from ..training.colour_classifier import ColourClassifier, classifier_accuracy, classifier_chance, load_classifier
from ..world import scenes
from . import matchbench, report, robustness, trust
from .image_metrics import colorfulness, mean_delta_e2000, psnr
from .report import Step

ROWS = ("ground_truth", "l1_auto", "welsh", "warped_reference", "chrominance_only", "full")
METRICS = ("psnr", "delta_e2000", "colorfulness", "classifier_accuracy")
NETS = ("l1_auto", "chrominance_only", "full")  # rows produced by a shipped colornet checkpoint
QUICK_PAIRS = 32  # evaluate_rows(quick=True) caps the number of pairs at this


def shipped_colornets() -> tuple[dict[str, nn.Module], list[str]]:
    """The shipped colornets of NETS that exist, and the names of those whose checkpoint is missing."""
    nets, missing = {}, []
    for mode in NETS:
        if MODES[mode].status() != "missing":
            nets[mode] = load_colornet(mode=mode)
        else:
            missing.append(mode)
    return nets, missing


@torch.no_grad()
def colorize_rows(target: scenes.Scene, reference: scenes.Scene, grayvgg: nn.Module, nets: dict[str, nn.Module],
             seed: int = 0) -> dict[str, Tensor]:
    """P_lab (B, 3, H, W) of every available row for the pairs (target, reference); P_L = T_L.

    "ground_truth": ground_truth(T, R).lab; "welsh": :func:`welsh` (seeded with ``seed``);
    "warped_reference": (T_L, R'_ab) from ``matching.match`` (exact NN); the nets in ``nets`` (l1_auto,
    chrominance_only, full) predict P_ab from the 13-channel input (l1_auto reads T_L only).
    """
    if len(target) != len(reference):
        raise ValueError(f"target and reference batches differ in length: {len(target)} vs {len(reference)}")
    m = matching.match(grayvgg, target.L, reference.L, reference.ab)
    net_input = colornet_input(target.L, m.R_ab_warped, m.sims)
    ab = {"ground_truth": scenes.ground_truth(target, reference).ab}
    if "l1_auto" in nets:
        ab["l1_auto"] = predict_ab(nets["l1_auto"], net_input)
    ab["welsh"] = welsh(target.L, reference.lab, seed=seed)
    ab["warped_reference"] = m.R_ab_warped
    for mode in ("chrominance_only", "full"):
        if mode in nets:
            ab[mode] = predict_ab(nets[mode], net_input)
    return {name: torch.cat((target.L, v.to(target.L)), dim=1) for name, v in ab.items()}


@torch.no_grad()
def evaluate_rows(n_pairs: int = 200, seed: int = 0, quick: bool = False, size: int = 64, batch_size: int = 50,
             classifier: ColourClassifier | None = None) -> dict:
    """All rows x all metrics on the held-out pairs ``sample_pairs(heldout_seed(seed), n_pairs, size)``.

    quick: at most QUICK_PAIRS pairs. Rows whose colornet checkpoint is missing are left out and listed
    under "missing_rows". The ground-truth row's "psnr" is None (identical images: infinite PSNR); its
    other numbers are the ceiling (delta_e2000 0, colourfulness and classifier accuracy of true colours).
    Welsh's jittered samples use the seed ``seed * 1_000_003 + first pair index`` per batch of
    ``batch_size`` pairs. Deterministic.
    """
    n_pairs = checks.int_at_least(n_pairs, "n_pairs")
    seed = checks.int_at_least(seed, "seed", 0)
    size = checks.int_at_least(size, "size", 16)
    batch_size = checks.int_at_least(batch_size, "batch_size")
    if quick:
        n_pairs = min(n_pairs, QUICK_PAIRS)
    started = time.perf_counter()
    classifier = load_classifier() if classifier is None else classifier
    grayvgg = grayvgg_small()
    nets, missing = shipped_colornets()
    target, reference = scenes.sample_pairs(heldout_seed(seed), n_pairs, size)
    sums: dict[str, dict[str, float]] = {}
    for i in range(0, n_pairs, batch_size):
        T, R = target[i:i + batch_size], reference[i:i + batch_size]
        truth = scenes.ground_truth(T, R)
        for name, lab in colorize_rows(T, R, grayvgg, nets, seed=seed * 1_000_003 + i).items():
            rgb = truth.rgb if name == "ground_truth" else color.lab_to_rgb(lab)
            per_image = {"psnr": psnr(rgb, truth.rgb), "delta_e2000": mean_delta_e2000(lab, truth.lab),
                         "colorfulness": colorfulness(rgb),
                         "classifier_accuracy": classifier_accuracy(classifier, rgb, truth)}
            row = sums.setdefault(name, dict.fromkeys(METRICS, 0.0))
            for k, v in per_image.items():
                row[k] += v.double().sum().item()
    rows = {}
    for name in ROWS:
        if name in sums:
            rows[name] = {k: v / n_pairs for k, v in sums[name].items()}
            if math.isinf(rows[name]["psnr"]):
                rows[name]["psnr"] = None
    return {"rows": rows, "n_pairs": n_pairs, "size": size,
            "pairs": f"sample_pairs(heldout_seed({seed}), {n_pairs}, {size})",
            "classifier_chance": classifier_chance(target.labels), "missing_rows": missing,
            "psnr_ground_truth": "None: the ground truth against itself has infinite PSNR",
            "seconds": round(time.perf_counter() - started, 1)}



def jobs(quick: bool) -> dict[str, Job]:
    """Every row on the held-out pairs, the ablation of the full net's similarity maps (:mod:`.trust`) and
    the good / partial / unrelated references of the usual-colour world (:mod:`.robustness`)."""
    return {"rows": Job(evaluate_rows, dict(n_pairs=200, quick=quick), cost=30),
            "trust": Job(trust.trust_rows, dict(n=QUICK_PAIRS if quick else 200), cost=20),
            "robustness": Job(robustness.robustness_rows, dict(n=QUICK_PAIRS if quick else 200), cost=40)}


def run(out: OutputDir, quick: bool, step: Step, done: dict | None = None) -> tuple[dict, str]:
    """The paper's evaluation in miniature: every row on held-out pairs (figures/colorization_rows.png), and
    the end-to-end speed of ``colorize`` on a 256 x 256 photo pair (``done``: the results of :func:`jobs`,
    when ``reproduce`` ran them; the speed is measured here)."""
    done = run_jobs(jobs(quick), 1, step)[0] if done is None else done
    res, trusted, robust = done["rows"], done["trust"], done["robustness"]
    step("colorization: figure")
    target, reference = scenes.sample_pairs(heldout_seed(0), 3)
    nets, _ = shipped_colornets()
    labs = colorize_rows(target, reference, grayvgg_small(), nets)
    out.save_figure("figures/colorization_rows.png", plots.rows_figure(target, reference, labs))
    results = {"rows": res["rows"], "n_pairs": res["n_pairs"], "classifier_chance": res["classifier_chance"],
               "missing_rows": res["missing_rows"], "trust": trusted, "robustness": robust}

    def fmt(v: float | None, digits: int) -> str:
        return "inf (None)" if v is None else f"{v:.{digits}f}"

    table = ["| row | PSNR (dB) | CIEDE2000 | colourfulness | classifier accuracy |", "|---|---|---|---|---|"]
    table += [f"| {name} | {fmt(r['psnr'], 2)} | {r['delta_e2000']:.2f} | {r['colorfulness']:.1f} | "
              f"{r['classifier_accuracy']:.3f} |" for name, r in res["rows"].items()]
    trust_table = report.table(("input maps", "all", "matched", "mismatched"),
                               [(name, *(f"{r[k]:.2f}" for k in trust.PARTS)) for name, r in trusted["rows"].items()])
    missing = (f"\nMissing checkpoints (rows left out): {', '.join(res['missing_rows'])}.\n" if res["missing_rows"]
               else "")
    md = f"""## Colorization: the paper's evaluation in miniature

{res['n_pairs']} held-out 64 x 64 pairs `{res['pairs']}`; ground truth = the target's layout rendered with the
reference's palettes. PSNR on sRGB (peak 1), CIEDE2000 on Lab (both against the ground truth),
Hasler-Suesstrunk colourfulness, and the accuracy of a small colour classifier (per-pixel palette of the
pixel's class, trained on true colours; chance with luminance alone {res['classifier_chance']:.3f}) run on
each row's images. The ground truth's PSNR is infinite.

{chr(10).join(table)}
{missing}
![rows](figures/colorization_rows.png)

Does the full net learn when to trust the reference? The same pairs with its 10 similarity maps changed
(`studies.trust`, {trusted['pairs']}; {trusted['mismatched_fraction']:.0%} of the pixels have phi_T->R on
another class), CIEDE2000 over all / matched / mismatched pixels:

{trust_table}

Is it robust to the reference? (`studies.robustness`, {robust['pairs']}: each class wears its usual colour
with probability {robust['usual']}; nets trained on that world.) CIEDE2000 where the reference shows the
pixel's class (against the ground truth) and where it does not (against the target's own colours, the
class's usual colour, and the nearest colour the class can wear):

{robustness.report_table(robust)}
"""
    step("colorization: seconds for a 256 x 256 photo, end to end")
    results["seconds_colorize_256"] = matchbench.time_colorize(256, repeats=1 if quick else 3)
    md += (f"\n`colorize` on a 256 x 256 photo pair, end to end (small gray-VGG features, exact matching, "
           f"ColorNet, Lab -> sRGB): **{results['seconds_colorize_256']:.2f} s** "
           f"({torch.get_num_threads()} threads).\n")
    return results, md
