import json
import subprocess
import sys


from reprolib import reproduce as rep
from reprolib.__main__ import main


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


def test_cli_error_is_one_line(tmp_path, capsys):
    (tmp_path / "file").write_text("mine")
    assert main(["reproduce", "--out", str(tmp_path / "file"), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and err.count("\n") == 1
    assert (tmp_path / "file").read_text() == "mine"


def test_cli_help_runs():
    proc = subprocess.run([sys.executable, "-m", "reprolib", "--help"], capture_output=True, text=True)
    assert proc.returncode == 0 and "reproduce" in proc.stdout


def test_cli_unknown_command_fails():
    proc = subprocess.run([sys.executable, "-m", "reprolib", "frobnicate"], capture_output=True, text=True)
    assert proc.returncode != 0 and "invalid choice" in proc.stderr


def test_cli_train_grayvgg_writes_a_loadable_checkpoint_and_never_overwrites(tmp_path, capsys):
    from reprolib.features import grayvgg_small

    out = tmp_path / "g.pt"
    args = ["train", "grayvgg", "--out", str(out), "--steps", "2", "--batch-size", "2", "--no-progress"]
    assert main(args) == 0
    assert "held-out per-pixel accuracy" in capsys.readouterr().out
    model = grayvgg_small(out)
    assert model.meta["steps"] == 2
    before = out.read_bytes()
    assert main(args) == 2  # exists: refused without --force
    assert "--force" in capsys.readouterr().err
    assert out.read_bytes() == before


def test_every_experiment_is_registered():
    assert list(rep.EXPERIMENTS) == ["lab", "features", "matching", "colorization", "insertion"]
