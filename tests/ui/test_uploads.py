"""Uploaded files (reprolib.ui.uploads): every bad upload is one named ImageError, nothing stays on disk."""
import io
import struct
import tempfile
import zlib

import pytest
import torch
from PIL import Image

from reprolib.core.photos import ImageError
from reprolib.ui import uploads


def _encoded(size=(40, 30), fmt="PNG", mode="RGB") -> bytes:
    buffer = io.BytesIO()
    Image.new(mode, size, (200, 120, 40) if mode == "RGB" else 0).save(buffer, format=fmt)
    return buffer.getvalue()


def _png_header(width: int, height: int) -> bytes:
    """A PNG whose header claims width x height (8-bit RGB) and whose pixel data is a few bytes."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = chunk(b"IDAT", zlib.compress(b"\x00" * 64))
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + idat + chunk(b"IEND", b"")


@pytest.fixture
def private_tmp(tmp_path, monkeypatch):
    """tempfile's folder for this test only, so that what is left behind can be listed."""
    folder = tmp_path / "tmp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


def test_a_good_upload_becomes_rgb_and_leaves_no_file(private_tmp):
    rgb = uploads.image_from_bytes(_encoded((40, 30)), "holiday.png")
    assert rgb.shape == (3, 30, 40) and rgb.dtype == torch.float32
    assert torch.allclose(rgb[:, 0, 0], torch.tensor([200, 120, 40]) / 255)
    jpeg = uploads.image_from_bytes(memoryview(_encoded((32, 32), "JPEG")), "photo.jpg")
    assert jpeg.shape == (3, 32, 32)
    assert list(private_tmp.iterdir()) == []


@pytest.mark.parametrize("data, expected", [
    (b"", "empty file"),
    (b"this is a text file, not a photo", "not an image file"),
    (_encoded((64, 64))[:80], "truncated or corrupt"),
    (_encoded((64, 64), "JPEG")[:200], "truncated or corrupt"),
    (_png_header(100_000, 100_000), "decompression bomb"),
    (_encoded((8, 40)), "both sides must be at least 16"),
])
def test_bad_uploads_are_refused_with_their_name(private_tmp, data, expected):
    with pytest.raises(ImageError, match=expected) as error:
        uploads.image_from_bytes(data, "C:\\Users\\me\\old photo.png")
    message = str(error.value)
    assert message.startswith("old photo.png: ") and "\n" not in message
    assert str(private_tmp) not in message  # the temporary file is not named
    assert list(private_tmp.iterdir()) == []


def test_too_many_megapixels_or_bytes(private_tmp):
    big = _encoded((4100, 4000), mode="L")  # 16.4 megapixels, a real photo's size, refused from the header
    with pytest.raises(ImageError, match="16.4 megapixels, more than this page's limit of 16 megapixels"):
        uploads.image_from_bytes(big, "scan.png")
    with pytest.raises(ImageError, match="0.0 megapixels, more than this page's limit of 0.001"):
        uploads.image_from_bytes(_encoded((40, 30)), "x.png", max_pixels=1000)
    with pytest.raises(ImageError, match="x.png: 0.0 MB, more than the limit"):
        uploads.image_from_bytes(_encoded((40, 30)), "x.png", max_bytes=10)
    assert list(private_tmp.iterdir()) == []


def test_display_name_and_colour():
    assert uploads.display_name("../../etc/pass\nwd") == "passwd"
    assert uploads.display_name("") == "upload" and len(uploads.display_name("a" * 200)) == 80
    gray = torch.rand(1, 20, 20).expand(3, 20, 20)
    assert not uploads.is_colour(gray) and not uploads.is_colour((gray + 0.004 * torch.rand(3, 20, 20)).clamp(0, 1))
    assert uploads.is_colour(torch.rand(3, 20, 20))


def test_png_bytes_keep_the_size():
    png = uploads.png_bytes(torch.rand(3, 17, 33))
    assert Image.open(io.BytesIO(png)).size == (33, 17)
    assert Image.open(io.BytesIO(uploads.thumbnail_jpeg(torch.rand(3, 40, 80), 20))).size == (40, 20)
