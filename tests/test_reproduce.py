"""``reproduce``: the registry of studies and the files it writes."""
import json

from reprolib import reproduce as rep


def _tiny(out, quick, step):
    step("tiny")
    out.save_figure("figures/tiny.png", __import__("matplotlib.pyplot").pyplot.figure())
    return {"value": 1.5, "quick": quick}, "## Tiny\n\nvalue 1.5\n"


def test_reproduce_writes_results_and_report(tmp_path, monkeypatch):
    monkeypatch.setattr(rep, "EXPERIMENTS", {"tiny": _tiny})
    results = rep.reproduce(tmp_path / "out", quick=True, progress=False)
    written = json.loads((tmp_path / "out" / "results.json").read_text())
    assert written["tiny"] == {"value": 1.5, "quick": True} == results["tiny"]
    assert written["meta"]["quick"] is True
    report = (tmp_path / "out" / "REPORT.md").read_text()
    assert "## Tiny" in report and "--quick" in report
    assert (tmp_path / "out" / "figures" / "tiny.png").stat().st_size > 0


def test_every_experiment_is_registered():
    assert list(rep.EXPERIMENTS) == ["lab", "features", "matching", "colorization", "insertion"]
