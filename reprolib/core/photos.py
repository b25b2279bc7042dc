"""Image files <-> RGB tensors, aspect-preserving resizing, and the shipped photographs (data/photos/).

Every image in reprolib is a float32 tensor shaped (3, H, W) (or (B, 3, H, W)) with sRGB values in [0, 1].
``load_image`` turns any file Pillow can decode into that, whatever its mode:

    mode                         becomes
    RGB, RGBX, YCbCr, HSV, LAB   RGB (Pillow's conversion)
    L (8-bit gray)               its value copied to the three channels
    1 (bilevel)                  0 or 1 in the three channels
    P (palette)                  the palette colours
    CMYK                         RGB by Pillow's naive formula (R = 1 - C - K, clipped); ICC profiles ignored
    LA, RGBA, RGBa, PA, and      composited on white: rgb * alpha + 1 * (1 - alpha); a fully transparent
    L/RGB/P with a transparent   pixel becomes white (1, 1, 1)
    colour (PNG tRNS)
    I;16, I;16B, I;16L, I;16N    16-bit gray, divided by 65535 (not 255), copied to the three channels
    I (32-bit integer)           taken as 16-bit gray (older Pillow opens 16-bit PNGs as I): divided by
                                 65535; a value outside 0..65535 is refused, since the scale is unknown
    F (32-bit float)             taken as already in [0, 1]: clipped to [0, 1]; NaN or infinity refused

Any embedded ICC profile is ignored (values are taken as sRGB); 16-bit colour PNGs are reduced to 8 bits
by Pillow; a transparent colour key on 16-bit gray is ignored; a multi-frame file (GIF, TIFF) gives its
first frame. The EXIF orientation is applied.

Every refusal is one exception type, ``ImageError`` (a ``ValueError``), with a one-line message that names
the file: missing, a directory, empty, unreadable, not an image, truncated or corrupt, smaller than
``MIN_SIDE`` pixels on a side, or more than ``MAX_PIXELS`` pixels (a decompression bomb guard, checked
from the header before any pixel is decoded). Pillow's globals (``Image.MAX_IMAGE_PIXELS``,
``ImageFile.LOAD_TRUNCATED_IMAGES``) are left as they are; truncated files are refused only while the
latter keeps its default, False.
"""
from __future__ import annotations

import csv
import os
import warnings
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageOps
from torch import Tensor

from . import checks
from .files import atomic_write
from .weights import data_file


def _photos_dir() -> Path:
    """The folder of the shipped photographs: ``reprolib/data/photos`` in an installed wheel (the build maps
    the repository's ``data/photos`` there, see ``pyproject.toml``), else ``data/photos`` of the source
    checkout this package is imported from (an editable install, or the repository on ``sys.path``)."""
    installed = data_file("photos")  # package data (importlib.resources)
    if installed.is_dir():
        return installed
    checkout = data_file().parents[1] / "data" / "photos"  # <checkout>/reprolib/data -> <checkout>/data/photos
    return checkout if checkout.is_dir() else installed


PHOTOS_DIR = _photos_dir()
MANIFEST = PHOTOS_DIR / "MANIFEST.tsv"

MIN_SIDE = 16  # pixels; smaller images are refused
MAX_PIXELS = 64_000_000  # width * height above this is refused (decompression bomb guard)

_ALPHA_MODES = {"LA", "RGBA", "RGBa", "PA"}
_UINT16_MODES = {"I;16", "I;16B", "I;16L", "I;16N"}
SAVE_FORMATS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG"}
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")  # what a folder of images holds


class ImageError(ValueError):
    """An image file that cannot be used, or a tensor that cannot be saved; the message is one line."""


def _fail(path: Path, problem: object) -> ImageError:
    return ImageError(f"{path}: " + " ".join(str(problem).split()))


# ----------------------------------------------------------------------------------------------- loading


def load_image(path: str | os.PathLike, *, max_pixels: int = MAX_PIXELS) -> Tensor:
    """Read an image file as a float32 RGB tensor (3, H, W) in [0, 1], EXIF orientation applied.

    See the module docstring for what each Pillow mode becomes. Raises ``ImageError`` (one line,
    naming the file) for a file that is missing, a directory, empty, not an image, truncated, smaller
    than ``MIN_SIDE`` px on a side, or larger than ``max_pixels`` pixels.
    """
    path = Path(path)
    if not path.exists():
        raise _fail(path, "no such file")
    if path.is_dir():
        raise _fail(path, "is a directory, not an image file")
    try:
        if path.stat().st_size == 0:
            raise _fail(path, "empty file (0 bytes)")
        with warnings.catch_warnings():
            # Pillow warns above Image.MAX_IMAGE_PIXELS and raises above twice that: both are refusals.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as im:
                _check_size(path, *im.size, max_pixels)  # from the header, before decoding
                try:
                    im.load()
                except (Image.DecompressionBombError, Image.DecompressionBombWarning):
                    raise
                except Exception as exc:  # noqa: BLE001 - Pillow raises many types for bad data
                    raise _fail(path, f"truncated or corrupt image data ({exc})") from None
                im = ImageOps.exif_transpose(im)
                array = _to_rgb_array(im, path)
    except ImageError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise _fail(path, f"refused as a possible decompression bomb ({exc})") from None
    except Image.UnidentifiedImageError:
        raise _fail(path, "not an image file Pillow can read (unknown or broken format)") from None
    except OSError as exc:
        if exc.errno is not None:  # the operating system's error: permissions, I/O
            raise _fail(path, f"cannot read file ({exc.strerror})") from None
        raise _fail(path, f"truncated or corrupt image ({exc})") from None  # Pillow's error: bad data
    except Exception as exc:  # noqa: BLE001 - never a traceback from deep inside Pillow
        raise _fail(path, f"cannot decode image ({type(exc).__name__}: {exc})") from None
    return torch.from_numpy(array).permute(2, 0, 1).contiguous()


def _check_size(path: Path, width: int, height: int, max_pixels: int) -> None:
    if width * height > max_pixels:
        raise _fail(path, f"image is {width}x{height} = {width * height:,} pixels, more than the limit of "
                          f"{max_pixels:,} (decompression bomb guard)")
    if min(width, height) < MIN_SIDE:
        raise _fail(path, f"image is {width}x{height} pixels; both sides must be at least {MIN_SIDE}")


def _to_rgb_array(im: Image.Image, path: Path) -> np.ndarray:
    """A decoded Pillow image -> float32 array (H, W, 3) in [0, 1] (see the module docstring)."""
    mode = im.mode
    if mode in _UINT16_MODES or mode == "I":
        gray = np.asarray(im)
        if mode == "I" and gray.size and (gray.min() < 0 or gray.max() > 65535):
            raise _fail(path, f"32-bit integer image with values in {gray.min()}..{gray.max()}, outside "
                              "0..65535; cannot tell its scale")
        return _gray_to_rgb(gray.astype(np.float32) / 65535.0)
    if mode == "F":
        gray = np.asarray(im, dtype=np.float32)
        if not np.isfinite(gray).all():
            raise _fail(path, "32-bit float image contains NaN or infinite values")
        return _gray_to_rgb(np.clip(gray, 0.0, 1.0))
    if mode == "L" and "transparency" not in im.info:
        return _gray_to_rgb(np.asarray(im, dtype=np.float32) / 255.0)
    if mode in _ALPHA_MODES or "transparency" in im.info:
        rgba = np.asarray(im.convert("RGBA"), dtype=np.float32) / 255.0
        alpha = rgba[..., 3:]
        return np.ascontiguousarray(rgba[..., :3] * alpha + (1.0 - alpha))  # composite on white
    try:
        rgb = im.convert("RGB")
    except ValueError as exc:
        raise _fail(path, f"unsupported image mode {mode!r} ({exc})") from None
    return np.asarray(rgb, dtype=np.float32) / 255.0


def _gray_to_rgb(gray: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(np.repeat(gray[..., None], 3, axis=2), dtype=np.float32)


# ------------------------------------------------------------------------------------------------ saving


def save_image(rgb: Tensor, path: str | os.PathLike, *, force: bool = False) -> Path:
    """Write a float RGB tensor (3, H, W) in [0, 1] to a .png, .jpg or .jpeg file; return its path.

    Values are clamped to [0, 1] and rounded to 8 bits (JPEG at quality 95). The file is written to a
    temporary file in the same folder and then moved into place, so an error never leaves a partial
    file. An existing file is never overwritten unless ``force=True`` (``FileExistsError``). A bad
    tensor (shape, dtype, NaN) or extension raises ``ImageError``.
    """
    path = Path(path)
    fmt = SAVE_FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise _fail(path, f"cannot save: unsupported extension {path.suffix!r} (use .png, .jpg or .jpeg)")
    if not isinstance(rgb, Tensor):
        raise _fail(path, f"cannot save: expected a torch.Tensor, got {type(rgb).__name__}")
    if rgb.dim() != 3 or rgb.shape[0] != 3 or rgb.shape[1] < 1 or rgb.shape[2] < 1:
        raise _fail(path, f"cannot save: expected a tensor shaped (3, H, W), got {tuple(rgb.shape)}")
    if not rgb.is_floating_point():
        raise _fail(path, f"cannot save: expected a floating-point tensor in [0, 1], got {rgb.dtype}")
    if torch.isnan(rgb).any():
        raise _fail(path, "cannot save: the tensor contains NaN values")

    pixels = (rgb.detach().to("cpu", torch.float32).clamp(0, 1) * 255).round().to(torch.uint8)
    image = Image.fromarray(pixels.permute(1, 2, 0).contiguous().numpy())
    options = {"quality": 95} if fmt == "JPEG" else {}
    def write(tmp: Path) -> None:
        with open(tmp, "wb") as f:
            image.save(f, format=fmt, **options)

    try:
        return atomic_write(path, write, overwrite=force)
    except FileExistsError:
        raise FileExistsError(f"{path}: already exists; not overwritten (pass force=True to replace it)") from None


# ---------------------------------------------------------------------------------------------- resizing


def resize_to(img: Tensor, height: int, width: int) -> Tensor:
    """Resize (C, H, W) or (B, C, H, W) to height x width: bilinear with antialiasing (no value leaves the range)."""
    batch = img if img.dim() == 4 else img.unsqueeze(0)
    out = F.interpolate(batch, size=(height, width), mode="bilinear", align_corners=False, antialias=True)
    return out if img.dim() == 4 else out.squeeze(0)


def short_side_size(h: int, w: int, n: int) -> tuple[int, int]:
    """The (H, W) of an h x w image resized so that its shorter side is n (the other rounded to keep the ratio)."""
    if h <= w:
        return n, max(1, round(w * n / h))
    return max(1, round(h * n / w)), n


def resize_short_side(img: Tensor, n: int) -> Tensor:
    """Resize (C, H, W) or (B, C, H, W) so the shorter side is n; the other is rounded to keep the ratio
    (:func:`short_side_size`).

    Bilinear with antialiasing (a triangle filter widened when shrinking): no value leaves the input range.
    """
    checks.image(img)
    checks.int_at_least(n, "n")
    return resize_to(img, *short_side_size(*img.shape[-2:], n))


def resize_long_side(img: Tensor, n: int) -> Tensor:
    """Resize (C, H, W) or (B, C, H, W) so the longer side is n; the other is rounded to keep the ratio."""
    checks.image(img)
    checks.int_at_least(n, "n")
    h, w = img.shape[-2:]
    if h >= w:
        return resize_to(img, n, max(1, round(w * n / h)))
    return resize_to(img, max(1, round(h * n / w)), n)


def pad_to_multiple(img: Tensor, m: int = 8, *, mode: str = "replicate") -> tuple[Tensor, tuple[int, int]]:
    """Pad the bottom and right of (C, H, W) or (B, C, H, W) so H and W are multiples of m.

    Returns the padded image and the original (H, W); ``crop_to(padded, H, W)`` undoes the padding.
    ``mode`` is "replicate" (repeat the edge pixels), "reflect" or "constant" (zeros).
    """
    checks.image(img)
    checks.int_at_least(m, "m")
    if mode not in ("replicate", "reflect", "constant"):
        raise ValueError(f"mode must be 'replicate', 'reflect' or 'constant', got {mode!r}")
    h, w = img.shape[-2:]
    pad_h, pad_w = -h % m, -w % m
    if mode == "reflect" and (pad_h >= h or pad_w >= w):
        raise ValueError(f"reflect padding of {pad_h}, {pad_w} needs an image larger than {h}x{w}")
    if pad_h == 0 and pad_w == 0:
        return img, (h, w)
    return F.pad(img, (0, pad_w, 0, pad_h), mode=mode), (h, w)


def crop_to(img: Tensor, h: int, w: int) -> Tensor:
    """Keep the top-left h x w pixels of (..., H, W): the inverse of ``pad_to_multiple``."""
    checks.int_at_least(h, "h")
    checks.int_at_least(w, "w")
    if img.dim() < 2 or h > img.shape[-2] or w > img.shape[-1]:
        raise ValueError(f"cannot crop a tensor shaped {tuple(img.shape)} to {h}x{w}")
    return img[..., :h, :w]


# ---------------------------------------------------------------------------------------- shipped photos


def photo_manifest() -> list[dict[str, str]]:
    """The rows of data/photos/MANIFEST.tsv (file, size, license, content, source..., author) as dicts."""
    if not MANIFEST.is_file():
        raise FileNotFoundError(f"{MANIFEST}: not found; the photos are data/photos/ in the repository and "
                                "reprolib/data/photos/ in an installed wheel")
    with open(MANIFEST, newline="", encoding="utf-8") as f:
        return [dict(row) for row in csv.DictReader(f, delimiter="\t")]


def list_photos() -> list[str]:
    """File names of the shipped photographs, in manifest order."""
    return [row["file"] for row in photo_manifest()]


def load_photo(name: str) -> Tensor:
    """Load a shipped photograph by file name ("chelsea.jpg") or stem ("chelsea") as (3, H, W) in [0, 1]."""
    names = list_photos()
    match = [n for n in names if name in (n, Path(n).stem)]
    if not match:
        raise ImageError(f"unknown photo {name!r}; the shipped photos are: {', '.join(names)}")
    return load_image(PHOTOS_DIR / match[0])
