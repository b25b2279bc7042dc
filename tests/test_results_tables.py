"""``results_tables``: the results page and the README's headline table, read from a results.json.

The fixture is a full run's results.json trimmed to the figures the tables read (the run had no "scaling").
"""
import copy
import json
from pathlib import Path

import pytest

from reprolib import reproduce as rep
from reprolib.results_tables import GAP, NOT_MEASURED, headline, results_page

RUN = json.loads((Path(__file__).parent / "data" / "results_trimmed.json").read_text())


@pytest.fixture
def results() -> dict:
    return copy.deepcopy(RUN)


def test_the_page_carries_the_runs_figures(results):
    page = results_page(results)
    for row in ("| 3.0e-13 |", "| 6,200 |", "| 0.879 / 0.919 / 0.926 (0.325) |", "| 409 / 400 / 547 MB |",
                "| 18.32 / 8.58 / 3.35 / 3.07 / 2.84 |", "on the 6.8 % of pixels",
                "| 13.83 / 6.78 / 3.90 / 3.41 / 6.19 / 3.63 / 3.40 / 3.03 |", "| 15.3 / 15.4 |",
                "| 21.1 ± 0.6 / 18.0 ± 0.1 |", "| 18.1 / 4.7 vs 24.2 / 18.6 |", "| 39.5 / 40.5 ± 3.4 / 20.4 ± 10.7 |"):
        assert row in page
    assert "torch 2.14.1+cu130" in page and "403.2 s in all (6.7 minutes)" in page
    assert "Measured by `python -m reprolib reproduce`: 2.6 s" in page
    assert NOT_MEASURED not in page and GAP not in page  # every row of the run is there
    assert "Not in this run: `python -m reprolib reproduce --only scaling` (or `make bench`)" in page


def test_a_changed_figure_changes_the_tables(results):
    results["colorization"]["rows"]["full"]["delta_e2000"] = 1.234
    results["insertion"]["erase_object_baseline"]["real_pair_error_mean"] = 16.04
    for text in (results_page(results), headline(results)):
        assert "| 18.32 / 8.58 / 3.35 / 3.07 / 1.23 |" in text and "2.84 |" not in text
    assert "| 21.1 ± 0.6 / 18.0 ± 0.1 / 16.0 |" in headline(results)


def test_the_headline(results):
    table = headline(results)
    assert len(table.splitlines()) == 2 + 11
    assert "| 19.5 ± 1.8 / 33.1 ± 6.0; does not hold / does not hold |" in table
    assert "VGG-16: Chooser (the default) against gray / Welsh / R'_ab smoothed | 3.03 against 13.83 / 6.78 / 3.41 |" \
        in table


def test_missing_sections_rows_and_figures_say_so(results):
    del results["photos"]["extractors"]["vgg16"], results["insertion"], results["colorization"]["trust"]
    del results["photos"]["extractors"]["offline"]["rows"]["chooser"]
    results["lab"]["timing_ms"]["opencv_float32"] = None  # no OpenCV on the machine
    page, table = results_page(results), headline(results)
    assert "| the same with ImageNet VGG-16 | not measured in this run |" in page
    assert "Not in this run: `python -m reprolib reproduce --only insertion` measures it." in page
    assert "another pair's / R'_ab alone | not measured in this run |" in page
    assert "| 13.83 / 6.78 / 4.30 / 3.79 / 6.65 / 4.01 / 3.57 / – |" in page
    assert "| 9.5 / 26.6 / – / 39.8 ms" in page
    assert "VGG-16: Chooser (the default) against gray / Welsh / R'_ab smoothed | not measured in this run |" in table
    assert table.count(NOT_MEASURED) == 7  # VGG-16, the three insertion rows, the two tier rows and video (not in RUN)


def test_an_empty_or_quick_run_renders():
    page = results_page({})
    assert page.count("Not in this run") == 9 and "How this run was made is not recorded" in page
    assert headline({}).count(NOT_MEASURED) == 11
    cell = {"colorize_s": 8.94, "colorize_peak_mb": 1331.0, "features_s": 6.71, "colorize_over_features": 1.33}
    quick = {"scaling": {"cells": {"vgg16/patchmatch/768x1024": cell, "photo/patchmatch/768x1024": {"skipped": "x"}}},
             "meta": {"runs": {"scaling": {"command": "python -m reprolib reproduce --quick --only scaling",
                                           "quick": True, "seconds": 61.0, "jobs": {}}}}}
    page = results_page(quick)
    assert "| 8.9 s / 1.3 GB / 6.7 s (1.33x) |" in page
    assert "(`make bench` has every size and method) | not measured in this run |" in page
    assert "Measured by `python -m reprolib reproduce --quick --only scaling`: 61.0 s" in page
    assert "A `--quick` run" in page


def test_reproduce_writes_the_results_page(tmp_path, monkeypatch):
    def features(out, quick, step):
        return {"grayvgg_heldout_accuracy": 0.5}, "## Features\n"

    monkeypatch.setattr(rep, "EXPERIMENTS", {"features": features})
    monkeypatch.setattr(rep, "JOBS", {})
    rep.reproduce(tmp_path / "out", quick=True, progress=False)
    page = (tmp_path / "out" / "results.md").read_text()
    written = json.loads((tmp_path / "out" / "results.json").read_text())
    assert page == results_page(written) and "| 0.500 |" in page and "A `--quick` run" in page
    assert "Not in this run: `python -m reprolib reproduce --only lab`" in page
    assert "`results.md`" in (tmp_path / "out" / "REPORT.md").read_text()
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["REPORT.md", "report", "results.json", "results.md"]


def test_the_tier_rows_read_the_shipped_study():
    """The photo_tiers rows: every tier per extractor, C's colour, several references and retrieval, from the study
    that docs/results.json holds."""
    from reprolib.studies.different_photos import shipped

    page = results_page({"photo_tiers": shipped()})
    tiers = shipped()["extractors"]["offline"]["tiers"]
    hedged = tiers["C_same_kind"]["rows"]["hedged"]
    assert f"| {hedged['delta_e2000']:.2f} [{hedged['delta_e2000_ci95'][0]:.2f}, " in page
    assert page.count("| A, same scene, mirrored reference") == 2 and NOT_MEASURED not in page.split("## Colour")[1]
