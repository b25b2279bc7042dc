"""Many files at once for ``colorize``: references given as files or folders, and a folder of targets coloured
with the same references into an output folder.

Everything that can be checked before any work is checked first, so that a mistake stops the command before it
writes anything: every reference is read (a bad one is the user's choice and stops the command, it is never
skipped), the output names are planned, and an output that would replace a file is refused for all targets at
once unless ``force``. Only targets that cannot be read are skipped while the batch runs, and listed at the end.
"""
from __future__ import annotations

import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from torch import Tensor

from .core.photos import IMAGE_SUFFIXES, SAVE_FORMATS, ImageError, load_image, save_image

if TYPE_CHECKING:
    from .colorization.colorize import Colorization

# The exact search compares every target position with every position of every reference, so its cost grows with
# their total width; beyond this many references the command refuses rather than run for minutes.
MAX_REFERENCES = 8
LISTED = 5  # names shown in a one-line error before "..."


def image_files(folder: Path) -> list[Path]:
    """The image files directly in ``folder`` (``IMAGE_SUFFIXES``, not recursive), sorted by name."""
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())


def names(paths: Iterable[Path]) -> str:
    """``paths``' names for a one-line message: the first ``LISTED``, then how many more."""
    shown = [p.name for p in paths]
    more = f" and {len(shown) - LISTED} more" if len(shown) > LISTED else ""
    return ", ".join(shown[:LISTED]) + more


def reference_files(given: Sequence[str | Path], limit: int = MAX_REFERENCES) -> list[Path]:
    """The reference files named by ``--reference`` (each a file, or a folder: its images), in order, each once.
    A folder without an image, or more than ``limit`` references, is refused in one line."""
    found: dict[Path, Path] = {}  # resolved path -> as given
    for item in map(Path, given):
        inside = image_files(item) if item.is_dir() else [item]
        if not inside:
            raise ValueError(f"--reference {item} is a folder without an image ({', '.join(IMAGE_SUFFIXES)})")
        found.update((p.resolve(), p) for p in inside if p.resolve() not in found)
    if len(found) > limit:
        raise ValueError(f"{len(found)} references given, at most {limit}: the exact search's cost grows with "
                         f"their total width (choose the {limit} closest to the target)")
    return list(found.values())


def load_references(paths: Sequence[Path]) -> list[Tensor]:
    """Every reference image, read before any work (``ImageError`` naming the first that cannot be read)."""
    return [load_image(p) for p in paths]


def output_path(target: Path, folder: Path) -> Path:
    """Where ``target``'s result goes in ``folder``: its name when it is a .png/.jpg/.jpeg, else its stem + .png."""
    return folder / (target.name if target.suffix.lower() in SAVE_FORMATS else target.stem + ".png")


def check_output_folder(folder: Path, target: Path) -> None:
    """``--output`` for a folder of targets: a folder (or a new one, in an existing folder), not the target's."""
    if folder.exists() and not folder.is_dir():
        raise NotADirectoryError(f"--output {folder} is a file; with a folder of targets it must be a folder")
    if not folder.exists() and folder.suffix.lower() in SAVE_FORMATS:
        raise ValueError(f"--output {folder} names a file; with a folder of targets it must be a folder")
    if not folder.parent.resolve().is_dir():
        raise FileNotFoundError(f"{folder.parent} is not a folder")
    if folder.resolve() == target.resolve():
        raise ValueError(f"--output {folder} is the target folder; choose another folder (inputs are never "
                         "overwritten)")


def plan_outputs(targets: Sequence[Path], folder: Path, inputs: Iterable[Path], force: bool) -> list[Path]:
    """Each target's output in ``folder`` (:func:`output_path`), refused in one line for all targets at once when
    two targets share one, when one is an input file (even with ``force``), or when one exists without ``force``."""
    outputs = [output_path(t, folder) for t in targets]
    shared = sorted(o for o, n in Counter(outputs).items() if n > 1)
    if shared:
        raise ValueError(f"several targets would be written as {names(shared)} (same name, other extension); "
                         "rename them or colour them apart")
    used = {p.resolve() for p in inputs}
    clash = [o for o in outputs if o.resolve() in used]
    if clash:
        raise ValueError(f"--output {folder} would overwrite input files ({names(clash)}); choose another folder "
                         "(inputs are never overwritten)")
    existing = [o for o in outputs if o.exists()]
    if existing and not force:
        raise FileExistsError(f"{folder} already holds {len(existing)} of the outputs ({names(existing)}); "
                              "pass --force to replace them")
    return outputs


def describe(result: Colorization) -> str:
    """What ran for ``result``: "matching: M, gray-VGG: G, net: N, smoothing: S"."""
    return (f"matching: {result.method}, gray-VGG: {result.features}, net: {result.colornet}, "
            f"smoothing: {result.smoothing}")


@dataclass
class Report:
    """What a batch did: the outputs written, the targets skipped (with the one-line reason), what ran
    (:func:`describe`) and the notes that colorize gave (each once), and the seconds it took."""

    written: list[Path] = field(default_factory=list)
    skipped: list[tuple[Path, str]] = field(default_factory=list)
    pipelines: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0


def run(targets: Sequence[Path], outputs: Sequence[Path], colour: Callable[[Tensor], Colorization],
        force: bool = False, progress: bool = True) -> Report:
    """Colour every target with ``colour`` (a Tensor in, a ``Colorization`` out) and save each result atomically to
    its output, creating their folder at the first write; a target that cannot be read is skipped (other errors
    stop the batch). A progress bar with images per second on stderr unless ``progress`` is False."""
    from tqdm import tqdm

    report, start = Report(), time.perf_counter()
    for target, out in tqdm(list(zip(targets, outputs)), desc="colorize", unit="image", file=sys.stderr,
                            disable=not progress):
        try:
            image = load_image(target)
        except ImageError as err:
            report.skipped.append((target, str(err)))
            continue
        result = colour(image)
        out.parent.mkdir(exist_ok=True)
        report.written.append(save_image(result.rgb, out, force=force))
        for seen, new in ((report.pipelines, describe(result)), (report.notes, result.note)):
            if new and new not in seen:
                seen.append(new)
    report.seconds = time.perf_counter() - start
    return report
