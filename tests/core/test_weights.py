"""reprolib.core.weights: the one loader, deterministic atomic saving, the provenance writer; reprolib.core.seeds."""
import json
import pickle

import pytest
import torch

from reprolib.core import seeds, weights


def test_save_checkpoint_is_atomic_deterministic_and_round_trips(tmp_path):
    path = tmp_path / "sub" / "ckpt.pt"
    weights.save_checkpoint({"step": 3, "w": torch.arange(4)}, path)
    weights.save_checkpoint({"step": 4, "w": torch.arange(5)}, path)
    assert [p.name for p in path.parent.iterdir()] == ["ckpt.pt"]  # no temporary file left
    state = weights.load_checkpoint(path)
    assert state["step"] == 4 and torch.equal(state["w"], torch.arange(5))
    other = tmp_path / "elsewhere.pt"
    weights.save_checkpoint({"step": 4, "w": torch.arange(5)}, other)
    assert weights.sha256_file(other) == weights.sha256_file(path)  # the bytes do not depend on the file's name
    with pytest.raises(FileNotFoundError, match="does not exist"):
        weights.load_checkpoint(tmp_path / "missing.pt")
    torch.save([1, 2], tmp_path / "list.pt")
    with pytest.raises(ValueError, match="not a dict"):
        weights.load_checkpoint(tmp_path / "list.pt")
    with pytest.raises(ValueError, match="expected format 'x/1'"):
        weights.load_checkpoint(path, "x/1", "thing")


def test_a_registry_entry_is_checked_against_its_sha256(tmp_path, monkeypatch):
    path = tmp_path / "w.pt"
    weights.save_checkpoint({"format": "f/1", "w": torch.ones(3)}, path)
    good = weights.Weights(name="w", kind="test", local=str(path), sha256=weights.sha256_file(path))
    assert weights.load_checkpoint(good, "f/1")["w"].sum() == 3
    bad = weights.Weights(name="w", kind="test", local=str(path), sha256="0" * 64)
    with pytest.raises(ValueError, match="damaged or not the one registered") as err:
        weights.load_checkpoint(bad)
    assert "\n" not in str(err.value)
    missing = weights.Weights(name="w2", kind="test", file="nope.pt", sha256="0" * 64, command="make it")
    with pytest.raises(FileNotFoundError, match="w2 is not on this machine.*make it with `make it`"):
        weights.load_checkpoint(missing)


def test_a_file_is_checked_against_the_provenance_beside_it(tmp_path):
    path = tmp_path / "m.pt"
    weights.save_checkpoint({"w": torch.zeros(2)}, path)
    weights.write_provenance(path, command="c", seed=0, config={}, data="d", metrics={})
    weights.load_checkpoint(path)
    weights.save_checkpoint({"w": torch.ones(2)}, path)  # replaced, the provenance left stale
    with pytest.raises(ValueError, match="sha256"):
        weights.load_checkpoint(path)


def test_code_in_a_pickle_is_refused_and_not_run(tmp_path):
    marker = tmp_path / "ran"

    class Touch:
        def __reduce__(self):
            return (marker.touch, ())

    with open(tmp_path / "evil.pt", "wb") as fh:
        pickle.dump({"x": Touch()}, fh, protocol=2)
    with pytest.raises(ValueError, match="weights_only=True"):
        weights.load_checkpoint(tmp_path / "evil.pt")
    assert not marker.exists()


def test_provenance_has_the_same_keys_for_everything(tmp_path):
    path = tmp_path / "m.pt"
    weights.save_checkpoint({"format": "f/1"}, path)
    written = weights.write_provenance(path, command="python -m reprolib train x", seed=3, config={"a": (1, 2)},
                                       data="some data", metrics={"m": 1.5}, fmt="f/1", features="e")
    record = json.loads(written.read_text())
    assert tuple(record) == weights.PROVENANCE_KEYS
    assert record["sha256"] == weights.sha256_file(path) and record["bytes"] == path.stat().st_size
    assert record["config"] == {"a": [1, 2]} and record["features"] == "e" and record["seed"] == 3
    assert weights.read_provenance(path) == record and weights.read_provenance(tmp_path / "none.pt") == {}


def test_package_data_is_found_through_importlib_resources():
    assert weights.data_file("insertion", "experiment.json").is_file()
    assert weights.data_file().name == "data" and weights.data_file().parent.name == "reprolib"


def test_training_data_and_heldout_seeds_are_disjoint():
    assert seeds.train_data_seed(999_999, seeds.SEED_STRIDE - 1) < seeds.heldout_seed(0)
    assert seeds.train_data_seed(1, 0) == seeds.train_data_seed(0, seeds.SEED_STRIDE - 1) + 1
    with pytest.raises(ValueError):
        seeds.train_data_seed(0, seeds.SEED_STRIDE)
    with pytest.raises(ValueError):
        seeds.heldout_seed(-1)
