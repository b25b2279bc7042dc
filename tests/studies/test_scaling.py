"""The scaling study: what it runs, what it skips and what one cell measures (tiny sizes; no timing asserted)."""
from reprolib.colorization.grayvgg_weights import load_extractor
from reprolib.colorization.pipelines import EXACT_BUDGET
from reprolib.studies import scaling


def test_one_cell_measures_the_forward_passes_match_and_colorize():
    cell = scaling.measure("photo", "patchmatch", (48, 64))
    assert cell["size"] == [48, 64] and cell["device"] == "cpu" and "/" not in cell["source"].split(" from ")[-1]
    for stage in ("features", "match", "colorize"):
        assert cell[f"{stage}_s"] > 0 and cell[f"{stage}_peak_mb"] >= 0
    assert cell["features_peak_mb"] <= cell["match_peak_mb"] <= cell["colorize_peak_mb"]  # the peaks only grow


def test_the_study_skips_what_colorize_would_refuse(monkeypatch):
    ran = []
    monkeypatch.setattr(scaling, "measure_in_subprocess",
                        lambda extractor, method, size, device: ran.append((extractor, method, size)) or {"ok": 1})
    cells = scaling.study(sizes=((64, 64), (768, 1024)), extractors=("photo",), step=lambda msg: None)
    assert cells["photo/attention/64x64"]["skipped"].startswith("this gray-VGG has no relu5_2")
    big = cells["photo/exact/768x1024"]
    assert big["search_multiply_adds"] > EXACT_BUDGET and "over colorize's budget" in big["skipped"]
    assert cells["photo/patchmatch/768x1024"] == {"ok": 1}  # PatchMatch is linear: always run
    assert ran == [("photo", "exact", (64, 64)), ("photo", "patchmatch", (64, 64)),
                   ("photo", "patchmatch", (768, 1024))]
    assert scaling.search_cost(load_extractor("photo"), "patchmatch", (768, 1024)) == 0
