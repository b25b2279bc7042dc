"""Training the Chooser on photographs (reprolib.training.chooser): the CLI, the cache, torchrun."""
from __future__ import annotations

import json
import shutil

import pytest

from reprolib.cli import main
from reprolib.colorization.chooser import load_chooser
from reprolib.core.photos import PHOTOS_DIR
from reprolib.training.photo_pairs import HELDOUT_PHOTOS, train_photos

FEW = ["--steps", "2", "--batch-size", "2", "--pairs-per-image", "1", "--eval-n", "0", "--no-progress"]


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """Two shipped training photos in a flat folder."""
    root = tmp_path_factory.mktemp("chooser_photos")
    for name in train_photos()[:2]:
        shutil.copy(PHOTOS_DIR / name, root / name)
    return root


def test_train_chooser_writes_a_loadable_net_with_its_provenance(tmp_path, folder, capsys):
    assert main(["train", "chooser", "--images", str(folder), *FEW, "--out", str(tmp_path / "c.pt")]) == 0
    net = load_chooser(tmp_path / "c.pt")
    record = json.loads((tmp_path / "c.json").read_text())
    assert net.features == record["features"] == "grayvgg_small_photo" and record["metrics"]["pairs"] == 2
    assert str(folder) in record["data"] and "3 hypercolumns" in record["data"]
    capsys.readouterr()
    leaky = tmp_path / "leaky"
    leaky.mkdir()
    shutil.copy(PHOTOS_DIR / HELDOUT_PHOTOS[0], leaky / HELDOUT_PHOTOS[0])
    assert main(["train", "chooser", "--images", str(leaky), *FEW, "--out", str(tmp_path / "bad.pt")]) == 2
    err = capsys.readouterr().err
    assert "held-out photos" in err and err.count("\n") == 1 and not (tmp_path / "bad.pt").exists()


def test_torchrun_two_processes_match_one(tmp_path, folder, torchrun_metrics):
    """torchrun with 2 gloo processes: the same final loss as 1 process (DDP averages the gradients)."""
    args = ["train", "chooser", "--images", str(folder), *FEW, "--seed", "3"]
    two = torchrun_metrics(args, tmp_path / "ddp.pt")
    assert main([*args, "--out", str(tmp_path / "one.pt")]) == 0
    one = json.loads((tmp_path / "one.json").read_text())["metrics"]
    assert two["world_size"] == 2 and one["world_size"] == 1
    assert two["train_loss"] == pytest.approx(one["train_loss"], rel=1e-3)
