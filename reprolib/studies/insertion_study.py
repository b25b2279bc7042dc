"""Study: Inserting Videos into Videos in miniature (notebook 04). Real- and fake-pair errors with and
without the pair discriminator, over seeds, beside the direct generator, gradient reversal, a supervised
oracle and the references of doing nothing."""
from __future__ import annotations

import time
from dataclasses import asdict

from ..core.files import OutputDir
from ..insertion.losses import LuminancePerceptualLoss
from ..insertion.metrics import box_error, eval_pairs, evaluate_generator, generate, mean_std, pair_classifier_accuracy
from ..training.insertion import Config, fit
from . import plots
from .report import Step, table


def references(n: int = 256, seed: int = 0, classifier_steps: int = 150, classifiers: bool = True) -> dict:
    """Errors of doing nothing (the composite) and of a perfect cut-out without relighting (copy), and how well
    the pair classifier separates fake-pair targets from: real-pair composites (can G tell its inputs apart?),
    copies (can P see a missing relighting?) and real-pair ground truths (0.5: a perfect G leaves nothing)."""
    fake, real = eval_pairs(n, seed)
    out = {f"{what}_{kind}_pair_error": round(float(box_error(getattr(p, what), p.target, p.box).mean()), 3)
           for what in ("composite", "copy") for kind, p in (("fake", fake), ("real", real))}
    for name, other, mine in (("inputs", real.composite, fake.composite), ("copy", real.copy, fake.target),
                              ("ground_truth", real.target, fake.target)) if classifiers else ():
        acc = pair_classifier_accuracy(mine, other, steps=classifier_steps)
        out[f"pair_classifier_accuracy_{name}"] = round(acc, 3)
    return out



def experiment(seeds: tuple[int, ...] = (0, 1, 2), steps: int = 300, eval_n: int = 256,
               direct_seeds: tuple[int, ...] | None = None, reversal_seeds: tuple[int, ...] = (0,),
               oracle_seeds: tuple[int, ...] = (0,), progress: bool = True, step_note=None, **settings) -> dict:
    """Train with and without the pair discriminator (blending generator), the direct generator with it, and
    the gradient-reversal variant; evaluate each on the same held-out pairs. Returns the "insertion" results
    (plus, under "_<run>_generator", the generator of each run's first seed, for pictures)."""
    perceptual = LuminancePerceptualLoss()
    direct_seeds = seeds if direct_seeds is None else direct_seeds
    runs = {"without_pair_discriminator": [("none", True, s) for s in seeds],
            "with_pair_discriminator": [("confusion", True, s) for s in seeds],
            "direct_with_pair_discriminator": [("confusion", False, s) for s in direct_seeds],
            "gradient_reversal": [("reversal", True, s) for s in reversal_seeds],
            "oracle_supervised_real_pairs": [("none", True, s) for s in oracle_seeds]}
    out: dict = {}
    t0 = time.perf_counter()
    for name, plan in runs.items():
        per_seed = []
        for pair, blending, seed in plan:
            if step_note:
                step_note(f"insertion: {name}, seed {seed}")
            cfg = Config(steps=steps, seed=seed, pair=pair, blending=blending, oracle=name.startswith("oracle"),
                         **settings)
            m = fit(cfg, progress=progress, perceptual=perceptual)
            per_seed.append({"seed": seed, **evaluate_generator(m.generator, n=eval_n)})
            if seed == plan[0][2]:
                out[f"_{name}_generator"] = m.generator  # for pictures; callers pop it before saving
        if not per_seed:
            continue
        summary = {"pair": plan[0][0], "blending": plan[0][1], "seeds": [r["seed"] for r in per_seed]}
        for key in ("real_pair_error", "fake_pair_error", "pair_classifier_accuracy"):
            mean, std = mean_std([r[key] for r in per_seed])
            summary[f"{key}_mean"], summary[f"{key}_std"] = round(mean, 3), round(std, 3)
        summary["pair_classifier_accuracy"] = summary["pair_classifier_accuracy_mean"]
        summary["per_seed"] = per_seed
        out[name] = summary
    if "direct_with_pair_discriminator" in out:
        keys = ("real_pair_error_mean", "real_pair_error_std", "fake_pair_error_mean", "fake_pair_error_std", "seeds")
        out["blending_vs_direct"] = {"blending": {k: out["with_pair_discriminator"][k] for k in keys},
                                     "direct": {k: out["direct_with_pair_discriminator"][k] for k in keys}}
    out["references"] = references(eval_n)
    out["settings"] = {**asdict(Config(steps=steps, **settings)), "eval_n": eval_n,
                       "error": "mean CIE76 Delta E over the inserted box"}
    out["seconds"] = round(time.perf_counter() - t0, 1)
    return out



def run(out: OutputDir, quick: bool, step: Step) -> tuple[dict, str]:
    """Inserting Videos into Videos in miniature: real- and fake-pair errors with and without the pair discriminator."""
    settings = dict(seeds=(0, 1), steps=150, direct_seeds=(0,), reversal_seeds=(), oracle_seeds=(), eval_n=128) \
        if quick else dict(seeds=(0, 1, 2), steps=300, direct_seeds=(0,), reversal_seeds=(0,), oracle_seeds=(0,),
                           eval_n=256)
    res = experiment(**settings, progress=False, step_note=step)
    step("insertion: figure")
    fake, real = eval_pairs(8)
    rows = {"real pair u_A + r_B": real.composite, "ground truth": real.target}
    generators = {key[1:-len("_generator")]: res.pop(key) for key in list(res) if key.startswith("_")}
    for name in ("without_pair_discriminator", "with_pair_discriminator"):
        rows[name.replace("_", " ")] = generate(generators[name], real)
    out.save_figure("figures/insertion_real_pairs.png", plots.image_rows(rows))
    rows_md = [(name.replace("_", " "), f"{r['real_pair_error_mean']:.2f} ± {r['real_pair_error_std']:.2f}",
                f"{r['fake_pair_error_mean']:.2f}", f"{r['pair_classifier_accuracy']:.3f}", len(r["seeds"]))
               for name, r in res.items() if isinstance(r, dict) and "real_pair_error_mean" in r]
    ref = res["references"]
    md = f"""## Inserting Videos into Videos: the pair discriminator (notebook 04)

Mean CIE76 Delta E over the inserted box on {settings['eval_n']} held-out pairs of each kind; real pairs are
scored against the rendered ground truth (A's object under B's light), never seen in training.
{settings['steps']} steps per run. References: pasting the object with its true mask but unchanged gives
{ref['copy_real_pair_error']:.2f} on real pairs; the raw composite {ref['composite_real_pair_error']:.2f}.

{table(("run", "real-pair error", "fake-pair error", "pair classifier accuracy", "seeds"), rows_md)}

![insertion](figures/insertion_real_pairs.png)
"""
    return res, md
