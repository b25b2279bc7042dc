"""Many files for colorize (reprolib.batch): references from files and folders, the output plan checked before any
work, unreadable targets skipped. No network runs here (tests/test_cli.py runs the command end to end)."""
from types import SimpleNamespace

import pytest
import torch

from reprolib import batch
from reprolib.core.photos import load_image, save_image


def _image(path, h=20, w=24, value=0.5):
    return save_image(torch.full((3, h, w), value), path)


def test_reference_files_expand_folders_sorted_once_and_are_capped(tmp_path):
    refs = tmp_path / "refs"
    refs.mkdir()
    for name in ("b.jpg", "a.png", "c.PNG"):
        _image(refs / name)
    (refs / "notes.txt").write_text("not an image")
    (refs / "sub").mkdir()
    _image(refs / "sub" / "deep.png")  # not recursive
    single = _image(tmp_path / "z.png")
    found = batch.reference_files([single, refs, refs / "a.png"])  # a.png twice: used once
    assert [p.name for p in found] == ["z.png", "a.png", "b.jpg", "c.PNG"]
    assert len(batch.reference_files([refs], limit=3)) == 3
    with pytest.raises(ValueError, match="4 references given, at most 3: the exact search's cost"):
        batch.reference_files([single, refs], limit=3)
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="empty is a folder without an image"):
        batch.reference_files([single, tmp_path / "empty"])


def test_output_names_keep_png_and_jpeg_else_png(tmp_path):
    assert [batch.output_path(tmp_path / n, tmp_path / "o").name for n in ("a.png", "b.JPG", "c.jpeg", "d.tif",
                                                                          "e.webp")] == [
        "a.png", "b.JPG", "c.jpeg", "d.png", "e.png"]


def test_plan_outputs_refuses_for_all_targets_before_any_work(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    targets = [tmp_path / "a.png", tmp_path / "b.tif", tmp_path / "c.jpg"]
    assert batch.plan_outputs(targets, out, targets, force=False) == [out / "a.png", out / "b.png", out / "c.jpg"]
    (out / "a.png").write_bytes(b"mine")
    (out / "c.jpg").write_bytes(b"mine too")
    with pytest.raises(FileExistsError, match=r"holds 2 of the outputs \(a.png, c.jpg\); pass --force"):
        batch.plan_outputs(targets, out, targets, force=False)
    assert len(batch.plan_outputs(targets, out, targets, force=True)) == 3
    reference = out / "b.png"  # a reference where a result would go: never replaced, even with --force
    with pytest.raises(ValueError, match=r"would overwrite input files \(b.png\)"):
        batch.plan_outputs(targets, out, [*targets, reference], force=True)
    with pytest.raises(ValueError, match="several targets would be written as b.png"):
        batch.plan_outputs([*targets, tmp_path / "b.bmp"], out, targets, force=True)
    assert (out / "a.png").read_bytes() == b"mine"


def test_the_output_folder_is_a_folder_and_not_the_targets(tmp_path):
    (tmp_path / "file.png").write_bytes(b"x")
    for folder, message in ((tmp_path / "file.png", "is a file"), (tmp_path / "new.png", "names a file"),
                            (tmp_path / "no" / "such", "is not a folder"), (tmp_path, "is the target folder")):
        with pytest.raises((ValueError, OSError), match=message):
            batch.check_output_folder(folder, tmp_path)
    batch.check_output_folder(tmp_path / "new", tmp_path)
    assert not (tmp_path / "new").exists()  # created only at the first write


def test_run_skips_unreadable_targets_and_writes_the_others(tmp_path):
    good, bad = _image(tmp_path / "a.png", value=0.2), tmp_path / "b.png"
    bad.write_bytes(b"not an image")
    outs = [tmp_path / "out" / "a.png", tmp_path / "out" / "b.png"]

    def colour(image):
        return SimpleNamespace(rgb=1 - image, note="fell back", method="exact", features="f", colornet="none",
                               smoothing="guided")

    report = batch.run([good, bad], outs, colour, progress=False)
    assert report.written == outs[:1] and [p for p, _ in report.skipped] == [bad]
    assert report.skipped[0][1].startswith(str(bad)) and "\n" not in report.skipped[0][1]
    assert report.notes == ["fell back"] and report.pipelines == ["matching: exact, gray-VGG: f, net: none, "
                                                                  "smoothing: guided"]
    torch.testing.assert_close(load_image(outs[0]), torch.full((3, 20, 24), 0.8), atol=1 / 255, rtol=0)
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["a.png"]  # no temporary file left
