"""Photos a visitor brings to the page (``make picker``): uploaded bytes -> RGB tensors, results -> PNG bytes.

:func:`image_from_bytes` decodes an upload with the checks of :func:`reprolib.core.photos.load_image`: the
bytes go to a file in a private temporary folder (mode 0700, removed before the function returns, also on
error), are decoded there and the pixels stay in memory. Every refusal is an ``ImageError`` whose one-line
message names the upload, not the temporary file:

    too many bytes (``MAX_UPLOAD_BYTES``), empty, not an image, truncated or corrupt, a decompression bomb
    (more than ``MAX_PIXELS`` in the header, refused before decoding), more than the page's ``MAX_UPLOAD_PIXELS``
    (a real photo, too large to colour here: downscale it first), smaller than ``MIN_SIDE`` on a side.

:func:`is_colour` tells a colour photo from a gray one (a colour target is used through its L* only);
:func:`png_bytes` encodes a result at its full size.
"""
from __future__ import annotations

import io
import re
import tempfile
import warnings
from pathlib import Path

import torch
from PIL import Image
from torch import Tensor

from ..core import checks
from ..core.photos import MAX_PIXELS, ImageError, load_image

MAX_UPLOAD_BYTES = 40 * 2**20  # larger files are refused before they are written anywhere
MAX_UPLOAD_PIXELS = 16_000_000  # the page's limit: colouring at full size takes a few GB above this
TEMP_PREFIX = "reprolib-upload-"  # the private temporary folders' names start with this
COLOUR_TOLERANCE = 2 / 255  # a pixel whose R, G, B differ by more than this is coloured
COLOUR_SHARE = 0.01  # ... and a photo with more than 1% of such pixels is a colour photo


def display_name(name: str, limit: int = 80) -> str:
    """The upload's file name without folders or control characters, at most ``limit`` characters."""
    base = re.sub(r"[\x00-\x1f\x7f]", "", Path(str(name).replace("\\", "/")).name).strip()
    base = base or "upload"
    return base if len(base) <= limit else base[: limit - 3] + "..."


def image_from_bytes(data: bytes | bytearray | memoryview, name: str, *, max_pixels: int = MAX_UPLOAD_PIXELS,
                     max_bytes: int = MAX_UPLOAD_BYTES) -> Tensor:
    """Decode the uploaded file ``data`` (named ``name`` by the visitor) as RGB (3, H, W) float32 in [0, 1].

    Raises ``ImageError`` with a one-line message starting with the upload's name (see the module docstring).
    """
    label = display_name(name)
    checks.positive_int(max_pixels, "max_pixels")
    size = memoryview(data).nbytes
    if size > max_bytes:
        raise ImageError(f"{label}: {size / 2**20:.1f} MB, more than the limit of {max_bytes / 2**20:.0f} MB")
    with tempfile.TemporaryDirectory(prefix=TEMP_PREFIX) as folder:
        path = Path(folder) / "upload"
        path.write_bytes(data)
        try:
            pixels = _pixels_in_header(path)
            if pixels is not None and max_pixels < pixels <= max(MAX_PIXELS, max_pixels):
                raise ImageError(f"{path}: {pixels / 1e6:.1f} megapixels, more than this page's limit of "
                                 f"{max_pixels / 1e6:g} megapixels; downscale the photo first")
            return load_image(path, max_pixels=max(MAX_PIXELS, max_pixels))
        except ImageError as error:
            message = str(error)
            raise ImageError(f"{label}: {message.removeprefix(f'{path}: ')}") from None


def _pixels_in_header(path: Path) -> int | None:
    """Width x height as the file's header says, None when Pillow cannot tell (load_image then says why)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(path) as im:
                width, height = im.size
    except Exception:  # noqa: BLE001 - any failure here is reported by load_image
        return None
    return width * height


def is_colour(rgb: Tensor, tolerance: float = COLOUR_TOLERANCE, share: float = COLOUR_SHARE) -> bool:
    """True when more than ``share`` of the pixels of ``rgb`` (3, H, W) have channels that differ by more than
    ``tolerance`` (a gray photo saved as RGB or JPEG-compressed stays gray)."""
    rgb = checks.rgb_image(rgb, "rgb")
    spread = rgb.amax(0) - rgb.amin(0)
    return float((spread > tolerance).float().mean()) > share


def png_bytes(rgb: Tensor) -> bytes:
    """``rgb`` (3, H, W) in [0, 1] as an 8-bit PNG file's bytes, at its own size."""
    rgb = checks.rgb_image(rgb, "rgb")
    pixels = (rgb.detach().to("cpu", torch.float32).clamp(0, 1) * 255).round().to(torch.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels.permute(1, 2, 0).contiguous().numpy()).save(buffer, format="PNG")
    return buffer.getvalue()


def thumbnail_jpeg(rgb: Tensor, height: int = 72) -> bytes:
    """A small JPEG of ``rgb`` (3, H, W), ``height`` pixels high, for lists of candidates."""
    rgb = checks.rgb_image(rgb, "rgb")
    h, w = rgb.shape[-2:]
    small = torch.nn.functional.interpolate(rgb[None], size=(height, max(1, round(w * height / h))), mode="area")[0]
    pixels = (small.clamp(0, 1) * 255).round().to(torch.uint8).permute(1, 2, 0).contiguous().numpy()
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="JPEG", quality=85)
    return buffer.getvalue()
