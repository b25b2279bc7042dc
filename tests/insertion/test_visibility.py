"""The "erase the object" baseline and the object's visibility (reprolib.insertion.metrics), their place in the
insertion study, and the labelled image grid of its figures."""
from __future__ import annotations

import pytest
import torch

from reprolib.figures import plots
from reprolib.insertion import metrics, nets
from reprolib.studies import insertion_study


@pytest.fixture(scope="module", autouse=True)
def _one_thread(one_thread):
    """Small tensors: one thread for every test of this module."""


def test_visibility_is_zero_for_the_erased_object_and_large_for_the_ground_truth(pairs):
    _, real = pairs
    erased = metrics.erase_object(real)
    assert torch.equal(erased, real.background)
    v_erased = metrics.object_visibility(erased, real.background, real.mask)
    v_truth = metrics.object_visibility(real.target, real.background, real.mask)
    assert v_erased.shape == v_truth.shape == (16,)
    assert v_erased.abs().max() < 1e-3 and v_truth.min() > 1.0
    half = 0.5 * real.target + 0.5 * real.background  # a half-faded object is less visible
    assert (metrics.object_visibility(half, real.background, real.mask) < v_truth).all()


def test_alpha_in_mask(pairs):
    fake, _ = pairs
    g = nets.InsertionGenerator(width=4)
    with torch.no_grad():
        g.head.bias[0] = -1e4  # alpha = 0: the object erased
    assert metrics.alpha_in_mask(g, fake).abs().max() < 1e-6
    with torch.no_grad():
        g.head.bias[0] = 1e4  # alpha = 1 everywhere
    torch.testing.assert_close(metrics.alpha_in_mask(g, fake, batch_size=5), torch.ones(16))
    with pytest.raises(ValueError, match="blending"):
        metrics.alpha_in_mask(nets.InsertionGenerator(width=4, blending=False), fake)


def test_references_hold_the_erase_baseline_and_the_visibilities():
    ref = insertion_study.references(16, classifiers=False)
    assert ref["erase_real_pair_visibility"] == 0.0
    assert ref["ground_truth_real_pair_visibility"] > 10 and ref["copy_real_pair_visibility"] > 10
    assert ref["erase_real_pair_error"] > 0 and ref["erase_fake_pair_error"] > 0
    base = insertion_study.erase_object_baseline(ref)
    assert base["real_pair_error_mean"] == ref["erase_real_pair_error"]
    assert base["real_pair_visibility_mean"] == 0.0
    assert base["ground_truth_real_pair_visibility"] == ref["ground_truth_real_pair_visibility"]


def test_evaluate_generator_reports_the_visibility():
    torch.manual_seed(0)
    res = metrics.evaluate_generator(nets.InsertionGenerator(width=4), n=8, classifier_steps=2)
    assert set(res) == {"fake_pair_error", "real_pair_error", "real_pair_visibility", "pair_classifier_accuracy"}
    assert res["real_pair_visibility"] >= 0


def test_lighting_labels(pairs):
    fake, real = pairs
    labels = insertion_study.lighting_labels(real)
    assert len(labels) == 16 and all("→" in s for s in labels)
    assert all("→" not in s for s in insertion_study.lighting_labels(fake))


def test_image_rows_column_labels(pairs):
    fake, _ = pairs
    fig = plots.image_rows({"a": fake.composite, "b": fake.target}, 3, columns=["x", "y", "z"], title="t")
    axes = fig.axes
    assert len(axes) == 6 and [ax.get_title() for ax in axes[:3]] == ["x", "y", "z"]
    assert axes[0].get_ylabel() == "a" and fig.get_suptitle() == "t"
    with pytest.raises(ValueError, match="labels"):
        plots.image_rows({"a": fake.composite}, 3, columns=["x"])


def test_image_rows_notes_under_each_panel(pairs):
    fake, _ = pairs
    fig = plots.image_rows({"a": fake.composite, "b": fake.target}, 2, notes={"b": ["dE 1.0", "dE 2.0"]})
    assert [ax.get_xlabel() for ax in fig.axes] == ["", "", "dE 1.0", "dE 2.0"]
    with pytest.raises(ValueError, match="notes"):
        plots.image_rows({"a": fake.composite}, 2, notes={"a": ["one"]})
    with pytest.raises(ValueError, match="notes"):
        plots.image_rows({"a": fake.composite}, 2, notes={"c": ["one", "two"]})
