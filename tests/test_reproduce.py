"""``reproduce``: the registry of studies and the files it writes."""
import json

import pytest

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
    assert list(rep.EXPERIMENTS) == ["lab", "features", "matching", "colorization", "insertion", "photos",
                                     "photo_tiers", "video", "scaling"]
    assert rep.OPTIONAL == ("scaling",)


def test_only_runs_the_named_experiments(tmp_path, monkeypatch):
    ran = []
    monkeypatch.setattr(rep, "EXPERIMENTS", {name: lambda out, quick, step, name=name: (ran.append(name) or {}, "")
                                             for name in ("a", "b")})
    results = rep.reproduce(tmp_path / "out", progress=False, only=["b"])
    assert ran == ["b"] and set(results) == {"b", "meta"} and results["meta"]["experiments"] == ["b"]
    assert "--only b" in (tmp_path / "out" / "REPORT.md").read_text()


def test_only_names_an_unknown_experiment(tmp_path):
    with pytest.raises(ValueError, match="unknown experiment photo; known: lab, features"):
        rep.reproduce(tmp_path / "out", progress=False, only=["photo"])
    assert not (tmp_path / "out").exists()


def test_optional_experiments_run_when_named_and_update_the_earlier_results(tmp_path, monkeypatch):
    ran = []

    def experiment(name, value):
        return lambda out, quick, step: (ran.append(name) or {"value": value}, f"## {name.upper()} {value}\n")

    monkeypatch.setattr(rep, "EXPERIMENTS", {"a": experiment("a", 1), "scaling": experiment("scaling", 2)})
    rep.reproduce(tmp_path / "out", progress=False)
    assert ran == ["a"]  # the benchmark only when named
    monkeypatch.setattr(rep, "EXPERIMENTS", {"a": experiment("a", 9), "scaling": experiment("scaling", 3)})
    results = rep.reproduce(tmp_path / "out", progress=False, only=["scaling"])
    assert ran == ["a", "scaling"]
    written = json.loads((tmp_path / "out" / "results.json").read_text())
    assert written == results and written["a"] == {"value": 1} and written["scaling"] == {"value": 3}
    assert set(written["meta"]["runs"]) == {"a", "scaling"} and "--only" not in written["meta"]["runs"]["a"]["command"]
    report = (tmp_path / "out" / "REPORT.md").read_text()
    assert "## A 1" in report and "## SCALING 3" in report and "kept from earlier runs in this folder: a" in report


def _square(x: int) -> int:
    return x * x


def test_the_jobs_run_first_and_reach_their_study(tmp_path, monkeypatch):
    seen = {}

    def study(out, quick, step, done=None):
        seen.update(done)
        return {"sum": sum(done.values())}, "## Jobs\n"

    monkeypatch.setattr(rep, "EXPERIMENTS", {"jobs": study})
    monkeypatch.setattr(rep, "JOBS", {"jobs": lambda quick, device: {f"x={x}": rep.Job(_square, {"x": x})
                                                                     for x in (2, 3)}})
    results = rep.reproduce(tmp_path / "out", progress=False, workers=1)
    assert seen == {"x=2": 4, "x=3": 9} and results["jobs"] == {"sum": 13}
    meta = results["meta"]
    assert meta["workers"] == 1 and meta["job_threads"] == 1 and meta["device"] == "cpu"
    assert set(meta["runs"]["jobs"]["jobs"]) == {"x=2", "x=3"}
