import pytest
import torch

from reprolib.colorization import grayvgg_weights, retrieval
from reprolib.core.seeds import heldout_seed
from reprolib.world import scenes


def test_histogram_sums_to_one_and_bins_L():
    L = torch.tensor([0.0, 49.9, 50.0, 100.0]).view(1, 1, 2, 2)
    h = retrieval.luminance_histogram(L, bins=2)
    torch.testing.assert_close(h, torch.tensor([[0.5, 0.5]]))


def test_recommend_prefers_references_with_the_targets_classes():
    model = grayvgg_weights.grayvgg_small()
    pool = scenes.sample_scenes(heldout_seed(7), 24, 64)  # not the pool the defaults were chosen on (5)
    presence = scenes.class_presence(pool.labels).float()  # (24, classes)
    wins, total = 0.0, 0
    for t in range(8):
        others = [i for i in range(24) if i != t]
        ranked = retrieval.recommend(model, pool.L[t:t + 1], [pool.L[i:i + 1] for i in others])
        jaccard = [float((presence[t] * presence[others[i]]).sum()
                         / (presence[t] + presence[others[i]]).clamp(max=1).sum())
                   for i, _ in ranked]
        wins += float(sum(jaccard[:3]) / 3 > sum(jaccard) / len(jaccard))
        total += 1
        assert [s for _, s in ranked] == sorted((s for _, s in ranked), reverse=True)
    assert wins / total >= 0.75  # the top 3 share more of the target's classes than the average candidate


def test_recommend_ranks_the_target_itself_first():
    model = grayvgg_weights.grayvgg_small()
    pool = scenes.sample_scenes(heldout_seed(6), 5, 64)
    ranked = retrieval.recommend(model, pool.L[2:3], [pool.L[i:i + 1] for i in range(5)])
    assert ranked[0][0] == 2 and ranked[0][1] == pytest.approx(1.0, abs=1e-5)


def test_recommend_errors():
    model = grayvgg_weights.grayvgg_small()
    with pytest.raises(ValueError, match="no candidate"):
        retrieval.recommend(model, torch.zeros(1, 1, 32, 32), [])
    with pytest.raises(ValueError, match="luminance"):
        retrieval.recommend(model, torch.zeros(1, 3, 32, 32), [torch.zeros(1, 1, 32, 32)])


def test_recommend_photos_ranks_rgb_photos_by_their_L():
    from reprolib.core.color import rgb_to_lab
    from reprolib.core.photos import load_photo, resize_short_side

    model = grayvgg_weights.grayvgg_small()
    photos = [load_photo(n) for n in ("flower.jpg", "coffee.jpg", "rocket.jpg")]
    ranked = retrieval.recommend_photos(model, photos[0], photos, short_side=64)
    assert ranked[0][0] == 0  # the target itself first
    L = [rgb_to_lab(resize_short_side(p, 64).clamp(0, 1))[None, :1] for p in photos]
    assert ranked == retrieval.recommend(model, L[0], L)
    with pytest.raises(ValueError, match="photo"):
        retrieval.recommend_photos(model, photos[0][:1], photos)
