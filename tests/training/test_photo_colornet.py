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
from reprolib.training import distill, photo_colornet
from reprolib.world.photo_views import HELDOUT_PHOTOS, image_folder, train_photos

FEW = ["--features", "small", "--steps", "2", "--batch-size", "2", "--pairs-per-image", "1", "--eval-n", "0",
       "--no-progress"]


def test_the_heldout_photos_never_train():
    assert set(HELDOUT_PHOTOS).isdisjoint(train_photos()) and len(train_photos()) + len(HELDOUT_PHOTOS) == 16
    assert photo_colornet.sources("shipped") == train_photos()


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
    assert main(["train", "colornet", "--images", str(folder), *FEW, "--out", str(tmp_path / "c.pt")]) == 0
    net = load_colornet(tmp_path / "c.pt")
    record = json.loads((tmp_path / "c.json").read_text())
    assert net.features == "grayvgg_small_synthetic" == record["features"]
    assert record["metrics"]["pairs"] == 2 and str(folder) in record["data"]


def test_torchrun_two_processes_match_one(tmp_path, folder, torchrun_metrics):
    """torchrun with 2 gloo processes on shipped photos: the same losses and (nearly) the same net as 1 process."""
    args = ["train", "colornet", "--images", str(folder), *FEW, "--seed", "3", "--branches", "chrominance,real"]
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
    assert photo_colornet.sources("shipped", str(folder)) == train_photos() + sorted(folder.rglob("*.jpg"))
    with pytest.raises(FileNotFoundError, match="not a folder"):
        photo_colornet.sources("shipped", str(tmp_path / "none"))
    leaky = tmp_path / "leaky"
    leaky.mkdir()
    shutil.copy(PHOTOS_DIR / HELDOUT_PHOTOS[0], leaky / HELDOUT_PHOTOS[0])
    for images, extra in (("shipped", str(leaky)), (str(leaky), "")):
        with pytest.raises(ValueError, match=f"held-out photos \\({HELDOUT_PHOTOS[0]}\\)"):
            photo_colornet.sources(images, extra)
    with pytest.raises(ValueError, match="held-out photos"):  # the distilled student's trainer reads it too
        distill.pyramids(str(leaky))
    args = ["train", "colornet", "--images", str(folder), "--extra-images", str(folder), *FEW, "--guided", "2"]
    assert main([*args, "--out", str(tmp_path / "g.pt")]) == 0
    record = json.loads((tmp_path / "g.json").read_text())
    assert record["metrics"]["pairs"] == 4 and load_colornet(tmp_path / "g.pt").guided == 2


def test_fresh_pairs_list_the_folder_once(tmp_path, folder, monkeypatch):
    """--fresh-pairs matches new pairs every step from the images listed once at the start, not at every step."""
    calls = []

    def counted(root):
        calls.append(root)
        return image_folder(root)

    monkeypatch.setattr(photo_colornet, "image_folder", counted)
    args = ["train", "colornet", "--images", str(folder), *FEW, "--fresh-pairs", "--steps", "3"]
    assert main([*args, "--out", str(tmp_path / "f.pt")]) == 0
    assert len(calls) == 1 and json.loads((tmp_path / "f.json").read_text())["metrics"]["pairs"] == 6


def test_hue_sets_the_share_of_turned_pairs(tmp_path, folder, capsys):
    """--hue 0 keeps every pair's own colours (the net may learn usual colours), 1 turns every pair; the
    probability is recorded in the provenance, and one outside 0..1 is refused in one line, nothing written."""
    g = torch.Generator().manual_seed(0)
    cache = {k: torch.rand(4, 1 if k in ("sims", "T_L") else 2, 24, 24, generator=g) * 40 + 30
             for k in photo_colornet.CACHE_KEYS}
    cache["sims"] = cache["sims"].to(torch.uint8)
    for hue, turned in ((0.0, 0), (1.0, 6)):
        b = photo_colornet.sample(cache, 6, 16, hue, torch.Generator().manual_seed(1))
        crops = photo_colornet.sample(cache, 6, 16, 0.0, torch.Generator().manual_seed(1))
        moved = (b["T_ab"] - crops["T_ab"]).abs().flatten(1).amax(1) > 1e-3
        assert int(moved.sum()) == turned
    args = ["train", "colornet", "--images", str(folder), *FEW]
    assert main([*args, "--hue", "0", "--out", str(tmp_path / "h.pt")]) == 0
    assert "hue turns p 0.0" in json.loads((tmp_path / "h.json").read_text())["data"]
    capsys.readouterr()
    assert main([*args, "--hue", "1.5", "--out", str(tmp_path / "bad.pt")]) == 2
    err = capsys.readouterr().err
    assert "hue must be a probability" in err and err.count("\n") == 1 and not (tmp_path / "bad.pt").exists()


def test_sample_turns_the_named_ab_maps_alike_and_leaves_the_others():
    """Every map of the cache is cropped and flipped alike; the a*b* maps named in ab_keys get the pair's turn,
    the others keep their colours; extra maps do not change the draws."""
    g = torch.Generator().manual_seed(0)
    cache = {k: torch.rand(4, 1 if k in ("sims", "T_L") else 2, 24, 24, generator=g) * 40 + 30
             for k in photo_colornet.CACHE_KEYS}
    cache["sims"] = cache["sims"].to(torch.uint8)
    plain = photo_colornet.sample(cache, 6, 16, 1.0, torch.Generator().manual_seed(1))
    kept = photo_colornet.sample(cache, 6, 16, 0.0, torch.Generator().manual_seed(1))
    more = cache | {"W": cache["T_ab"].clone(), "V": cache["T_ab"].clone()}
    b = photo_colornet.sample(more, 6, 16, 1.0, torch.Generator().manual_seed(1),
                              ab_keys=(*photo_colornet.CACHE_KEYS[2:], "W"))
    assert torch.equal(b["T_ab"], plain["T_ab"]) and torch.equal(b["R_ab_w"], plain["R_ab_w"])
    assert torch.equal(b["W"], b["T_ab"])
    assert torch.equal(b["V"], kept["T_ab"]) and not torch.allclose(b["V"], b["T_ab"])
