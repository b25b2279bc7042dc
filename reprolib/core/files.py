"""Writing files safely: atomically, never outside a chosen folder, never over a user's file by surprise."""
from __future__ import annotations

import os
import secrets
from collections.abc import Callable
from pathlib import Path


def atomic_write(path: str | os.PathLike, write: Callable[[Path], None], *, overwrite: bool = True) -> Path:
    """Call ``write(tmp)`` on a new temporary file beside ``path``, then move it onto ``path``.

    Readers see the old file or the complete new one, never a partial one; on error nothing is left.
    With ``overwrite=False`` an existing ``path`` raises FileExistsError and stays untouched, also when it
    appears while writing (the move is a hard link, which cannot replace a file). The folder must exist.
    """
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(f"{path}: is a folder, not a file")
    if not overwrite and path.exists():
        raise _exists(path)
    if not path.parent.is_dir():
        raise FileNotFoundError(f"{path}: folder {path.parent} does not exist")
    tmp = path.parent / f".{path.name}.{secrets.token_hex(4)}.tmp"
    try:
        open(tmp, "xb").close()  # mode 0o666 less the umask, like any new file
        write(tmp)
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        if overwrite:
            os.replace(tmp, path)
        else:
            _move_no_clobber(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def _move_no_clobber(tmp: Path, path: Path) -> None:
    try:
        os.link(tmp, path)
    except FileExistsError:
        raise _exists(path) from None
    except OSError:  # no hard links on this file system: check, then replace (a small race remains)
        if path.exists():
            raise _exists(path) from None
        os.replace(tmp, path)


def _exists(path: Path) -> FileExistsError:
    return FileExistsError(f"{path}: already exists; not overwritten")


def atomic_write_text(path: str | os.PathLike, text: str, *, overwrite: bool = True) -> Path:
    """Write UTF-8 text to ``path`` atomically."""
    return atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"), overwrite=overwrite)


class OutputDir:
    """A folder that an experiment may write into, and nowhere else.

    ``out.path("figures/lab.png")`` resolves the name (following symbolic links) and refuses any
    name that would land outside the folder: absolute paths, ``..``, links that point elsewhere.
    """

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root).expanduser().resolve()
        if self.root.exists() and not self.root.is_dir():
            raise NotADirectoryError(f"output folder {self.root} exists and is not a folder")
        self.root.mkdir(parents=True, exist_ok=True)

    def path(self, name: str) -> Path:
        target = (self.root / name).resolve()
        if target != self.root and self.root not in target.parents:
            raise PermissionError(f"refusing to write {name!r}: it resolves to {target}, outside {self.root}")
        return target

    def write_text(self, name: str, text: str) -> Path:
        return atomic_write_text(self._new(name), text)

    def _new(self, name: str) -> Path:
        path = self.path(name)
        path.parent.mkdir(parents=True, exist_ok=True)
        return self.path(name)  # again: the folders just made must not lead outside either

    def save_figure(self, name: str, fig) -> Path:
        """Save a matplotlib figure as PNG (atomically) and close it."""
        import matplotlib.pyplot as plt

        try:
            return atomic_write(self._new(name), lambda tmp: fig.savefig(tmp, format="png", dpi=100))
        finally:
            plt.close(fig)
