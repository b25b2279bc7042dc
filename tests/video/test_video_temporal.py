"""Warp error, CDC (video.metrics), the temporal methods (video.temporal, video.recurrent) and the streaming
colorizer (video.colorizer)."""
import pytest
import torch

from reprolib.core.color import rgb_to_lab
from reprolib.core.photos import load_photo
from reprolib.video.clips import photo_clip
from reprolib.video.colorizer import VideoColorizer
from reprolib.video.metrics import cdc, clip_scores, warp_error
from reprolib.video.recurrent import TemporalNet
from reprolib.video.temporal import FlowFilter, PerFrame, Recurrent, temporal_method


@pytest.fixture(scope="module")
def clip():
    return photo_clip(load_photo("coffee.jpg"), load_photo("coffee.jpg"), "pan", seed=4, frames=5, size=(48, 64))


def test_warp_error_is_small_on_the_truth_and_large_on_flickering_frames(clip):
    truth = warp_error(clip.rgb, clip.flow, clip.mask)
    flicker = clip.rgb.clone()
    flicker[1::2, 0] = (flicker[1::2, 0] + 0.2).clamp(0, 1)  # every other frame redder
    assert truth < 0.01 and warp_error(flicker, clip.flow, clip.mask) > 5 * truth


def test_cdc_is_zero_for_a_still_clip_and_grows_with_colour_changes(clip):
    still = clip.rgb[:1].expand(4, -1, -1, -1)
    assert cdc(still) == 0
    changing = torch.stack([(clip.rgb[0] + 0.1 * t).clamp(0, 1) for t in range(4)])
    assert cdc(changing) > 0.01


def test_clip_scores_of_the_truth(clip):
    s = clip_scores(clip.rgb, clip.rgb, clip.flow, clip.mask)
    assert s["ciede2000"] == 0 and s["colourfulness"] > 10


def jittery(clip, seed=0):
    """T_L and a P_ab that is the truth plus independent noise per frame (flicker)."""
    lab = rgb_to_lab(clip.rgb)
    g = torch.Generator().manual_seed(seed)
    noise = torch.randn(len(clip), 2, 1, 1, generator=g) * 8
    return lab[:, :1], lab[:, 1:] + noise


def run(method, T_L, P_ab):
    return torch.cat([method.step(T_L[t:t + 1], P_ab[t:t + 1]) for t in range(len(T_L))])


def test_the_filter_follows_the_flow_and_damps_flicker(clip):
    T_L, P_ab = jittery(clip)
    lab = rgb_to_lab(clip.rgb)
    assert torch.equal(run(PerFrame(), T_L, P_ab), P_ab)
    O_ab = run(FlowFilter(alpha=0.9), T_L, P_ab)
    assert torch.equal(O_ab[0], P_ab[0])  # the first frame is its own prediction

    def jump(x):  # mean a*b* change between consecutive frames where the truth is visible
        return ((x[1:] - x[:-1]).abs() * clip.mask[1:]).sum() / clip.mask[1:].sum()
    assert jump(O_ab) < 0.5 * jump(P_ab)
    assert jump(lab[:, 1:]) < jump(O_ab)


def test_an_untrained_recurrence_halves_between_the_warp_and_the_frame(clip):
    T_L, P_ab = jittery(clip)
    untrained = run(Recurrent(net=TemporalNet()), T_L, P_ab)
    half = run(FlowFilter(alpha=0.5), T_L, P_ab)
    # g = 1/2 at initialisation; the filter multiplies by M_t, the net does not
    assert torch.allclose(untrained[0], half[0])
    assert (untrained[1:] - P_ab[1:]).abs().mean() > 0


def test_the_shipped_recurrence_cannot_drift_outside_the_frames_colours(clip):
    """O^t is a convex combination of the frames' own predictions carried along the flow: over a long clip (the
    same frames back and forth) it stays within their range, the defect of a net with a residual output."""
    T_L, P_ab = jittery(clip)
    order = [*range(len(clip)), *range(len(clip) - 2, 0, -1)] * 4  # 40 frames
    out = run(Recurrent(), T_L[order], P_ab[order])
    low, high = P_ab.amin(dim=(0, 2, 3)), P_ab.amax(dim=(0, 2, 3))
    assert (out.amin(dim=(0, 2, 3)) >= low - 1e-3).all() and (out.amax(dim=(0, 2, 3)) <= high + 1e-3).all()


def test_unknown_method_is_one_line():
    with pytest.raises(ValueError, match="method must be one of"):
        temporal_method("median")


def test_video_colorizer_keeps_size_and_luminance_and_refuses_another_frame_size(clip):
    colour = VideoColorizer(clip.rgb[0], method="filter", size=48)
    outs = [colour(f) for f in clip.rgb[:3]]
    assert all(o.shape == clip.rgb[0].shape for o in outs) and colour.frames == 3
    L_in, L_out = rgb_to_lab(clip.rgb[2])[0], rgb_to_lab(outs[2])[0]
    assert (L_in - L_out).abs().mean() < 0.5
    with pytest.raises(ValueError, match="frame 4 is 48 x 40 pixels"):
        colour(torch.rand(3, 40, 48))
    colour.reset()  # another clip, of another size
    assert colour(torch.rand(3, 40, 48)).shape == (3, 40, 48) and colour.frames == 1


def test_per_frame_equals_the_image_pipeline(clip):
    from reprolib.colorization.colorize import colorize

    ref = load_photo("chelsea.jpg")
    video = VideoColorizer(ref, method="per_frame", size=48)(clip.rgb[1])
    image = colorize(clip.rgb[1], ref, size=48).rgb
    assert torch.allclose(video, image, atol=1e-5)
