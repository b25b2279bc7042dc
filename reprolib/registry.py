"""Every model that can be loaded here, from the registry enums beside the networks (``python -m reprolib
models``): the gray-VGGs (``colorization.grayvgg_weights.GrayVGGWeights``), the ColorNets
(``colorization.colornet.ColorNetWeights``), the Choosers (``colorization.chooser.ChooserWeights``), the
insertion generators (``insertion.nets.InsertionWeights``), the colour classifier
(``training.colour_classifier.ColourClassifierWeights``), the video recurrence (``video.recurrent.TemporalWeights``),
and the local VGG file named by
``$REPROLIB_VGG_WEIGHTS`` when it is set.
"""
from __future__ import annotations

import os

from .colorization.chooser import ChooserWeights
from .colorization.colornet import ColorNetWeights
from .colorization.grayvgg_weights import ALIASES, GrayVGGWeights, local_weights
from .core.weights import Weights, WeightsEnum, read_provenance
from .insertion.nets import InsertionWeights
from .training.colour_classifier import ColourClassifierWeights
from .video.recurrent import TemporalWeights

ENUMS: tuple[type[WeightsEnum], ...] = (GrayVGGWeights, ColorNetWeights, ChooserWeights, InsertionWeights,
                                        ColourClassifierWeights, TemporalWeights)


def all_weights() -> list[Weights]:
    """Every registry entry, then the local file of $REPROLIB_VGG_WEIGHTS (if set)."""
    entries = [member.value for enum in ENUMS for member in enum]
    if os.environ.get("REPROLIB_VGG_WEIGHTS"):
        entries.append(local_weights(os.environ["REPROLIB_VGG_WEIGHTS"], os.environ.get("REPROLIB_VGG_ARCH", "auto"),
                                     os.environ.get("REPROLIB_VGG_CONVENTION")))
    return entries


def get(name: str) -> WeightsEnum:
    """The registry entry that ``name`` spells, as torchvision's ``get_weight`` resolves one: its registry name
    ("grayvgg_small_photo"), its enum member ("GRAYVGG_SMALL_PHOTO", "GrayVGGWeights.GRAYVGG_SMALL_PHOTO") or, for a
    gray-VGG, an alias of ``grayvgg_weights.ALIASES`` ("photo")."""
    enum_name, _, member = name.rpartition(".")
    name = ALIASES.get(member, member)
    for enum_type in ENUMS:
        if enum_name in ("", enum_type.__name__):
            try:
                return enum_type.named(name)
            except ValueError:
                continue
    raise ValueError(f"no model named {name!r}; `python -m reprolib models` lists them")


def lookup(name: str) -> Weights:
    """The entry called ``name`` (any spelling of :func:`get`), or the local file of $REPROLIB_VGG_WEIGHTS."""
    try:
        return get(name).value
    except ValueError:
        local = [entry for entry in all_weights() if entry.name == name]
        if not local:
            raise
        return local[0]


def training_logs(names: list[str] | tuple[str, ...]) -> tuple[dict[str, dict], list[str]]:
    """The training logs (``training.loop.loss_log``, in the provenance) of the entries ``names`` that have
    one, and the names of those without (files trained before logs were kept)."""
    logs, missing = {}, []
    for name in names:
        log = read_provenance(lookup(name).path).get("log")
        if log:
            logs[name] = log
        else:
            missing.append(name)
    return logs, missing


def rows() -> list[dict]:
    """One row per entry: name, kind, status (shipped, cached, local, missing), size, sha256, licence,
    where it is (package data, a torchvision URL, a local path) and what it was trained on (``features``)."""
    out = []
    for w in all_weights():
        path = w.path
        size = path.stat().st_size if path.is_file() else None
        where = f"reprolib/data/{w.file}" if w.file else (w.url or w.local)
        out.append({"name": w.name, "kind": w.kind, "status": w.status(),
                    "size_mb": None if size is None else round(size / 2**20, 1), "sha256": w.sha256,
                    "licence": w.licence, "where": where, "extractor": w.extractor, "features": w.features,
                    "convention": w.convention, "how_to_get": None if w.status() != "missing" else w.how_to_get()})
    return out


def format_rows(table: list[dict]) -> str:
    """The rows as aligned text, then a line per entry for its licence and source."""
    head = ("name", "kind", "status", "MB", "sha256", "where")
    lines = [(r["name"], r["kind"], r["status"], "-" if r["size_mb"] is None else f"{r['size_mb']:.1f}",
              (r["sha256"] or "-")[:12], r["where"]) for r in table]
    widths = [max(len(str(x)) for x in column) for column in zip(head, *lines)]
    text = ["  ".join(str(x).ljust(w) for x, w in zip(row, widths)).rstrip() for row in (head, *lines)]
    text.append("")
    for r in table:
        extra = (f"features of {r['features']}" if r["features"]
                 else f"extractor {r['extractor']}" if r["extractor"] else "")
        text.append(f"{r['name']}: licence {r['licence']}" + (f"; {extra}" if extra else "")
                    + (f"; {r['how_to_get']}" if r["how_to_get"] else ""))
    return "\n".join(text)
