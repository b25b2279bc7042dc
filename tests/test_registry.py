"""The weights registry (reprolib.registry): every shipped file is the one registered, with its provenance."""
import pytest

from reprolib import registry
from reprolib.core.weights import PROVENANCE_KEYS, read_provenance, sha256_file

SHIPPED = [w for w in registry.all_weights() if w.file]


@pytest.mark.parametrize("entry", SHIPPED, ids=lambda w: w.name)
def test_shipped_file_matches_the_registry_and_its_provenance(entry):
    assert entry.status() == "shipped", entry.path
    record = read_provenance(entry.path)
    assert tuple(record) == PROVENANCE_KEYS
    assert sha256_file(entry.path) == entry.sha256 == record["sha256"]
    assert record["bytes"] == entry.path.stat().st_size <= 5 * 2**20  # the repository stays small
    assert record["format"] == entry.format and record["seed"] == entry.seed
    assert record["command"].startswith(("python -m reprolib train", "OMP_NUM_THREADS=1 python -m reprolib train"))
    assert entry.licence and entry.command


def test_every_colornet_names_an_extractor_of_the_registry():
    extractors = {w.extractor for w in registry.all_weights() if w.kind == "gray-VGG"}
    for w in registry.all_weights():
        if w.kind == "ColorNet" and w.features is not None:
            assert w.features in extractors, w.name
            assert read_provenance(w.path)["features"] == w.features


def test_names_are_unique_and_lookup_finds_them():
    names = [w.name for w in registry.all_weights()]
    assert len(names) == len(set(names))
    assert registry.lookup("colornet_full").kind == "ColorNet"
    with pytest.raises(ValueError, match="no model named"):
        registry.lookup("nonsense")


def test_the_local_file_of_the_environment_is_listed(tmp_path, monkeypatch):
    path = tmp_path / "vgg.pth"
    path.write_bytes(b"x")
    monkeypatch.setenv("REPROLIB_VGG_WEIGHTS", str(path))
    monkeypatch.setenv("REPROLIB_VGG_CONVENTION", "caffe_rgb")
    monkeypatch.setenv("REPROLIB_VGG_ARCH", "vgg16")
    row = next(r for r in registry.rows() if r["name"] == "file:vgg.pth")
    assert row["status"] == "local" and row["extractor"] == "vgg16_imagenet_caffe" and len(row["sha256"]) == 64


def test_a_model_has_one_name_and_every_spelling_resolves_to_it():
    """The registry name is the enum member in capitals and the --features choice; the member's spellings and the
    gray-VGGs' aliases resolve through the registry, as torchvision's get_weight does."""
    from reprolib.colorization.chooser import ChooserWeights
    from reprolib.colorization.grayvgg_weights import ALIASES, CHOICES, GrayVGGWeights

    for enum_type in registry.ENUMS:
        for member in enum_type:
            assert member.name.lower() == member.value.name
            for spelling in (member.value.name, member.name, f"{enum_type.__name__}.{member.name}"):
                assert registry.get(spelling) is member
    assert registry.get("photo") is GrayVGGWeights.GRAYVGG_SMALL_PHOTO and set(ALIASES) <= set(CHOICES)
    assert {m.value.name for m in GrayVGGWeights} <= set(CHOICES)
    assert registry.get("ChooserWeights.CHOOSER_SMALL") is ChooserWeights.CHOOSER_SMALL
    with pytest.raises(ValueError, match="no model named"):
        registry.get("GrayVGGWeights.CHOOSER_SMALL")  # the member of another enum
