"""The README's results tables, generated from a run's ``results.json``, never copied by hand.

:func:`results_page` is the markdown of ``docs/results.md`` (one table per experiment, ``reproduce`` writes it
as ``results.md`` beside results.json); :func:`headline` the short table at the top of the README. Both are
pure functions of the dict. :func:`write_docs` (``make docs``, or ``python -m reprolib.results_tables
results/results.json``) copies a run's results.json to ``docs/`` and writes docs/results.md and the README's
headline block from it. Each row is a label and a value, ``str.format`` templates over the experiment's
section (``{rows[full][delta_e2000]:.2f}``): a figure the run lacks prints as "–", and a value none of whose
figures the run has reads "not measured in this run", so a ``--quick`` run, or one without VGG-16, renders too.
"""
from __future__ import annotations

import json
import math
import string
import sys
from collections.abc import Callable, Mapping
from pathlib import Path

from .core.files import atomic_write_text

NOT_MEASURED = "not measured in this run"
GAP = "–"  # one missing figure in a row that has others
Row = tuple[str, str]  # (label, value): format templates over one experiment's section

TITLES = {  # results.json key -> section title, in the README's order
    "lab": "Lab colour (notebook 01)",
    "features": "The synthetic world and the gray-VGG (notebook 02)",
    "matching": "Matching: the similarity sub-net (notebook 02)",
    "scaling": "Scaling with the pixel count (`make bench`)",
    "colorization": "Colorization in the synthetic world (notebook 03)",
    "photos": "Photographs (notebook 05)",
    "photo_tiers": "Colour from a different photo: tiers A-D (notebook 05)",
    "video": "Video: temporal consistency (notebook 06)",
    "insertion": "Inserting Videos into Videos: the pair discriminator (notebook 04)",
}
COMMANDS = {name: f"`python -m reprolib reproduce --only {name}`" for name in TITLES}
COMMANDS["scaling"] += " (or `make bench`)"
EXTRACTORS = {"offline": "offline student", "vgg16": "ImageNet VGG-16"}  # photos.extractors keys, in order
NOT_IN_RESULTS = ("Not in results.json, so not here: the `make bench` ranges of the timings (three runs of "
                  "`benchmarks/`), and notebook 05's photo timings (`colorize` of a 512 x 384 photo, warm and "
                  "from the command line) and its 256 x 256 views of the held-out photos.")


class _Lenient(string.Formatter):
    """``str.format`` over a results section that prints a missing, None or NaN figure as GAP and counts them."""

    def __init__(self) -> None:
        self.found = self.missing = 0

    def get_field(self, field_name, args, kwargs):
        try:
            return super().get_field(field_name, args, kwargs)
        except (KeyError, IndexError, TypeError):
            return None, field_name

    def format_field(self, value, format_spec: str) -> str:
        if value is None or (isinstance(value, float) and math.isnan(value)):
            self.missing += 1
            return GAP
        try:
            text = super().format_field(value, format_spec)
        except (TypeError, ValueError):
            self.missing += 1
            return GAP
        self.found += 1
        return text


def _format(template: str, section: Mapping) -> tuple[str, bool]:
    """``template`` formatted over ``section``, and whether it names figures of which the section has none."""
    formatter = _Lenient()
    text = formatter.vformat(template, (), section)
    return text, bool(formatter.missing and not formatter.found)


def fill(template: str, section: Mapping) -> str | None:
    """``template`` formatted over ``section``; None when it names figures and the section has none of them."""
    text, none = _format(template, section)
    return None if none else text


LAB: tuple[Row, ...] = (
    (r"max \|Lab - scikit-image\|, {exactness[grid_points]:,} 8-bit RGB colours, float64",
     "{exactness[max_abs_diff_skimage]:.1e}"),
    (r"round trip max \|rgb - lab_to_rgb(rgb_to_lab(rgb))\|, float64", "{exactness[roundtrip_max_abs]:.1e}"),
    ("`rgb_to_lab`, {timing_ms[size]} x {timing_ms[size]} float32, median of {timing_ms[repeats]} runs at "
     "{timing_ms[threads]} threads: ours / plain torch / OpenCV / scikit-image",
     "{timing_ms[reprolib]:.1f} / {timing_ms[torch_naive]:.1f} / {timing_ms[opencv_float32]:.1f} / "
     "{timing_ms[skimage]:.1f} ms (ours {timing_ms[ratio_to_opencv]:.2f}x OpenCV's)"),
    ("OpenCV float32 worst error (ours is exact)", "{timing_ms[opencv_max_delta_e76]:.2f} dE76"),
    ("equal steps, CV of dE00 step sizes, gray ramp: sRGB / linear RGB / Lab",
     "{step_uniformity_cv[black->white][srgb]:.2f} / {step_uniformity_cv[black->white][linear_rgb]:.2f} / "
     "{step_uniformity_cv[black->white][lab]:.2f}"),
    (r"regression desaturates: 7 colours around the gray axis at L\* = 65, mean chroma "
     "{l1_gray[mean_chroma_of_colours]:.1f}: chroma of the L2 / per-channel L1 / geometric-median optimum",
     "{l1_gray[l2_prediction_chroma]:.1f} / {l1_gray[l1_prediction_chroma]:.1f} / "
     "{l1_gray[l1_euclidean_prediction_chroma]:.1f}"),
    (r"regression desaturates: 7 warm colours on one side of it at L\* = 60, mean chroma "
     "{l1_warm[mean_chroma_of_colours]:.1f}: the same optima",
     "{l1_warm[l2_prediction_chroma]:.1f} / {l1_warm[l1_prediction_chroma]:.1f} / "
     "{l1_warm[l1_euclidean_prediction_chroma]:.1f}"),
)
FEATURES: tuple[Row, ...] = (
    ("world: synthetic 64 x 64 scenes per second, one thread", "{scenes_per_second_hundreds:,.0f}"),
    ("gray-VGG: held-out per-pixel class accuracy of the shipped small net (256 scenes, 64 with `--quick`)",
     "{grayvgg_heldout_accuracy:.3f}"),
    ("gray-VGG: NN lands on the same class ({nn_label_agreement[layer]}, {nn_label_agreement[n_pairs]} pairs): "
     "trained / random weights / chance",
     "{nn_label_agreement[trained]:.3f} / {nn_label_agreement[random]:.3f} / {nn_label_agreement[chance]:.3f}"),
)
MATCHING_AGREEMENT: Row = (
    "phi_T->R lands on the same class ({n_pairs} held-out pairs): exact / PatchMatch (relu5_1 -> relu2_1) / "
    "attention (chance)",
    "{label_agreement[exact]:.3f} / {label_agreement[patchmatch]:.3f} / {label_agreement[attention]:.3f} "
    "({chance:.3f})")
MATCHING: tuple[Row, ...] = (
    MATCHING_AGREEMENT,
    ("ROC AUC, mean similarity map predicting a correct match: bidirectional / forward",
     "{bidirectional_auc:.3f} / {forward_auc:.3f}"),
    ("`match` at 256 x 256, VGG-19 sizes, features + both fields + R'_ab + 10 maps, {threads} threads: "
     "exact / PatchMatch / attention",
     "{seconds_256[exact]:.2f} / {seconds_256[patchmatch]:.2f} / {seconds_256[attention]:.2f} s"),
    ("peak memory of that call above the process's baseline: exact / PatchMatch / attention",
     "{peak_mb_256[exact]:.0f} / {peak_mb_256[patchmatch]:.0f} / {peak_mb_256[attention]:.0f} MB"),
)


def _scaling_cell(extractor: str) -> str:
    cell, gb = f"cells[{extractor}/patchmatch/768x1024]", f"peak_gb[{extractor}/patchmatch/768x1024]"
    return (f"{{{cell}[colorize_s]:.1f}} s / {{{gb}:.1f}} GB / {{{cell}[features_s]:.1f}} s "
            f"({{{cell}[colorize_over_features]:.2f}}x)")


SCALING: tuple[Row, ...] = (
    ("`colorize` of a 1024 x 768 photo at working size 768, VGG-16, PatchMatch: seconds / peak memory / the two "
     "VGG-16 forward passes alone", _scaling_cell("vgg16")),
    ("the same with the offline photo gray-VGG (`make bench` has every size and method)", _scaling_cell("photo")),
)


def _each(template: str, names: tuple[str, ...], sep: str = " / ") -> str:
    """``template`` (with NAME) once per name, joined: one figure of several rows."""
    return sep.join(template.replace("NAME", name) for name in names)


FIVE_ROWS = ("l1_auto", "welsh", "warped_reference", "chrominance_only", "full")
THREE_NETS = ("warped_reference", "chrominance_only", "full")
COLORIZATION_ROWS: Row = (
    "CIEDE2000 to the ground truth, {n_pairs} held-out pairs: l1_auto / Welsh / R'_ab alone / chrominance only / full",
    _each("{rows[NAME][delta_e2000]:.2f}", FIVE_ROWS))
COLORIZATION: tuple[Row, ...] = (
    COLORIZATION_ROWS,
    ("colourfulness (ground truth {rows[ground_truth][colorfulness]:.0f}): l1_auto / Welsh / R'_ab alone / "
     "chrominance only / full", _each("{rows[NAME][colorfulness]:.0f}", FIVE_ROWS)),
    ("colour-classifier accuracy (true colours {rows[ground_truth][classifier_accuracy]:.2f}, chance "
     "{classifier_chance:.2f}): l1_auto / Welsh / R'_ab / chrominance only / full",
     _each("{rows[NAME][classifier_accuracy]:.2f}", FIVE_ROWS)),
    ("`colorize` a 256 x 256 photo end to end (small synthetic gray-VGG, photo route, ColorNet, smoothing)",
     "{seconds_colorize_256:.2f} s"),
    ("does the full net read its similarity maps? CIEDE2000 on the {trust[n_pairs]} pairs with its own maps / "
     "maps 0 / maps 1 / shuffled over pixels / another pair's / R'_ab alone",
     _each("{trust[rows][NAME][all]:.2f}",
           ("full", "maps_zero", "maps_one", "maps_shuffled", "maps_other_pair", "warped_reference"))),
    ("robust to the reference? World where each class wears its usual colour with p {robustness[usual]}, nets "
     "trained there; {robustness[n_pairs]} held-out targets, on the {unshown_percent:.1f} % of pixels whose class "
     "a partial reference lacks, CIEDE2000 to the target's own colours: R'_ab / chrominance only / full / the "
     "usual colour there (oracle)",
     _each("{robustness[rows][partial][NAME][unshown_own]:.2f}", (*THREE_NETS, "prior_oracle"))),
    ("the same with an unrelated reference (a photograph: every pixel unshown)",
     _each("{robustness[rows][unrelated][NAME][unshown_own]:.2f}", (*THREE_NETS, "prior_oracle"))),
    ("where the partial reference shows the class, CIEDE2000 to the ground truth: R'_ab / chrominance only / full",
     _each("{robustness[rows][partial][NAME][shown]:.2f}", THREE_NETS)),
)

PHOTO_ROWS = ("gray", "welsh", "warped_reference", "warped_reference_smoothed", "synthetic_colornet",
              "photo_colornet", "photo_colornet_smoothed", "chooser")


def photo_rows(extractor: str, first: bool) -> Row:
    """The eight rows' CIEDE2000 on the "other view" pairs with one extractor (``first``: the full label)."""
    who = EXTRACTORS.get(extractor, extractor)
    label = (f"CIEDE2000, {{extractors[{extractor}][n_pairs]}} \"other view\" pairs of {{n_heldout}} held-out "
             f"photos, {who}: gray / Welsh / R'_ab / R'_ab smoothed / synthetic ColorNet / photo ColorNet / photo "
             "ColorNet smoothed / Chooser (the default)") if first else f"the same with {who}"
    return label, _each(f"{{extractors[{extractor}][rows][NAME][delta_e2000]:.2f}}", PHOTO_ROWS)


PHOTOS_CROSS: Row = ("cross-photo references, CIEDE2000 to the target's own colours: retrieval's first choice / "
                     "random", "{cross_photo[retrieval_first_choice]:.1f} / {cross_photo[random_reference]:.1f}")
PHOTOS: tuple[Row, ...] = (
    ("share of target pixels whose phi_T->R lands within {teacher_agreement[tolerance_px]} px of VGG-16's, "
     "other view / cross-photo: photo student / synthetic gray-VGG",
     "{teacher_agreement[grayvgg_small_photo][other_view]:.2f} / "
     "{teacher_agreement[grayvgg_small_photo][cross_photo]:.2f} vs "
     "{teacher_agreement[grayvgg_small_synthetic][other_view]:.2f} / "
     "{teacher_agreement[grayvgg_small_synthetic][cross_photo]:.2f}"),
    PHOTOS_CROSS,
)

TIER_ROWS = ("hedged", "chooser", "gray", "tint", "reinhard", "welsh")
TIERS = {"A_mirrored": "A, same scene, mirrored reference", "A_not_mirrored": "A, same scene, not mirrored",
         "B_120": "B, the reference's a*b* turned by 120 degrees", "B_240": "B, turned by 240 degrees",
         "C_same_kind": "C, another photo of the same kind", "C_other_kind": "C, another photo of another kind"}


def tier_row(extractor: str, tier: str, first: bool) -> Row:
    """One tier's CIEDE2000 (and 95 % interval of the default) with one extractor."""
    where = f"extractors[{extractor}][tiers][{tier}]"
    label = (f"{TIERS[tier]}, {EXTRACTORS.get(extractor, extractor)}, {{{where}[n_pairs]}} pairs: CIEDE2000 "
             "hedged (the default) [95 % interval] / Chooser unhedged (before) / gray / tint / Reinhard / Welsh"
             if first else f"{TIERS[tier]}, {{{where}[n_pairs]}} pairs")
    return label, (f"{{{where}[rows][hedged][delta_e2000]:.2f}} [{{{where}[rows][hedged][delta_e2000_ci95][0]:.2f}}"
                   f", {{{where}[rows][hedged][delta_e2000_ci95][1]:.2f}}] / "
                   + _each(f"{{{where}[rows][NAME][delta_e2000]:.2f}}", TIER_ROWS[1:]))


def tier_colour_row(extractor: str) -> Row:
    """C same kind: colourfulness against the truth's and "follows its reference", default and before."""
    where = f"extractors[{extractor}][tiers][C_same_kind][rows]"
    return (f"C same kind, {EXTRACTORS.get(extractor, extractor)}: colourfulness / the truth's, and share of targets "
            "whose output is closer to its own reference than to another's: hedged / Chooser unhedged / Welsh",
            _each(f"{{{where}[NAME][colorfulness_ratio]:.2f}}, {{{where}[NAME][follows]:.0%}}",
                  ("hedged", "chooser", "welsh")))


TIERS_SHARED: tuple[Row, ...] = (
    ("several references (offline student, {several_references[targets]} targets with three same-kind references),"
     " CIEDE2000: the best single one (oracle) / the mean single one / the first two joined / three joined",
     _each("{several_references[rows][NAME]:.2f}", ("best_single", "mean_single", "joined_2", "joined_3"))),
    ("retrieval's first choice among {retrieval[candidates_per_target]} tier photos against random ones, CIEDE2000 "
     "({retrieval[targets]} targets; share where the first choice is better)",
     "{retrieval[retrieval_first_choice]:.2f} / {retrieval[random_reference]:.2f} ({retrieval[retrieval_wins]:.0%})"),
)


def tier_rows(section: Mapping) -> tuple[Row, ...]:
    """The photo_tiers rows: each tier per extractor the run had, C's colour, several references, retrieval."""
    out: list[Row] = []
    for extractor in photo_extractors(section):
        out += [tier_row(extractor, tier, i == 0) for i, tier in enumerate(TIERS)]
        out.append(tier_colour_row(extractor))
    return (*out, *TIERS_SHARED)


WITHOUT, WITH = "without_pair_discriminator", "with_pair_discriminator"
HELD = "pair_discriminator_matte_held"
INSERTION_VISIBILITY: Row = (
    "the object's visibility on real pairs (mean Delta E to r_B over its mask): ground truth / without / with "
    "the pair discriminator",
    "{references[ground_truth_real_pair_visibility]:.1f} / "
    + _each("{NAME[real_pair_visibility_mean]:.1f} ± {NAME[real_pair_visibility_std]:.1f}", (WITHOUT, WITH)))
INSERTION_FAIR: Row = (
    "the fair test ({n_seeds} seeds; error below without and below erasing, V >= 0.8 x V without, every seed): "
    "real-pair error / V of the pair discriminator with its matte held (a deviation), and whether the claim "
    "holds for it / for the paper's pair discriminator",
    "{" + HELD + "[real_pair_error_mean]:.1f} ± {" + HELD + "[real_pair_error_std]:.1f} / {" + HELD
    + "[real_pair_visibility_mean]:.1f} ± {" + HELD + "[real_pair_visibility_std]:.1f}; {fair_verdict[" + HELD
    + "]} / {fair_verdict[" + WITH + "]}")
INSERTION: tuple[Row, ...] = (
    ("real-pair error (CIE76 over the box, {n_seeds} seeds): without / with the pair discriminator",
     _each("{NAME[real_pair_error_mean]:.1f} ± {NAME[real_pair_error_std]:.1f}", (WITHOUT, WITH))),
    ("fake-pair error: without / with", _each("{NAME[fake_pair_error_mean]:.1f}", (WITHOUT, WITH))),
    ("pair-classifier accuracy on the outputs (0.5 = indistinguishable): without / with",
     _each("{NAME[pair_classifier_accuracy]:.2f}", (WITHOUT, WITH))),
    ("with the pair discriminator, real / fake error: blending / direct generator (seed 0)",
     _each("{NAME[per_seed][0][real_pair_error]:.1f} / {NAME[per_seed][0][fake_pair_error]:.1f}",
           (WITH, "direct_with_pair_discriminator"), sep=" vs ")),
    ("erase the object (output = r_B): real-pair error", "{erase_object_baseline[real_pair_error_mean]:.1f}"),
    INSERTION_VISIBILITY,
    ("real-pair error / visibility, one seed: gradient reversal instead of the pair discriminator / the generator "
     "supervised on real pairs (an oracle)",
     _each("{NAME[real_pair_error_mean]:.1f} / {NAME[real_pair_visibility_mean]:.1f}",
           ("gradient_reversal", "oracle_supervised_real_pairs"), sep="; ")),
    ("real-pair error with no generator: the object cut out with its true mask, not relit / the raw composite",
     "{references[copy_real_pair_error]:.1f} / {references[composite_real_pair_error]:.1f}"),
    INSERTION_FAIR,
    ("the unrelit copy faded to each run's visibility (a run that only fades cannot beat it), real-pair error: "
     "without / with the pair discriminator / matte held",
     _each("{NAME[faded_copy_error_at_equal_visibility_mean]:.1f}", (WITHOUT, WITH, HELD))),
)

VIDEO_METHODS = ("per_frame", "filter", "recurrent")  # video.temporal.VIDEO_METHODS (no torch import here)
VIDEO_ROW = "{NAME[ciede2000]:.2f} / {NAME[warp_error]:.3f} / {NAME[cdc]:.2f} / {NAME[colourfulness]:.1f}"


def video_group_row(group: str, label: str) -> Row:
    """One group of clips: CIEDE2000 / warp error / CDC / colourfulness of each method, then gray and the truth."""
    return (f"{label}: CIEDE2000 / warp error x1000 / CDC x1000 / colourfulness of per frame; filter; recurrent "
            "(gray; truth)",
            _each(VIDEO_ROW.replace("NAME", f"groups[{group}][NAME]"), VIDEO_METHODS, sep="; ")
            + " (" + _each(VIDEO_ROW.replace("NAME", f"groups[{group}][NAME]"), ("gray", "truth"), sep="; ") + ")")


VIDEO: tuple[Row, ...] = (
    video_group_row("generated", "all held-out generated clips ({n_generated})"),
    video_group_row("photo_keyframe", "photo clips from their first frame"),
    video_group_row("photo_other", "photo clips from another photo of the same kind"),
    video_group_row("world", "synthetic-world clips"),
    video_group_row("real", "the real clip (Big Buck Bunny, DIS flow) from its first frame"),
    ("the whole real clip ({long_clip[frames]} frames, short side {long_clip[size]}), drift: CIEDE2000 over all frames "
     "/ over the last quarter of per frame; filter; recurrent",
     _each("{long_clip[rows][NAME][ciede2000]:.2f} / {long_clip[rows][NAME][last_quarter_ciede2000]:.2f}",
           VIDEO_METHODS, sep="; ")),
    ("frames per second at working size {speed_size} (2 cores): per frame / filter / recurrent",
     _each("{speed[NAME][fps]:.2f}", VIDEO_METHODS)),
)

ROWS: dict[str, tuple[Row, ...]] = {"lab": LAB, "features": FEATURES, "matching": MATCHING, "scaling": SCALING,
                                    "colorization": COLORIZATION, "insertion": INSERTION, "video": VIDEO}
DERIVED: dict[str, dict[str, Callable[[Mapping], object]]] = {  # figures the templates need computed
    "features": {"scenes_per_second_hundreds": lambda s: round(s["scenes_per_second_64"], -2)},
    "scaling": {"peak_gb": lambda s: {k: c["colorize_peak_mb"] / 1024 for k, c in s["cells"].items()
                                      if "colorize_peak_mb" in c}},
    "colorization": {"unshown_percent": lambda s: 100 * s["robustness"]["unshown_share"]["partial"]},
    "photos": {"n_heldout": lambda s: len(s["heldout_photos"])},
    "insertion": {"n_seeds": lambda s: len(s[WITH]["seeds"]),
                  "fair_verdict": lambda s: {k: "holds" if t["holds"] else "does not hold"
                                             for k, t in s["fair_test"].items()}},
    "video": {"n_generated": lambda s: 2 * len(s["photo_clips"]) + s["world_clips"]},
    "meta": {"minutes": lambda s: s["seconds"] / 60,
             "commands": lambda s: "; ".join(dict.fromkeys(f"`{r['command']}`" for r in s["runs"].values()))},
}


def _view(name: str, section: object) -> Mapping:
    """The section (a dict, else empty) with its DERIVED figures; a figure it cannot compute is left out."""
    view = dict(section) if isinstance(section, Mapping) else {}
    for key, derive in DERIVED.get(name, {}).items():
        try:
            view[key] = derive(view)
        except (KeyError, IndexError, TypeError, ValueError, AttributeError, ZeroDivisionError):
            pass
    return view


def photo_extractors(photos: object) -> tuple[str, ...]:
    """The extractors of the photo rows: EXTRACTORS (measured or not), then any other the run has."""
    extractors = photos.get("extractors") if isinstance(photos, Mapping) else None
    return tuple(dict.fromkeys((*EXTRACTORS, *(extractors if isinstance(extractors, Mapping) else ()))))


def _rows(name: str, section: Mapping) -> tuple[Row, ...]:
    """The page's rows of experiment ``name``: the photos' depend on the extractors the run had."""
    if name == "photo_tiers":
        return tier_rows(section)
    if name != "photos":
        return ROWS[name]
    return (*(photo_rows(e, i == 0) for i, e in enumerate(photo_extractors(section))), *PHOTOS)


def render_row(row: Row, section: Mapping) -> tuple[str, str]:
    """(label, value) of one row over a section's view; the value NOT_MEASURED where the run has none of it."""
    label, value = row
    return _format(label, section)[0], fill(value, section) or NOT_MEASURED


def _table(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return "\n".join([*lines, *("| " + " | ".join(cells) + " |" for cells in rows)])


RUN_LINE = ("The latest run: {commands} on {machine} (Python {python}, torch {torch}), {seconds} s in all "
            "({minutes:.1f} minutes): the jobs in {workers} processes at {job_threads} thread each ({jobs_seconds} s; "
            "trainings on {device}), then each study's figures and timings at {threads} threads.")
SECTION_LINE = "Measured by `{command}`: {seconds} s for its figures and timings"
JOBS_LINE = ", after its jobs ({job_seconds} s in all, at one thread each)"
QUICK_LINE = " A `--quick` run: fewer pairs, seeds and steps than the README's figures."


def run_line(meta: object) -> str:
    """How the latest run was made, from results.json's ``meta``."""
    return fill(RUN_LINE, _view("meta", meta)) or "How this run was made is not recorded (results.json has no meta)."


def how_measured(name: str, results: Mapping) -> str:
    """The line on the command that measured experiment ``name``, from ``meta.runs`` ("" if not recorded)."""
    meta = results.get("meta")
    run = meta.get("runs", {}).get(name) if isinstance(meta, Mapping) else None
    if not isinstance(run, Mapping):
        return ""
    line = fill(SECTION_LINE + (JOBS_LINE if run.get("jobs") else "") + ".", run) or ""
    return line + (QUICK_LINE if run.get("quick") else "")


def section(name: str, results: Mapping) -> str:
    """One experiment's part of the page: its title, how it was run, its table (or a line on its absence)."""
    title = f"## {TITLES[name]}\n\n"
    if not isinstance(results.get(name), Mapping):
        return title + f"Not in this run: {COMMANDS[name]} measures it.\n"
    how = how_measured(name, results)
    view = _view(name, results[name])
    rows = [render_row(row, view) for row in _rows(name, view)]
    return title + (how + "\n\n" if how else "") + _table(("measurement", "value"), rows) + "\n"


def results_page(results: dict) -> str:
    """The markdown of docs/results.md: every measurement of the README's Results table that ``results`` (a
    results.json) holds, one table per experiment, and a line for each experiment the run left out."""
    intro = ("# Results\n\nEvery figure here is read from a run's `results.json` (`reprolib.results_tables`; "
             "`python -m reprolib reproduce` writes this page as `results.md` beside it). Timings are that run's, "
             "on its machine: they vary with the machine and its load.\n\n")
    parts = [intro + run_line(results.get("meta")) + "\n", *(section(name, results) for name in TITLES)]
    return "\n".join([*parts, NOT_IN_RESULTS + "\n"])


def headline_photo_row(extractor: str) -> Row:
    """The default pipeline (the Chooser) against the baselines on the "other view" pairs, one extractor."""
    rows = f"extractors[{extractor}][rows]"
    return (f"CIEDE2000 on {{extractors[{extractor}][n_pairs]}} \"other view\" pairs of held-out photos, "
            f"{EXTRACTORS.get(extractor, extractor)}: Chooser (the default) against gray / Welsh / R'_ab smoothed",
            f"{{{rows}[chooser][delta_e2000]:.2f}} against "
            + _each(f"{{{rows}[NAME][delta_e2000]:.2f}}", ("gray", "welsh", "warped_reference_smoothed")))


INSERTION_HEADLINE: Row = (
    "real-pair error (CIE76 over the box, {n_seeds} seeds): without / with the pair discriminator / erasing the "
    "object", _each("{NAME[real_pair_error_mean]:.1f} ± {NAME[real_pair_error_std]:.1f}", (WITHOUT, WITH))
    + " / {erase_object_baseline[real_pair_error_mean]:.1f}")


def headline(results: dict) -> str:
    """A short markdown table of the headline results for the top of the README, read from ``results``."""
    chosen = [("colorization (synthetic world)", "colorization", COLORIZATION_ROWS),
              ("matching", "matching", MATCHING_AGREEMENT),
              *(("photos", "photos", headline_photo_row(e)) for e in photo_extractors(results.get("photos"))),
              ("photos", "photos", PHOTOS_CROSS),
              ("colour from another photo", "photo_tiers", tier_row("offline", "C_same_kind", True)),
              ("colour from another photo", "photo_tiers", tier_row("offline", "C_other_kind", False)),
              ("video", "video", VIDEO[0]),
              ("insertion", "insertion", INSERTION_HEADLINE),
              ("insertion", "insertion", INSERTION_VISIBILITY),
              ("insertion", "insertion", INSERTION_FAIR)]
    rows = [(title, *render_row(row, _view(name, results.get(name)))) for title, name, row in chosen]
    return _table(("experiment", "measurement", "value"), rows) + "\n"


README_BLOCK = ("<!-- headline results: generated from docs/results.json by `make docs` -->\n",
                "<!-- end of headline results -->\n")


def replace_block(readme: str, markers: tuple[str, str], body: str, what: str) -> str:
    """The README text with the lines between the two ``markers`` replaced by ``body`` (a ValueError naming
    ``what`` when the README lacks them)."""
    start, end = markers
    if start not in readme or end not in readme:
        raise ValueError(f"the README has no {what} block (lines {start.strip()!r} ... {end.strip()!r})")
    head, rest = readme.split(start, 1)
    return head + start + body + end + rest.split(end, 1)[1]


def with_headline(readme: str, results: dict) -> str:
    """The README text with the block between the ``README_BLOCK`` markers replaced by :func:`headline`."""
    return replace_block(readme, README_BLOCK, headline(results), "headline")


def write_docs(results_json: str | Path, docs: str | Path = "docs", readme: str | Path = "README.md") -> None:
    """Copy a run's results.json to ``docs``/results.json, then write ``docs``/results.md and the headline and
    findings blocks of ``readme`` from it (the files the tests hold against each other)."""
    results = json.loads(Path(results_json).read_text())
    docs, readme = Path(docs), Path(readme)
    from .findings import with_findings  # findings fills its templates with this module's fill

    # a README without its blocks fails here, before any write
    text = with_findings(with_headline(readme.read_text(), results), results)
    atomic_write_text(docs / "results.json", json.dumps(results, indent=2) + "\n")
    atomic_write_text(docs / "results.md", results_page(results))
    atomic_write_text(readme, text)


if __name__ == "__main__":
    write_docs(sys.argv[1] if len(sys.argv) > 1 else "results/results.json")
