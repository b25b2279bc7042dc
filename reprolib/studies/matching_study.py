"""Study: the similarity sub-net (notebook 02, second half). Label agreement of exact / PatchMatch / attention
fields on held-out synthetic pairs, the ROC AUC of the similarity maps for correct matches, speed at 256 x 256."""
from __future__ import annotations

from ..colorization import matching
from ..colorization.grayvgg_weights import grayvgg_small
from ..core.files import OutputDir
from ..core.jobs import Job, run_jobs
from ..core.seeds import heldout_seed
from ..figures import plots
from ..world import scenes
from . import agreement, matchbench
from .report import Step, table


def measure(n_pairs: int) -> dict:
    """Label agreement and ROC AUC on ``n_pairs`` held-out pairs with the shipped small gray-VGG (the job)."""
    return agreement.matching_study(grayvgg_small(), n_pairs=n_pairs)


def n_pairs_of(quick: bool) -> int:
    """The held-out pairs of the agreement study: 16 with ``--quick``, else 128."""
    return 16 if quick else 128


def jobs(quick: bool) -> dict[str, Job]:
    return {"agreement": Job(measure, dict(n_pairs=n_pairs_of(quick)), cost=30)}


def run(out: OutputDir, quick: bool, step: Step, done: dict | None = None) -> tuple[dict, str]:
    """The similarity sub-net: label agreement of exact / PatchMatch / attention fields on held-out
    synthetic pairs, the ROC AUC of the similarity maps for correct matches, and speed at 256 x 256
    (``done``: the results of :func:`jobs`, when ``reproduce`` ran them; the speed is measured here)."""
    n_pairs = n_pairs_of(quick)
    done = run_jobs(jobs(quick), 1, step)[0] if done is None else done
    study = dict(done["agreement"])
    model = grayvgg_small()
    curve = study.pop("curves")
    step("matching: seconds and peak memory at 256 x 256, VGG-19 sizes (one process per method)")
    speed = {m: matchbench.measure_in_subprocess(m, 256, repeats=1 if quick else 3) for m in matching.METHODS}
    step("matching: figures")
    curves = {name: (*agreement.roc_curve(curve[name], curve["correct"]), study[f"{name}_auc"])
              for name in ("bidirectional", "forward")}
    out.save_figure("figures/matching_roc.png", plots.roc_plot(curves))
    target, reference = scenes.sample_pairs(heldout_seed(0), 3)
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

{table(("method", "label agreement", "seconds at 256", "peak MB"), agree_rows)}

PatchMatch reaches {results['patchmatch_over_exact']:.1%} of the exact nearest neighbour's agreement.

Do the similarity maps tell a wrong match (phi_T->R lands on another class) from a correct one? ROC AUC
over all target pixels (exact route): mean of the 5 bidirectional maps **{study['bidirectional_auc']:.3f}**,
mean of the 5 forward maps {study['forward_auc']:.3f}.

![roc](figures/matching_roc.png)

![methods](figures/matching_methods.png)
"""
    return results, md
