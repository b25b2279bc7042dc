"""The evaluation in miniature (reprolib.studies.colour_eval and what it uses): image metrics, Welsh 2002,
the colour classifier, the rows."""
from __future__ import annotations

import math

import pytest
import torch

from reprolib.colorization.grayvgg_weights import grayvgg_small
from reprolib.colorization.welsh import welsh
from reprolib.core import color
from reprolib.core.seeds import heldout_seed
from reprolib.studies import colour_eval as ev
from reprolib.studies.image_metrics import colorfulness, psnr
from reprolib.training import colour_classifier as cc
from reprolib.world import scenes


@pytest.fixture(scope="module")
def pairs():
    target, reference = scenes.sample_pairs(heldout_seed(0), 8, 64)
    return target, reference, scenes.ground_truth(target, reference)


def test_colorfulness_gray_is_zero_and_hand_computed_value():
    gray = torch.full((2, 3, 8, 8), 0.4)
    assert torch.allclose(colorfulness(gray), torch.zeros(2))
    # half pure red, half pure blue: rg = 255 | 0, yb = 127.5 | -255 (0..255)
    img = torch.zeros(1, 3, 2, 2)
    img[0, 0, 0] = 1.0  # red row
    img[0, 2, 1] = 1.0  # blue row
    sigma = math.sqrt(127.5**2 + 191.25**2)  # population std of {255, 0} and {127.5, -255}
    mu = math.sqrt(127.5**2 + 63.75**2)  # |means| of rg and yb
    assert colorfulness(img).item() == pytest.approx(sigma + 0.3 * mu, rel=1e-5)
    assert colorfulness(img).item() > 0


def test_psnr_identical_is_inf_and_known_value():
    x = torch.rand(2, 3, 4, 4, generator=torch.Generator().manual_seed(0))
    assert torch.isinf(psnr(x, x)).all()
    assert psnr(torch.zeros(1, 3, 4, 4), torch.full((1, 3, 4, 4), 0.1)).item() == pytest.approx(20.0, abs=1e-4)
    with pytest.raises(ValueError, match="differ in shape"):
        psnr(x, x[:, :, :2])


def test_welsh_keeps_target_l_and_uses_only_reference_colours(pairs):
    target, reference, _ = pairs
    ab = welsh(target.L, reference.lab, seed=3)
    assert ab.shape == (8, 2, 64, 64)
    assert torch.equal(ab, welsh(target.L, reference.lab, seed=3))  # seeded
    for b in range(len(target)):
        ref = set(map(tuple, reference.ab[b].flatten(1).T.tolist()))
        assert set(map(tuple, ab[b].flatten(1).T.tolist())) <= ref
    lab = ev.colorize_rows(target, reference, grayvgg_small(), {}, seed=0)["welsh"]
    assert torch.equal(lab[:, :1], target.L)  # P_L = T_L
    with pytest.raises(ValueError, match="T_L"):
        welsh(target.lab, reference.lab)
    with pytest.raises(ValueError, match="odd"):
        welsh(target.L, reference.lab, neighbourhood=4)


def test_classifier_reads_colour_not_luminance(pairs):
    _, _, truth = pairs
    net = cc.load_classifier()
    chance = cc.classifier_chance(truth.labels)
    true_acc = cc.classifier_accuracy(net, truth.rgb, truth).mean().item()
    gray = color.lab_to_rgb(torch.cat((truth.L, torch.zeros_like(truth.ab)), dim=1))
    gray_acc = cc.classifier_accuracy(net, gray, truth).mean().item()
    assert true_acc > chance + 0.4 and true_acc > 0.85
    assert abs(gray_acc - chance) < 0.15


def test_classifier_checkpoint_is_small_and_checked(tmp_path):
    assert cc.ColourClassifierWeights.COLOUR_CLASSIFIER.path.stat().st_size <= 2_000_000
    bad = tmp_path / "bad.pt"
    torch.save({"format": "other"}, bad)
    with pytest.raises(ValueError, match="not a colour classifier"):
        cc.load_classifier(bad)
    with pytest.raises(FileNotFoundError, match="does not exist; make one with"):
        cc.load_classifier(tmp_path / "missing.pt")


def test_evaluate_returns_every_row_with_finite_numbers():
    res = ev.evaluate_rows(n_pairs=8, batch_size=8)
    assert res["n_pairs"] == 8
    assert set(res["rows"]) | set(res["missing_rows"]) == set(ev.ROWS)
    assert set(res["missing_rows"]) <= set(ev.NETS)
    for name, row in res["rows"].items():
        assert set(row) == set(ev.METRICS)
        for k, v in row.items():
            if name == "ground_truth" and k == "psnr":
                assert v is None
            else:
                assert math.isfinite(v), (name, k, v)
    assert res["rows"]["ground_truth"]["delta_e2000"] == pytest.approx(0.0, abs=1e-3)
    assert res["rows"]["welsh"]["delta_e2000"] > 0
    assert ev.evaluate_rows(n_pairs=8, batch_size=8)["rows"] == res["rows"]  # deterministic
    with pytest.raises(ValueError, match="n_pairs"):
        ev.evaluate_rows(n_pairs=0)
