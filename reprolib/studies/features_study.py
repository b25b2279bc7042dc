"""Study: the synthetic world and the gray-VGG (notebook 02, first half). Do features of L alone find the
same class in another scene?"""
from __future__ import annotations

from ..colorization.extractors import grayvgg_small, random_like
from ..core.files import OutputDir
from ..core.seeds import heldout_seed
from ..training.grayvgg import evaluate_grayvgg
from ..world import scenes
from . import agreement, plots
from .report import Step


def run(out: OutputDir, quick: bool, step: Step) -> tuple[dict, str]:
    """The synthetic world and the gray-VGG: do features of L alone find the same class in another scene?"""
    step("features: scenes per second")
    scenes_per_s = scenes.scenes_per_second(size=64, n=256 if quick else 1024, repeats=3, threads=1)
    step("features: held-out accuracy of the shipped small gray-VGG")
    model = grayvgg_small()
    accuracy = evaluate_grayvgg(model, n=64 if quick else 256)
    step("features: nearest-neighbour label agreement, trained vs random weights")
    n_pairs = 8 if quick else 32
    random = random_like(model, seed=0)
    agree = {"layer": agreement.DEFAULT_LAYER, "n_pairs": n_pairs,
             "trained": agreement.nn_label_agreement(model, n_pairs=n_pairs),
             "random": agreement.nn_label_agreement(random, n_pairs=n_pairs),
             "chance": agreement.chance_agreement(n_pairs=n_pairs)}
    step("features: figures")
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
