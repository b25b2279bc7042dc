"""``python -m reprolib colorize-video``: a clip coloured into a video or a folder of frames, the same L*, nothing
overwritten, one-line errors that leave nothing behind, the filmstrip and the preview."""
from pathlib import Path

import pytest
import torch
from PIL import Image
from test_video_io import H, W, leftovers, panning, write_folder, write_video

from reprolib.cli import build_parser, main
from reprolib.core.color import rgb_to_lab
from reprolib.core.photos import load_image, load_photo, resize_to, save_image
from reprolib.video import cli as video_cli
from reprolib.video.colorizer import DEFAULT_VIDEO_METHOD, VIDEO_METHODS
from reprolib.video.io import FrameReader

FAST = ("--size", "32", "--no-progress")  # with the synthetic gray-VGG (small) unless a test says otherwise


@pytest.fixture(scope="module", autouse=True)
def _one_thread(one_thread):
    """Small frames: one thread (conftest's ``one_thread``) for every test of this module."""


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("ref") / "coffee.png"
    return save_image(resize_to(load_photo("coffee.jpg"), 48, 64).clamp(0, 1), path)


def run(capsys, clip, reference, out, *more, features="small") -> tuple[int, str, str]:
    """``main`` on ``colorize-video``: its exit status, stdout and stderr."""
    code = main(["colorize-video", str(clip), "--reference", str(reference), "--output", str(out), *FAST,
                 "--features", features, *more])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_the_flags_come_from_the_library():
    commands = build_parser()._subparsers._group_actions[0].choices
    actions = {a.dest: a for a in commands["colorize-video"]._actions}
    assert tuple(actions["method"].choices) == VIDEO_METHODS and actions["method"].default == DEFAULT_VIDEO_METHOD
    assert actions["size"].default is None and actions["hedge"].default is True


def test_a_folder_into_a_folder_keeps_names_size_and_lightness(tmp_path, capsys, reference):
    src = write_folder(tmp_path / "in", panning(6), names=[f"shot_{i}.png" for i in (1, 2, 3, 10, 11, 20)])
    code, out, err = run(capsys, src, reference, tmp_path / "out", features="grayvgg_small_photo")  # the Chooser
    assert code == 0, err
    assert out.startswith(f"wrote {tmp_path / 'out'}: 6 frames (64 x 48, 25 fps) in ") and "frames/s" in out
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(p.name for p in src.iterdir())
    for name in ("shot_1.png", "shot_20.png"):
        gray, coloured = load_image(src / name), load_image(tmp_path / "out" / name)
        assert coloured.shape == (3, H, W)
        dL = (rgb_to_lab(coloured)[0] - rgb_to_lab(gray)[0]).abs()
        assert dL.mean() < 0.3 and dL.max() < 1.5  # the same L*, to 8-bit rounding
        assert rgb_to_lab(coloured)[1:].abs().mean() > 1  # and some colour


def test_a_video_into_a_video_keeps_fps_size_and_frame_count(tmp_path, capsys, reference):
    clip = write_video(tmp_path / "in.mp4", panning(8), fps=12.0)
    code, out, err = run(capsys, clip, reference, tmp_path / "out.mp4", "--method", "per_frame")
    assert code == 0, err
    result = FrameReader(tmp_path / "out.mp4")
    assert (result.fps, result.size, len(list(result))) == (12.0, (H, W), 8)
    assert "8 frames (64 x 48, 12 fps)" in out


def test_an_existing_output_is_refused_and_force_replaces_it(tmp_path, capsys, reference):
    clip = write_video(tmp_path / "in.mp4", panning(3))
    (tmp_path / "out.mp4").write_bytes(b"mine")
    code, out, err = run(capsys, clip, reference, tmp_path / "out.mp4")
    assert code == 2 and err.startswith("error: ") and err.count("\n") == 1 and "--force" in err and not out
    assert (tmp_path / "out.mp4").read_bytes() == b"mine"
    code, _, err = run(capsys, clip, reference, tmp_path / "out.mp4", "--force")
    assert code == 0, err
    assert len(list(FrameReader(tmp_path / "out.mp4"))) == 3 and leftovers(tmp_path) == []


def test_the_input_is_never_the_output(tmp_path, capsys, reference):
    clip = write_video(tmp_path / "in.mp4", panning(2))
    frames = write_folder(tmp_path / "frames", panning(2))
    before = clip.read_bytes()
    for src in (clip, frames):
        code, _, err = run(capsys, src, reference, src, "--force")
        assert code == 2 and "never overwritten" in err and err.count("\n") == 1
    assert clip.read_bytes() == before and sorted(p.name for p in frames.iterdir()) == ["f1.png", "f2.png"]


def test_bad_inputs_end_in_one_line_and_leave_nothing(tmp_path, capsys, reference):
    (tmp_path / "text.mp4").write_text("hello\n")
    (tmp_path / "empty").mkdir()
    sizes = panning(4)
    sizes[2] = panning(1, 40, 64)[0]
    write_folder(tmp_path / "sizes", sizes)
    cases = {"missing.mp4": "no such file", "text.mp4": "not a video", "empty": "without frame images",
             "sizes": "f3.png: frame 3 is 64 x 40 pixels"}
    for name, problem in cases.items():
        for out in ("out.mp4", "out"):
            code, _, err = run(capsys, tmp_path / name, reference, tmp_path / out)
            assert code == 2 and err.startswith("error: ") and problem in err and err.count("\n") == 1, err
            assert not (tmp_path / out).exists() and leftovers(tmp_path) == []


def test_fps_is_for_a_folder(tmp_path, capsys, reference):
    clip = write_video(tmp_path / "in.mp4", panning(2))
    code, _, err = run(capsys, clip, reference, tmp_path / "out.mp4", "--fps", "10")
    assert code == 2 and "--fps is for a folder" in err
    frames = write_folder(tmp_path / "frames", panning(2))
    code, out, err = run(capsys, frames, reference, tmp_path / "out.avi", "--fps", "10")
    assert code == 0, err
    assert FrameReader(tmp_path / "out.avi").fps == 10 and "10 fps" in out


def test_intermediates_are_a_filmstrip_and_a_preview(tmp_path, capsys, reference):
    clip = write_video(tmp_path / "in.mp4", panning(8))
    inter = tmp_path / "why"
    code, out, err = run(capsys, clip, reference, tmp_path / "out.mp4", "--save-intermediates", str(inter))
    assert code == 0, err
    assert "filmstrip.png" in out and sorted(p.name for p in inter.iterdir()) == sorted(video_cli.INTERMEDIATES)
    strip = load_image(inter / "filmstrip.png")
    rows = 3 * (video_cli.THUMB + video_cli.GAP) + video_cli.GAP  # the reference, the gray frames, the output
    assert strip.shape[1] == rows and strip.shape[2] > video_cli.STRIP * video_cli.THUMB
    with Image.open(inter / "preview.gif") as gif:
        assert gif.n_frames == 8 and gif.size == (W, H)
    code, _, err = run(capsys, clip, reference, tmp_path / "again.mp4", "--save-intermediates", str(inter))
    assert code == 2 and "--force" in err and not (tmp_path / "again.mp4").exists()


def test_the_samplers_stay_small_and_evenly_spaced():
    sampler = video_cli.Sampler(cap=12)
    for i in range(1000):
        sampler.add(i, lambda: torch.zeros(1))
    kept = [i for i, _ in sampler.items]
    assert 6 < len(kept) <= 12 and len({b - a for a, b in zip(kept, kept[1:])}) == 1
    kept = video_cli.Intermediates(count=50, fps=25)
    for i in range(50):
        kept.add(i, torch.rand(3, 20, 30), torch.rand(3, 20, 30))
    assert [i for i, _ in kept.strip.items] == [0, 9, 18, 27, 36, 45] and len(kept.preview.items) == 50
    assert kept.filmstrip([torch.rand(3, 40, 40)]).shape[0] == 3 * (video_cli.THUMB + video_cli.GAP) + video_cli.GAP
