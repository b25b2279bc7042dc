"""Study: Inserting Videos into Videos in miniature (notebook 04). Real- and fake-pair errors with and
without the pair discriminator, over seeds, beside the direct generator, gradient reversal, a supervised
oracle and the references of doing nothing."""
from __future__ import annotations

import time
from dataclasses import asdict

from torch import Tensor

from ..core.files import OutputDir
from ..core.jobs import Job, run_jobs
from ..figures import plots
from ..insertion.losses import LuminancePerceptualLoss
from ..insertion.metrics import (
    box_error,
    erase_object,
    eval_pairs,
    evaluate_generator,
    fade_at_visibility,
    generate,
    mean_std,
    object_visibility,
    pair_classifier_accuracy,
)
from ..insertion.nets import InsertionGenerator
from ..insertion.pairs import LIGHTINGS, Pairs
from ..training.insertion import Config, fit
from .report import Step, table


def references(n: int = 256, seed: int = 0, classifier_steps: int = 150, classifiers: bool = True) -> dict:
    """Errors of doing nothing (the composite), of a perfect cut-out without relighting (copy) and of erasing
    the object (erase: y = r_B), each with its object visibility on real pairs (beside the ground truth's), and
    how well the pair classifier separates fake-pair targets from: real-pair composites (can G tell its inputs
    apart?), copies (can P see a missing relighting?) and real-pair ground truths (0.5: a perfect G leaves nothing)."""
    fake, real = eval_pairs(n, seed)
    outputs = {"composite": lambda p: p.composite, "copy": lambda p: p.copy, "erase": erase_object}
    out = {f"{what}_{kind}_pair_error": round(float(box_error(output(p), p.target, p.box).mean()), 3)
           for what, output in outputs.items() for kind, p in (("fake", fake), ("real", real))}
    for what, output in {**outputs, "ground_truth": lambda p: p.target}.items():
        out[f"{what}_real_pair_visibility"] = round(float(object_visibility(output(real), real.background,
                                                                              real.mask).mean()), 3)
    for name, other, mine in (("inputs", real.composite, fake.composite), ("copy", real.copy, fake.target),
                              ("ground_truth", real.target, fake.target)) if classifiers else ():
        acc = pair_classifier_accuracy(mine, other, steps=classifier_steps)
        out[f"pair_classifier_accuracy_{name}"] = round(acc, 3)
    return out


def erase_object_baseline(ref: dict) -> dict:
    """The "erase the object" baseline (y = r_B) from :func:`references`, in the runs' format (one value, so
    std 0), with the ground truth's visibility beside it."""
    return {"output": "r_B, the background alone (the object erased)",
            "real_pair_error_mean": ref["erase_real_pair_error"],
            "real_pair_error_std": 0.0, "fake_pair_error_mean": ref["erase_fake_pair_error"],
            "real_pair_visibility_mean": ref["erase_real_pair_visibility"],
            "ground_truth_real_pair_visibility": ref["ground_truth_real_pair_visibility"]}


def panel_notes(y: Tensor, pairs: Pairs) -> list[str]:
    """One short text per output for a figure: its real-pair box error and its visibility, "dE 18, V 14"."""
    errors, visibility = box_error(y, pairs.target, pairs.box), object_visibility(y, pairs.background, pairs.mask)
    return [f"dE {e:.0f}, V {v:.0f}" for e, v in zip(errors.tolist(), visibility.tolist())]


def lighting_labels(pairs: Pairs) -> list[str]:
    """Column labels for a figure of ``pairs``: "light of the source -> light of r_B" (one light for fake pairs)."""
    names = [lt.name for lt in LIGHTINGS]
    return [f"{names[a]} → {names[b]}" if a != b else names[b]
            for a, b in zip(pairs.source_lighting.tolist(), pairs.lighting.tolist())]


RUNS = {  # run name -> its settings of training.insertion.Config
    "without_pair_discriminator": dict(pair="none"),
    "with_pair_discriminator": dict(pair="confusion"),
    "pair_discriminator_matte_held": dict(pair="confusion", hold_matte=True),
    "direct_with_pair_discriminator": dict(pair="confusion", blending=False),
    "gradient_reversal": dict(pair="reversal"),
    "oracle_supervised_real_pairs": dict(pair="none", oracle=True),
    # screening (one seed): a stronger pair term, and three times the steps, both with the matte held
    "pair_discriminator_matte_held_lambda_3": dict(pair="confusion", hold_matte=True, lambda_pair=3.0),
    "pair_discriminator_matte_held_3x_steps": dict(pair="confusion", hold_matte=True, steps_times=3),
}
PAIR_RUNS = ("with_pair_discriminator", "pair_discriminator_matte_held", "pair_discriminator_matte_held_lambda_3",
             "pair_discriminator_matte_held_3x_steps")  # the runs that the fair test judges


def run_config(name: str, steps: int, seed: int = 0, **settings) -> Config:
    """The training Config of run ``name`` (``steps`` times its ``steps_times``, if any)."""
    run = dict(RUNS[name])
    return Config(steps=steps * run.pop("steps_times", 1), seed=seed, **run, **settings)
VISIBILITY_KEPT = 0.8  # the fair test: with the pair discriminator, V at least this times V without it
FAIR_RULE = (f"on every seed: error below the run without the pair discriminator and below erasing the object, "
             f"with V >= {VISIBILITY_KEPT} x V without it")


def train_and_evaluate(name: str, seed: int, steps: int, eval_n: int, keep_generator: bool = False,
                       device: str = "cpu", **settings) -> dict:
    """One run of ``RUNS[name]``: train (on ``device``), then evaluate on the held-out pairs (on the CPU; a
    job of :func:`experiment`). Returns {"metrics": {"seed", errors, accuracy}, "generator": its state_dict
    if ``keep_generator``}."""
    cfg = run_config(name, steps, seed, **settings)
    m = fit(cfg, progress=False, perceptual=LuminancePerceptualLoss(), device=device)
    scores = evaluate_generator(m.generator, n=eval_n)
    fade = fade_at_visibility(eval_pairs(eval_n)[1], scores["real_pair_visibility"])
    return {"metrics": {"seed": seed, **scores, "faded_copy_error_at_equal_visibility": fade["error"]},
            "generator": m.generator.state_dict() if keep_generator else None}


def experiment_jobs(seeds: tuple[int, ...] = (0, 1, 2), steps: int = 300, eval_n: int = 256,
                    direct_seeds: tuple[int, ...] | None = None, reversal_seeds: tuple[int, ...] = (0,),
                    oracle_seeds: tuple[int, ...] = (0,), screening_seeds: tuple[int, ...] = (), device: str = "cpu",
                    **settings) -> dict[str, Job]:
    """The independent pieces of :func:`experiment`: one job per (run, seed), trained on ``device``, and the
    references."""
    plan = {"without_pair_discriminator": seeds, "with_pair_discriminator": seeds,
            "pair_discriminator_matte_held": seeds,
            "direct_with_pair_discriminator": seeds if direct_seeds is None else direct_seeds,
            "gradient_reversal": reversal_seeds, "oracle_supervised_real_pairs": oracle_seeds,
            "pair_discriminator_matte_held_lambda_3": screening_seeds,
            "pair_discriminator_matte_held_3x_steps": screening_seeds}
    jobs = {f"{name}/seed {seed}": Job(train_and_evaluate, dict(name=name, seed=seed, steps=steps, eval_n=eval_n,
                                                                 keep_generator=seed == run_seeds[0], device=device,
                                                                 **settings),
                                       cost=run_config(name, steps, seed, **settings).steps
                                       * (2 if RUNS[name].get("oracle") else 1))
            for name, run_seeds in plan.items() for seed in run_seeds}
    jobs["references"] = Job(references, dict(n=eval_n), cost=100)
    return jobs


def summarize(done: dict, steps: int = 300, eval_n: int = 256, **settings) -> dict:
    """The "insertion" results from the jobs' results (plus, under "_<run>_generator", the generator of each
    run's first seed, for pictures; callers pop it before saving)."""
    out: dict = {}
    for name in RUNS:
        keys = [k for k in done if k.startswith(f"{name}/")]
        if not keys:
            continue
        per_seed = [done[k]["metrics"] for k in keys]
        first = done[keys[0]]["generator"]
        cfg = run_config(name, steps, **settings)
        generator = InsertionGenerator(cfg.width, cfg.blending)
        generator.load_state_dict(first)
        out[f"_{name}_generator"] = generator.eval()
        summary = {"pair": cfg.pair, "blending": cfg.blending, "hold_matte": cfg.hold_matte,
                   "lambda_pair": cfg.lambda_pair, "steps": cfg.steps,
                   "seeds": [r["seed"] for r in per_seed]}
        for key in ("real_pair_error", "real_pair_visibility", "fake_pair_error", "pair_classifier_accuracy",
                    "faded_copy_error_at_equal_visibility"):
            mean, std = mean_std([r[key] for r in per_seed])
            summary[f"{key}_mean"], summary[f"{key}_std"] = round(mean, 3), round(std, 3)
        summary["pair_classifier_accuracy"] = summary["pair_classifier_accuracy_mean"]
        summary["per_seed"] = per_seed
        out[name] = summary
    if "direct_with_pair_discriminator" in out:
        keys = ("real_pair_error_mean", "real_pair_error_std", "fake_pair_error_mean", "fake_pair_error_std", "seeds")
        out["blending_vs_direct"] = {"blending": {k: out["with_pair_discriminator"][k] for k in keys},
                                     "direct": {k: out["direct_with_pair_discriminator"][k] for k in keys}}
    out["references"] = done["references"]
    out["erase_object_baseline"] = erase_object_baseline(done["references"])
    out["fair_test"] = {name: fair_test(out, name) for name in PAIR_RUNS if name in out}
    out["settings"] = {**asdict(Config(steps=steps, **settings)), "eval_n": eval_n,
                       "error": "mean CIE76 Delta E over the inserted box"}
    return out


def fair_test(res: dict, name: str) -> dict:
    """The pair discriminator's claim, tested so that fading does not pay: on every seed, run ``name``'s real-pair
    error is below the run without the pair discriminator (same seed) and below erasing the object, while its
    objects keep at least VISIBILITY_KEPT of the visibility V they have without it. Per seed, with the error of the
    unrelit copy faded to the same V beside it (a generator that relights beats it; one that fades does not)."""
    without, erase = res["without_pair_discriminator"], res["erase_object_baseline"]["real_pair_error_mean"]
    base = {r["seed"]: r for r in without["per_seed"]}
    rows = []
    for r in res[name]["per_seed"]:
        w = base[r["seed"]]
        rows.append({"seed": r["seed"], "error": r["real_pair_error"], "error_without": w["real_pair_error"],
                     "erase": erase, "visibility": r["real_pair_visibility"],
                     "visibility_without": w["real_pair_visibility"],
                     "visibility_ratio": round(r["real_pair_visibility"] / w["real_pair_visibility"], 3),
                     "faded_copy_error_at_equal_visibility": r["faded_copy_error_at_equal_visibility"],
                     "below_without": r["real_pair_error"] < w["real_pair_error"],
                     "below_erase": r["real_pair_error"] < erase,
                     "visibility_kept": r["real_pair_visibility"] >= VISIBILITY_KEPT * w["real_pair_visibility"]})
        rows[-1]["holds"] = rows[-1]["below_without"] and rows[-1]["below_erase"] and rows[-1]["visibility_kept"]
    return {"per_seed": rows, "holds": bool(rows) and all(r["holds"] for r in rows), "rule": FAIR_RULE}


def experiment(seeds: tuple[int, ...] = (0, 1, 2), steps: int = 300, eval_n: int = 256,
               direct_seeds: tuple[int, ...] | None = None, reversal_seeds: tuple[int, ...] = (0,),
               oracle_seeds: tuple[int, ...] = (0,), screening_seeds: tuple[int, ...] = (), workers: int = 1,
               step_note=None, **settings) -> dict:
    """Train with and without the pair discriminator (blending generator), the direct generator with it, the
    gradient-reversal variant and the supervised oracle; evaluate each on the same held-out pairs
    (:func:`experiment_jobs`, run at one thread each in ``workers`` processes, then :func:`summarize`)."""
    t0 = time.perf_counter()
    done, _ = run_jobs(experiment_jobs(seeds, steps, eval_n, direct_seeds, reversal_seeds, oracle_seeds,
                                       screening_seeds, **settings), workers, step_note)
    return {**summarize(done, steps, eval_n, **settings), "seconds": round(time.perf_counter() - t0, 1)}


def study_settings(quick: bool) -> dict:
    """The experiment's settings in ``reproduce`` (``--quick``: fewer seeds and steps)."""
    return dict(seeds=(0, 1), steps=150, direct_seeds=(0,), reversal_seeds=(), oracle_seeds=(), eval_n=128) \
        if quick else dict(seeds=(0, 1, 2), steps=300, direct_seeds=(0,), reversal_seeds=(0,), oracle_seeds=(0,),
                           screening_seeds=(0,),
                           eval_n=256)


def jobs(quick: bool, device: str = "cpu") -> dict[str, Job]:
    """The study's jobs in ``reproduce`` (the GANs trained on ``device``)."""
    return experiment_jobs(**study_settings(quick), device=device)


def run(out: OutputDir, quick: bool, step: Step, done: dict | None = None) -> tuple[dict, str]:
    """Inserting Videos into Videos in miniature: real- and fake-pair errors with and without the pair
    discriminator (``done``: the results of :func:`jobs`, when ``reproduce`` ran them)."""
    settings = study_settings(quick)
    done = run_jobs(jobs(quick), 1, step)[0] if done is None else done
    res = summarize(done, settings["steps"], settings["eval_n"])
    step("insertion: figure")
    fake, real = eval_pairs(8)
    rows = {"real pair u_A + r_B": real.composite, "ground truth": real.target}
    generators = {key[1:-len("_generator")]: res.pop(key) for key in list(res) if key.startswith("_")}
    notes = {}
    for name in ("without_pair_discriminator", "with_pair_discriminator", "pair_discriminator_matte_held"):
        if name in generators:
            label = name.replace("_", " ")
            rows[label] = generate(generators[name], real)
            notes[label] = panel_notes(rows[label], real)
    out.save_figure("figures/insertion_real_pairs.png", plots.image_rows(rows, scale=1.4, notes=notes,
                                                                     columns=lighting_labels(real)))
    erase = res["erase_object_baseline"]
    rows_md = [(name.replace("_", " "), f"{r['real_pair_error_mean']:.2f} ± {r['real_pair_error_std']:.2f}",
                f"{erase['real_pair_error_mean']:.2f}",
                f"{r['real_pair_visibility_mean']:.1f}", f"{r['faded_copy_error_at_equal_visibility_mean']:.2f}",
                f"{r['fake_pair_error_mean']:.2f}", f"{r['pair_classifier_accuracy']:.3f}", len(r["seeds"]))
               for name, r in res.items() if isinstance(r, dict) and "pair_classifier_accuracy" in r]
    fair_md = [(name.replace("_", " "), t["seed"], f"{t['error']:.2f}", f"{t['error_without']:.2f}",
                f"{t['erase']:.2f}",
                f"{t['visibility']:.1f} / {t['visibility_without']:.1f} ({t['visibility_ratio']:.2f})",
                f"{t['faded_copy_error_at_equal_visibility']:.2f}", "yes" if t["holds"] else "no")
               for name, test in res["fair_test"].items() for t in test["per_seed"]]
    verdicts = "; ".join(f"{name.replace('_', ' ')}: {'holds' if t['holds'] else 'does not hold'}"
                         for name, t in res["fair_test"].items())
    ref = res["references"]
    md = f"""## Inserting Videos into Videos: the pair discriminator (notebook 04)

Mean CIE76 Delta E over the inserted box on {settings['eval_n']} held-out pairs of each kind; real pairs are
scored against the rendered ground truth (A's object under B's light), never seen in training.
{settings['steps']} steps per run. References: pasting the object with its true mask but unchanged gives
{ref['copy_real_pair_error']:.2f} on real pairs; the raw composite {ref['composite_real_pair_error']:.2f}.
Visibility V: mean Delta E between the output and the background r_B over the object's mask (ground truth
{ref['ground_truth_real_pair_visibility']:.1f}; an erased object 0), so that a lower error from a fading object shows.
"Faded copy at equal V": the unrelit copy faded towards r_B until its V equals the run's; a generator that relights
beats it, one that only fades does not. "pair discriminator matte held": its term cannot move the blending matte
(a deviation from the paper, so that fading cannot pay).

{table(("run", "real-pair error", "erase the object", "real-pair V", "faded copy at equal V", "fake-pair error",
        "pair classifier accuracy", "seeds"), rows_md)}

**The fair test**: {FAIR_RULE}. Under each output in the figure: its box error dE and visibility V.
Verdict: {verdicts}.

{table(("run", "seed", "real-pair error", "without the pair discriminator", "erase", "V / V without (ratio)",
        "faded copy at equal V", "holds"), fair_md)}

![insertion](figures/insertion_real_pairs.png)
"""
    return res, md
