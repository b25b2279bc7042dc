"""DEC's robustness to the reference, in the usual-colour world (reprolib.studies.robustness)."""
from __future__ import annotations

import pytest
import torch

from reprolib.colorization.colornet import load_colornet
from reprolib.core import color
from reprolib.studies import robustness
from reprolib.world import scenes
from reprolib.world.classes import NUM_PALETTES, PALETTE_TABLE


@pytest.fixture(scope="module", autouse=True)
def _one_thread(one_thread):
    """Small tensors: one thread (conftest's ``one_thread``)."""


def test_palette_errors_are_zero_on_the_palettes_and_positive_between_them():
    scene = scenes.sample_scenes(3, 2, 16, usual=0.7)
    assert torch.equal(robustness.usual_ab(scene.labels), PALETTE_TABLE[scene.labels, 0].permute(0, 3, 1, 2))
    for q in range(3):  # every palette of a class is a colour the class can wear: error 0
        ab = PALETTE_TABLE[scene.labels, torch.minimum(torch.tensor(q), torch.tensor(NUM_PALETTES)[scene.labels] - 1)]
        err = robustness.nearest_palette_error(scene.L, ab.permute(0, 3, 1, 2), scene.labels)
        assert err.abs().max() < 1e-3
    gray = robustness.nearest_palette_error(scene.L, torch.zeros(2, 2, 16, 16), scene.labels)
    to_usual = color.delta_e2000(torch.cat((scene.L, torch.zeros(2, 2, 16, 16)), 1),
                                 torch.cat((scene.L, robustness.usual_ab(scene.labels)), 1))
    assert (gray > 5).all() and (gray <= to_usual + 1e-4).all()


def test_the_rows_score_each_kind_of_reference():
    nets = {"chrominance_only": load_colornet(mode="chrominance_only"), "full": load_colornet()}
    res = robustness.robustness_rows(n=4, batch_size=2, nets=nets)
    assert set(res["rows"]) == set(robustness.REFERENCES)
    assert res["unshown_share"]["unrelated"] == 1.0 and res["unshown_share"]["good"] < 0.05
    for kind, rows in res["rows"].items():
        assert set(rows) == set(robustness.ROWS)
        for scores in rows.values():
            assert (scores["shown"] is None) == (kind == "unrelated")
            assert all(v is None or v >= 0 for v in scores.values())
            if scores["unshown_any"] is not None:  # the nearest palette is never farther than the usual one
                assert scores["unshown_any"] <= scores["unshown_usual"] + 1e-6
    for kind in ("good", "partial"):  # the oracle copies R'_ab where the class is shown, the usual colour elsewhere
        oracle, copy = res["rows"][kind]["prior_oracle"], res["rows"][kind]["warped_reference"]
        assert oracle["shown"] == copy["shown"]
    assert res["rows"]["partial"]["prior_oracle"]["unshown_usual"] < 1e-3
    assert res["rows"]["partial"]["warped_reference"]["unshown_usual"] > 5
    assert "| partial" in robustness.report_table(res)
