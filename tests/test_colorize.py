import subprocess
import sys

import pytest
import torch

from reprolib import colorize as col
from reprolib import widgets
from reprolib.color import rgb_to_lab
from reprolib.photos import load_photo, save_image


@pytest.fixture(scope="module")
def pair():
    t = torch.nn.functional.interpolate(load_photo("china.jpg")[None], size=(61, 83), mode="area")[0]
    r = torch.nn.functional.interpolate(load_photo("coffee.jpg")[None], size=(70, 70), mode="area")[0]
    return t.clamp(0, 1), r.clamp(0, 1)


def test_colorize_keeps_the_targets_size_and_luminance(pair):
    t, r = pair
    out = col.colorize(t, r, size=48)
    assert out.rgb.shape == t.shape
    L_in, L_out = rgb_to_lab(t)[0], rgb_to_lab(out.rgb)[0]
    assert (L_in - L_out).abs().max() < 0.05  # out-of-gamut colours lose chroma, not lightness
    assert out.sims.shape[0] == 10 and out.R_ab_warped.shape[0] == 2 and out.P_ab.shape == out.R_ab_warped.shape
    assert rgb_to_lab(out.rgb)[1:].abs().mean() > 2  # it is coloured, not gray
    again = col.colorize(t, r, size=48)
    assert torch.equal(out.rgb, again.rgb)  # deterministic


def test_colorize_rejects_bad_input(pair):
    t, r = pair
    with pytest.raises(ValueError, match="RGB image"):
        col.colorize(t[:1], r)
    with pytest.raises(ValueError, match="NaN"):
        col.colorize(t * float("nan"), r)
    with pytest.raises(ValueError, match="too small"):
        col.colorize(t[:, :8, :8], r)
    with pytest.raises(ValueError, match="method"):
        col.colorize(t, r, method="magic")
    with pytest.raises(ValueError, match="no such weights file"):
        col.colorize(t, r, features="/nonexistent/vgg.pth")


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "reprolib", "colorize", *args], capture_output=True, text=True)


def test_cli_colorize_writes_once_and_never_overwrites(tmp_path, pair):
    t, r = pair
    save_image(t, tmp_path / "t.png")
    save_image(r, tmp_path / "r.png")
    out = tmp_path / "out.png"
    done = _cli(str(tmp_path / "t.png"), "--reference", str(tmp_path / "r.png"), "--output", str(out), "--size", "48")
    assert done.returncode == 0, done.stderr
    first = out.read_bytes()
    again = _cli(str(tmp_path / "t.png"), "--reference", str(tmp_path / "r.png"), "--output", str(out), "--size", "48")
    assert again.returncode == 2 and "--force" in again.stderr and again.stderr.count("\n") == 1
    assert out.read_bytes() == first
    same = _cli(str(tmp_path / "t.png"), "--reference", str(tmp_path / "r.png"), "--output", str(tmp_path / "t.png"), "--force")
    assert same.returncode == 2 and "never overwritten" in same.stderr


def test_cli_colorize_bad_input_is_one_line_and_writes_nothing(tmp_path):
    (tmp_path / "broken.jpg").write_bytes(b"not an image")
    out = tmp_path / "out.png"
    for args in ([str(tmp_path / "broken.jpg"), "--reference", str(tmp_path / "broken.jpg")],
                 [str(tmp_path / "missing.jpg"), "--reference", str(tmp_path / "broken.jpg")]):
        done = _cli(*args, "--output", str(out))
        assert done.returncode == 2 and done.stderr.startswith("error:") and done.stderr.count("\n") == 1
        assert "Traceback" not in done.stderr
    assert not out.exists() and sorted(p.name for p in tmp_path.iterdir()) == ["broken.jpg"]
    bad_ext = _cli(str(tmp_path / "broken.jpg"), "--reference", str(tmp_path / "broken.jpg"), "--output", str(tmp_path / "o.gif"))
    assert bad_ext.returncode == 2 and "extension" in bad_ext.stderr


def test_picker_panel_changes_with_the_exemplar(pair):
    t, r = pair
    other = torch.flip(r, dims=(0,))  # a reference with other colours
    picker = widgets.make_picker(t, [r, other], names=["coffee", "flipped"], size=48)
    assert sorted(picker.names) == ["coffee", "flipped"] and picker.scores[0] >= picker.scores[1]
    a, b = widgets.picker_panel(picker, 0), widgets.picker_panel(picker, 1)
    assert list(a) == ["target", "reference", "warped", "similarity", "result"]
    assert torch.equal(a["target"], b["target"]) and not torch.equal(a["result"], b["result"])
    assert widgets.panel_png(a).startswith(b"\x89PNG")
    with pytest.raises(ValueError, match="index"):
        widgets.picker_panel(picker, 2)


def test_exemplar_picker_widget_updates_its_image(pair):
    t, r = pair
    box = widgets.exemplar_picker(t, [r, torch.flip(r, dims=(0,))], size=48)
    slider, image = box.children
    assert slider.description == "exemplar" and (slider.min, slider.max, slider.value) == (1, 2, 1)
    before = image.value
    slider.value = 2
    assert bytes(image.value) != bytes(before) and bytes(image.value).startswith(b"\x89PNG")
