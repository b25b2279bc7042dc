"""The colour-your-own-photos page: its session (reprolib.ui.session) and its widgets (reprolib.ui.page)."""
import base64
import datetime
import io

import numpy as np
import pytest
import torch
from PIL import Image

from reprolib.colorization.grayvgg_weights import load_extractor
from reprolib.core.color import lab_to_rgb, rgb_to_lab
from reprolib.ui import page as page_widgets
from reprolib.ui import session as page
from reprolib.ui.page import PhotoPage, options_from_query


@pytest.fixture(scope="module")
def photo_features():
    return load_extractor("photo")


def _png(rgb: torch.Tensor) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray((rgb.permute(1, 2, 0) * 255).round().byte().numpy()).save(buffer, format="PNG")
    return buffer.getvalue()


def test_session_ranks_and_the_panel_uses_only_the_targets_L(photo_pair, photo_features):
    t, r = photo_pair
    refs = [page.Photo("coffee", r), page.Photo("flipped", torch.flip(r, dims=(0,)), "uploaded")]
    colour = page.make_session(page.Photo("china", t), refs, photo_features)
    assert colour.colour_target and sorted(p.name for p in colour.candidates) == ["coffee", "flipped"]
    assert colour.scores[0] >= colour.scores[1] and colour.methods == ("auto", "exact", "patchmatch")
    gray_t = lab_to_rgb(torch.cat((rgb_to_lab(t)[:1], torch.zeros(2, *t.shape[-2:])))).clamp(0, 1)
    gray = page.make_session(page.Photo("china gray", gray_t), refs, photo_features)
    assert not gray.colour_target and [p.name for p in gray.candidates] == [p.name for p in colour.candidates]
    a, b = page.compute_panel(colour, 0, size=128), page.compute_panel(gray, 0, size=128)
    assert list(a.pictures) == ["target", "reference", "warped", "similarity", "result"]
    # the colours of T play no part: the result has T's L*, and the same colours as from T's gray version
    # (up to nearest-neighbour ties that the float rounding of the gray version's L* turns the other way)
    torch.testing.assert_close(rgb_to_lab(a.result)[0], rgb_to_lab(t)[0], atol=0.05, rtol=0)
    assert float((a.result - b.result).abs().mean()) < 2e-3
    assert a.result.shape == t.shape and a.pictures["similarity"].shape[0] == 1
    assert "chooser_small" in a.title  # the page runs colorize's default, and says which net made the result
    assert Image.open(io.BytesIO(page.result_png(a))).size == (t.shape[2], t.shape[1])
    assert page.panel_png(a).startswith(b"\x89PNG")
    assert not torch.equal(a.result, page.compute_panel(colour, 1, size=128).result)
    assert page.result_filename(colour, 0).endswith(".png") and "/" not in page.result_filename(colour, 0)


def test_bad_settings_say_why(photo_pair, photo_features):
    t, r = photo_pair
    session = page.make_session(page.Photo("t", t), [page.Photo("r", r)], photo_features)
    with pytest.raises(ValueError, match="index"):
        page.compute_panel(session, 1)
    with pytest.raises(ValueError, match="working size"):
        page.compute_panel(session, 0, size=4096)
    with pytest.raises(ValueError, match="attention"):  # the photo gray-VGG has no relu5_2
        page.compute_panel(session, 0, size=128, method="attention")
    with pytest.raises(ValueError, match="no reference"):
        page.make_session(page.Photo("t", t), [], photo_features)


def test_query_options():
    assert options_from_query("size=128&method=patchmatch") == {"size": 128, "method": "patchmatch"}
    assert options_from_query("size=9999&x=1") == {} and options_from_query("") == {}


def _upload(widget, name: str, data: bytes) -> None:
    widget.value = ({"name": name, "type": "image/png", "size": len(data), "content": memoryview(data),
                     "last_modified": datetime.datetime.now(datetime.timezone.utc)},)


def test_the_page_takes_uploads_and_reports_bad_ones(photo_pair, photo_features):
    t, r = photo_pair
    p = PhotoPage(size=128, features=photo_features, target=page.Photo("china", t), references=("coffee.jpg",))
    assert p.target.name == "china" and "colour photo" in p.target_info.value and p.message.value == ""
    assert p.method.options == ("auto", "exact", "patchmatch") and p.exemplar.max == 1
    first = p.image.value

    _upload(p.target_upload, "<i>broken.png", b"not a picture")
    assert "&lt;i&gt;broken.png: not an image file" in p.message.value  # named, and escaped
    assert p.target.name == "china" and p.image.value == first and p.target_upload.value == ()

    gray = rgb_to_lab(t)[:1].div(100).expand(3, -1, -1)
    _upload(p.target_upload, "grandparents.png", _png(gray))
    assert p.message.value == "" and p.target.name == "grandparents.png" and p.target_choice.value is None
    assert "a gray photo" in p.target_info.value and p.target_upload.value == ()

    _upload(p.reference_upload, "garden.png", _png(r))
    assert p.exemplar.max == 2 and "(uploaded)" in p.ranking.value
    before = bytes(p.image.value)
    p.exemplar.value = 2
    assert bytes(p.image.value) != before and "exemplar 2 of 2: coloured in" in p.status.value
    href = p.download.value.split("href='data:image/png;base64,")[1].split("'")[0]
    assert Image.open(io.BytesIO(base64.b64decode(href))).size == (t.shape[2], t.shape[1])

    p.clear_uploads.click()
    assert p.exemplar.max == 1 and "(uploaded)" not in p.ranking.value
    p.reference_choice.value = ()
    assert "no reference" in p.message.value and p.exemplar.max == 1  # the last good session stays
    p.target_choice.value = "astronaut.jpg"
    assert "no reference" in p.message.value and "astronaut.jpg" in p.target_info.value


def _result_in(link_html: str) -> torch.Tensor:
    href = link_html.split("href='data:image/png;base64,")[1].split("'")[0]
    return torch.tensor(np.array(Image.open(io.BytesIO(base64.b64decode(href))).convert("RGB")), dtype=torch.float32)


def test_the_top_k_colour_the_target_jointly(photo_pair, photo_features, monkeypatch):
    t, r = photo_pair
    monkeypatch.setattr(page_widgets, "compute_panel",  # the page's wiring, at a working size below its slider's
                        lambda session, chosen, size, method: page.compute_panel(session, chosen, 48, method))
    p = PhotoPage(size=128, features=photo_features, target=page.Photo("china", t), references=("coffee.jpg",))
    files = [("turned.png", _png(torch.flip(r, dims=(0,)))), ("mirrored.png", _png(torch.flip(r, dims=(2,))))]
    p.reference_upload.value = tuple({"name": name, "type": "image/png", "size": len(data), "content": memoryview(data),
                                      "last_modified": datetime.datetime.now(datetime.timezone.utc)}
                                     for name, data in files)
    assert p.top.max == 3 and p.top.value == 1 and not p.exemplar.disabled
    one = _result_in(p.download.value)
    p.top.value = 3
    assert p.exemplar.disabled and p.ranking.value.count("solid #1976d2") == 3 and "_and_2_more.png" in p.download.value
    assert p.status.value.startswith("the top 3 of 3 jointly: coloured in")
    joint = _result_in(p.download.value)
    assert joint.shape == one.shape and (joint - one).abs().mean() > 1  # the other references were used

    panel = page.compute_panel(p.session, range(2), size=32)
    assert panel.title.startswith("exemplars 1, 2/3 jointly: ") and "(scores " in panel.title
    assert panel.pictures["reference"].shape[-1] >= 2 * 32  # the two references side by side
    for bad in ([], [0, 0], [0, 3], 1.0):
        with pytest.raises(ValueError, match="index must be"):
            page.compute_panel(p.session, bad, size=32)

    p.clear_uploads.click()  # fewer candidates than k: k follows
    assert p.message.value == "" and p.top.max == p.top.value == 1 and not p.exemplar.disabled
    assert p.status.value.startswith("exemplar 1 of 1: coloured in")
