"""The fair test of the pair discriminator: the faded copy at equal visibility (reprolib.insertion.metrics), the
held matte (InsertionGenerator.parts, training.insertion.Config.hold_matte) and the study's verdict."""
from __future__ import annotations

import pytest
import torch

from reprolib.insertion import metrics, nets
from reprolib.studies import insertion_study
from reprolib.training import insertion as ins_train


@pytest.fixture(scope="module", autouse=True)
def _one_thread(one_thread):
    """Small tensors: one thread for every test of this module."""


def test_fade_at_visibility_finds_the_fade_of_that_visibility(pairs):
    _, real = pairs
    v_copy = float(metrics.object_visibility(real.copy, real.background, real.mask).mean())
    for wanted in (0.25 * v_copy, 0.6 * v_copy):
        fade = metrics.fade_at_visibility(real, wanted)
        got = float(metrics.object_visibility(metrics.faded_copy(real, fade["t"]), real.background, real.mask).mean())
        assert abs(got - wanted) < 0.05 * wanted and 0 < fade["t"] < 1
        expected = float(metrics.box_error(metrics.faded_copy(real, fade["t"]), real.target, real.box).mean())
        assert fade["error"] == pytest.approx(expected, abs=1e-3)
    assert metrics.fade_at_visibility(real, 2 * v_copy)["t"] == 1.0  # more visible than the copy: the copy
    assert metrics.fade_at_visibility(real, 0.0)["error"] == pytest.approx(
        float(metrics.box_error(real.background, real.target, real.box).mean()), abs=1e-2)  # V 0: erased


def test_held_matte_gives_the_same_output_and_no_gradient_through_alpha(pairs):
    fake, _ = pairs
    torch.manual_seed(0)
    g = nets.InsertionGenerator(width=4)
    y, alpha, _ = g.parts(fake.composite, fake.background)
    y_held, _, _ = g.parts(fake.composite, fake.background, hold_matte=True)
    torch.testing.assert_close(y, y_held)
    y_held.sum().backward()
    assert g.head.weight.grad[0].abs().max() == 0  # the matte's output channel gets no gradient
    assert g.head.weight.grad[1:].abs().max() > 0 and g.colour.weight.grad.abs().max() > 0  # the foreground does
    g.zero_grad()
    y.sum().backward()
    assert g.head.weight.grad[0].abs().max() > 0


def test_hold_matte_needs_a_blending_generator_and_a_pair_discriminator():
    with pytest.raises(ValueError, match="hold_matte"):
        ins_train.Config(hold_matte=True, pair="none").check()
    with pytest.raises(ValueError, match="hold_matte"):
        ins_train.Config(hold_matte=True, blending=False).check()
    ins_train.Config(hold_matte=True).check()


def _run(seed, error, visibility, faded=10.0):
    return {"seed": seed, "real_pair_error": error, "real_pair_visibility": visibility,
            "faded_copy_error_at_equal_visibility": faded}


@pytest.mark.parametrize(("error", "visibility", "holds"), [
    (15.0, 35.0, True),  # below both, visibility kept
    (15.0, 20.0, False),  # below both by fading: V < 0.8 x 40
    (18.0, 35.0, False),  # below "without" but not below erasing (17)
    (21.0, 39.0, False),  # not below "without"
])
def test_the_verdict_needs_every_condition_on_every_seed(error, visibility, holds):
    res = {"without_pair_discriminator": {"per_seed": [_run(0, 20.0, 40.0), _run(1, 20.0, 40.0)]},
           "erase_object_baseline": {"real_pair_error_mean": 17.0},
           "with_pair_discriminator": {"per_seed": [_run(0, error, visibility), _run(1, 15.0, 35.0)]}}
    test = insertion_study.fair_test(res, "with_pair_discriminator")
    assert test["holds"] is holds and test["per_seed"][0]["holds"] is holds and test["per_seed"][1]["holds"]
    assert test["per_seed"][0]["visibility_ratio"] == pytest.approx(visibility / 40.0, abs=1e-3)


def test_panel_notes_give_each_outputs_error_and_visibility(pairs):
    _, real = pairs
    notes = insertion_study.panel_notes(real.background, real)  # the erased object
    errors = metrics.box_error(real.background, real.target, real.box)
    assert len(notes) == 16 and all(note.endswith(", V 0") for note in notes)
    assert notes[0] == f"dE {errors[0]:.0f}, V 0"
    assert insertion_study.panel_notes(real.target, real)[0].startswith("dE 0, V ")
