import torch

from reprolib.core.color import chroma, lab_to_rgb
from reprolib.studies import lab as labstudy


def test_lab_steps_are_the_most_uniform():
    cv = labstudy.step_uniformity(n_steps=16)
    for ramp, by_space in cv.items():
        assert by_space["lab"] < by_space["linear_rgb"], ramp
    # the gray ramp: equal L* steps are close to equal dE00 steps, linear RGB steps are not
    assert cv["black->white"]["lab"] < 0.3 < cv["black->white"]["linear_rgb"]


def test_step_sizes_sum_roughly_to_the_distance():
    start, end = torch.zeros(3, dtype=torch.float64), torch.ones(3, dtype=torch.float64)
    steps = labstudy.step_sizes(start, end, 16, "lab")
    assert steps.shape == (16,) and (steps > 0).all()


def test_ab_plane_gamut():
    rgb, inside = labstudy.ab_plane(50.0, extent=110.0, n=41)
    assert rgb.shape == (3, 41, 41) and inside.shape == (41, 41)
    assert inside[20, 20]  # a* = b* = 0 is gray: in gamut
    assert not inside[0, 0] and not inside[-1, -1]  # the corners are far outside
    assert 0.1 < inside.double().mean() < 0.9


def test_car_colours_share_l_and_are_in_gamut():
    lab = torch.tensor([(labstudy.CAR_L, a, b) for a, b in labstudy.CAR_COLOURS_AB], dtype=torch.float64)
    _, clipped = lab_to_rgb(lab.T.reshape(3, 1, -1), return_clipped=True)
    assert not clipped.any()


def test_regression_to_the_mean_is_gray():
    fit = labstudy.regression_to_the_mean(steps=400)
    colours = torch.tensor(labstudy.CAR_COLOURS_AB, dtype=torch.float64)
    mean, median = colours.mean(0), colours.median(0).values  # 7 colours: the median is unique
    assert abs(fit["l2_prediction_a"] - mean[0]) < 1.0 and abs(fit["l2_prediction_b"] - mean[1]) < 1.0
    assert abs(fit["l1_prediction_a"] - median[0]) < 1.0 and abs(fit["l1_prediction_b"] - median[1]) < 1.0
    assert fit["l2_prediction_chroma"] < 0.3 * fit["mean_chroma_of_colours"]
    assert fit["l1_prediction_chroma"] < 0.3 * fit["mean_chroma_of_colours"]
    lab = torch.tensor([labstudy.CAR_L, *labstudy.CAR_COLOURS_AB[0]]).view(3, 1, 1)
    assert abs(float(chroma(lab).squeeze()) - float(colours[0].norm())) < 1e-4


def _geometric_median(points: torch.Tensor, iters: int = 500) -> torch.Tensor:
    """Weiszfeld's iteration z <- sum_i w_i x_i / sum_i w_i, w_i = 1 / ||x_i - z||."""
    z = points.mean(0)
    for _ in range(iters):
        w = 1.0 / (points - z).norm(dim=1).clamp(min=1e-12)
        z = (w[:, None] * points).sum(0) / w.sum()
    return z


def test_warm_colours_share_l_are_in_gamut_and_do_not_surround_gray():
    lab = torch.tensor([(labstudy.WARM_L, a, b) for a, b in labstudy.WARM_COLOURS_AB], dtype=torch.float64)
    _, clipped = lab_to_rgb(lab.T.reshape(3, 1, -1), return_clipped=True)
    assert not clipped.any()
    hue = torch.rad2deg(torch.atan2(lab[:, 2], lab[:, 1]))
    assert (hue > 0).all() and (hue < 100).all()  # reds to yellows: all on one side of the gray axis


def test_warm_optima_are_desaturated_but_not_gray():
    fit = labstudy.regression_to_the_mean(labstudy.WARM_COLOURS_AB, labstudy.WARM_L, steps=400)
    colours = torch.tensor(labstudy.WARM_COLOURS_AB, dtype=torch.float64)
    closed = {"l1": colours.median(0).values, "l1_euclidean": _geometric_median(colours), "l2": colours.mean(0)}
    for loss, z in closed.items():
        fitted = torch.tensor([fit[f"{loss}_prediction_a"], fit[f"{loss}_prediction_b"]], dtype=torch.float64)
        torch.testing.assert_close(fitted, z, rtol=0, atol=0.1)
        assert 0.5 * fit["mean_chroma_of_colours"] < fit[f"{loss}_prediction_chroma"], loss  # not gray
        assert fit[f"{loss}_prediction_chroma"] <= fit["mean_chroma_of_colours"], loss  # desaturated
    assert fit["l2_prediction_chroma"] < 0.95 * fit["mean_chroma_of_colours"]


def test_euclidean_l1_fit_is_the_geometric_median_of_the_car_colours():
    fit = labstudy.regression_to_the_mean(steps=400)
    z = _geometric_median(torch.tensor(labstudy.CAR_COLOURS_AB, dtype=torch.float64))
    assert abs(fit["l1_euclidean_prediction_a"] - z[0]) < 0.1 and abs(fit["l1_euclidean_prediction_b"] - z[1]) < 0.1
    assert fit["l1_euclidean_prediction_chroma"] < 0.3 * fit["mean_chroma_of_colours"]
