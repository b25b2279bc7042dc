"""Training the colorization sub-net on photographs (reprolib.training.photo_colornet): image folders, the
held-out photos kept out, torchrun."""
from __future__ import annotations

import json
import shutil

import pytest
import torch

from reprolib.cli import main
from reprolib.colorization.colornet import ColorNet, load_colornet
from reprolib.core.photos import PHOTOS_DIR
from reprolib.training import photo_pairs
from reprolib.training.photo_pairs import image_folder, train_photos

FEW = ["--features", "small", "--steps", "2", "--batch-size", "2", "--pairs-per-image", "1", "--eval-n", "0",
       "--no-progress"]


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """Two shipped training photos in an ImageNet-style folder (one class folder each), and a text file."""
    root = tmp_path_factory.mktemp("photos") / "images"
    for i, name in enumerate(train_photos()[:2]):
        (root / f"class_{i}").mkdir(parents=True)
        shutil.copy(PHOTOS_DIR / name, root / f"class_{i}" / name)
    (root / "notes.txt").write_text("not an image")
    return root


def test_an_imagenet_style_folder_trains_a_loadable_net(tmp_path, folder):
    assert main(["train", "photo-colornet", "--images", str(folder), *FEW, "--out", str(tmp_path / "c.pt")]) == 0
    net = load_colornet(tmp_path / "c.pt")
    record = json.loads((tmp_path / "c.json").read_text())
    assert net.features == "grayvgg_small_synthetic" == record["features"]
    assert record["metrics"]["pairs"] == 2 and str(folder) in record["data"]


def test_torchrun_two_processes_match_one(tmp_path, folder, torchrun_metrics):
    """torchrun with 2 gloo processes on shipped photos: the same losses and (nearly) the same net as 1 process."""
    args = ["train", "photo-colornet", "--images", str(folder), *FEW, "--seed", "3", "--branches", "chrominance,real"]
    two = torchrun_metrics(args, tmp_path / "ddp.pt")
    assert main([*args, "--out", str(tmp_path / "one.pt")]) == 0
    one = json.loads((tmp_path / "one.json").read_text())["metrics"]
    assert two["world_size"] == 2 and one["world_size"] == 1
    for key in ("train_loss_chrominance", "train_loss_real"):
        assert two[key] == pytest.approx(one[key], rel=1e-3)
    # the same net up to float rounding, which Adam's first steps amplify for near-zero gradients
    two_net, one_net = load_colornet(tmp_path / "ddp.pt"), load_colornet(tmp_path / "one.pt")
    torch.manual_seed(3)
    start = ColorNet(13, 0.125, residual=True).eval()  # the initial net of both runs
    x = torch.rand(2, 13, 32, 32, generator=torch.Generator().manual_seed(0)) * 100 - 50
    with torch.no_grad():
        gap, moved = (two_net(x) - one_net(x)).abs().mean(), (start(x) - one_net(x)).abs().mean()
    assert gap < 1e-2 * moved, (gap, moved)  # measured: about 9e-5 against 0.19


def test_extra_images_join_the_training_photos_and_a_guided_net_trains(tmp_path, folder):
    """--extra-images adds a folder to --images; --guided puts the guided filter layer in the trained net."""
    args = ["train", "photo-colornet", "--images", str(folder), "--extra-images", str(folder), *FEW, "--guided", "2"]
    assert main([*args, "--out", str(tmp_path / "g.pt")]) == 0
    record = json.loads((tmp_path / "g.json").read_text())
    assert record["metrics"]["pairs"] == 4 and load_colornet(tmp_path / "g.pt").guided == 2


def test_fresh_pairs_list_the_folder_once(tmp_path, folder, monkeypatch):
    """--no-cached matches new pairs every step from the images listed once at the start, not at every step."""
    calls = []

    def counted(root):
        calls.append(root)
        return image_folder(root)

    monkeypatch.setattr(photo_pairs, "image_folder", counted)
    args = ["train", "photo-colornet", "--images", str(folder), *FEW, "--no-cached", "--steps", "3"]
    assert main([*args, "--out", str(tmp_path / "f.pt")]) == 0
    assert len(calls) == 1 and json.loads((tmp_path / "f.json").read_text())["metrics"]["pairs"] == 6


def test_hue_is_recorded_and_checked(tmp_path, folder, capsys):
    """--hue is recorded in the provenance, and one outside 0..1 is refused in one line, nothing written
    (what it does to the pairs: tests/training/test_photo_pairs.py)."""
    args = ["train", "photo-colornet", "--images", str(folder), *FEW]
    assert main([*args, "--hue", "0", "--out", str(tmp_path / "h.pt")]) == 0
    assert "hue turns p 0.0" in json.loads((tmp_path / "h.json").read_text())["data"]
    capsys.readouterr()
    assert main([*args, "--hue", "1.5", "--out", str(tmp_path / "bad.pt")]) == 2
    err = capsys.readouterr().err
    assert "hue must be a probability" in err and err.count("\n") == 1 and not (tmp_path / "bad.pt").exists()
