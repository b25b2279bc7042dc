"""Clips in and out (reprolib.video.io): video files and folders of frames read one frame at a time, written
atomically, refused in one line that names the path."""
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from reprolib.core.photos import ImageError, load_photo, resize_to, save_image
from reprolib.video import io

H, W = 48, 64


def panning(n: int, h: int = H, w: int = W) -> list[torch.Tensor]:
    """``n`` frames of a shipped photo panning left to right, 2 pixels a frame."""
    photo = load_photo("china.jpg")
    return [resize_to(photo[:, :300, 4 * t:4 * t + 400], h, w).clamp(0, 1) for t in range(n)]


def write_video(path: Path, frames, fps: float = 12.0, codec: str = "mp4v") -> Path:
    h, w = frames[0].shape[-2:]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*codec), fps, (w, h))
    for frame in frames:
        writer.write(cv2.cvtColor(io.to_uint8(frame), cv2.COLOR_RGB2BGR))
    writer.release()
    return path


def write_folder(folder: Path, frames, names=None) -> Path:
    folder.mkdir()
    for i, frame in enumerate(frames):
        save_image(frame, folder / (names[i] if names else f"f{i + 1}.png"))
    return folder


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if ".tmp" in p.name)


def test_a_folder_is_read_in_natural_order_and_written_back_under_its_names(tmp_path):
    frames = panning(10)
    src = write_folder(tmp_path / "in", frames)
    reader = io.FrameReader(src)
    assert reader.names[:3] == ["f1.png", "f2.png", "f3.png"] and reader.names[-1] == "f10.png"
    assert (reader.fps, reader.size, reader.count) == (io.DEFAULT_FPS, (H, W), 10)
    with io.FrameWriter(tmp_path / "out", reader.fps, names=reader.names) as writer:
        for frame in reader:
            writer.write(frame)
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(reader.names)
    again = list(io.FrameReader(tmp_path / "out"))
    assert len(again) == 10 and all(torch.equal(a, b) for a, b in zip(again, io.FrameReader(src)))  # lossless
    assert io.FrameReader(src, fps=7.5).fps == 7.5 and leftovers(tmp_path) == []


def test_a_video_round_trip_keeps_fps_size_and_frame_count(tmp_path):
    clip = write_video(tmp_path / "in.mp4", panning(8), fps=12.0)
    reader = io.FrameReader(clip)
    assert (reader.fps, reader.size, reader.count, reader.names) == (12.0, (H, W), 8, None)
    with io.FrameWriter(tmp_path / "out.mp4", reader.fps, inputs=[clip]) as writer:
        for frame in reader:
            writer.write(frame)
    out = io.FrameReader(tmp_path / "out.mp4")
    frames = list(out)
    assert (out.fps, out.size, len(frames)) == (12.0, (H, W), 8)
    assert (frames[3] - panning(8)[3]).abs().mean() < 0.05  # mp4v re-encodes: close, not equal
    assert len(list(reader)) == 8  # a reader can be iterated again


@pytest.mark.parametrize("suffix", [".avi", ".webm"])
def test_the_other_containers(tmp_path, suffix):
    if not io.can_write(suffix):
        with pytest.raises(io.VideoError, match="cannot write"):
            io.FrameWriter(tmp_path / f"out{suffix}", 25)
        return
    with io.FrameWriter(tmp_path / f"out{suffix}", 10) as writer:
        for frame in panning(4):
            writer.write(frame)
    reader = io.FrameReader(tmp_path / f"out{suffix}")
    assert reader.size == (H, W) and len(list(reader)) == 4


def test_bad_inputs_are_one_line_naming_the_path(tmp_path):
    (tmp_path / "text.mp4").write_text("not a video\n")
    (tmp_path / "empty").mkdir()
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "a.txt").write_text("x")
    cases = {tmp_path / "missing.mp4": "no such file", tmp_path / "text.mp4": "not a video",
             tmp_path / "empty": "without frame images", tmp_path / "notes": "without frame images"}
    for path, problem in cases.items():
        with pytest.raises(io.VideoError, match=problem) as err:
            io.FrameReader(path)
        assert str(path) in str(err.value) and "\n" not in str(err.value)
    with pytest.raises(io.VideoError, match="an image, not a video"):
        io.FrameReader(save_image(panning(1)[0], tmp_path / "one.png"))


def test_a_video_without_frames_is_refused(tmp_path):
    path = tmp_path / "none.avi"
    cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, (W, H)).release()
    with pytest.raises(io.VideoError, match="none.avi"):
        io.FrameReader(path)


def test_frames_of_another_size_or_unreadable_are_named(tmp_path):
    frames = panning(4)
    frames[2] = panning(1, 40, 64)[0]
    reader = io.FrameReader(write_folder(tmp_path / "sizes", frames))
    with pytest.raises(io.VideoError, match=r"f3\.png: frame 3 is 64 x 40 pixels"):
        list(reader)
    broken = write_folder(tmp_path / "broken", panning(3))
    (broken / "f2.png").write_bytes(b"not a png")
    with pytest.raises(ImageError, match=r"f2\.png"):
        list(io.FrameReader(broken))


def test_nothing_is_left_behind_when_a_clip_fails(tmp_path):
    for out in (tmp_path / "out.mp4", tmp_path / "frames"):
        for error in (RuntimeError, KeyboardInterrupt):
            with pytest.raises(error), io.FrameWriter(out, 25) as writer:
                writer.write(panning(1)[0])
                raise error("stopped")
            assert not out.exists() and leftovers(tmp_path) == []
    with pytest.raises(io.VideoError, match="frame 2 is 64 x 40"), io.FrameWriter(tmp_path / "o.avi", 25) as writer:
        writer.write(panning(1)[0])
        writer.write(panning(1, 40, 64)[0])
    with pytest.raises(io.VideoError, match="no frame written"), io.FrameWriter(tmp_path / "none.mp4", 25):
        pass
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_outputs_are_refused_before_any_work(tmp_path):
    clip = write_video(tmp_path / "in.mp4", panning(2))
    (tmp_path / "old.mp4").write_bytes(b"mine")
    with pytest.raises(FileExistsError, match="--force"):
        io.FrameWriter(tmp_path / "old.mp4", 25)
    for out in (clip, tmp_path):  # the input itself, or a folder that holds it: never, even with force
        with pytest.raises(io.VideoError, match="never overwritten"):
            io.FrameWriter(out, 25, inputs=[clip], force=True)
    folder = write_folder(tmp_path / "mixed", panning(1))
    (folder / "notes.txt").write_text("mine")
    with pytest.raises(io.VideoError, match="notes.txt"):
        io.FrameWriter(folder, 25, force=True)
    for bad, problem in ((tmp_path / "out.mkv", "cannot write"), (tmp_path / "no" / "out.mp4", "not a folder")):
        with pytest.raises((io.VideoError, FileNotFoundError), match=problem):
            io.FrameWriter(bad, 25)
    assert (tmp_path / "old.mp4").read_bytes() == b"mine" and leftovers(tmp_path) == []


def test_force_replaces_a_file_and_a_folder_of_frames(tmp_path):
    (tmp_path / "old.avi").write_bytes(b"old")
    old = write_folder(tmp_path / "old", panning(5))
    for out in (tmp_path / "old.avi", old):
        with io.FrameWriter(out, 25, force=True) as writer:
            for frame in panning(2):
                writer.write(frame)
        assert len(list(io.FrameReader(out))) == 2
    assert sorted(p.name for p in old.iterdir()) == ["frame_000001.png", "frame_000002.png"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["old", "old.avi"]


def test_natural_order():
    names = ["f10.png", "f2.png", "F1.png", "f2b.png"]
    assert sorted(names, key=io.natural_key) == ["F1.png", "f2.png", "f2b.png", "f10.png"]
    assert np.array_equal(io.to_uint8(torch.full((3, 2, 2), 0.5))[..., 0], np.full((2, 2), 128))
