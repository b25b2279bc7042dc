"""The exemplar picker (reprolib.picker): a plain panel function bound to a slider."""
import pytest
import torch

from reprolib import picker as widgets


def test_picker_panel_changes_with_the_exemplar(photo_pair):
    t, r = photo_pair
    other = torch.flip(r, dims=(0,))  # a reference with other colours
    picker = widgets.make_picker(t, [r, other], names=["coffee", "flipped"], size=48)
    assert sorted(picker.names) == ["coffee", "flipped"] and picker.scores[0] >= picker.scores[1]
    a, b = widgets.picker_panel(picker, 0), widgets.picker_panel(picker, 1)
    assert list(a) == ["target", "reference", "warped", "similarity", "result"]
    assert torch.equal(a["target"], b["target"]) and not torch.equal(a["result"], b["result"])
    assert widgets.panel_png(a).startswith(b"\x89PNG")
    with pytest.raises(ValueError, match="index"):
        widgets.picker_panel(picker, 2)


def test_exemplar_picker_widget_updates_its_image(photo_pair):
    t, r = photo_pair
    box = widgets.exemplar_picker(t, [r, torch.flip(r, dims=(0,))], size=48)
    slider, image = box.children
    assert slider.description == "exemplar" and (slider.min, slider.max, slider.value) == (1, 2, 1)
    before = image.value
    slider.value = 2
    assert bytes(image.value) != bytes(before) and bytes(image.value).startswith(b"\x89PNG")
