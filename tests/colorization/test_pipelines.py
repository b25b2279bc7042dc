"""The three pipelines of colorize (reprolib.colorization.pipelines): features computed once, outputs equal to one
feature pass per matcher, shared matches, and the plan that chooses among them."""
import pytest
import torch

from reprolib.colorization import colorize as col
from reprolib.colorization import pipelines as pipes
from reprolib.colorization.chooser import FIELDS, chooser_for
from reprolib.colorization.colornet import colornet_for, colornet_input, predict_ab
from reprolib.colorization.grayvgg import forward_passes
from reprolib.colorization.grayvgg_weights import load_extractor
from reprolib.colorization.matching import FIELD_LAYER, PHOTO_FIELD, match
from reprolib.colorization.smoothing import smooth_ab
from reprolib.core.color import rgb_to_lab


@pytest.fixture(scope="module")
def student():
    return load_extractor("photo")


@pytest.fixture(scope="module")
def lab_pair(photo_pair):
    t, r = photo_pair
    return rgb_to_lab(t)[None, :1], rgb_to_lab(r)[None]


def test_each_image_goes_through_the_gray_vgg_once(photo_pair, student, lab_pair):
    """The default colorize (the Chooser's three matchers) runs the gray-VGG on T, R and the mirrored R: three
    passes (one feature pass per matcher would be nine); the one-matcher pipelines run it as often."""
    t, r = photo_pair
    assert forward_passes(student, lambda: col.colorize(t, r, features=student, size=48)) == 3
    assert forward_passes(student, lambda: col.colorize(t, r, features=student, size=48, chooser=False)) == 3
    assert forward_passes(student, lambda: col.colorize(t, r, features=student, size=48, method="patchmatch")) == 2
    T_L, R_lab = lab_pair
    chooser = pipes.ChooserPipeline(net=chooser_for(student.extractor))
    assert forward_passes(student, lambda: chooser.match(student, T_L, R_lab)) == 3


def test_the_reference_features_computed_once_give_the_same_prediction(student, lab_pair):
    """A clip coloured from one R computes R's features once (Pipeline.reference_features): each frame then costs
    one gray-VGG pass, and P_ab is the same as with R's features computed in the call."""
    T_L, R_lab = lab_pair
    chooser = pipes.ChooserPipeline(net=chooser_for(student.extractor))
    reference = chooser.reference_features(student, R_lab)
    assert forward_passes(student, lambda: chooser.run(student, T_L, R_lab, reference=reference)) == 1
    torch.testing.assert_close(chooser.run(student, T_L, R_lab, reference=reference)[0],
                               chooser.run(student, T_L, R_lab)[0])
    assert pipes.WarpSmoothed(method="patchmatch").reference_features(student, R_lab) is None
    with pytest.raises(ValueError, match="were not computed for this reference"):
        chooser.run(student, T_L, R_lab[..., :, :-16], reference=reference)


def test_outputs_equal_one_feature_pass_per_matcher(student, lab_pair):
    """Sharing the pyramids changes no number: each pipeline equals its recipe written with one ``match`` per
    matcher (each computing its own features, as the pipelines did before), bit for bit."""
    T_L, R_lab = lab_pair
    R_L, R_ab = R_lab[:, :1], R_lab[:, 1:]
    per_field = [match(student, T_L, R_L, R_ab, field_layer=f.layers, mirror=f.mirror, fast=f.fast) for f in FIELDS]
    chooser = pipes.ChooserPipeline(net=chooser_for(student.extractor), hedge=False)
    P_ab, matched = chooser.run(student, T_L, R_lab)
    for mine, theirs in zip(matched, per_field):
        assert all(torch.equal(a, b) for a, b in zip(mine, theirs))
    assert torch.equal(P_ab, chooser.net.choose_matched(T_L, per_field))
    route = match(student, T_L, R_L, R_ab, field_layer=PHOTO_FIELD, mirror=True)
    assert torch.equal(pipes.WarpSmoothed().run(student, T_L, R_lab)[0], smooth_ab(route.R_ab_warped, T_L))
    net = colornet_for(student.extractor)
    expected = smooth_ab(predict_ab(net, colornet_input(T_L, route.R_ab_warped, route.sims)), T_L)
    assert torch.equal(pipes.DecColorNet(net=net).run(student, T_L, R_lab)[0], expected)
    patch = match(student, T_L, R_L, R_ab, method="patchmatch", field_layer=FIELD_LAYER)
    assert torch.equal(pipes.WarpSmoothed(method="patchmatch", smoothing="none").run(student, T_L, R_lab)[0],
                       patch.R_ab_warped)


def test_pipelines_share_one_match(student, lab_pair):
    """The Chooser's first matcher is the photo route: the one-matcher pipelines predict from its match."""
    T_L, R_lab = lab_pair
    chooser = pipes.ChooserPipeline(net=chooser_for(student.extractor))
    matched = chooser.match(student, T_L, R_lab)
    warp = pipes.WarpSmoothed()
    assert torch.equal(warp.predict(T_L, matched[:1]), warp.run(student, T_L, R_lab)[0])
    net = pipes.DecColorNet(net=colornet_for(student.extractor), smoothing="none")
    assert torch.equal(net.predict(T_L, matched[:1]), net.run(student, T_L, R_lab)[0])


def test_each_pipeline_names_its_net_size_and_cost(student):
    chooser = pipes.ChooserPipeline(net=chooser_for(student.extractor))
    assert (chooser.name, chooser.net_name, chooser.working_size, chooser.smoothing) == (
        "chooser", "chooser_small", 192, "none")
    warp = pipes.WarpSmoothed()
    assert (warp.name, warp.net_name, warp.working_size, warp.smoothing) == ("warp_smoothed", "none", 256,
                                                                            "median_guided")
    size = (192, 256)
    assert chooser.cost(student, size, size) > warp.cost(student, size, size) == pipes.exact_route_cost(
        student, size, size)
    with pytest.raises(ValueError, match="needs the exact route"):
        pipes.ChooserPipeline(net=chooser.net, method="patchmatch")
    with pytest.raises(ValueError, match="needs a ColorNet"):
        pipes.DecColorNet()
    with pytest.raises(ValueError, match="smoothing must be one of"):
        pipes.WarpSmoothed(smoothing="blur")


def test_the_plan_chooses_the_pipeline_its_size_and_says_why_it_fell_back(student):
    small, large = (60, 80), (1200, 1600)
    chosen = pipes.plan(student, small, small)
    assert chosen.pipeline.name == "chooser" and chosen.size == 192 and chosen.note == ""
    assert pipes.plan(student, small, small, chooser=False).pipeline.name == "warp_smoothed"
    assert pipes.plan(student, small, small, colornet=True).pipeline.net_name == "colornet_photo_small"
    fallback = pipes.plan(student, large, large, size=400)
    assert fallback.pipeline.name == "warp_smoothed" and "so R'_ab smoothed ran instead" in fallback.note
    assert fallback.size == 400 and fallback.pipeline.method == "exact"
    with pytest.raises(ValueError, match="use --method auto and a smaller --size, or --no-chooser"):
        pipes.plan(student, large, large, size=400, chooser=True)
    far = pipes.plan(student, large, large, size=1024)
    assert far.pipeline.method == "patchmatch" and "PatchMatch ran instead" in far.note
    assert pipes.plan(load_extractor("small"), small, small).pipeline.name == "warp_smoothed"  # no Chooser for it
