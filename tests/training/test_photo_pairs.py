"""The photo protocol (reprolib.training.photo_pairs): the splits, the held-out photos kept out of training, the
matched-pair cache and its augmentation, and the one evaluation loop."""
from __future__ import annotations

import shutil

import pytest
import torch

from reprolib.colorization.chooser import FIELDS
from reprolib.colorization.grayvgg_weights import load_extractor
from reprolib.colorization.matching import PHOTO_ROUTE, match, warp
from reprolib.core import color
from reprolib.core.photos import PHOTOS_DIR, list_photos
from reprolib.training import distill
from reprolib.training import photo_pairs as pp
from reprolib.world.photo_views import other_view_pairs


def test_the_splits_are_disjoint_and_complete():
    assert set(pp.HELDOUT_PHOTOS) <= set(list_photos()) and len(pp.HELDOUT_PHOTOS) == 6
    assert set(pp.train_photos()) == set(list_photos()[:16]) - set(pp.HELDOUT_PHOTOS)
    assert set(pp.unseen_photos()) == set(list_photos()) - set(pp.train_photos())
    assert set(pp.DEVELOPMENT_PHOTOS) <= set(pp.unseen_photos()) - set(pp.HELDOUT_PHOTOS)
    assert not set(pp.tier_photos()) & (set(pp.DEVELOPMENT_PHOTOS) | set(pp.train_photos()))
    assert set(pp.VALIDATION_PHOTOS) <= set(pp.train_photos())
    assert pp.fit_photos() == [n for n in pp.train_photos() if n not in pp.VALIDATION_PHOTOS]
    assert pp.sources("shipped") == pp.train_photos() and pp.sources("fit") == pp.fit_photos()


def test_a_folder_holding_a_heldout_photo_never_trains(tmp_path):
    folder = tmp_path / "images"
    folder.mkdir()
    shutil.copy(PHOTOS_DIR / pp.train_photos()[0], folder / pp.train_photos()[0])
    assert pp.sources("shipped", str(folder)) == pp.train_photos() + [folder / pp.train_photos()[0]]
    with pytest.raises(FileNotFoundError, match="not a folder"):
        pp.sources("shipped", str(tmp_path / "none"))
    leaky = tmp_path / "leaky"
    leaky.mkdir()
    shutil.copy(PHOTOS_DIR / pp.HELDOUT_PHOTOS[0], leaky / pp.HELDOUT_PHOTOS[0])
    for images, extra in (("shipped", str(leaky)), (str(leaky), "")):
        with pytest.raises(ValueError, match=f"held-out photos \\({pp.HELDOUT_PHOTOS[0]}\\)"):
            pp.sources(images, extra)
    with pytest.raises(ValueError, match="held-out photos"):  # the distilled student's trainer reads it too
        distill.pyramids(str(leaky))
    assert "less the validation photos" in pp.described("fit") and str(folder) in pp.described(str(folder))


def test_the_cache_holds_every_matchers_warp_and_maps():
    g = torch.Generator().manual_seed(0)
    T_lab = torch.cat((torch.rand(2, 1, 40, 40, generator=g) * 100, torch.randn(2, 2, 40, 40, generator=g) * 20), 1)
    student = load_extractor("photo")
    cache = pp.match_views(student, FIELDS, T_lab, T_lab.flip(-1))
    assert list(cache) == ["sims", "T_L", "T_ab", *pp.warp_keys(len(FIELDS))] == ["sims", "T_L", "T_ab", "W0", "W1",
                                                                                  "W2"]
    assert cache["sims"].shape == (2, 10 * len(FIELDS), 40, 40) and cache["sims"].dtype == torch.uint8
    assert cache["W0"].shape == (2, 2, 40, 40) and cache["W0"].dtype == torch.float16
    assert not torch.equal(cache["W0"], cache["W1"])  # the matchers disagree somewhere
    one = pp.match_views(student, (PHOTO_ROUTE,), T_lab, T_lab.flip(-1), chunk=2, round_trip=True)
    assert list(one) == ["sims", "T_L", "T_ab", "W0", "T_ab_w"] and torch.equal(one["W0"], cache["W0"])
    m = match(student, T_lab[:, :1], T_lab.flip(-1)[:, :1], T_lab.flip(-1)[:, 1:], field_layer=PHOTO_ROUTE.layers,
              mirror=True)
    assert torch.equal(one["T_ab_w"], warp(T_lab[:, 1:], warp(m.phi_RT, m.phi_TR)).half())  # T'_ab, the round trip


def fake_cache(keys=("sims", "T_L", "T_ab", "W0", "T_ab_w")) -> dict:
    g = torch.Generator().manual_seed(0)
    cache = {k: torch.rand(4, 1 if k in ("sims", "T_L") else 2, 24, 24, generator=g) * 40 + 30 for k in keys}
    cache["sims"] = cache["sims"].to(torch.uint8)
    return cache


def test_hue_sets_the_share_of_turned_pairs():
    """hue 0 keeps every pair's own colours (a net may learn usual colours), 1 turns every pair."""
    cache = fake_cache()
    for hue, turned in ((0.0, 0), (1.0, 6)):
        b = pp.sample(cache, 6, 16, hue, torch.Generator().manual_seed(1))
        crops = pp.sample(cache, 6, 16, 0.0, torch.Generator().manual_seed(1))
        moved = (b["T_ab"] - crops["T_ab"]).abs().flatten(1).amax(1) > 1e-3
        assert int(moved.sum()) == turned


def test_sample_turns_the_named_ab_maps_alike_and_leaves_the_others():
    """Every map of the cache is cropped and flipped alike; the a*b* maps named in ab_keys (default: all of them)
    get the pair's turn, the others keep their colours; extra maps do not change the draws."""
    cache = fake_cache()
    plain = pp.sample(cache, 6, 16, 1.0, torch.Generator().manual_seed(1))
    kept = pp.sample(cache, 6, 16, 0.0, torch.Generator().manual_seed(1))
    more = cache | {"W": cache["T_ab"].clone(), "V": cache["T_ab"].clone()}
    b = pp.sample(more, 6, 16, 1.0, torch.Generator().manual_seed(1), ab_keys=("T_ab", "W0", "T_ab_w", "W"))
    assert torch.equal(b["T_ab"], plain["T_ab"]) and torch.equal(b["W0"], plain["W0"])
    assert torch.equal(b["W"], b["T_ab"])
    assert torch.equal(b["V"], kept["T_ab"]) and not torch.allclose(b["V"], b["T_ab"])


def test_evaluate_views_scores_every_row_on_every_pair():
    """Each row of the predictor gets one score per pair: the gray row's is CIEDE2000 of a*b* = 0 to the truth."""
    names = ("chelsea.jpg", "coffee.jpg")
    seen = []

    def predict(T_L, R_lab):
        seen.append(T_L.shape)
        return {"gray": torch.zeros(1, 2, *T_L.shape[-2:]), "copy": R_lab[:, 1:]}

    scores = pp.evaluate_views(predict, names, n_per=2)
    pairs = other_view_pairs(names, 2)
    assert set(scores) == {"gray", "copy"} and len(scores["gray"]) == len(seen) == 4
    truth = pairs.T_lab[1:2]
    gray = color.delta_e2000(torch.cat((truth[:, :1], torch.zeros_like(truth[:, 1:])), 1), truth).mean().item()
    assert scores["gray"][1] == gray and pp.mean(scores["gray"]) > pp.mean(scores["copy"])
