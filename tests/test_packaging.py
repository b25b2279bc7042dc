"""A wheel works anywhere: built, installed (not editable) into a fresh environment, and run from another folder."""
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

from reprolib import registry
from reprolib.core.photos import list_photos

REPO = Path(__file__).resolve().parents[1]
IGNORE = shutil.ignore_patterns(".venv", ".git", "build", "dist", "*.egg-info", "__pycache__", "results",
                                "checkpoints", ".ipynb_checkpoints", "notebooks", "app")
PHOTOS = REPO / "data" / "photos"  # mapped into the wheel as reprolib/data/photos (pyproject.toml)


def ignore(folder, names):
    """IGNORE, and of data/ only the photographs and the clip: a user's data sets there (data/images/ ...) are not
    copied."""
    skipped = set(IGNORE(folder, names))
    if Path(folder) == REPO / "data":
        skipped |= {name for name in names if name not in ("photos", "clips")}
    return skipped


def run(cmd, **kwargs):
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=600, **kwargs)
    assert done.returncode == 0, f"{cmd}\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}"
    return done


@pytest.mark.slow
def test_the_wheel_ships_its_weights_and_photos(tmp_path):
    src, dist, venv, elsewhere = (tmp_path / name for name in ("src", "dist", "venv", "elsewhere"))
    shutil.copytree(REPO, src, ignore=ignore)
    run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--quiet", "-w", str(dist),
         str(src)])
    wheel = next(dist.glob("reprolib-*.whl"))
    # every module of reprolib/ (pyproject.toml lists the packages) and every file of data/photos/: the
    # photographs, MANIFEST.tsv, README.md (credits, licences) and SHA256SUMS
    inside = set(zipfile.ZipFile(wheel).namelist())
    modules = {p.relative_to(REPO).as_posix() for p in (REPO / "reprolib").rglob("*.py")}
    assert modules - inside == set()
    shipped_photos = {f"reprolib/data/photos/{p.name}" for p in PHOTOS.iterdir()}
    assert {"reprolib/data/photos/MANIFEST.tsv", "reprolib/data/photos/README.md"} <= shipped_photos
    assert len(shipped_photos) == len(list_photos()) + 3 and shipped_photos - inside == set()  # + the 3 text files
    # the real clip of notebook 06 with its credits and checksum
    clips = {f"reprolib/data/clips/{p.name}" for p in (REPO / "data" / "clips").iterdir()}
    assert clips == {f"reprolib/data/clips/{n}" for n in ("bigbuckbunny.mp4", "README.md", "SHA256SUMS")} <= inside
    # a fresh environment that sees this one's dependencies (torch ...) but not its editable reprolib
    run([sys.executable, "-m", "venv", "--without-pip", str(venv)])
    python = venv / "bin" / "python"
    site = Path(run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]).stdout.strip())
    (site / "dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    run([sys.executable, "-m", "pip", "install", "--no-deps", "--no-index", "--quiet", "--target", str(site),
         str(wheel)])
    elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    where = run([str(python), "-c", "import reprolib.core.photos as p; print(p.PHOTOS_DIR, len(p.list_photos()))"],
                cwd=elsewhere, env=env)
    photos, count = where.stdout.split()
    photos = Path(photos)
    assert photos.is_relative_to(site) and count == str(len(list_photos()))
    assert all((photos / p.name).read_bytes() == p.read_bytes() for p in PHOTOS.iterdir())
    out = elsewhere / "out.png"
    run([str(python), "-m", "reprolib", "colorize", str(photos / "china.jpg"),
         "--reference", str(photos / "coffee.jpg"), "--output", str(out), "--size", "64"], cwd=elsewhere, env=env)
    assert out.stat().st_size > 1000
    from_wheel = run([str(python), "-c", "from reprolib.video.clips import clip_file, read_clip; "
                      "print(clip_file(), len(read_clip(clip_file())))"], cwd=elsewhere, env=env).stdout.split()
    assert Path(from_wheel[0]).is_relative_to(site) and from_wheel[1] == "132"
    rows = json.loads(run([str(python), "-m", "reprolib", "models", "--json"], cwd=elsewhere, env=env).stdout)
    shipped = [r for r in rows if r["where"].startswith("reprolib/data/")]
    expected = [w.name for w in registry.all_weights() if w.file]  # every entry with a shipped file
    assert [r["name"] for r in shipped] == expected and all(r["status"] == "shipped" for r in shipped)
