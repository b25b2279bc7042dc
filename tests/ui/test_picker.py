"""The exemplar picker of notebook 03 (reprolib.ui.picker): the page's session with the synthetic world's net,
bound to a slider."""
import pytest
import torch

from reprolib.ui import picker as widgets
from reprolib.ui.session import compute_panel, panel_png


def test_picker_panel_changes_with_the_exemplar(photo_pair):
    t, r = photo_pair
    other = torch.flip(r, dims=(0,))  # a reference with other colours
    session = widgets.picker_session(t, [r, other], names=["coffee", "flipped"])
    assert sorted(p.name for p in session.candidates) == ["coffee", "flipped"]
    assert session.scores[0] >= session.scores[1] and session.net.name == "colornet_full"
    a, b = compute_panel(session, 0, size=48), compute_panel(session, 1, size=48)
    assert list(a.pictures) == ["target", "reference", "warped", "similarity", "result"]
    assert "colornet_full" in a.title  # DEC's ColorNet of the synthetic world colours the picker's panels
    assert torch.equal(a.pictures["target"], b.pictures["target"]) and not torch.equal(a.result, b.result)
    assert panel_png(a).startswith(b"\x89PNG")
    with pytest.raises(ValueError, match="index"):
        compute_panel(session, 2, size=48)
    with pytest.raises(ValueError, match="2 names for 1 candidates"):
        widgets.picker_session(t, [r], names=["a", "b"])


def test_exemplar_picker_widget_updates_its_image(photo_pair):
    t, r = photo_pair
    box = widgets.exemplar_picker(t, [r, torch.flip(r, dims=(0,))], size=48)
    slider, image = box.children
    assert slider.description == "exemplar" and (slider.min, slider.max, slider.value) == (1, 2, 1)
    before = image.value
    slider.value = 2
    assert bytes(image.value) != bytes(before) and bytes(image.value).startswith(b"\x89PNG")
