"""``python -m reprolib colorize-video IN --reference REF --output OUT``: a clip (a video file or a folder of frames)
coloured frame by frame from one reference or several (:class:`~reprolib.video.colorizer.VideoColorizer`), read
and written one frame at a time (:mod:`reprolib.video.io`), the output moved into place only when it is complete.

``--save-intermediates DIR`` adds ``filmstrip.png`` (the references, then about six evenly spaced frames: the gray
input above the coloured output) and ``preview.gif`` (the output, downscaled); both keep only small thumbnails,
however long the clip.
"""
from __future__ import annotations

import argparse
import math
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from ..colorization.colorize import DEFAULT_FEATURES
from ..core.devices import DEVICES
from .colorizer import DEFAULT_VIDEO_METHOD, VIDEO_METHODS, VIDEO_SIZE
from .io import CODECS, VIDEO_SUFFIXES, FrameReader, FrameWriter, to_uint8

INTERMEDIATES = ("filmstrip.png", "preview.gif")
STRIP = 6  # frames in the filmstrip
THUMB = 96  # the filmstrip's row height, pixels
GAP = 4  # white pixels between the filmstrip's pictures
PREVIEW_SIDE = 320  # the preview's long side at most
PREVIEW_FRAMES = 100  # frames in the preview at most (every k-th of a longer clip, shown as long)


class Sampler:
    """Every ``stride``-th of a stream of items, at most ``cap`` kept: past the cap the stride doubles and every
    other kept item goes, so memory stays bounded however long the stream and the kept items stay evenly
    spaced. ``make`` is called only for an item that is kept."""

    def __init__(self, cap: int, stride: int = 1) -> None:
        self.cap, self.stride = cap, max(1, stride)
        self.items: list[tuple[int, object]] = []

    def add(self, index: int, make: Callable[[], object]) -> None:
        if index % self.stride:
            return
        self.items.append((index, make()))
        while len(self.items) > self.cap:
            self.stride *= 2
            self.items = [(i, x) for i, x in self.items if i % self.stride == 0]


def _gray(frame: Tensor) -> Tensor:
    """The frame's L* alone, as sRGB: what the colorizer reads."""
    from ..core.color import lab_to_rgb, rgb_to_lab

    L = rgb_to_lab(frame)[:1]
    return lab_to_rgb(torch.cat((L, torch.zeros_like(L), torch.zeros_like(L)))).clamp(0, 1)


def _thumb(rgb: Tensor) -> np.ndarray:
    from ..core.photos import resize_to

    h, w = rgb.shape[-2:]
    return to_uint8(resize_to(rgb, THUMB, max(1, round(w * THUMB / h))))


class Intermediates:
    """The filmstrip's thumbnails and the preview's frames, gathered while the clip is coloured."""

    def __init__(self, count: int | None, fps: float) -> None:
        self.fps = fps
        self.strip = Sampler(2 * STRIP, (count - 1) // (STRIP - 1) if count else 1)
        self.preview = Sampler(PREVIEW_FRAMES, math.ceil(count / PREVIEW_FRAMES) if count else 1)

    def add(self, index: int, frame: Tensor, out: Tensor) -> None:
        from ..core.photos import resize_long_side

        self.strip.add(index, lambda: (_thumb(_gray(frame)), _thumb(out)))
        small = (lambda: resize_long_side(out, PREVIEW_SIDE)) if max(out.shape[-2:]) > PREVIEW_SIDE else lambda: out
        self.preview.add(index, lambda: to_uint8(small()))

    def filmstrip(self, references: Sequence[Tensor]) -> np.ndarray:
        """The references in the first row; below, ``STRIP`` evenly spaced frames: gray input above output."""
        kept = self.strip.items
        picks = [kept[round(j)][1] for j in np.linspace(0, len(kept) - 1, min(STRIP, len(kept)))]
        rows = [[_thumb(r) for r in references], [g for g, _ in picks], [o for _, o in picks]]
        width = max(sum(x.shape[1] for x in row) + GAP * (len(row) + 1) for row in rows)
        canvas = np.full((len(rows) * (THUMB + GAP) + GAP, width, 3), 255, np.uint8)
        for r, row in enumerate(rows):
            x, y = GAP, GAP + r * (THUMB + GAP)
            for picture in row:
                canvas[y:y + THUMB, x:x + picture.shape[1]] = picture
                x += picture.shape[1] + GAP
        return canvas

    def save(self, folder: Path, references: Sequence[Tensor], force: bool) -> None:
        from PIL import Image

        from ..core.files import atomic_write

        folder.mkdir(parents=True, exist_ok=True)
        strip = Image.fromarray(self.filmstrip(references))
        atomic_write(folder / "filmstrip.png", lambda tmp: strip.save(tmp, format="PNG"), overwrite=force)
        frames = [Image.fromarray(x) for _, x in self.preview.items]
        ms = max(20, round(1000 * self.preview.stride / self.fps))
        atomic_write(folder / "preview.gif", lambda tmp: frames[0].save(
            tmp, format="GIF", save_all=True, append_images=frames[1:], duration=ms, loop=0), overwrite=force)


def _intermediates_dir(folder: str, force: bool, clip: Path, out: Path) -> Path:
    """The folder for --save-intermediates, checked before any work (created at the end)."""
    path = Path(folder)
    if path.exists() and not path.is_dir():
        raise NotADirectoryError(f"--save-intermediates {path} exists and is not a folder")
    for name, given in (("input", clip), ("output", out)):
        if path.resolve() == given.resolve():
            raise ValueError(f"--save-intermediates {path} is the {name} folder; choose another folder")
    for name in INTERMEDIATES:
        if (path / name).exists() and not force:
            raise FileExistsError(f"{path / name} already exists; pass --force to replace it")
    return path


def colorize_video(args: argparse.Namespace) -> int:
    """``colorize-video``: every frame of IN coloured into OUT (a video file or a folder of PNG frames)."""
    from tqdm import tqdm

    from ..batch import load_references, reference_files
    from ..colorization.grayvgg_weights import CHOICES
    from .colorizer import VideoColorizer

    if args.features not in CHOICES and not Path(args.features).is_file():
        raise ValueError(f"features {args.features!r}: not one of {', '.join(CHOICES)} and no such weights file")
    references = reference_files(args.reference)
    clip = Path(args.input)
    if args.fps is not None and not clip.is_dir():
        raise ValueError(f"--fps is for a folder of frames; the video {clip} keeps its own rate")
    reader = FrameReader(clip, fps=args.fps)  # the first frame read: a bad input stops here
    with reader:
        writer = FrameWriter(args.output, reader.fps, names=reader.names, force=args.force, inputs=[clip, *references])
        folder = (_intermediates_dir(args.save_intermediates, args.force, clip, writer.path)
                  if args.save_intermediates else None)
        images = load_references(references)
        colour = VideoColorizer(images, method=args.method, size=args.size, features=args.features,
                                device=args.device, hedge=args.hedge)
        kept = Intermediates(reader.count, reader.fps) if folder else None
        start = time.perf_counter()
        with writer:
            for i, frame in enumerate(tqdm(reader, total=reader.count, desc="colorize-video", unit="frame",
                                           file=sys.stderr, disable=args.no_progress)):
                out = colour(frame)
                writer.write(out)
                if kept is not None:
                    kept.add(i, frame, out)
        seconds = time.perf_counter() - start
    h, w = writer.size
    many = f" from {len(references)} references" if len(references) > 1 else ""
    print(f"wrote {writer.path}: {writer.frames} frames ({w} x {h}, {reader.fps:g} fps) in {seconds:.1f} s "
          f"({writer.frames / max(seconds, 1e-9):.2f} frames/s){many} (method: {colour.method}, size: {colour.size})")
    if kept is not None:
        kept.save(folder, images, args.force)
        print(f"wrote {', '.join(INTERMEDIATES)} into {folder}")
    return 0


def _positive(text: str) -> float:
    value = float(text)
    if not (value > 0 and math.isfinite(value)):
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text}")
    return value


def add_colorize_video(commands) -> None:
    """Add ``colorize-video`` to the subcommands of ``python -m reprolib``."""
    vid = commands.add_parser("colorize-video", help="colour a gray clip (a video or a folder of frames) from a "
                                                     "colour reference photo")
    vid.add_argument("input", metavar="IN",
                     help=f"the clip: a video file ({', '.join(VIDEO_SUFFIXES)}; anything OpenCV's FFmpeg reads) or "
                          "a folder of frame images (sorted naturally by name); only its luminance is used")
    vid.add_argument("--reference", required=True, action="append",
                     help="the colour exemplar R; repeat it, or name a folder (its images), to colour from several "
                          "references at once")
    vid.add_argument("--output", required=True,
                     help=f"a video file ({', '.join(CODECS)}; re-encoded, so L* changes a little) or a folder of PNG "
                          "frames (a name without an extension; lossless: the input's L* is kept); "
                          "never overwritten without --force, never an input")
    vid.add_argument("--method", choices=VIDEO_METHODS, default=DEFAULT_VIDEO_METHOD,
                     help="the temporal method (reprolib.video.temporal): per_frame colours each frame alone; the "
                          "others carry the previous output along the optical flow, so that colours do not flicker "
                          "(default: %(default)s)")
    vid.add_argument("--size", type=int, default=None,
                     help=f"short side at which each frame is matched (default: {VIDEO_SIZE}); the output keeps "
                          "the clip's size")
    vid.add_argument("--features", default=DEFAULT_FEATURES,
                     help="the gray-VGG, as for colorize: a registry name (`python -m reprolib models`), auto, or a "
                          "weights file (default: %(default)s)")
    vid.add_argument("--device", choices=DEVICES, default="cpu",
                     help="where the networks and the matching run (default: %(default)s)")
    vid.add_argument("--hedge", action=argparse.BooleanOptionalAction, default=True,
                     help="halve the chroma where the match says the colour is a guess, as for colorize "
                          "(default: on)")
    vid.add_argument("--fps", type=_positive, default=None,
                     help="frames per second of a folder of frames, for a video output and the preview (default: "
                          "25; a video keeps its own)")
    vid.add_argument("--save-intermediates", metavar="DIR",
                     help=f"also write {' and '.join(INTERMEDIATES)} into DIR: the references and about {STRIP} "
                          "evenly spaced frames, gray input above output; the output downscaled, animated")
    vid.add_argument("--force", action="store_true",
                     help="replace an existing output (a folder only if it holds nothing but images) and "
                          "intermediates; inputs are never replaced")
    vid.add_argument("--no-progress", action="store_true", help="no progress bar")
    vid.set_defaults(run=colorize_video)
