"""Flow warping, masks and DIS flow (reprolib.video.flow), and the generated clips' exact flow (video.clips)."""
import pytest
import torch

from reprolib.core.color import rgb_to_lab
from reprolib.core.photos import load_photo, resize_to
from reprolib.video.clips import MOTIONS, add_sprite, camera, clip_file, photo_clip, read_clip
from reprolib.video.flow import consistency_mask, dis_flow, flow_warp, inside_mask


def smooth_image(h=48, w=64, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(1, 1, h // 4, w // 4, generator=g)
    return torch.nn.functional.interpolate(x, size=(h, w), mode="bicubic", align_corners=False) * 100


def test_flow_warp_of_a_constant_shift_reads_the_shifted_pixels():
    x = torch.arange(48 * 64, dtype=torch.float32).view(1, 1, 48, 64)
    flow = torch.zeros(1, 2, 48, 64)
    flow[:, 0] = 3  # every pixel of frame t was 3 px to the right in frame t-1
    out = flow_warp(x, flow)
    assert torch.allclose(out[..., :-3], x[..., 3:])
    assert inside_mask(flow)[0, 0, :, -3:].sum() == 0 and inside_mask(flow)[0, 0, :, :-3].all()


def test_flow_warp_refuses_nan_and_mismatched_shapes():
    with pytest.raises(ValueError, match="NaN"):
        flow_warp(torch.zeros(1, 2, 8, 8), torch.full((1, 2, 8, 8), float("nan")))
    with pytest.raises(ValueError, match="share batch"):
        flow_warp(torch.zeros(1, 2, 8, 9), torch.zeros(1, 2, 8, 8))


def test_dis_flow_finds_a_shift_and_the_consistency_mask_keeps_the_visible_part():
    L = smooth_image()[0]
    moved = torch.roll(L, shifts=2, dims=-1)  # frame t: the content moved 2 px right
    flow = dis_flow(moved, L)  # frame t -> t-1: about -2 px in x
    inner = flow[0, :, 8:-8, 8:-8]
    assert (inner[0] + 2).abs().mean() < 0.3 and inner[1].abs().mean() < 0.3
    mask = consistency_mask(flow, dis_flow(L, moved))
    assert mask[0, 0, 8:-8, 8:-8].mean() > 0.9


@pytest.mark.parametrize("motion", MOTIONS)
def test_a_generated_clip_obeys_its_exact_flow(motion):
    clip = photo_clip(load_photo("coffee.jpg"), torch.zeros(3, 16, 16), motion, seed=3, frames=4, size=(48, 64))
    L = rgb_to_lab(clip.rgb)[:, :1]
    for t in range(1, len(clip)):
        m = clip.mask[t:t + 1]
        err = ((flow_warp(L[t - 1:t], clip.flow[t:t + 1]) - L[t:t + 1]).abs() * m).sum() / m.sum()
        assert err < 1.5  # L* units: resampling only
        wrong = torch.roll(clip.flow[t:t + 1], 5, dims=-1) + 3  # another flow does not explain it
        assert ((flow_warp(L[t - 1:t], wrong) - L[t:t + 1]).abs() * m).sum() / m.sum() > 2 * err
    assert clip.mask[0].sum() == 0 and clip.mask[1:].mean() > 0.8


def test_camera_positions_compose_the_per_frame_motions():
    where, flow = camera("zoom", 1, frames=3, size=(16, 24))
    assert where.shape == (3, 16, 24, 2) and flow.shape == (3, 2, 16, 24)
    # frame 1 seen at p is frame 0 at p + F_1(p)
    assert torch.allclose(where[1], where[0] + flow[1].permute(1, 2, 0), atol=1e-5)


def test_a_sprite_moves_with_its_own_flow_and_uncovers_occluded_background():
    clip = photo_clip(load_photo("coffee.jpg"), torch.zeros(3, 16, 16), "pan", seed=1, frames=4, size=(48, 64))
    sprite = resize_to(load_photo("chelsea.jpg"), 16, 16)
    moving = add_sprite(clip, sprite, seed=2)
    assert not torch.equal(moving.rgb, clip.rgb)
    assert (moving.mask[1:] < clip.mask[1:]).any()  # some background was under the sprite one frame before
    L = rgb_to_lab(moving.rgb)[:, :1]
    m = moving.mask[2:3]
    err = ((flow_warp(L[1:2], moving.flow[2:3]) - L[2:3]).abs() * m).sum() / m.sum()
    assert err < 2.0


def test_the_shipped_real_clip_reads_and_a_bad_file_is_named(tmp_path):
    frames = read_clip(clip_file(), 0, 3)
    assert frames.shape == (3, 3, 144, 256) and 0 <= frames.min() and frames.max() <= 1
    bad = tmp_path / "notavideo.mp4"
    bad.write_text("hello")
    with pytest.raises(ValueError, match="notavideo.mp4"):
        read_clip(str(bad))


def test_the_clip_folder_holds_the_clip_its_credits_and_its_checksum():
    import hashlib
    from pathlib import Path

    folder = Path(clip_file()).parent
    sums = dict(reversed(line.split()) for line in (folder / "SHA256SUMS").read_text().splitlines())
    assert sorted(p.name for p in folder.iterdir()) == ["README.md", "SHA256SUMS", "bigbuckbunny.mp4"]
    assert hashlib.sha256((folder / "bigbuckbunny.mp4").read_bytes()).hexdigest() == sums["bigbuckbunny.mp4"]
    credits = (folder / "README.md").read_text()
    assert "CC BY 3.0" in credits and "Blender Foundation" in credits


def test_clip_flows_estimate_every_frame_against_the_one_before():
    from reprolib.video.flow import clip_flows, estimated_flow

    L = torch.stack([torch.roll(smooth_image()[0], shifts=t, dims=-1) for t in range(3)])
    flow, mask = clip_flows(L)
    assert flow[0].abs().sum() == 0 and mask[0].sum() == 0
    f2, m2 = estimated_flow(L[2], L[1])
    assert torch.equal(flow[2], f2[0]) and torch.equal(mask[2], m2[0])
    assert (flow[1, 0, 8:-8, 8:-8] + 1).abs().mean() < 0.3  # the content moved 1 px right: F_t about -1 in x
