"""Weights as data, in the spirit of torchvision's ``WeightsEnum``: one loader, one provenance writer.

Every model that can be loaded is an entry of an enum of :class:`Weights` beside its network (the gray-VGGs
in ``colorization.grayvgg_weights``, the ColorNets in ``colorization.colornet``, the insertion generators in
``insertion.nets``, the colour classifier in ``training.colour_classifier``); ``reprolib.registry`` lists
them all (``python -m reprolib models``). An entry says where the file is (package data inside
``reprolib/data``, read with ``importlib.resources``, or torchvision's download cache), its sha256 (checked
on every load), its input convention, its licence, the command and seed that made it and, for a ColorNet,
the gray-VGG whose similarity maps it learned from.

* :func:`load_checkpoint` is the one way a file becomes tensors: ``torch.load(weights_only=True)`` (never
  runs code from the file), the sha256 checked, the "format" entry checked, and every problem reported in
  one line naming the file.
* :func:`save_checkpoint` writes atomically, and byte-for-byte deterministically (the archive is built in
  memory, so the file's bytes depend on its tensors only, not on its name): the same weights give the same
  sha256, and a rerun of a training command can be checked against the registry.
* :func:`write_provenance` writes ``<checkpoint>.json`` beside a checkpoint with the same keys for every
  model (``PROVENANCE_KEYS``); every trainer calls it.
"""
from __future__ import annotations

import enum
import hashlib
import io
import json
import os
import pickle
import platform
import re
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from .files import atomic_write, atomic_write_text

PROVENANCE_KEYS = ("file", "format", "sha256", "bytes", "command", "seed", "config", "data", "features",
                   "metrics", "seconds", "threads", "torch", "python", "notes", "log")
_HASHES: dict[tuple[str, int, int], str] = {}  # (path, size, mtime) -> sha256, so a file is hashed once per process


def data_file(*parts: str) -> Path:
    """A file shipped inside the package, ``reprolib/data/<parts>``, as a path (``importlib.resources``)."""
    node = resources.files("reprolib").joinpath("data", *parts)
    if not isinstance(node, Path):  # a zipped install: torch.load and PIL need real files
        raise RuntimeError(f"reprolib's package data is not on the file system ({node}); install it unzipped")
    return node


def torch_cache_file(url: str) -> Path:
    """Where ``torch.hub`` (and torchvision's weights API) keeps the download of ``url``."""
    return Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(url)


@dataclass(frozen=True)
class Weights:
    """One loadable model: where its file is, how to check it, what it expects and where it came from.

    ``file`` is a path inside ``reprolib/data`` (shipped with the package), ``url`` a download of
    torchvision's (fetched only by an explicit command, then read from torch's cache) or ``local`` a file
    of the user's (e.g. ``$REPROLIB_VGG_WEIGHTS``). ``sha256`` is the
    file's digest, or the prefix of it that torchvision puts in its file names. ``extractor`` (gray-VGGs)
    names the feature space; ``features`` (ColorNets) names the extractor whose maps the net was trained on.
    """

    name: str
    kind: str
    sha256: str
    file: str | None = None
    url: str | None = None
    local: str | None = None
    format: str | None = None
    convention: str | None = None
    licence: str = ""
    command: str | None = None
    seed: int | None = None
    extractor: str | None = None
    features: str | None = None
    source: str = ""

    @property
    def path(self) -> Path:
        """The file on this machine (it may be missing: see :meth:`status`)."""
        if self.local:
            return Path(self.local).expanduser()
        return data_file(self.file) if self.file else torch_cache_file(self.url or "")

    def status(self) -> str:
        """"shipped" (package data), "cached" (torchvision's download is here), "local" or "missing"."""
        if not self.path.is_file():
            return "missing"
        return "local" if self.local else "shipped" if self.file else "cached"

    def how_to_get(self) -> str:
        """One sentence on how to make or fetch the file."""
        if self.local:
            return "check the path"
        if self.url:
            return f"fetch it once with `python -m reprolib download {self.name}` ({self.url})"
        return f"make it with `{self.command}`" if self.command else "it ships with reprolib; reinstall the package"


class WeightsEnum(enum.Enum):
    """An enum whose members are :class:`Weights`; ``Member.path``, ``Member.sha256`` ... read the entry. A member
    is its entry's name in capitals (``GrayVGGWeights.GRAYVGG_SMALL_PHOTO`` is "grayvgg_small_photo")."""

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_") or name in ("value", "name"):
            raise AttributeError(name)
        return getattr(self.value, name)

    @classmethod
    def named(cls, name: str) -> WeightsEnum:
        """The member whose entry is called ``name`` (e.g. "grayvgg_small_synthetic", or the member's name)."""
        for member in cls:
            if name in (member.value.name, member.name):
                return member
        raise ValueError(f"no {cls.__name__} entry named {name!r}; known: {', '.join(m.value.name for m in cls)}")


# ---------------------------------------------------------------------------------------------- reading
def _first_line(err: BaseException) -> str:
    text = re.sub(r"\x1b\[[0-9;]*m", "", str(err)).strip().splitlines()
    return text[0] if text else type(err).__name__


def sha256_file(path: str | os.PathLike) -> str:
    """Hex sha256 of a file (remembered per path, size and modification time within a process)."""
    path = Path(path)
    stat = path.stat()
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    if key not in _HASHES:
        digest = hashlib.sha256()
        with open(path, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                digest.update(chunk)
        _HASHES[key] = digest.hexdigest()
    return _HASHES[key]


def verify_sha256(path: str | os.PathLike, expected: str, what: str) -> None:
    """Refuse a file whose sha256 does not start with ``expected`` (a full digest or torchvision's prefix)."""
    actual = sha256_file(path)
    if not expected or not actual.startswith(expected.lower()):
        raise ValueError(f"{what} {path} has sha256 {actual[:16]}..., expected {expected[:16]}...: the file is "
                         f"damaged or not the one registered; it was not loaded")


def read_weights(path: str | os.PathLike, what: str = "weights file") -> object:
    """torch.load(path, map_location="cpu", weights_only=True) with one-line errors.

    weights_only=True never runs code from the file: a pickle holding anything but tensors and plain
    containers is refused.
    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise FileNotFoundError(f"{what} {path} does not exist" + ("" if not path.exists() else " (not a file)"))
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        detail = next((line.strip() for line in str(err).splitlines() if "WeightsUnpickler error" in line), "")
        if "Unsupported global" in detail:  # a class or function: code that a plain pickle load would run
            detail = detail.split(" was not an allowed global")[0].replace("WeightsUnpickler error: ", "")
            raise ValueError(
                f"{what} {path} was refused by torch.load(weights_only=True): it holds Python objects other "
                f"than tensors and plain containers ({detail[:120]}); it was not loaded"
            ) from None
        detail = detail.replace("WeightsUnpickler error: ", "") or _first_line(err)
        raise ValueError(f"{what} {path} is not a readable PyTorch file ({detail[:120]})") from None
    except (RuntimeError, EOFError, OSError, ValueError, AttributeError, ImportError, IndexError, KeyError) as err:
        raise ValueError(f"{what} {path} is not a readable PyTorch file ({_first_line(err)[:120]})") from None


def state_dict_of(obj: object, path: str | os.PathLike, what: str) -> Mapping[str, Tensor]:
    """The name -> tensor mapping in ``obj`` (itself, or its "state_dict" entry), or one clear error."""
    if isinstance(obj, Mapping) and "state_dict" in obj and isinstance(obj["state_dict"], Mapping):
        obj = obj["state_dict"]
    if not isinstance(obj, Mapping) or not obj or not all(isinstance(v, Tensor) for v in obj.values()):
        kind = type(obj).__name__ if not isinstance(obj, Mapping) else "a mapping that is not name -> tensor"
        raise ValueError(f"{what} {path} does not hold a state_dict (name -> tensor), it holds {kind}")
    return obj


def recorded_sha256(path: str | os.PathLike) -> str | None:
    """The sha256 that the provenance file beside ``path`` (same name, .json) records, if there is one."""
    record = Path(path).with_suffix(".json")
    try:
        value = json.loads(record.read_text(encoding="utf-8")).get("sha256")
    except (OSError, ValueError, AttributeError):
        return None
    return value if isinstance(value, str) and value else None


def load_checkpoint(source: Weights | WeightsEnum | str | os.PathLike, fmt: str | None = None,
                    what: str = "checkpoint", make: str | None = None) -> dict:
    """Read a checkpoint dict: a registry entry (its sha256 checked) or a file (checked against the sha256
    of a provenance .json beside it, when there is one); ``fmt``, when given, must equal its "format".

    Errors are one line naming the file: missing (FileNotFoundError, with how to get it: the entry's
    command or URL, or ``make``), damaged (sha256), not a PyTorch file, code inside (refused by
    weights_only), not a dict, another format.
    """
    entry = source.value if isinstance(source, WeightsEnum) else source
    if isinstance(entry, Weights):
        path = entry.path
        if not path.is_file():
            raise FileNotFoundError(f"{what} {entry.name} is not on this machine ({path}); {entry.how_to_get()}")
        expected = entry.sha256 or (recorded_sha256(path) if entry.local else "")
    else:
        path = Path(entry).expanduser()
        if not path.is_file() and make:
            raise FileNotFoundError(f"{what} {path} does not exist; make one with `{make}`")
        expected = recorded_sha256(path) if path.is_file() else None
    obj = read_weights(path, what)
    if expected:
        verify_sha256(path, expected, what)
    if not isinstance(obj, dict):
        raise ValueError(f"{what} {path} holds a {type(obj).__name__}, not a dict")
    if fmt is not None and obj.get("format") != fmt:
        raise ValueError(f"{path} is not a {what} (expected format {fmt!r}, found {obj.get('format')!r})")
    return obj


# ---------------------------------------------------------------------------------------------- writing
def save_checkpoint(state: Mapping, path: str | os.PathLike) -> Path:
    """torch.save ``state`` to ``path`` atomically; the bytes depend on the contents only (built in memory)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    torch.save(dict(state), buffer)
    return atomic_write(path, lambda tmp: tmp.write_bytes(buffer.getvalue()))


def provenance(checkpoint: str | os.PathLike, *, command: str, seed: int | None, config: Mapping,
               data: str, metrics: Mapping, fmt: str | None = None, features: str | None = None,
               seconds: float | None = None, notes: str = "", log: Mapping | None = None) -> dict:
    """The provenance record of a checkpoint written just now: the same keys for every model. ``log``: the
    training's losses (:func:`reprolib.training.loop.loss_log`; None for files trained before logs were kept)."""
    path = Path(checkpoint)
    record = {
        "file": path.name, "format": fmt, "sha256": sha256_file(path), "bytes": path.stat().st_size,
        "command": command, "seed": seed, "config": dict(config), "data": data, "features": features,
        "metrics": dict(metrics), "seconds": seconds, "threads": torch.get_num_threads(),
        "torch": torch.__version__, "python": platform.python_version(), "notes": notes,
        "log": None if log is None else dict(log),
    }
    assert tuple(record) == PROVENANCE_KEYS
    return record


def write_provenance(checkpoint: str | os.PathLike, **fields) -> Path:
    """Write :func:`provenance` to the checkpoint's name with .json, atomically; returns that path."""
    record = provenance(checkpoint, **fields)
    return atomic_write_text(Path(checkpoint).with_suffix(".json"), json.dumps(record, indent=2) + "\n")


def read_provenance(checkpoint: str | os.PathLike) -> dict:
    """The provenance record beside a checkpoint (an empty dict if there is none)."""
    try:
        return json.loads(Path(checkpoint).with_suffix(".json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
