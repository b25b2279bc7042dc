import os

import pytest

from reprolib.core.files import OutputDir, atomic_write, atomic_write_text


def test_atomic_write_replaces_and_leaves_no_temp(tmp_path):
    target = tmp_path / "a.txt"
    atomic_write_text(target, "one")
    atomic_write_text(target, "two")
    assert target.read_text() == "two"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt"]


def test_atomic_write_failure_keeps_old_file(tmp_path):
    target = tmp_path / "a.txt"
    target.write_text("precious")

    def broken(tmp):
        tmp.write_text("half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        atomic_write(target, broken)
    assert target.read_text() == "precious"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt"]


def test_no_overwrite(tmp_path):
    target = tmp_path / "a.txt"
    target.write_text("precious")
    with pytest.raises(FileExistsError):
        atomic_write_text(target, "new", overwrite=False)
    assert target.read_text() == "precious"


@pytest.mark.parametrize("name", ["../escape.txt", "/tmp/escape.txt", "figures/../../escape.txt"])
def test_output_dir_refuses_names_outside(tmp_path, name):
    out = OutputDir(tmp_path / "out")
    with pytest.raises(PermissionError, match="outside"):
        out.write_text(name, "x")
    assert not (tmp_path / "escape.txt").exists()


def test_output_dir_refuses_symlink_out(tmp_path):
    out = OutputDir(tmp_path / "out")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    os.symlink(elsewhere, out.root / "figures")
    with pytest.raises(PermissionError):
        out.write_text("figures/x.txt", "x")
    assert list(elsewhere.iterdir()) == []


def test_output_dir_writes_inside(tmp_path):
    out = OutputDir(tmp_path / "out")
    path = out.write_text("figures/a.txt", "ok")
    assert path == (tmp_path / "out" / "figures" / "a.txt").resolve()
    assert path.read_text() == "ok"


def test_output_dir_that_is_a_file(tmp_path):
    (tmp_path / "f").write_text("mine")
    with pytest.raises(NotADirectoryError):
        OutputDir(tmp_path / "f")
    assert (tmp_path / "f").read_text() == "mine"
