"""reprolib.core.photos: every image mode, every refusal, atomic saving, resizing, and the shipped photographs."""
from __future__ import annotations

import csv
import hashlib
import re
import struct
import warnings
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image, ImageFile

from reprolib.core import photos
from reprolib.core.photos import ImageError, crop_to, load_image, load_photo, pad_to_multiple, save_image


def _check_rgb(x: torch.Tensor, h: int, w: int) -> None:
    assert x.dtype == torch.float32 and tuple(x.shape) == (3, h, w)
    assert float(x.min()) >= 0.0 and float(x.max()) <= 1.0


def _refused(path: Path, match: str | None = None, **kwargs) -> ImageError:
    """load_image(path) must raise ImageError with a one-line message naming the file."""
    with pytest.raises(ImageError, match=match) as info:
        load_image(path, **kwargs)
    message = str(info.value)
    assert "\n" not in message and str(path) in message
    error = info.value
    # no Pillow traceback attached
    assert error.__cause__ is None and (error.__context__ is None or error.__suppress_context__)
    return error


def _mode(path: Path) -> str:
    with Image.open(path) as im:
        return im.mode


def _png_bytes(im: Image.Image) -> bytes:
    import io

    buffer = io.BytesIO()
    im.save(buffer, "PNG")
    return buffer.getvalue()


# ------------------------------------------------------------------------------------------ image modes


def test_rgb_png_exact(tmp_path):
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, (20, 30, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(tmp_path / "a.png")
    x = load_image(tmp_path / "a.png")
    _check_rgb(x, 20, 30)
    assert torch.equal(x, torch.from_numpy(pixels).permute(2, 0, 1).float() / 255)


def test_gray_l_replicated(tmp_path):
    Image.new("L", (17, 16), 51).save(tmp_path / "g.png")
    x = load_image(str(tmp_path / "g.png"))  # a str path works too
    _check_rgb(x, 16, 17)
    assert torch.allclose(x, torch.full_like(x, 51 / 255))


def test_bilevel_1(tmp_path):
    im = Image.new("1", (20, 16), 0)
    im.paste(1, (10, 0, 20, 16))
    im.save(tmp_path / "b.png")
    x = load_image(tmp_path / "b.png")
    _check_rgb(x, 16, 20)
    assert x[:, :, :10].max() == 0 and x[:, :, 10:].min() == 1


def test_palette_p(tmp_path):
    im = Image.new("P", (16, 16), 1)
    im.putpalette([0, 0, 0, 255, 128, 0] + [0] * 762)
    im.save(tmp_path / "p.png")
    x = load_image(tmp_path / "p.png")
    _check_rgb(x, 16, 16)
    assert torch.allclose(x[:, 5, 5], torch.tensor([1.0, 128 / 255, 0.0]))


def test_palette_with_transparent_index_is_white(tmp_path):
    im = Image.new("P", (16, 16), 0)
    im.putpalette([10, 20, 30, 200, 0, 0] + [0] * 762)
    im.paste(1, (0, 0, 8, 16))
    im.save(tmp_path / "pt.png", transparency=0)
    x = load_image(tmp_path / "pt.png")
    assert torch.allclose(x[:, 3, 3], torch.tensor([200 / 255, 0.0, 0.0]))
    assert torch.equal(x[:, 3, 12], torch.ones(3))


def test_pa_composited_on_white(tmp_path):
    im = Image.new("PA", (16, 16))
    im.putpalette([0, 0, 255] + [0] * 765)
    im.putdata([(0, 0)] * 128 + [(0, 255)] * 128)  # top half transparent, bottom half opaque blue
    im.save(tmp_path / "pa.tif")
    assert _mode(tmp_path / "pa.tif") == "PA"
    x = load_image(tmp_path / "pa.tif")
    assert torch.equal(x[:, 2, 2], torch.ones(3))
    assert torch.equal(x[:, 12, 2], torch.tensor([0.0, 0.0, 1.0]))


def test_rgba_composited_on_white(tmp_path):
    pixels = np.zeros((16, 16, 4), np.uint8)
    pixels[:, :8] = (255, 0, 0, 0)  # fully transparent red -> white
    pixels[:, 8:] = (0, 0, 0, 128)  # half-transparent black -> mid gray
    Image.fromarray(pixels, "RGBA").save(tmp_path / "a.png")
    x = load_image(tmp_path / "a.png")
    _check_rgb(x, 16, 16)
    assert torch.equal(x[:, 0, 0], torch.ones(3))
    assert torch.allclose(x[:, 0, 12], torch.full((3,), 1 - 128 / 255))


def test_la_composited_on_white(tmp_path):
    pixels = np.zeros((16, 16, 2), np.uint8)
    pixels[..., 0] = 0
    pixels[:, 8:, 1] = 255  # right half opaque black, left half transparent
    Image.fromarray(pixels, "LA").save(tmp_path / "la.png")
    x = load_image(tmp_path / "la.png")
    assert torch.equal(x[:, 4, 2], torch.ones(3)) and torch.equal(x[:, 4, 12], torch.zeros(3))


@pytest.mark.parametrize("mode,key", [("L", 0), ("RGB", (0, 0, 0))])
def test_transparent_colour_key_is_white(tmp_path, mode, key):
    im = Image.new(mode, (16, 16), 0 if mode == "L" else (0, 0, 0))
    im.paste(100 if mode == "L" else (100, 100, 100), (8, 0, 16, 16))
    im.save(tmp_path / "k.png", transparency=key)
    x = load_image(tmp_path / "k.png")
    assert torch.equal(x[:, 0, 0], torch.ones(3))
    assert torch.allclose(x[:, 0, 12], torch.full((3,), 100 / 255))


def test_cmyk_pure_cyan(tmp_path):
    for ext in ("jpg", "tif"):
        Image.new("CMYK", (16, 16), (255, 0, 0, 0)).save(tmp_path / f"c.{ext}")
        x = load_image(tmp_path / f"c.{ext}")
        _check_rgb(x, 16, 16)
        assert torch.allclose(x[:, 8, 8], torch.tensor([0.0, 1.0, 1.0]), atol=0.02)


def test_16_bit_png_scaled_by_65535(tmp_path):
    gray = np.tile(np.array([0, 32768, 65535] * 6, np.uint16), (16, 1))
    Image.fromarray(gray).save(tmp_path / "g16.png")
    assert _mode(tmp_path / "g16.png") in ("I;16", "I")
    x = load_image(tmp_path / "g16.png")
    _check_rgb(x, 16, 18)
    assert x[:, 0, 0].tolist() == [0.0] * 3 and x[:, 0, 2].tolist() == [1.0] * 3
    assert torch.allclose(x[:, 0, 1], torch.full((3,), 0.5), atol=1e-4)


def test_16_bit_big_endian(tmp_path):
    gray = np.tile(np.array([0, 32768, 65535] * 6, ">u2"), (16, 1))
    Image.fromarray(gray).save(tmp_path / "g16b.tif")
    assert _mode(tmp_path / "g16b.tif") == "I;16B"
    x = load_image(tmp_path / "g16b.tif")
    assert x[:, 5, 2].tolist() == [1.0] * 3 and abs(float(x[0, 5, 1]) - 0.5) < 1e-4


def test_32_bit_int_taken_as_16_bit(tmp_path):
    gray = np.tile(np.array([0, 32768, 65535] * 6, np.int32), (16, 1))
    Image.fromarray(gray).save(tmp_path / "i.tif")
    assert _mode(tmp_path / "i.tif") == "I"
    x = load_image(tmp_path / "i.tif")
    assert x[:, 0, 2].tolist() == [1.0] * 3 and abs(float(x[0, 0, 1]) - 0.5) < 1e-4
    gray[0, 0] = 70000
    Image.fromarray(gray).save(tmp_path / "big.tif")
    _refused(tmp_path / "big.tif", "0..65535")


def test_float_f_clipped(tmp_path):
    values = np.tile(np.array([0.25, 1.5, -0.5, 1.0], np.float32), (16, 4))
    Image.fromarray(values).save(tmp_path / "f.tif")
    assert _mode(tmp_path / "f.tif") == "F"
    x = load_image(tmp_path / "f.tif")
    _check_rgb(x, 16, 16)
    assert x[0, 0, :4].tolist() == [0.25, 1.0, 0.0, 1.0]
    values[3, 3] = np.nan
    Image.fromarray(values).save(tmp_path / "nan.tif")
    _refused(tmp_path / "nan.tif", "NaN")


@pytest.mark.parametrize("orientation,k", [(6, -1), (8, 1), (3, 2)])
def test_exif_orientation(tmp_path, orientation, k):
    """Orientation 6 = rotate 90 degrees clockwise to display, 8 = counter-clockwise, 3 = 180."""
    pixels = np.zeros((32, 48, 3), np.uint8)  # H=32, W=48: non-square, non-symmetric
    pixels[:16, :16] = (255, 0, 0)  # red block at the top left
    pixels[16:, 32:] = (0, 0, 255)  # blue block at the bottom right
    pixels[:16, 32:] = (0, 255, 0)  # green block at the top right
    exif = Image.Exif()
    exif[0x0112] = orientation
    Image.fromarray(pixels).save(tmp_path / "o.jpg", quality=95, exif=exif)
    x = load_image(tmp_path / "o.jpg")
    stored = torch.from_numpy(pixels).permute(2, 0, 1).float() / 255
    expected = torch.rot90(stored, k=k, dims=(1, 2))  # k=-1: clockwise
    assert x.shape == expected.shape
    assert (x - expected).abs().mean() < 0.02


# ------------------------------------------------------------------------------------------- refusals


def test_missing(tmp_path):
    _refused(tmp_path / "nope.png", "no such file")


def test_directory(tmp_path):
    (tmp_path / "d.png").mkdir()
    _refused(tmp_path / "d.png", "directory")


def test_empty(tmp_path):
    (tmp_path / "e.jpg").write_bytes(b"")
    _refused(tmp_path / "e.jpg", "empty")


def test_text_named_png(tmp_path):
    (tmp_path / "t.png").write_text("this is not a picture\nsecond line\n")
    _refused(tmp_path / "t.png", "not an image")


@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
@pytest.mark.parametrize("keep", [0.002, 0.05, 0.5, 0.95])
def test_truncated(tmp_path, fmt, keep):
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False
    rng = np.random.default_rng(1)
    path = tmp_path / ("cut.png" if fmt == "PNG" else "cut.jpg")
    Image.fromarray(rng.integers(0, 256, (64, 80, 3), dtype=np.uint8)).save(path, fmt)
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])
    _refused(path, "truncated or corrupt" if keep > 0.01 else "truncated or corrupt|not an image")


def test_too_small(tmp_path):
    Image.new("RGB", (15, 40)).save(tmp_path / "small.png")
    _refused(tmp_path / "small.png", "at least 16")
    Image.new("RGB", (16, 16)).save(tmp_path / "ok.png")
    _check_rgb(load_image(tmp_path / "ok.png"), 16, 16)


def _png_claiming(path: Path, width: int, height: int) -> Path:
    """A tiny valid-looking PNG whose IHDR claims width x height (CRC recomputed); its pixel data is short."""
    data = bytearray(_png_bytes(Image.new("1", (16, 16))))
    assert data[12:16] == b"IHDR"
    data[16:24] = struct.pack(">II", width, height)
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])))
    path.write_bytes(bytes(data))
    return path


@pytest.mark.parametrize("side", [30000, 9500, 8100])
def test_decompression_bomb(tmp_path, side):
    """30000^2 trips Pillow's error, 9500^2 its warning, 8100^2 only our 64 MP limit: all ImageError."""
    before = Image.MAX_IMAGE_PIXELS
    path = _png_claiming(tmp_path / "bomb.png", side, side)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a DecompressionBombWarning must not escape either
        error = _refused(path)
    assert "bomb" in str(error)
    assert Image.MAX_IMAGE_PIXELS == before


def test_size_checked_before_decoding(tmp_path):
    """The header is enough: a small claimed size fails as truncated, a huge one as too large."""
    _refused(_png_claiming(tmp_path / "a.png", 64, 64), "truncated or corrupt")
    _refused(_png_claiming(tmp_path / "b.png", 64, 64), "limit of 1,000", max_pixels=1000)


# --------------------------------------------------------------------------------------------- saving


def test_save_load_round_trip_png(tmp_path):
    x = torch.rand(3, 20, 33)
    out = save_image(x, tmp_path / "r.png")
    assert out == tmp_path / "r.png"
    assert (load_image(out) - x).abs().max() <= 0.5 / 255 + 1e-6
    assert [p.name for p in tmp_path.iterdir()] == ["r.png"]  # no temporary file left behind


def test_save_jpeg(tmp_path):
    x = torch.full((3, 24, 24), 0.5)
    x[0] = 0.9
    y = load_image(save_image(x, tmp_path / "r.JPEG"))
    assert (y - x).abs().max() < 0.03


def test_save_refuses_overwrite(tmp_path):
    path = tmp_path / "keep.png"
    save_image(torch.zeros(3, 16, 16), path)
    before = path.read_bytes()
    with pytest.raises(FileExistsError) as info:
        save_image(torch.ones(3, 16, 16), path)
    assert "\n" not in str(info.value) and str(path) in str(info.value)
    assert path.read_bytes() == before
    save_image(torch.ones(3, 16, 16), path, force=True)
    assert load_image(path).min() == 1.0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.png"]


@pytest.mark.parametrize(
    "x,match",
    [
        (torch.zeros(16, 16), "shaped"),
        (torch.zeros(4, 16, 16), "shaped"),
        (torch.zeros(1, 3, 16, 16), "shaped"),
        (torch.zeros(3, 16, 16, dtype=torch.uint8), "floating"),
        (torch.full((3, 16, 16), float("nan")), "NaN"),
        (np.zeros((3, 16, 16)), "torch.Tensor"),
    ],
)
def test_save_refuses_bad_tensor(tmp_path, x, match):
    with pytest.raises(ImageError, match=match):
        save_image(x, tmp_path / "bad.png")
    assert list(tmp_path.iterdir()) == []


def test_save_refuses_bad_extension_and_folder(tmp_path):
    with pytest.raises(ImageError, match="extension"):
        save_image(torch.zeros(3, 16, 16), tmp_path / "x.bmp")
    with pytest.raises(FileNotFoundError):
        save_image(torch.zeros(3, 16, 16), tmp_path / "missing" / "x.png")
    assert list(tmp_path.iterdir()) == []


def test_save_error_leaves_nothing(tmp_path, monkeypatch):
    def broken_save(self, fp, *args, **kwargs):
        fp.write(b"\x89PNG partial")
        raise OSError("disk full")

    monkeypatch.setattr(Image.Image, "save", broken_save)
    with pytest.raises(OSError, match="disk full"):
        save_image(torch.zeros(3, 16, 16), tmp_path / "x.png")
    assert list(tmp_path.iterdir()) == []


# ------------------------------------------------------------------------------------------- resizing


def test_resize_short_side_keeps_ratio():
    x = torch.rand(3, 300, 451)
    assert tuple(photos.resize_short_side(x, 256).shape) == (3, 256, 385)
    assert tuple(photos.resize_short_side(x.transpose(1, 2), 256).shape) == (3, 385, 256)
    assert tuple(photos.resize_short_side(torch.rand(2, 3, 300, 451), 150).shape) == (2, 3, 150, 226)


def test_resize_long_side_keeps_ratio():
    x = torch.rand(3, 300, 451)
    assert tuple(photos.resize_long_side(x, 256).shape) == (3, 170, 256)
    assert tuple(photos.resize_long_side(x.transpose(1, 2), 256).shape) == (3, 256, 170)
    assert tuple(photos.resize_long_side(torch.rand(3, 1, 1000), 10).shape) == (3, 1, 10)  # at least 1 px


def test_resize_antialiased_and_in_range():
    stripes = torch.zeros(3, 64, 64)
    stripes[:, :, ::2] = 1.0  # one-pixel stripes average to 0.5 when shrunk with antialiasing
    small = photos.resize_long_side(stripes, 8)
    assert torch.allclose(small, torch.full_like(small, 0.5), atol=0.05)
    x = torch.rand(3, 40, 60)
    y = photos.resize_short_side(x, 97)
    assert y.min() >= x.min() - 1e-6 and y.max() <= x.max() + 1e-6


@pytest.mark.parametrize("n", [0, -3, 2.5, True, "8"])
def test_resize_validates(n):
    with pytest.raises(ValueError):
        photos.resize_short_side(torch.rand(3, 20, 20), n)
    with pytest.raises(ValueError):
        photos.resize_long_side(torch.rand(3, 20, 20), n)


def test_resize_rejects_bad_images():
    for bad in (torch.rand(20, 20), torch.zeros(3, 20, 20, dtype=torch.uint8), np.zeros((3, 20, 20))):
        with pytest.raises(ValueError):
            photos.resize_short_side(bad, 8)


@pytest.mark.parametrize("mode", ["replicate", "reflect", "constant"])
def test_pad_crop_round_trip(mode):
    x = torch.rand(3, 37, 50)
    padded, (h, w) = pad_to_multiple(x, 8, mode=mode)
    assert tuple(padded.shape) == (3, 40, 56) and (h, w) == (37, 50)
    assert torch.equal(crop_to(padded, h, w), x)
    batch = torch.rand(2, 3, 17, 16)
    padded, size = pad_to_multiple(batch, 8, mode=mode)
    assert tuple(padded.shape) == (2, 3, 24, 16) and torch.equal(crop_to(padded, *size), batch)


def test_pad_noop_and_validation():
    x = torch.rand(3, 16, 24)
    padded, size = pad_to_multiple(x, 8)
    assert padded is x and size == (16, 24)
    with pytest.raises(ValueError):
        pad_to_multiple(x, 0)
    with pytest.raises(ValueError):
        pad_to_multiple(x, 8, mode="wrap")
    with pytest.raises(ValueError):
        crop_to(x, 17, 24)
    with pytest.raises(ValueError):
        crop_to(x, 0, 24)


# ------------------------------------------------------------------------------------- shipped photos


ORIGINAL_PHOTOS = 16  # the first rows of the manifest; the photos added after them are held out (data/README.md)
KINDS = {"landscape", "mountain", "sky", "water", "flower", "plant", "animal", "person", "food", "object",
         "architecture", "city"}
BW_PHOTOS_DIR = Path(__file__).resolve().parents[2] / "data" / "bw_photos"  # not package data: the checkout only


def _check_sums(folder: Path) -> dict[str, str]:
    """SHA256SUMS of ``folder`` lists every file in it but itself and README.md, and every checksum matches."""
    sums = {}
    for line in (folder / "SHA256SUMS").read_text().splitlines():
        digest, name = line.split(maxsplit=1)
        sums[name.lstrip("*")] = digest
    assert "MANIFEST.tsv" in sums
    for name, digest in sums.items():
        assert hashlib.sha256((folder / name).read_bytes()).hexdigest() == digest, name
    on_disk = {p.name for p in folder.iterdir()}
    assert on_disk == set(sums) | {"SHA256SUMS", "README.md"}
    return sums


def test_checksums_match():
    sums = _check_sums(photos.PHOTOS_DIR)
    assert len(sums) == len(photos.photo_manifest()) + 1  # every photo and MANIFEST.tsv


def test_photos_folder_is_the_wheels_package_data_else_the_checkouts_data_folder(monkeypatch, tmp_path):
    repo = Path(__file__).resolve().parents[2]
    if photos.data_file().is_relative_to(repo):  # the tests run on this checkout's reprolib
        assert photos.PHOTOS_DIR == repo / "data" / "photos"
    root = tmp_path / "root"
    monkeypatch.setattr(photos, "data_file", lambda *parts: root.joinpath("reprolib", "data", *parts))
    (root / "data" / "photos").mkdir(parents=True)
    assert photos._photos_dir() == root / "data" / "photos"  # a checkout (editable install): data/photos
    (root / "reprolib" / "data" / "photos").mkdir(parents=True)
    assert photos._photos_dir() == root / "reprolib" / "data" / "photos"  # a wheel: package data


def test_manifest_rows_match_files():
    rows = photos.photo_manifest()
    names = photos.list_photos()
    assert len(rows) > ORIGINAL_PHOTOS and len(set(names)) == len(rows)
    readme = (photos.PHOTOS_DIR / "README.md").read_text(encoding="utf-8")
    originals = readme.split("### The original sixteen")[1].split("### Added later")[0]
    assert names[:ORIGINAL_PHOTOS] == re.findall(r"^\| `([^`]+)`", originals, re.M)  # the originals come first
    assert {p.name for p in photos.PHOTOS_DIR.glob("*.jpg")} == set(names)
    for row in rows:
        assert row["license"] and row["author"] and row["source_package"], row
        assert row["kind"] in KINDS, row
    kinds = [row["kind"] for row in rows]
    assert all(kinds.count(kind) >= 3 for kind in set(kinds))  # no kind with fewer than three photos
    assert all(f"`{name}`" in readme and row["author"] in readme for name, row in zip(names, rows))


def test_bw_photos_gallery():
    """data/bw_photos: grey-level photographs without ground truth, with their own manifest, credits and checksums."""
    sums = _check_sums(BW_PHOTOS_DIR)
    with open(BW_PHOTOS_DIR / "MANIFEST.tsv", newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    assert rows and set(sums) == {row["file"] for row in rows} | {"MANIFEST.tsv"}
    assert list(rows[0]) == list(photos.photo_manifest()[0])  # the same columns as data/photos/MANIFEST.tsv
    readme = (BW_PHOTOS_DIR / "README.md").read_text(encoding="utf-8")
    for row in rows:
        assert row["license"] and row["author"] and row["kind"] in KINDS, row
        assert f"`{row['file']}`" in readme and row["author"] in readme, row
        with Image.open(BW_PHOTOS_DIR / row["file"]) as im:
            assert im.mode == "L" and "x".join(map(str, im.size)) == row["size"] and max(im.size) <= 512
        x = load_image(BW_PHOTOS_DIR / row["file"])
        assert torch.equal(x[0], x[1]) and torch.equal(x[1], x[2])


def test_load_every_shipped_photo():
    for row in photos.photo_manifest():
        width, height = map(int, row["size"].split("x"))
        _check_rgb(load_photo(row["file"]), height, width)
    assert load_photo("chelsea").shape == (3, 300, 451)  # the stem works too


def test_unknown_photo_lists_names():
    with pytest.raises(ImageError, match="chelsea.jpg") as info:
        load_photo("no_such_cat.jpg")
    assert "\n" not in str(info.value) and "no_such_cat.jpg" in str(info.value)
