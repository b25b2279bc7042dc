"""Clips in and out, one frame at a time: :class:`FrameReader` reads a video file or a folder of frames,
:class:`FrameWriter` writes a video file or a folder of PNG frames, atomically.

A frame is a float32 (3, H, W) sRGB tensor in [0, 1], as everywhere in reprolib. Neither class holds more than one
frame, so memory does not grow with the clip's length. Every refusal is one line that names the path: a
``VideoError`` (a ``ValueError``), an ``ImageError`` for a frame image that cannot be read, ``FileExistsError``
for an output that exists without ``force``. A writer puts the clip under a temporary name beside the output and
moves it into place only when the whole clip is written; on any error, Ctrl-C included, the temporary is removed,
so nothing the user owns is replaced or half written, and the inputs are never written over.
"""
from __future__ import annotations

import os
import re
import secrets
import shutil
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from functools import cache
from pathlib import Path

import cv2
import numpy as np
import torch
from PIL import Image
from torch import Tensor

from ..core.photos import IMAGE_SUFFIXES, load_image

VIDEO_SUFFIXES = (".mp4", ".webm", ".avi", ".mkv", ".mov")  # what a video input usually is (FFmpeg reads more)
CODECS = {".mp4": "mp4v", ".avi": "MJPG", ".webm": "VP80"}  # what a video output can be, and its codec
DEFAULT_FPS = 25.0  # a folder of frames' rate unless one is given
FRAME_NAME = "frame_{:06d}.png"  # a frame's name in an output folder when the input was not a folder


class VideoError(ValueError):
    """A clip that cannot be read or written as asked; the message is one line and names the path."""


def natural_key(name: str) -> list:
    """Sort key that orders ``frame_2.png`` before ``frame_10.png`` (digit runs compared as numbers)."""
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", name)]


def frame_files(folder: Path) -> list[Path]:
    """The images directly in ``folder`` (``IMAGE_SUFFIXES``), in natural order of their names."""
    return sorted((p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file()),
                  key=lambda p: natural_key(p.name))


@contextmanager
def _quiet() -> Iterator[None]:
    """OpenCV's and FFmpeg's own prints to stderr (a broken file's "moov atom not found", a codec tag) silenced
    while a file is opened: the one-line errors are ours."""
    # read once, when OpenCV first opens a file with FFmpeg: it also quiets decoding; a value the user set is kept
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "8")
    level, saved, null = cv2.utils.logging.getLogLevel(), os.dup(2), os.open(os.devnull, os.O_WRONLY)
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)
    os.dup2(null, 2)
    try:
        yield
    finally:
        os.dup2(saved, 2)
        for fd in (saved, null):
            os.close(fd)
        cv2.utils.logging.setLogLevel(level)


def _to_tensor(rgb: np.ndarray) -> Tensor:
    """(H, W, 3) uint8 RGB -> (3, H, W) float32 in [0, 1]."""
    return torch.from_numpy(np.ascontiguousarray(rgb)).permute(2, 0, 1).float().div_(255)


def to_uint8(frame: Tensor) -> np.ndarray:
    """(3, H, W) float in [0, 1] -> (H, W, 3) uint8 RGB, rounded (values clamped)."""
    if not isinstance(frame, Tensor) or frame.dim() != 3 or frame.shape[0] != 3 or not frame.is_floating_point():
        raise VideoError(f"a frame must be a float tensor shaped (3, H, W), got {getattr(frame, 'shape', frame)}")
    pixels = (frame.detach().to("cpu", torch.float32).clamp(0, 1) * 255).round().to(torch.uint8)
    return pixels.permute(1, 2, 0).contiguous().numpy()


class FrameReader:
    """The frames of a video file (anything OpenCV's FFmpeg decodes: .mp4, .webm, .avi, .mkv, .mov ...) or of a
    folder of images (natural order of their names), one at a time: ``for frame in FrameReader(path): ...``.

    The first frame is read when the reader is made, so a missing path, a file that is not a video, a video
    without frames or a folder without images is refused before any work. ``fps`` (a folder: ``fps`` if given,
    else ``DEFAULT_FPS``), ``size`` (H, W) of the first frame, ``count`` (None when the container does not say;
    it can be an estimate) and ``names`` (a folder's frame file names, else None). A frame of another size than
    the first is refused (a clip's frames share one size), an unreadable frame image too (``ImageError``).
    """

    def __init__(self, path: str | os.PathLike, fps: float | None = None) -> None:
        self.path = Path(path)
        if fps is not None and not fps > 0:
            raise VideoError(f"fps must be positive, got {fps}")
        if not self.path.exists():
            raise VideoError(f"{self.path}: no such file or folder")
        self.is_folder = self.path.is_dir()
        self._cap = None
        if self.is_folder:
            self._files = frame_files(self.path)
            if not self._files:
                raise VideoError(f"{self.path}: a folder without frame images ({', '.join(IMAGE_SUFFIXES)})")
            self.fps, self.count = fps or DEFAULT_FPS, len(self._files)
            self.names: list[str] | None = [p.name for p in self._files]
            self._first: Tensor | None = load_image(self._files[0])
        else:
            if self.path.suffix.lower() in IMAGE_SUFFIXES:
                raise VideoError(f"{self.path}: an image, not a video (give a video file or a folder of frames)")
            self._cap, self._first = self._open()
            rate = self._cap.get(cv2.CAP_PROP_FPS)
            self.fps = fps or (rate if 0 < rate < 1000 else DEFAULT_FPS)
            frames = int(self._cap.get(cv2.CAP_PROP_FRAME_COUNT))
            self.count, self.names = (frames if frames > 0 else None), None
        self.size: tuple[int, int] = tuple(self._first.shape[-2:])

    def _open(self):
        """The file opened by FFmpeg and its first frame, or one line saying why not."""
        with _quiet():
            cap = cv2.VideoCapture(str(self.path), cv2.CAP_FFMPEG)
            ok, bgr = cap.read() if cap.isOpened() else (False, None)
        if not cap.isOpened():
            raise VideoError(f"{self.path}: not a video OpenCV can open (unknown format, or a broken file)")
        if not ok or bgr is None:
            cap.release()
            raise VideoError(f"{self.path}: a video without a frame that can be decoded")
        return cap, _to_tensor(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))

    def __iter__(self) -> Iterator[Tensor]:
        if self._first is None:  # iterated before: start again
            if self.is_folder:
                self._first = load_image(self._files[0])
            else:
                self._cap, self._first = self._open()
        first, self._first = self._first, None
        yield first
        if self.is_folder:
            for i, file in enumerate(self._files[1:], start=2):
                yield self._same_size(load_image(file), f"{file}: frame {i}")
            return
        try:
            while True:
                ok, bgr = self._cap.read()
                if not ok:
                    return
                yield _to_tensor(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
        finally:
            self.close()

    def _same_size(self, frame: Tensor, what: str) -> Tensor:
        h, w = frame.shape[-2:]
        if (h, w) != self.size:
            raise VideoError(f"{what} is {w} x {h} pixels, the first frame {self.size[1]} x {self.size[0]}: a "
                             "clip's frames must share one size")
        return frame

    def close(self) -> None:
        """Release the video file (a folder holds nothing open)."""
        if self._cap is not None:
            self._cap.release()
            self._cap = None

    def __enter__(self) -> FrameReader:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


@cache
def can_write(suffix: str) -> bool:
    """Whether OpenCV here writes a ``suffix`` video with ``CODECS[suffix]`` (tried once on a tiny clip)."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp, _quiet():
        path = Path(tmp) / f"probe{suffix}"
        writer = cv2.VideoWriter(str(path), cv2.CAP_FFMPEG, cv2.VideoWriter_fourcc(*CODECS[suffix]), 10, (32, 32))
        ok = writer.isOpened()
        if ok:
            writer.write(np.zeros((32, 32, 3), np.uint8))
        writer.release()
        return ok and path.is_file() and path.stat().st_size > 0


def _inside(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


class FrameWriter:
    """Frames into a video file (``CODECS``: .mp4 with mp4v, .avi with MJPG, .webm with VP8, at ``fps``) or into a
    folder of 8-bit PNG frames (lossless: each frame's L* is kept to rounding), named ``names`` (their suffix
    made .png) when given, else ``FRAME_NAME``.

        with FrameWriter(out, fps, force=False, inputs=[clip, *references]) as writer:
            for frame in frames:
                writer.write(frame)       # the clip appears at ``out`` when the block ends without an error

    Everything is checked when the writer is made, before any work: an existing output without ``force``, an
    output that is or holds one of ``inputs`` (even with ``force``), a folder to replace that holds anything but
    images, a missing parent folder, a suffix it cannot write. The frames go to a temporary name beside ``out``
    (``.NAME.RANDOM.tmp``); ``commit`` moves it into place, ``abort`` (any error, Ctrl-C) removes it.
    """

    def __init__(self, path: str | os.PathLike, fps: float, *, names: Sequence[str] | None = None,
                 force: bool = False, inputs: Iterable[str | os.PathLike] = ()) -> None:
        self.path, self.fps, self.force = Path(path), float(fps), force
        suffix = self.path.suffix.lower()
        self.is_folder = suffix not in CODECS
        if self.is_folder and suffix and not self.path.is_dir():
            raise VideoError(f"{self.path}: cannot write {suffix!r}; write {', '.join(CODECS)} or a folder of PNG "
                             "frames (a name without an extension)")
        if not self.fps > 0:
            raise VideoError(f"fps must be positive, got {fps}")
        out = self.path.resolve()
        for given in map(Path, inputs):
            if _inside(given.resolve(), out):
                raise VideoError(f"--output {self.path} is or holds the input {given}; choose another path (inputs "
                                 "are never overwritten)")
        if self.path.exists():
            self._check_replaceable()
        if not self.path.parent.is_dir():
            raise FileNotFoundError(f"{self.path.parent} is not a folder")
        if not self.is_folder and not can_write(suffix):
            raise VideoError(f"{self.path}: this OpenCV cannot write {suffix} ({CODECS[suffix]}); write .mp4 or a "
                             "folder of PNG frames")
        stems = [Path(n).stem for n in names or ()]
        self.names = [s + ".png" for s in stems] if stems and len(set(stems)) == len(stems) else None
        token = secrets.token_hex(4)  # the temporary keeps the suffix: FFmpeg picks the container by it
        self.tmp = self.path.parent / (f".{self.path.name}.{token}.tmp" if self.is_folder
                                       else f".{self.path.stem}.{token}.tmp{self.path.suffix}")
        self.frames, self.size = 0, None
        self._video = None

    def _check_replaceable(self) -> None:
        """An existing output: replaced only with ``force``, by the same kind, a folder only if it holds images."""
        if not self.force:
            raise FileExistsError(f"{self.path} already exists; pass --force to replace it")
        if self.is_folder != self.path.is_dir():
            raise VideoError(f"{self.path} exists and is {'not ' if self.is_folder else ''}a folder; not replaced")
        other = sorted(p.name for p in self.path.iterdir() if p.suffix.lower() not in IMAGE_SUFFIXES or p.is_dir()
                       ) if self.is_folder else []
        if other:
            raise VideoError(f"{self.path} holds other things than frames ({', '.join(other[:3])}); not replaced, "
                             "even with --force")

    def write(self, frame: Tensor) -> None:
        """Append one (3, H, W) frame; every frame must have the first one's size."""
        pixels = to_uint8(frame)
        h, w = pixels.shape[:2]
        if self.size is None:
            self.size = (h, w)
            if self.is_folder:
                self.tmp.mkdir()
            else:
                with _quiet():
                    self._video = cv2.VideoWriter(str(self.tmp), cv2.CAP_FFMPEG,
                                                  cv2.VideoWriter_fourcc(*CODECS[self.path.suffix.lower()]),
                                                  self.fps, (w, h))
                if not self._video.isOpened():
                    raise VideoError(f"{self.path}: OpenCV cannot write a {w} x {h} video here")
        elif (h, w) != self.size:
            raise VideoError(f"frame {self.frames + 1} is {w} x {h} pixels, the first {self.size[1]} x "
                             f"{self.size[0]}: a clip's frames must share one size")
        if self.is_folder:
            names = self.names
            name = names[self.frames] if names and self.frames < len(names) else FRAME_NAME.format(self.frames + 1)
            Image.fromarray(pixels).save(self.tmp / name, format="PNG")
        else:
            self._video.write(cv2.cvtColor(pixels, cv2.COLOR_RGB2BGR))
        self.frames += 1

    def commit(self) -> Path:
        """Move the finished clip into place (replacing an old output only with ``force``); return its path."""
        try:
            if self._video is not None:
                self._video.release()
                self._video = None
            if not self.frames or not self.tmp.exists() or (self.tmp.is_file() and not self.tmp.stat().st_size):
                raise VideoError(f"{self.path}: no frame written")
            if self.path.exists() and not self.force:  # appeared while the clip was coloured
                raise FileExistsError(f"{self.path} already exists; pass --force to replace it")
            if self.is_folder and self.path.exists():  # a folder cannot be replaced in one move: swap, then remove
                old = self.path.parent / f".{self.path.name}.{secrets.token_hex(4)}.old"
                self.path.rename(old)
                try:
                    self.tmp.rename(self.path)
                except BaseException:
                    old.rename(self.path)
                    raise
                shutil.rmtree(old, ignore_errors=True)
            elif self.force or self.is_folder:
                os.replace(self.tmp, self.path)
            else:
                self._link()
        except BaseException:
            self.abort()
            raise
        self.abort()  # the link's other name, if any
        return self.path

    def _link(self) -> None:
        """The new file linked to ``path``: a hard link cannot replace a file that appeared just now."""
        try:
            os.link(self.tmp, self.path)
        except FileExistsError:
            raise FileExistsError(f"{self.path} already exists; pass --force to replace it") from None
        except OSError:  # no hard links on this file system
            os.replace(self.tmp, self.path)

    def abort(self) -> None:
        """Remove the temporary clip (nothing at ``path`` is touched)."""
        if self._video is not None:
            self._video.release()
            self._video = None
        if self.tmp.is_dir():
            shutil.rmtree(self.tmp, ignore_errors=True)
        else:
            self.tmp.unlink(missing_ok=True)

    def __enter__(self) -> FrameWriter:
        return self

    def __exit__(self, kind, error, traceback) -> None:
        if kind is None:
            self.commit()
        else:
            self.abort()
