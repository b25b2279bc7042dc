"""The synthetic world (reprolib.world.scenes): classes, palettes sharing L*, gamut, determinism, pairs."""
from __future__ import annotations

import itertools

import pytest
import torch
import torch.nn.functional as F

from reprolib.core import color
from reprolib.core.color import delta_e2000, lab_to_rgb, rgb_to_lab
from reprolib.world import scenes as S

C = len(S.CLASSES)


def constant_palette(p: int, n: int) -> torch.Tensor:
    """Palette index p for every class (p modulo the class's number of palettes), for n scenes."""
    return (p % torch.tensor(S.NUM_PALETTES)).expand(n, C)


@pytest.fixture(scope="module", autouse=True)
def _one_thread(one_thread):
    """Small tensors: one thread (conftest's ``one_thread``) for every test of this module."""


@pytest.fixture(scope="module")
def scenes() -> S.Scene:
    return S.sample_scenes(7, 256)


def test_classes_and_palette_tables():
    assert len(S.CLASSES) >= 6 and len(set(S.CLASSES)) == len(S.CLASSES)
    assert len(S.PALETTES) == len(S.PALETTE_NAMES) == len(S.L_RANGES) == C
    assert S.NUM_PALETTES == tuple(len(p) for p in S.PALETTES)
    assert min(S.NUM_PALETTES) >= 2
    assert sum(n >= 3 for n in S.NUM_PALETTES) >= C // 2
    for pal, names, (lo, hi) in zip(S.PALETTES, S.PALETTE_NAMES, S.L_RANGES):
        assert len(pal) == len(names) and all(len(ab) == 2 for ab in pal)
        assert 0 <= lo < hi <= 100


def test_sample_shapes_dtypes_ranges(scenes):
    n = len(scenes)
    assert scenes.L.shape == (n, 1, 64, 64) and scenes.L.dtype == torch.float32
    assert scenes.labels.shape == (n, 64, 64) and scenes.labels.dtype == torch.int64
    assert scenes.palette.shape == (n, C) and scenes.palette.dtype == torch.int64
    assert scenes.rgb.shape == (n, 3, 64, 64) and scenes.rgb.dtype == torch.float32
    assert scenes.lab.shape == (n, 3, 64, 64)
    assert 0 <= scenes.rgb.min() and scenes.rgb.max() <= 1
    lo = torch.tensor([r[0] for r in S.L_RANGES])[scenes.labels]
    hi = torch.tensor([r[1] for r in S.L_RANGES])[scenes.labels]
    L = scenes.L[:, 0]
    assert bool(((L >= lo - 1e-4) & (L <= hi + 1e-4)).all()), "L* outside its class's range"
    assert bool((scenes.palette < torch.tensor(S.NUM_PALETTES)).all()) and bool((scenes.palette >= 0).all())
    # textures are not flat: each class varies in L* (std over its pixels)
    for c in range(C):
        values = L[scenes.labels == c]
        assert values.std() > 1.5, f"{S.CLASSES[c]} has a flat luminance"


def test_rgb_is_render_of_layout_and_lab_matches(scenes):
    again = S.render(scenes.L, scenes.labels, scenes.palette)
    torch.testing.assert_close(scenes.rgb, again, atol=1e-5, rtol=0)
    torch.testing.assert_close(rgb_to_lab(scenes.rgb), scenes.lab, atol=2e-3, rtol=0)


def test_luminance_is_independent_of_palette(scenes):
    """Rendering one layout with every palette leaves L* (measured back from RGB) unchanged."""
    batch = scenes[:64]
    measured = []  # every palette index at once for all classes, 64 scenes
    for p in range(max(S.NUM_PALETTES)):
        rgb = S.render(batch.L, batch.labels, constant_palette(p, len(batch)))
        measured.append(rgb_to_lab(rgb)[:, :1])
    for L in measured:
        assert (L - batch.L).abs().max() <= 1.0
        assert (L - measured[0]).abs().max() <= 1.0
    # per class, all of its palettes, the other classes fixed (16 scenes)
    batch = scenes[:16]
    for c in range(C):
        mask = batch.labels == c
        assert mask.any()
        Ls = []
        for p in range(S.NUM_PALETTES[c]):
            palette = batch.palette.clone()
            palette[:, c] = p
            Ls.append(rgb_to_lab(S.render(batch.L, batch.labels, palette))[:, 0][mask])
        for a, b in itertools.combinations(Ls, 2):
            assert (a - b).abs().max() <= 1.0, f"{S.CLASSES[c]}: palettes change L*"


def test_palettes_of_a_class_are_far_apart_in_ciede2000(scenes):
    """At the class's typical L* (and on every rendered pixel of the class) palettes differ by >= 20."""
    for c in range(C):
        mask = scenes.labels == c
        typical = float(scenes.L[:, 0][mask].mean())
        for p, q in itertools.combinations(range(S.NUM_PALETTES[c]), 2):
            lab_p = torch.tensor([typical, *S.PALETTES[c][p]]).view(3, 1, 1)
            lab_q = torch.tensor([typical, *S.PALETTES[c][q]]).view(3, 1, 1)
            assert float(delta_e2000(lab_p, lab_q)) >= 20, (S.CLASSES[c], p, q)
        # measured on the rendered pixels (sRGB -> Lab) of 8 scenes
        batch = scenes[:8]
        labs = []
        for p in range(S.NUM_PALETTES[c]):
            palette = batch.palette.clone()
            palette[:, c] = p
            lab = rgb_to_lab(S.render(batch.L, batch.labels, palette)).permute(1, 0, 2, 3)  # (3, B, H, W)
            labs.append(lab[:, batch.labels == c].unsqueeze(-1))  # (3, pixels, 1)
        for (p, lab_p), (q, lab_q) in itertools.combinations(enumerate(labs), 2):
            assert float(delta_e2000(lab_p, lab_q).min()) >= 20, (S.CLASSES[c], p, q)


def test_palette_distances_agree_with_scikit_image():
    """Cross-check of the CIEDE2000 distances between palettes with an independent implementation."""
    skimage_color = pytest.importorskip("skimage.color")
    for c, pal in enumerate(S.PALETTES):
        L = sum(S.L_RANGES[c]) / 2
        for p, q in itertools.combinations(pal, 2):
            lab_p = torch.tensor([L, *p], dtype=torch.float64).view(3, 1, 1)
            lab_q = torch.tensor([L, *q], dtype=torch.float64).view(3, 1, 1)
            ours = float(delta_e2000(lab_p, lab_q))
            theirs = skimage_color.deltaE_ciede2000(lab_p.numpy(), lab_q.numpy(), channel_axis=0).item()
            assert ours == pytest.approx(theirs, abs=1e-6) and theirs >= 20, (S.CLASSES[c], p, q)


def test_every_colour_is_inside_the_srgb_gamut(scenes):
    # every (class, palette, L*) that a texture can produce, on a fine L* grid
    for c, ((lo, hi), pal) in enumerate(zip(S.L_RANGES, S.PALETTES)):
        L = torch.linspace(lo, hi, 441, dtype=torch.float64)
        for a, b in pal:
            lab = torch.stack((L, torch.full_like(L, a), torch.full_like(L, b))).view(3, 1, -1)
            _, clipped = lab_to_rgb(lab, return_clipped=True)
            assert not clipped.any(), (S.CLASSES[c], (a, b))
            rgb = color.lab_to_rgb_unclipped(lab)  # the documented margin of 0.01 per channel
            assert rgb.min() >= 0.01 and rgb.max() <= 0.99, (S.CLASSES[c], (a, b))
    # and every pixel of 256 scenes under every palette
    for p in range(max(S.NUM_PALETTES)):
        lab = S.recolor(scenes, constant_palette(p, len(scenes))).lab
        _, clipped = lab_to_rgb(lab, return_clipped=True)
        assert int(clipped.sum()) == 0, f"palette {p}: {int(clipped.sum())} pixels out of gamut"


def test_same_seed_same_scenes_other_seed_other_scenes():
    a, b, other = S.sample_scenes(3, 8), S.sample_scenes(3, 8), S.sample_scenes(4, 8)
    torch.manual_seed(123)  # the global RNG state must not matter
    c = S.sample_scenes(3, 8)
    for x in (b, c):
        for field in ("L", "labels", "palette", "rgb"):
            assert torch.equal(getattr(a, field), getattr(x, field)), field
    assert not torch.equal(a.L, other.L) and not torch.equal(a.labels, other.labels)
    assert not torch.equal(S.sample_scene(0).L, S.sample_scene(1).L)
    # scenes within a batch differ from each other
    assert len({tuple(a.labels[i].flatten()[::97].tolist()) for i in range(len(a))}) == len(a)
    # the random draws do not depend on the size: same palettes, same layout at a coarser resolution
    small = S.sample_scenes(3, 8, size=32)
    assert torch.equal(small.palette, a.palette)
    agree = (small.labels == a.labels[:, 1::2, 1::2]).float().mean()
    assert agree > 0.9
    torch.testing.assert_close(S.random_palette(5, 10), S.random_palette(5, 10), rtol=0, atol=0)
    assert not torch.equal(S.random_palette(5, 50), S.random_palette(6, 50))


def test_batch_indexing_and_slicing(scenes):
    one = scenes[3]
    assert len(one) == 1 and one.L.shape == (1, 1, 64, 64) and one.labels.shape == (1, 64, 64)
    assert torch.equal(one.rgb, scenes.rgb[3:4]) and torch.equal(one.palette, scenes.palette[3:4])
    assert torch.equal(scenes[-1].L, scenes.L[-1:])
    part = scenes[10:15]
    assert len(part) == 5 and torch.equal(part.labels, scenes.labels[10:15])
    assert torch.equal(part.lab, scenes.lab[10:15])
    picked = scenes[torch.tensor([0, 5])]
    assert len(picked) == 2 and torch.equal(picked.L[1], scenes.L[5])
    with pytest.raises(IndexError):
        scenes[len(scenes)]
    single = S.sample_scene(11)
    assert len(single) == 1 and torch.equal(single.rgb, S.sample_scenes(11, 1).rgb)


def test_recolor_and_ground_truth(scenes):
    batch = scenes[:16]
    same = S.recolor(batch, batch.palette)
    assert torch.equal(same.rgb, S.render(batch.L, batch.labels, batch.palette))
    torch.testing.assert_close(same.rgb, batch.rgb, atol=1e-5, rtol=0)
    target, reference = S.sample_pairs(21, 16)
    truth = S.ground_truth(target, reference)
    assert torch.equal(truth.L, target.L) and torch.equal(truth.labels, target.labels)
    assert torch.equal(truth.palette, reference.palette)
    assert torch.equal(truth.rgb, S.recolor(target, reference.palette).rgb)
    # each pixel of class c gets the reference's palette of class c
    ab = truth.ab.permute(0, 2, 3, 1)  # (B, H, W, 2)
    for i in range(len(truth)):
        for c in target.labels[i].unique().tolist():
            expected = torch.tensor(S.PALETTES[c][int(reference.palette[i, c])])
            assert torch.equal(ab[i][target.labels[i] == c].unique(dim=0), expected.view(1, 2))
    torch.testing.assert_close(rgb_to_lab(truth.rgb), truth.lab, atol=2e-3, rtol=0)
    # a (C,) palette is broadcast to the batch
    flat = S.recolor(batch, [0] * C)
    assert torch.equal(flat.palette, torch.zeros(16, C, dtype=torch.long))


def test_every_class_appears_often(scenes):
    present = S.class_presence(scenes.labels).float().mean(0)
    pixels = torch.bincount(scenes.labels.flatten(), minlength=C).float() / scenes.labels.numel()
    print("\nclass frequencies over 256 scenes (in % of scenes, % of pixels):")
    for c, name in enumerate(S.CLASSES):
        print(f"  {name:6s} {100 * present[c]:5.1f} {100 * pixels[c]:5.1f}")
    assert bool((present >= 0.3).all()), present
    assert bool((pixels >= 0.005).all()), pixels
    assert present[S.CLASSES.index("sky")] == 1 and present[S.CLASSES.index("grass")] == 1


def test_colour_is_not_predictable_from_luminance(scenes):
    """Palettes are uniform per class and independent of the layout and its L*."""
    for c in range(C):
        counts = torch.bincount(scenes.palette[:, c], minlength=S.NUM_PALETTES[c]).float() / len(scenes)
        assert (counts - 1 / S.NUM_PALETTES[c]).abs().max() < 0.1, (S.CLASSES[c], counts)
        # the mean L* of the class does not depend on which palette the scene drew
        L = scenes.L[:, 0]
        means = []
        for p in range(S.NUM_PALETTES[c]):
            sel = (scenes.palette[:, c] == p).view(-1, 1, 1) & (scenes.labels == c)
            if sel.sum() > 500:
                means.append(float(L[sel].mean()))
        assert max(means) - min(means) < 0.1 * (S.L_RANGES[c][1] - S.L_RANGES[c][0]), (S.CLASSES[c], means)


def test_textures_tell_classes_apart_from_luminance(scenes):
    """Nearest-centroid classifiers on local (5 x 5) L* statistics: the texture statistics alone beat chance
    by far, and add clearly to the mean L* level (classes are not told apart by brightness only)."""

    def features(scene):
        L = scene.L / 100
        dx = (L[..., :, 1:] - L[..., :, :-1]).abs()
        dy = (L[..., 1:, :] - L[..., :-1, :]).abs()
        diag = (L[..., 1:, 1:] - L[..., :-1, :-1]).abs() - (L[..., 1:, :-1] - L[..., :-1, 1:]).abs()
        maps = [L, L * L, F.pad(dx, (0, 1)), F.pad(dy, (0, 0, 0, 1)), F.pad(diag, (0, 1, 0, 1))]
        pooled = F.avg_pool2d(torch.cat(maps, 1), 5, stride=1, padding=2)
        pooled[:, 1] = (pooled[:, 1] - pooled[:, 0] ** 2).clamp(min=0).sqrt()  # local std
        # pixels whose 5 x 5 neighbourhood lies inside one class
        onehot = F.one_hot(scene.labels, C).permute(0, 3, 1, 2).float()
        pure = F.avg_pool2d(onehot, 5, stride=1, padding=2, count_include_pad=False).amax(1) > 0.999
        return pooled.permute(0, 2, 3, 1)[pure], scene.labels[pure]

    x_train, y_train = features(scenes[:128])
    x_test, y_test = features(scenes[128:])

    def recall(columns):
        train, test = x_train[:, columns], x_test[:, columns]
        mean, std = train.mean(0), train.std(0)
        train, test = (train - mean) / std, (test - mean) / std
        centroids = torch.stack([train[y_train == c].mean(0) for c in range(C)])
        predicted = torch.cdist(test, centroids).argmin(1)
        return torch.stack([(predicted[y_test == c] == c).float().mean() for c in range(C)])

    level, texture, both = recall([0]), recall([1, 2, 3, 4]), recall([0, 1, 2, 3, 4])
    print("\nnearest-centroid recall per class (mean L*, texture statistics, both):")
    for c, name in enumerate(S.CLASSES):
        print(f"  {name:6s} {level[c]:.2f} {texture[c]:.2f} {both[c]:.2f}")
    assert float(texture.mean()) > 0.5 and float(texture.min()) > 0.2, texture  # chance: 1 / C
    assert float(both.mean()) > float(level.mean()) + 0.1
    assert float(both.mean()) > 0.7 and float(both.min()) > 2 / C, both


def test_pairs_share_classes_and_have_independent_palettes():
    target, reference = S.sample_pairs(5, 200)
    assert len(target) == len(reference) == 200
    in_target = S.class_presence(target.labels)
    in_reference = S.class_presence(reference.labels)
    shared = (in_target & in_reference).sum(1).float() / in_target.sum(1)
    print(f"\ntarget's classes present in its reference: mean {shared.mean():.3f}, min {shared.min():.2f}")
    assert shared.mean() >= 0.97 and shared.min() >= 0.6
    assert not torch.equal(target.labels, reference.labels)
    assert (target.labels != reference.labels).float().mean() > 0.1
    same_palette = (target.palette == reference.palette).float().mean(0)
    chance = 1 / torch.tensor(S.NUM_PALETTES, dtype=torch.float32)
    assert (same_palette - chance).abs().max() < 0.15, same_palette
    torch.testing.assert_close(target.rgb, S.sample_scenes(5, 200).rgb, rtol=0, atol=0)
    again = S.sample_pairs(5, 200)[1]
    assert torch.equal(again.rgb, reference.rgb)


def test_the_usual_colour_variant_changes_palettes_only():
    plain, usual = S.sample_scenes(9, 2000, 16), S.sample_scenes(9, 2000, 16, usual=0.7)
    assert torch.equal(plain.L, usual.L) and torch.equal(plain.labels, usual.labels)
    first = (usual.palette == 0).float().mean(0)
    assert (first - 0.7).abs().max() < 0.04, first  # the usual colour, for every class
    for c in range(C):  # the other palettes share the rest evenly
        for p in range(1, S.NUM_PALETTES[c]):
            share = (usual.palette[:, c] == p).float().mean().item()
            assert abs(share - 0.3 / (S.NUM_PALETTES[c] - 1)) < 0.04, (c, p, share)
    assert torch.equal(S.sample_scenes(9, 50, 16, usual=None).rgb, S.sample_scenes(9, 50, 16).rgb)


def test_related_pairs_keep_the_targets_classes_and_free_ones_may_not():
    target, kept = S.sample_pairs(4, 300, 32, usual=0.7, related=1.0)
    _, free = S.sample_pairs(4, 300, 32, usual=0.7, related=0.0)
    _, half = S.sample_pairs(4, 300, 32, usual=0.7, related=0.5)
    in_target = S.class_presence(target.labels)

    def lacking(reference):
        return (in_target & ~S.class_presence(reference.labels)).any(1).float().mean().item()

    assert torch.equal(target.rgb, S.sample_pairs(4, 300, 32, usual=0.7, related=0.0)[0].rgb)
    assert lacking(kept) < 0.05 < 0.25 < lacking(free)  # "rarely hidden behind a nearer object" only
    assert lacking(kept) < lacking(half) < lacking(free)
    assert torch.equal(S.sample_pairs(4, 20, 32)[1].rgb, S.sample_pairs(4, 20, 32, related=1.0)[1].rgb)


def test_scenes_per_second_runs_and_restores_threads():
    before = torch.get_num_threads()
    assert S.scenes_per_second(size=32, n=16, repeats=1, threads=2) > 0
    assert torch.get_num_threads() == before


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: S.sample_scenes(0, 4, size=15), "size"),
        (lambda: S.sample_scenes(0, 0), "n"),
        (lambda: S.sample_scenes(0, 2.5), "n"),
        (lambda: S.sample_scenes("0", 2), "seed"),
        (lambda: S.sample_scenes(-1, 2), "seed"),
        (lambda: S.sample_pairs(0, 0), "n"),
        (lambda: S.sample_pairs(0, 2, related=1.5), "related"),
        (lambda: S.sample_scenes(0, 2, usual=1.0), "usual"),
        (lambda: S.random_palette(0, 0), "n"),
        (lambda: S.scenes_per_second(size=8), "size"),
        (lambda: S.scenes_per_second(n=2, threads=0), "threads"),
    ],
)
def test_bad_arguments(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_bad_palettes_and_shapes():
    scene = S.sample_scenes(0, 2, size=16)
    bad = scene.palette.clone()
    bad[0, S.CLASSES.index("sun")] = S.NUM_PALETTES[S.CLASSES.index("sun")]  # one past the last
    with pytest.raises(ValueError, match="out of range.*sun"):
        S.recolor(scene, bad)
    with pytest.raises(ValueError, match="out of range"):
        S.render(scene.L, scene.labels, -scene.palette - 1)
    with pytest.raises(ValueError, match="palette"):
        S.recolor(scene, torch.zeros(3, C, dtype=torch.long))
    with pytest.raises(ValueError, match="palette"):
        S.recolor(scene, torch.zeros(2, C - 1, dtype=torch.long))
    with pytest.raises(ValueError, match="integer"):
        S.recolor(scene, torch.zeros(2, C))
    with pytest.raises(ValueError, match="labels"):
        S.render(scene.L, scene.labels[:, :8], scene.palette)
    with pytest.raises(ValueError, match="labels"):
        S.render(scene.L, scene.labels + C, scene.palette)
    with pytest.raises(ValueError, match="L must"):
        S.render(scene.L[:, 0], scene.labels, scene.palette)
    with pytest.raises(ValueError, match="differ"):
        S.ground_truth(scene, S.sample_scenes(1, 3, size=16))
    with pytest.raises(ValueError, match="labels"):
        S.Scene(scene.L, scene.labels[:1], scene.palette, scene.rgb)
