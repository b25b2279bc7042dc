"""The README's findings, written from a run's results.json (``make docs``), so that every figure in them is the
run's own and none is copied by hand: one template per finding, filled by :func:`reprolib.results_tables.fill`.
A finding whose figures the run lacks says so instead of showing stale ones."""
from __future__ import annotations

from collections.abc import Mapping

from .results_tables import fill, replace_block

_TIERS = "photo_tiers[extractors][{e}][tiers][{t}][rows][{row}]"


def _tier(extractor: str, tier: str, row: str, field: str = "delta_e2000", spec: str = ".1f") -> str:
    """A template field of one tier row's figure."""
    return "{" + _TIERS.format(e=extractor, t=tier, row=row) + f"[{field}]:{spec}" + "}"


_VIDEO = "video[groups][generated][{m}][{f}]"


def _video(method: str, field: str, spec: str) -> str:
    return "{" + _VIDEO.format(m=method, f=field) + f":{spec}" + "}"


_HELD = "insertion[pair_discriminator_matte_held]"
FINDINGS: tuple[str, ...] = (
    "Lab separates what a gray photo has (L*) from what it lacks (a*, b*); a regression to the mean of plausible "
    "colours desaturates them, and goes gray only when they surround the gray axis (notebook 01).",
    "In the synthetic world, the forward similarity maps flag wrong matches better than DEC's bidirectional ones "
    "(notebook 02).",
    "The full colorization sub-net beats the warped reference alone and reads its similarity maps; but DEC's "
    "robustness to the reference is not reproduced: where the reference lacks a class, neither net falls back on its "
    "usual colour, and both copy an unrelated reference's colours (notebook 03).",
    "On photographs, the ColorNets that read one warp, as DEC's does, do no better than the warp smoothed along T_L; "
    "a net that reads the warps of three matchers and picks among them per pixel (the Chooser, a deviation from DEC) "
    "is clearly better on held-out photos, so `colorize` runs it by default (notebook 05).",
    "From a *different* photo (tiers A-D on {n_tier_photos} photos no model trained on, "
    "{photo_tiers[extractors][offline][tiers][C_same_kind][n_pairs]} same-kind pairs), the Chooser copies what it "
    "matches and does worse than leaving the photo gray (CIEDE2000 " + _tier("offline", "C_same_kind", "chooser")
    + " against " + _tier("offline", "C_same_kind", "gray") + "). Hedged (half the chroma where the match's cosine "
    "is low, our deviation) it is " + _tier("offline", "C_same_kind", "hedged") + " with the student and "
    + _tier("vgg16", "C_same_kind", "hedged") + " with VGG-16: below gray, a tint ("
    + _tier("offline", "C_same_kind", "tint") + "), Reinhard (" + _tier("offline", "C_same_kind", "reinhard")
    + ") and Welsh (" + _tier("offline", "C_same_kind", "welsh") + "), and unchanged on the same scene, but at "
    + _tier("offline", "C_same_kind", "hedged", "colorfulness_ratio", ".2f") + " and "
    + _tier("vgg16", "C_same_kind", "hedged", "colorfulness_ratio", ".2f") + " of the truth's colourfulness, "
    "following its reference in " + _tier("offline", "C_same_kind", "hedged", "follows", ".0%") + " and "
    + _tier("vgg16", "C_same_kind", "hedged", "follows", ".0%") + " of the pairs, and still above gray on another "
    "kind of content (" + _tier("offline", "C_other_kind", "hedged") + " against "
    + _tier("offline", "C_other_kind", "gray") + "). Plausible colours where the reference says nothing need a "
    "prior learned from many photos (notebook 05).",
    "Two references joined beat a random one of them, not the best one; retrieval's first choice beats a random "
    "reference on average ({photo_tiers[retrieval][retrieval_first_choice]:.1f} against "
    "{photo_tiers[retrieval][random_reference]:.1f}) but for only {photo_tiers[retrieval][retrieval_wins]:.0%} of "
    "the targets (notebook 05).",
    "On video, colouring each frame alone flickers (warp error x1000 " + _video("per_frame", "warp_error", ".2f")
    + " on {n_generated_clips} held-out generated clips, the truth's own " + _video("truth", "warp_error", ".2f")
    + "). A temporal filter along the optical flow brings it to " + _video("filter", "warp_error", ".2f")
    + " with a slightly *lower* CIEDE2000 (" + _video("filter", "ciede2000", ".2f") + " against "
    + _video("per_frame", "ciede2000", ".2f") + ") and {filter_colour_loss:.1%} less colour, so `colorize-video` "
    "runs it by default; VID's recurrence, a gated net trained here with its temporal loss, is the most consistent ("
    + _video("recurrent", "warp_error", ".2f") + ") at a CIEDE2000 of " + _video("recurrent", "ciede2000", ".2f")
    + ". Neither makes colours from another photo right (notebook 06).",
    "The pair discriminator closes part of the fake/real gap (real-pair error "
    "{insertion[without_pair_discriminator][real_pair_error_mean]:.1f} without it, "
    "{insertion[with_pair_discriminator][real_pair_error_mean]:.1f} with it), but not by relighting: its error stays "
    "above erasing the object ({insertion[erase_object_baseline][real_pair_error_mean]:.1f}) and the objects fade "
    "(visibility {insertion[with_pair_discriminator][real_pair_visibility_mean]:.1f} against "
    "{insertion[without_pair_discriminator][real_pair_visibility_mean]:.1f}). In a fair test (below both, "
    "visibility kept at 0.8 x, every seed) the claim {fair_verdict}, also with its term unable to move the "
    "blending matte (" + "{" + _HELD + "[real_pair_error_mean]:.1f}, visibility {" + _HELD
    + "[real_pair_visibility_mean]:.1f}) (notebook 04).",
)
BLOCK = ("<!-- findings: generated from docs/results.json by `make docs` -->\n", "<!-- end of findings -->\n")
MISSING = "(a finding whose figures this run's results.json does not have)"


def _derived(results: Mapping) -> dict:
    """The figures the findings need computed from the run's sections (left out when the run lacks them)."""
    out: dict = {}
    try:
        out["n_tier_photos"] = len(results["photo_tiers"]["tier_photos"])
    except (KeyError, TypeError):
        pass
    try:
        video = results["video"]
        out["n_generated_clips"] = 2 * len(video["photo_clips"]) + video["world_clips"]
        rows = video["groups"]["generated"]
        out["filter_colour_loss"] = 1 - rows["filter"]["colourfulness"] / rows["per_frame"]["colourfulness"]
    except (KeyError, TypeError, ZeroDivisionError):
        pass
    try:
        tests = results["insertion"]["fair_test"]
        out["fair_verdict"] = "holds" if any(t["holds"] for t in tests.values()) else "does not hold"
    except (KeyError, TypeError, AttributeError):
        pass
    return out


def findings(results: Mapping) -> str:
    """The findings as a markdown list, each filled from ``results``."""
    view = {**results, **_derived(results)}
    return "".join(f"- {fill(text, view) or MISSING}\n" for text in FINDINGS)


def with_findings(readme: str, results: Mapping) -> str:
    """The README text with the block between the ``BLOCK`` markers replaced by :func:`findings`."""
    return replace_block(readme, BLOCK, findings(results), "findings")
