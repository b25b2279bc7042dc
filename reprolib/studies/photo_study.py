"""Study: exemplar colorization of real photographs, measured with ground truth (notebook 05).

Protocol "same scene, other view" (:func:`reprolib.world.photo_views.other_view_pairs`) on the held-out
photos only (no shipped photo model trained on them): the target is the gray of a crop, the reference
another, mirrored and rescaled crop of the same photo, the ground truth the photo's own colours.

Rows, for each feature extractor (the offline photo default and, when this machine has it, ImageNet
VGG-16): gray (a* = b* = 0), Welsh et al. 2002, R'_ab alone, R'_ab smoothed along T_L, the synthetic-trained
ColorNet (run on maps it was not trained on: forced, as a baseline), the photo-trained ColorNet, the
photo ColorNet smoothed, and the photo-trained Chooser (``colorization.chooser``: three matchers, one net that
chooses among their warps; ``colorize``'s default). Metrics: CIEDE2000 and PSNR against the truth,
colourfulness (and the truth's), seconds per pair. Cross-photo pairs (another held-out photo as the
reference): no ground truth for "as the reference says", so the target's own colours stand in for
"plausible", to compare retrieval's first choice with a reference drawn at random.
"""
from __future__ import annotations

import itertools
import json
import time
import warnings

import torch

from ..colorization.colornet import ColorNetWeights, colornet_for, load_colornet
from ..colorization.grayvgg_weights import load_extractor
from ..colorization.pipelines import DecColorNet, Pipeline, WarpSmoothed, plan
from ..colorization.retrieval import recommend
from ..colorization.welsh import welsh
from ..core import color
from ..core.files import OutputDir
from ..core.jobs import Job, run_jobs
from ..core.weights import data_file
from ..figures import plots
from ..training.photo_pairs import HELDOUT_PHOTOS, evaluate_views
from ..world.photo_views import CROP, other_view_pairs, photo_lab
from .image_metrics import colorfulness, mean_delta_e2000, psnr
from .report import Step, table

SHIPPED = "photo_study.json"  # results.json["photos"] of the run that measured the shipped photo models
ROWS = ("gray", "welsh", "warped_reference", "warped_reference_smoothed", "synthetic_colornet", "photo_colornet",
        "photo_colornet_smoothed", "chooser")
# the study's names (results.json keys) -> grayvgg_weights.load_extractor choices
EXTRACTORS = {"offline": "grayvgg_small_photo", "vgg16": "vgg16"}


def shipped() -> dict:
    """The photo study as measured for the shipped models (``python -m reprolib reproduce --only photos``,
    with ImageNet VGG-16 at hand; its results.json["photos"] and meta, shipped as reprolib/data/photo_study.json)."""
    return json.loads(data_file(SHIPPED).read_text())


def default_pipeline(model) -> Pipeline:
    """``colorize``'s default pipeline for gray-VGG ``model`` on the study's views (:func:`~reprolib.colorization.
    pipelines.plan` at the views' size): its shipped Chooser, else R'_ab smoothed."""
    return plan(model, (CROP, CROP), (CROP, CROP)).pipeline


def one_match_rows(model) -> dict[str, Pipeline]:
    """The rows that share the photo route's match: R'_ab raw and smoothed, the synthetic ColorNet (on maps it was
    not trained on: a forced baseline) and the extractor's photo ColorNet, raw and smoothed."""
    rows: dict[str, Pipeline] = {"warped_reference": WarpSmoothed(smoothing="none"),
                                 "warped_reference_smoothed": WarpSmoothed()}
    rows["synthetic_colornet"] = DecColorNet(net=load_colornet(ColorNetWeights.COLORNET_FULL), smoothing="none")
    photo_net = colornet_for(model.extractor)
    if photo_net is not None and photo_net.name.startswith("colornet_photo"):  # not the synthetic world's net
        rows["photo_colornet"] = DecColorNet(net=photo_net, smoothing="none")
        rows["photo_colornet_smoothed"] = DecColorNet(net=photo_net, smoothing="median_guided")
    return rows


def scores(T_lab: torch.Tensor, P_ab: torch.Tensor) -> dict:
    """CIEDE2000 and PSNR of (T_L, P_ab) against the truth, and colourfulness of both, per image (B,)."""
    P_lab = torch.cat((T_lab[:, :1], P_ab.to(T_lab)), 1)
    rgb, truth = color.lab_to_rgb(P_lab).clamp(0, 1), color.lab_to_rgb(T_lab).clamp(0, 1)
    return {"delta_e2000": mean_delta_e2000(P_lab, T_lab), "psnr": psnr(rgb, truth), "colorfulness": colorfulness(rgb)}


def predictor(model, seconds: dict[str, list]):
    """predict(T_L, R_lab) -> {row: P_ab} of every row of the module docstring, for :func:`~reprolib.training.
    photo_pairs.evaluate_views`; each row's seconds per pair go to ``seconds`` (the one-match rows' include the
    match, the Chooser's its own three matchers)."""
    shared, picker, pairs = one_match_rows(model), default_pipeline(model), itertools.count()

    def predict(T_L, R_lab):
        t0 = time.perf_counter()
        out = {"gray": torch.zeros_like(R_lab[:, 1:]), "welsh": welsh(T_L, R_lab, seed=next(pairs))}
        times = {"gray": 0.0, "welsh": time.perf_counter() - t0}
        t0 = time.perf_counter()
        matched = WarpSmoothed().match(model, T_L, R_lab)
        matching = time.perf_counter() - t0
        for name, pipeline in shared.items():
            t0 = time.perf_counter()
            with warnings.catch_warnings():  # the synthetic net on another extractor's maps: a forced baseline
                warnings.simplefilter("ignore")
                out[name] = pipeline.predict(T_L, matched)
            times[name] = matching + time.perf_counter() - t0
        if picker.name == "chooser":
            t0 = time.perf_counter()
            out["chooser"] = picker.run(model, T_L, R_lab)[0]
            times["chooser"] = time.perf_counter() - t0
        for name, value in times.items():
            seconds.setdefault(name, []).append(value)
        return out

    return predict


@torch.no_grad()
def evaluate_extractor(choice: str, n_per: int = 4, names: tuple[str, ...] = HELDOUT_PHOTOS) -> dict:
    """Every row of the module docstring for one extractor, on the "other view" pairs of the held-out photos
    (or of ``names``)."""
    model = load_extractor(choice)
    pairs, seconds = other_view_pairs(names, n_per), {}
    measured = evaluate_views(predictor(model, seconds), measure=scores, pairs=pairs)
    sums: dict[str, dict[str, float]] = {}
    for name, per_pair in measured.items():
        row = sums.setdefault(name, {"delta_e2000": 0.0, "psnr": 0.0, "colorfulness": 0.0, "seconds": 0.0})
        for values, pair_seconds in zip(per_pair, seconds[name]):
            for k, v in values.items():
                row[k] += v.sum().item() / len(per_pair)
            row["seconds"] += pair_seconds / len(per_pair)
    truth = colorfulness(color.lab_to_rgb(pairs.T_lab).clamp(0, 1)).mean().item()
    return {"extractor": model.extractor, "source": model.source, "n_pairs": len(pairs),
            "truth_colorfulness": truth, "rows": {name: sums[name] for name in ROWS if name in sums},
            "missing_rows": [name for name in ROWS if name not in sums]}


@torch.no_grad()
def retrieval_versus_random(choice: str, size: int = 192, names: tuple[str, ...] = HELDOUT_PHOTOS) -> dict:
    """Each held-out photo (of ``names``) coloured from the others: CIEDE2000 to its own colours with
    retrieval's first choice, and averaged over all candidates (a reference drawn at random); coloured by
    ``colorize``'s default pipeline (:func:`default_pipeline`)."""
    model = load_extractor(choice)
    pipeline = default_pipeline(model)
    labs = {name: photo_lab(name, size) for name in names}
    first, random = [], []
    for name, T in labs.items():
        others = [n for n in names if n != name]
        ranked = recommend(model, T[None, :1], [labs[n][None, :1] for n in others])
        errors = {}
        for n in others:
            P_ab, _ = pipeline.run(model, T[None, :1], labs[n][None])
            errors[n] = mean_delta_e2000(torch.cat((T[None, :1], P_ab), 1), T[None]).item()
        first.append(errors[others[ranked[0][0]]])
        random.append(sum(errors.values()) / len(errors))
    return {"retrieval_first_choice": sum(first) / len(first), "random_reference": sum(random) / len(random),
            "targets": len(first), "candidates_per_target": len(names) - 1,
            "measure": "mean CIEDE2000 to the target's own colours (a stand-in for plausible)"}


@torch.no_grad()
def teacher_agreement(students: tuple[str, ...] = ("grayvgg_small_photo", "grayvgg_small_synthetic"),
                      teacher: str = "vgg16", tolerance: int = 4,
                      size: int = 192, n_per: int = 2) -> dict:
    """How close a student's correspondences are to the teacher's on photos neither trained on: the share of
    target pixels whose phi_T->R (the photo route) lands within ``tolerance`` px (Chebyshev; 4 px = one
    relu3_1 cell) of the teacher's, on ``n_per`` held-out "other view" pairs per photo and on cross-photo pairs
    (each held-out photo against the next one)."""
    views = other_view_pairs(HELDOUT_PHOTOS, n_per, crop=size)
    labs = [photo_lab(name, size) for name in HELDOUT_PHOTOS]
    sets = {"other_view": [(views.T_lab[i:i + 1], views.R_lab[i:i + 1]) for i in range(len(views))],
            "cross_photo": [(labs[i][None], labs[i - 1][None]) for i in range(len(labs))]}
    reference = load_extractor(teacher)
    route = WarpSmoothed()  # colorize's one matcher: the photo route

    def phi(model, T, R):
        return route.match(model, T[:, :1], R, maps=False)[0].phi_TR

    fields = {name: [phi(reference, T, R) for T, R in pairs] for name, pairs in sets.items()}
    out: dict = {"teacher": reference.extractor, "tolerance_px": tolerance, "size": size}
    for student in students:
        model = load_extractor(student)
        out[model.extractor] = {
            name: sum(((phi(model, T, R) - truth).abs().amax(1) <= tolerance).float().mean().item()
                      for (T, R), truth in zip(pairs, fields[name])) / len(pairs)
            for name, pairs in sets.items()}
    return out


def available() -> dict[str, str]:
    """The study's extractors that this machine has (VGG-16 from torchvision's cache or $REPROLIB_VGG_WEIGHTS)."""
    out = {}
    for name, choice in EXTRACTORS.items():
        try:
            load_extractor(choice)
        except (FileNotFoundError, ValueError):
            continue
        out[name] = choice
    return out


TIMED_PAIRS = 2  # the seconds per pair are measured again on this many pairs, alone on the machine


def pairs_per_photo(quick: bool) -> int:
    """"Other view" pairs per held-out photo in the study: 2 with ``--quick``, else 4."""
    return 2 if quick else 4


def jobs(quick: bool) -> dict[str, Job]:
    """The study's independent pieces (for ``reproduce --jobs``): every row per extractor this machine has,
    the students' agreement with VGG-16 (when it is here), retrieval against random, and the gallery
    (``quick``: fewer pairs, retrieval among four of the held-out photos, no agreement with VGG-16)."""
    n_per = pairs_per_photo(quick)
    have = available()
    out = {f"rows {name}": Job(evaluate_extractor, dict(choice=choice, n_per=n_per), cost=60 if name == "vgg16" else 40)
           for name, choice in have.items()}
    if "vgg16" in have and not quick:
        out["teacher agreement"] = Job(teacher_agreement, cost=40)
    names = HELDOUT_PHOTOS[:4] if quick else HELDOUT_PHOTOS
    out["cross photo"] = Job(retrieval_versus_random, dict(choice="grayvgg_small_photo", names=names), cost=40)
    out["gallery"] = Job(gallery, dict(choice="grayvgg_small_photo"), cost=10)
    return out


def run(out: OutputDir, quick: bool, step: Step, done: dict | None = None) -> tuple[dict, str]:
    """The photo study (module docstring): results.json["photos"] and its section of REPORT.md (``done``: the
    results of :func:`jobs`, when ``reproduce`` ran them). The rows' seconds per pair are measured here, on
    TIMED_PAIRS pairs with the machine to themselves, not inside the jobs."""
    n_per = pairs_per_photo(quick)
    done = run_jobs(jobs(quick), 1, step)[0] if done is None else done
    results: dict = {"protocol": f"other_view_pairs(HELDOUT_PHOTOS, {n_per}): the held-out photos only",
                     "heldout_photos": list(HELDOUT_PHOTOS), "extractors": {}}
    for name, choice in EXTRACTORS.items():
        if f"rows {name}" not in done:
            continue
        step(f"photos: seconds per pair with the {name} extractor")
        res = done[f"rows {name}"]
        timed = evaluate_extractor(choice, 1, HELDOUT_PHOTOS[:TIMED_PAIRS])["rows"]
        for row, r in res["rows"].items():
            r["seconds"] = timed[row]["seconds"]
        res["seconds_measured_on"] = (f"other_view_pairs(HELDOUT_PHOTOS[:{TIMED_PAIRS}], 1), "
                                      f"{torch.get_num_threads()} threads")
        results["extractors"][name] = res
    if "teacher agreement" in done:
        results["teacher_agreement"] = done["teacher agreement"]
    results["cross_photo"] = done["cross photo"]
    results["missing_extractors"] = [name for name in EXTRACTORS if name not in results["extractors"]]
    step("photos: figures")
    out.save_figure("figures/photo_gallery.png", plots.photo_gallery(*done["gallery"]))
    lines = []
    for name, res in results["extractors"].items():
        rows = [(row, f"{r['delta_e2000']:.2f}", f"{r['psnr']:.2f}", f"{r['colorfulness']:.1f}", f"{r['seconds']:.2f}")
                for row, r in res["rows"].items()]
        lines.append(f"**{name}** ({res['source']}; truth colourfulness {res['truth_colorfulness']:.1f}):\n\n"
                     + table(("row", "CIEDE2000", "PSNR (dB)", "colourfulness", "s / pair"), rows))
    cross = results["cross_photo"]
    agree = results.get("teacher_agreement")
    if agree is not None:
        agreement = (f"Correspondences against VGG-16's (share of target pixels within {agree['tolerance_px']} px, "
                     "other view / cross-photo): " + "; ".join(f"{k} {v['other_view']:.3f} / {v['cross_photo']:.3f}"
                                                               for k, v in agree.items() if isinstance(v, dict)) + ".")
    else:
        agreement = "Correspondences against VGG-16's: left out by --quick." if quick else ""
    md = f"""## Photographs: "same scene, other view" on the held-out photos (notebook 05)

{results['extractors'] and next(iter(results['extractors'].values()))['n_pairs']} pairs of {len(HELDOUT_PHOTOS)} \
held-out photos (192 x 192; no shipped photo model trained on them). Seconds per pair: measured again on
{TIMED_PAIRS} pairs with the machine to themselves ({torch.get_num_threads()} threads). Extractors missing here: \
{', '.join(results['missing_extractors']) or 'none'}.

{chr(10).join(lines)}

Cross-photo references (no ground truth; the target's own colours as a stand-in): CIEDE2000
{cross['retrieval_first_choice']:.2f} with retrieval's first choice, {cross['random_reference']:.2f} with a random
other held-out photo ({cross['targets']} targets, {cross['candidates_per_target']} candidates each).

{agreement}

![gallery](figures/photo_gallery.png)
"""
    return results, md


def _short(name: str) -> str:
    return name.rsplit(".", 1)[0].split("_by_")[0]


@torch.no_grad()
def gallery(choice: str, n: int = 6) -> tuple[list, list[str]]:
    """Six held-out pairs (target, reference, R'_ab, result, truth): three "other view" pairs and three
    cross-photo pairs with retrieval's first choice, coloured by ``colorize``'s default pipeline with ``choice``."""
    model = load_extractor(choice)
    pipeline = default_pipeline(model)
    pairs = other_view_pairs(HELDOUT_PHOTOS[::2], 1)
    items, titles = [], []
    for i in range(len(pairs)):
        T, R = pairs.T_lab[i:i + 1], pairs.R_lab[i:i + 1]
        P_ab, matched = pipeline.run(model, T[:, :1], R)
        items.append((T, R, matched[0].R_ab_warped, P_ab))
        titles.append(f"{_short(pairs.names[i])}, other view")
    labs = {name: photo_lab(name, 192) for name in HELDOUT_PHOTOS}
    for name in HELDOUT_PHOTOS[1::2][: n - len(items)]:
        others = [o for o in HELDOUT_PHOTOS if o != name]
        best = others[recommend(model, labs[name][None, :1], [labs[o][None, :1] for o in others])[0][0]]
        P_ab, matched = pipeline.run(model, labs[name][None, :1], labs[best][None])
        items.append((labs[name][None], labs[best][None], matched[0].R_ab_warped, P_ab))
        titles.append(f"{_short(name)} from {_short(best)}")
    return items, titles
