"""Study: the synthetic world and the gray-VGG (notebook 02, first half). Do features of L alone find the
same class in another scene?"""
from __future__ import annotations

from ..colorization.grayvgg_weights import grayvgg_small, random_like
from ..core.files import OutputDir
from ..core.jobs import Job, run_jobs
from ..core.seeds import heldout_seed
from ..figures import plots
from ..training.grayvgg import evaluate_grayvgg
from ..world import scenes
from . import agreement
from .report import Step


def measure(quick: bool) -> dict:
    """The held-out accuracy of the shipped small gray-VGG and the nearest-neighbour label agreement of its
    features, trained against random weights (the study's job)."""
    model = grayvgg_small()
    n_pairs = 8 if quick else 32
    random = random_like(model, seed=0)
    return {"accuracy": evaluate_grayvgg(model, n=64 if quick else 256),
            "agreement": {"layer": agreement.DEFAULT_LAYER, "n_pairs": n_pairs,
                          "trained": agreement.nn_label_agreement(model, n_pairs=n_pairs),
                          "random": agreement.nn_label_agreement(random, n_pairs=n_pairs),
                          "chance": agreement.chance_agreement(n_pairs=n_pairs)}}


def jobs(quick: bool) -> dict[str, Job]:
    return {"measure": Job(measure, dict(quick=quick), cost=20)}


def run(out: OutputDir, quick: bool, step: Step, done: dict | None = None) -> tuple[dict, str]:
    """The synthetic world and the gray-VGG: do features of L alone find the same class in another scene?
    (``done``: the results of :func:`jobs`, when ``reproduce`` ran them; the speed is measured here.)"""
    done = run_jobs(jobs(quick), 1, step)[0] if done is None else done
    accuracy, agree = done["measure"]["accuracy"], done["measure"]["agreement"]
    n_pairs = agree["n_pairs"]
    step("features: scenes per second")
    scenes_per_s = scenes.scenes_per_second(size=64, n=256 if quick else 1024, repeats=3, threads=1)
    step("features: figures")
    model = grayvgg_small()
    random = random_like(model, seed=0)
    target, reference = scenes.sample_pairs(heldout_seed(0), 4)
    matches = {name: agreement.nearest_neighbours(net, target.L, reference.L)
               for name, net in (("trained", model), ("random", random))}
    out.save_figure("figures/nn_label_transfer.png",
                    plots.nn_label_transfer(target, reference, matches, len(scenes.CLASSES)))
    results = {"grayvgg_heldout_accuracy": accuracy, "nn_label_agreement": agree,
               "scenes_per_second_64": scenes_per_s, "grayvgg": model.source}
    md = f"""## Synthetic world and gray-VGG features (notebook 02, first half)

- Synthetic scenes: {len(scenes.CLASSES)} classes ({", ".join(scenes.CLASSES)}), \
{scenes_per_s:,.0f} scenes/s at 64 x 64 (one thread).
- Shipped small gray-VGG (`reprolib/data/grayvgg_small.pt`, trained from L only): held-out per-pixel class accuracy
  **{accuracy:.3f}** on {64 if quick else 256} fresh scenes.
- Cosine nearest neighbour at {agree['layer']} (features upsampled to pixels) lands on the same class for
  **{agree['trained']:.3f}** of target pixels with the trained weights, {agree['random']:.3f} with the
  same net at random weights, {agree['chance']:.3f} by chance ({n_pairs} held-out pairs).

![nearest neighbours](figures/nn_label_transfer.png)
"""
    return results, md
