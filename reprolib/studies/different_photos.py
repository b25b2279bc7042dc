"""Study: colour a photo from a different photo (notebook 05): the tiers A-C for each gray-VGG this machine has
(:mod:`.photo_tiers`), several references and retrieval (:mod:`.reference_choice`), and the galleries of C and
of tier D (old black-and-white photos). ``results.json["photo_tiers"]``, ``figures/photo_tiers_c.png`` and
``figures/photo_tiers_d.png``.
"""
from __future__ import annotations

import json

from ..core.files import OutputDir
from ..core.jobs import Job, run_jobs
from ..core.weights import data_file
from ..figures.galleries import tier_gallery
from ..training.photo_pairs import DEVELOPMENT_PHOTOS, tier_photos
from . import photo_tiers, reference_choice
from .photo_study import EXTRACTORS, available
from .report import Step, table

SHIPPED = "photo_tiers.json"  # results.json["photo_tiers"] of the run that measured the shipped models
ROWS = ("hedged", "chooser", "gray", "tint", "reinhard", "welsh")  # in the tables' order
OFFLINE = EXTRACTORS["offline"]


def shipped() -> dict:
    """The study as measured for the shipped models (``python -m reprolib reproduce --only photo_tiers`` with
    ImageNet VGG-16 at hand), shipped as reprolib/data/photo_tiers.json."""
    return json.loads(data_file(SHIPPED).read_text())


def jobs(quick: bool) -> dict[str, Job]:
    """The tiers per extractor this machine has, several references and retrieval (offline extractor), and the
    two galleries (``quick``: a quarter of the tier photos, and VGG-16 left out)."""
    have = available()
    out = {f"tiers {name}": Job(photo_tiers.evaluate_extractor, dict(choice=choice, quick=quick),
                                cost=300 if name == "vgg16" else 150)
           for name, choice in have.items() if not (quick and name == "vgg16")}
    out["several references"] = Job(reference_choice.several_references, dict(choice=OFFLINE, quick=quick), cost=120)
    out["retrieval"] = Job(reference_choice.retrieval_versus_random, dict(choice=OFFLINE, quick=quick), cost=100)
    out["c gallery"] = Job(reference_choice.c_gallery, dict(choice=OFFLINE), cost=10)
    out["d gallery"] = Job(reference_choice.d_gallery, dict(choice=OFFLINE), cost=10)
    return out


def floors(tiers: dict) -> dict:
    """The issue's floors for the default ("hedged") on C same kind, and no worse than gray on C other kind."""
    same, other = tiers["C_same_kind"]["rows"], tiers["C_other_kind"]["rows"]
    h = same["hedged"]
    return {"below_0.9_tint": h["delta_e2000"] <= 0.9 * same["tint"]["delta_e2000"],
            "below_0.7_gray": h["delta_e2000"] <= 0.7 * same["gray"]["delta_e2000"],
            "below_welsh_and_reinhard": h["delta_e2000"] < min(same["welsh"]["delta_e2000"],
                                                               same["reinhard"]["delta_e2000"]),
            "follows_90": h["follows"] >= 0.9, "colourful_0.7": (h["colorfulness_ratio"] or 0) >= 0.7,
            "other_kind_no_worse_than_gray": other["hedged"]["delta_e2000"] <= other["gray"]["delta_e2000"]}


def _cell(s: dict) -> str:
    lo, hi = s["delta_e2000_ci95"]
    return f"{s['delta_e2000']:.2f} [{lo:.2f}, {hi:.2f}]"


def _markdown(results: dict) -> str:
    parts = []
    for name, res in results["extractors"].items():
        tiers = res["tiers"]
        rows = [(row, *(_cell(t["rows"][row]) for t in tiers.values())) for row in ROWS]
        rows.append(("truth's colourfulness", *(f"{t['truth_colorfulness']:.1f}" for t in tiers.values())))
        head = ("row", *(f"{k} ({t['n_pairs']})" for k, t in tiers.items()))
        c = tiers["C_same_kind"]["rows"]
        extra = "; ".join(f"{row}: colourfulness {c[row]['colorfulness_ratio']:.2f} x the truth's, follows "
                          f"{c[row]['follows']:.0%}" for row in ("hedged", "chooser", "tint", "reinhard", "welsh"))
        parts.append(f"**{name}** ({res['source']}), CIEDE2000 [95 % interval]:\n\n{table(head, rows)}\n\n"
                     f"C same kind: {extra}.\n\nFloors met: {res['floors']}")
    several, retrieval = results["several_references"], results["retrieval"]
    return f"""## Colour from a different photo: tiers A-D (notebook 05)

{len(results['tier_photos'])} tier photos (no shipped model trained on them; the hedge's settings were chosen on
{len(results['development_photos'])} others). A: same scene, another view (mirrored or not); B: A with the
reference's a*b* turned (truth turned alike); C: another photo of the same kind, or of another kind.

{chr(10).join(parts)}

Several references ({several['targets']} targets, CIEDE2000): best single (oracle) {several['rows']['best_single']:.2f},
mean single {several['rows']['mean_single']:.2f}, the first two joined {several['rows']['joined_2']:.2f}, three
joined {several['rows']['joined_3']:.2f}. Retrieval's first choice {retrieval['retrieval_first_choice']:.2f} against
random references {retrieval['random_reference']:.2f} (first choice better for {retrieval['retrieval_wins']:.0%}
of {retrieval['targets']} targets).

![C gallery](figures/photo_tiers_c.png)

![D gallery](figures/photo_tiers_d.png)
"""


def run(out: OutputDir, quick: bool, step: Step, done: dict | None = None) -> tuple[dict, str]:
    """The study (module docstring): results.json["photo_tiers"] and its section of REPORT.md."""
    done = run_jobs(jobs(quick), 1, step)[0] if done is None else done
    results: dict = {"tier_photos": tier_photos()[::4] if quick else tier_photos(),
                     "development_photos": list(DEVELOPMENT_PHOTOS), "extractors": {}}
    for name in EXTRACTORS:
        if f"tiers {name}" in done:
            res = done[f"tiers {name}"]
            res["floors"] = floors(res["tiers"])
            results["extractors"][name] = res
    results["missing_extractors"] = [n for n in EXTRACTORS if n not in results["extractors"]]
    results["several_references"] = done["several references"]
    results["retrieval"] = done["retrieval"]
    step("photo tiers: figures")
    out.save_figure("figures/photo_tiers_c.png", tier_gallery(done["c gallery"], "C: another photo of the same kind"))
    if done["d gallery"]:
        out.save_figure("figures/photo_tiers_d.png", tier_gallery(done["d gallery"], "D: black-and-white photos"))
    return results, _markdown(results)
