import pytest
import torch

from reprolib.colorization import grayvgg_weights, matching
from reprolib.core import photos
from reprolib.studies import agreement as metrics
from reprolib.world import scenes


@pytest.fixture(scope="module")
def small():
    return grayvgg_weights.grayvgg_small()


def test_nearest_neighbour_of_an_image_with_itself_is_mostly_itself(small):
    scene = scenes.sample_scenes(3, 2)
    phi = metrics.nearest_neighbours(small, scene.L, scene.L)
    assert phi.shape == (2, 2, 64, 64)
    # ties on flat texture may pick another pixel with the same features, almost always of the same class
    assert (matching.warp(scene.labels[:, None], phi)[:, 0] == scene.labels).float().mean() > 0.99
    assert (phi == matching.identity_field(64, 64)).all(dim=1).float().mean() > 0.8


def test_nearest_neighbours_other_size_and_batch_mismatch(small):
    t, r = torch.rand(1, 1, 32, 48) * 100, torch.rand(1, 1, 40, 24) * 100
    phi = metrics.nearest_neighbours(small, t, r)
    assert phi.shape == (1, 2, 32, 48) and int(phi[:, 0].max()) < 40 and int(phi[:, 1].max()) < 24
    with pytest.raises(ValueError, match="batches differ"):
        metrics.nearest_neighbours(small, t, torch.rand(2, 1, 40, 24))


def test_trained_features_beat_random_and_chance(small):
    trained = metrics.nn_label_agreement(small, n_pairs=4)
    random = metrics.nn_label_agreement(grayvgg_weights.random_like(small), n_pairs=4)
    assert trained > random + 0.05 and random > metrics.chance_agreement(n_pairs=4)


def test_nn_colour_transfer_keeps_target_luminance(small):
    t, r = photos.load_photo("chelsea"), photos.load_photo("coffee")
    out = metrics.nn_colour_transfer(small, t, r, short_side=32)
    assert out.shape == (3, 32, 48)
    target_L = metrics.rgb_to_lab(photos.resize_short_side(t, 32))[0]
    # T_L is kept except where the warped chroma leaves the sRGB gamut and gets clipped
    assert (metrics.rgb_to_lab(out)[0] - target_L).abs().median() < 0.5
