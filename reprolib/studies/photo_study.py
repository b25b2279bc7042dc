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

import json
import time
import warnings

import torch

from ..colorization.chooser import choose_pairs, chooser_for
from ..colorization.colorize import colorize_lab, colorize_matched, photo_match
from ..colorization.colornet import ColorNetWeights, load_colornet
from ..colorization.extractors import load_extractor
from ..colorization.retrieval import recommend
from ..colorization.welsh import welsh
from ..core import color
from ..core.files import OutputDir
from ..core.jobs import Job, run_jobs
from ..core.weights import data_file
from ..world.photo_views import HELDOUT_PHOTOS, other_view_pairs, photo_lab
from . import plots
from .image_metrics import colorfulness, mean_delta_e2000, psnr
from .report import Step, table

SHIPPED = "photo_study.json"  # results.json["photos"] of the run that measured the shipped photo models
ROWS = ("gray", "welsh", "warped_reference", "warped_reference_smoothed", "synthetic_colornet", "photo_colornet",
        "photo_colornet_smoothed", "chooser")
EXTRACTORS = {"offline": "photo", "vgg16": "vgg16"}  # the study's names -> extractors.load_extractor choices


def shipped() -> dict:
    """The photo study as measured for the shipped models (``python -m reprolib reproduce --only photos``,
    with ImageNet VGG-16 at hand; its results.json["photos"] and meta, shipped as reprolib/data/photo_study.json)."""
    return json.loads(data_file(SHIPPED).read_text())


def photo_colornet_for(extractor: str):
    """The shipped photo-trained ColorNet of a gray-VGG, or None."""
    for entry in ColorNetWeights:
        photo = entry.value.name.startswith("colornet_photo")
        if photo and entry.features == extractor and entry.status() != "missing":
            return load_colornet(entry)
    return None


@torch.no_grad()
def default_pipeline(model, picker, T_L: torch.Tensor, R_lab: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``colorize``'s default at the working size: P_ab of ``picker``, the extractor's shipped Chooser
    (:func:`~reprolib.colorization.chooser.chooser_for`; None: R'_ab smoothed), and R'_ab of the photo route."""
    if picker is None:
        P_ab, m = colorize_lab(model, None, T_L, R_lab)
        return P_ab, m.R_ab_warped
    P_ab, matched = choose_pairs(picker, model, T_L, R_lab)
    return P_ab, matched[0].R_ab_warped


def scores(T_lab: torch.Tensor, P_ab: torch.Tensor) -> dict:
    """CIEDE2000 and PSNR of (T_L, P_ab) against the truth, and colourfulness of both, per image (B,)."""
    P_lab = torch.cat((T_lab[:, :1], P_ab.to(T_lab)), 1)
    rgb, truth = color.lab_to_rgb(P_lab).clamp(0, 1), color.lab_to_rgb(T_lab).clamp(0, 1)
    return {"delta_e2000": mean_delta_e2000(P_lab, T_lab), "psnr": psnr(rgb, truth), "colorfulness": colorfulness(rgb)}


def _net_rows(model, T, R, nets: dict) -> dict[str, tuple[torch.Tensor, float]]:
    """Each row of ``nets`` from one match (each row's seconds include the matching)."""
    t0 = time.perf_counter()
    m = photo_match(model, T[:, :1], R)
    matching = time.perf_counter() - t0
    rows = {}
    for name, (net, smoothing) in nets.items():
        t0 = time.perf_counter()
        P_ab = colorize_matched(net, T[:, :1], m, smoothing)
        rows[name] = (P_ab, matching + time.perf_counter() - t0)
    return rows


@torch.no_grad()
def evaluate_extractor(choice: str, n_per: int = 4, names: tuple[str, ...] = HELDOUT_PHOTOS) -> dict:
    """Every row of the module docstring for one extractor, on the "other view" pairs of the held-out photos
    (or of ``names``)."""
    model = load_extractor(choice)
    pairs = other_view_pairs(names, n_per)
    photo_net, picker = photo_colornet_for(model.extractor), chooser_for(model.extractor)
    nets = {"warped_reference": (None, "none"), "warped_reference_smoothed": (None, "median_guided")}
    nets["synthetic_colornet"] = (load_colornet(ColorNetWeights.FULL), "none")
    if photo_net is not None:
        nets.update(photo_colornet=(photo_net, "none"), photo_colornet_smoothed=(photo_net, "median_guided"))
    sums: dict[str, dict[str, float]] = {}
    for i in range(len(pairs)):
        T, R = pairs.T_lab[i:i + 1], pairs.R_lab[i:i + 1]
        t0 = time.perf_counter()
        rows = {"gray": (torch.zeros_like(T[:, 1:]), 0.0), "welsh": (welsh(T[:, :1], R, seed=i), 0.0)}
        rows["welsh"] = (rows["welsh"][0], time.perf_counter() - t0)
        with warnings.catch_warnings():  # the synthetic net on another extractor's maps: a forced baseline
            warnings.simplefilter("ignore")
            rows.update(_net_rows(model, T, R, nets))
        if picker is not None:  # its own three matchings, timed with it
            t0 = time.perf_counter()
            P_ab, _ = choose_pairs(picker, model, T[:, :1], R)
            rows["chooser"] = (P_ab, time.perf_counter() - t0)
        for name, (P_ab, seconds) in rows.items():
            row = sums.setdefault(name, {"delta_e2000": 0.0, "psnr": 0.0, "colorfulness": 0.0, "seconds": 0.0})
            for k, v in scores(T, P_ab).items():
                row[k] += v.sum().item() / len(pairs)
            row["seconds"] += seconds / len(pairs)
    truth = colorfulness(color.lab_to_rgb(pairs.T_lab).clamp(0, 1)).mean().item()
    return {"extractor": model.extractor, "source": model.source, "n_pairs": len(pairs), "truth_colorfulness": truth,
            "rows": {name: sums[name] for name in ROWS if name in sums},
            "missing_rows": [name for name in ROWS if name not in sums]}


@torch.no_grad()
def retrieval_versus_random(choice: str, size: int = 192, names: tuple[str, ...] = HELDOUT_PHOTOS) -> dict:
    """Each held-out photo (of ``names``) coloured from the others: CIEDE2000 to its own colours with
    retrieval's first choice, and averaged over all candidates (a reference drawn at random); coloured by
    ``colorize``'s default pipeline (:func:`default_pipeline`)."""
    model = load_extractor(choice)
    picker = chooser_for(model.extractor)
    labs = {name: photo_lab(name, size) for name in names}
    first, random = [], []
    for name, T in labs.items():
        others = [n for n in names if n != name]
        ranked = recommend(model, T[None, :1], [labs[n][None, :1] for n in others])
        errors = {}
        for n in others:
            P_ab, _ = default_pipeline(model, picker, T[None, :1], labs[n][None])
            errors[n] = mean_delta_e2000(torch.cat((T[None, :1], P_ab), 1), T[None]).item()
        first.append(errors[others[ranked[0][0]]])
        random.append(sum(errors.values()) / len(errors))
    return {"retrieval_first_choice": sum(first) / len(first), "random_reference": sum(random) / len(random),
            "targets": len(first), "candidates_per_target": len(names) - 1,
            "measure": "mean CIEDE2000 to the target's own colours (a stand-in for plausible)"}


@torch.no_grad()
def teacher_agreement(students: tuple[str, ...] = ("photo", "small"), teacher: str = "vgg16", tolerance: int = 4,
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
    fields = {name: [photo_match(reference, T[:, :1], R).phi_TR for T, R in pairs] for name, pairs in sets.items()}
    out: dict = {"teacher": reference.extractor, "tolerance_px": tolerance, "size": size}
    for student in students:
        model = load_extractor(student)
        out[model.extractor] = {
            name: sum(((photo_match(model, T[:, :1], R).phi_TR - phi).abs().amax(1) <= tolerance).float().mean().item()
                      for (T, R), phi in zip(pairs, fields[name])) / len(pairs)
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
    out["cross photo"] = Job(retrieval_versus_random, dict(choice="photo", names=HELDOUT_PHOTOS[:4] if quick
                                                           else HELDOUT_PHOTOS), cost=40)
    out["gallery"] = Job(gallery, dict(choice="photo"), cost=10)
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
    picker = chooser_for(model.extractor)
    pairs = other_view_pairs(HELDOUT_PHOTOS[::2], 1)
    items, titles = [], []
    for i in range(len(pairs)):
        T, R = pairs.T_lab[i:i + 1], pairs.R_lab[i:i + 1]
        P_ab, R_ab_warped = default_pipeline(model, picker, T[:, :1], R)
        items.append((T, R, R_ab_warped, P_ab))
        titles.append(f"{_short(pairs.names[i])}, other view")
    labs = {name: photo_lab(name, 192) for name in HELDOUT_PHOTOS}
    for name in HELDOUT_PHOTOS[1::2][: n - len(items)]:
        others = [o for o in HELDOUT_PHOTOS if o != name]
        best = others[recommend(model, labs[name][None, :1], [labs[o][None, :1] for o in others])[0][0]]
        P_ab, R_ab_warped = default_pipeline(model, picker, labs[name][None, :1], labs[best][None])
        items.append((labs[name][None], labs[best][None], R_ab_warped, P_ab))
        titles.append(f"{_short(name)} from {_short(best)}")
    return items, titles
