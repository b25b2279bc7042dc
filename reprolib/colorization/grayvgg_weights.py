"""Which gray-VGG computes the features: the registry entries of the feature extractors and their loaders.

Each extractor is a :class:`GrayVGGWeights` entry (in the spirit of torchvision's ``VGG16_Weights``): its
file or URL, sha256, input convention (how L* becomes the network's input), licence, and the name of its
feature space (``extractor``), which the ColorNets name to say whose similarity maps they learned from.

A model's registry name is its name everywhere: the entry's ``name``, its enum member (the name in capitals),
the ``--features`` choice and the provenance; ``ALIASES`` are shorter spellings that resolve to it.

* ``grayvgg_small_synthetic`` (alias ``small``): the small gray-VGG trained by this project on the synthetic world
  (``python -m reprolib train grayvgg``), shipped inside the package.
* ``grayvgg_small_photo`` (alias ``photo``): a small gray-VGG distilled from ImageNet VGG-16 on the training
  photographs (``python -m reprolib train distill``), shipped: the offline default for photographs.
* ``vgg16``: torchvision's ``VGG16_Weights.IMAGENET1K_FEATURES``, the original Caffe VGG-16 (Caffe convention: RGB
  0..255 minus the means); ``vgg16_torchvision`` / ``vgg19`` (alias ``torchvision``): ``IMAGENET1K_V1``
  (torchvision's convention). Read from torchvision's cache; fetched only by ``python -m reprolib download NAME``.
* A local file: a small gray-VGG checkpoint (``train grayvgg``, ``train distill``), or VGG weights
  (:func:`grayvgg_from_file`, ``$REPROLIB_VGG_WEIGHTS``) with a DECLARED convention (never guessed: a wrong one
  silently gives worse features).

The feature space (``extractor``) is what a ColorNet or a Chooser names to say whose maps it learned. It is the
registry name for the small nets; for an ImageNet VGG it is named after its architecture and convention, because
two sources give one network: a Caffe-convention VGG-16 file is the original VGG-16, the same feature space as
``vgg16`` (``vgg16_imagenet_caffe``), so the nets trained for one serve both.

:func:`load_extractor` turns a user's choice (a registry name, an alias, "auto" or a file) into a model;
:func:`best_available` picks the best one on this machine without downloading.
"""
from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

import torch

from ..core.weights import Weights, WeightsEnum, load_checkpoint, read_weights, sha256_file, state_dict_of
from .grayvgg import ARCHS, VGG_WIDTHS, GrayVGG

SMALL_FORMAT = "reprolib.grayvgg_small/1"
# Default small architecture: VGG-16's layout (so every VGG-16 layer name exists), 1/4 to 1/8 the width.
SMALL_WIDTHS = (16, 32, 64, 128, 128)
SMALL_CONVS = (2, 2, 3, 3, 3)
FILE_CONVENTIONS = ("torchvision", "caffe_rgb", "caffe_bgr")
ALIASES = {"photo": "grayvgg_small_photo", "small": "grayvgg_small_synthetic", "torchvision": "vgg19"}
_VGG_LICENCE = "CC BY 4.0 (the original VGG weights: Visual Geometry Group, University of Oxford)"
_TV_LICENCE = "BSD-3-Clause (torchvision); trained on ImageNet-1k, whose terms restrict use to research"


class GrayVGGWeights(WeightsEnum):
    """The feature extractors this project knows (``python -m reprolib models`` lists them)."""

    GRAYVGG_SMALL_SYNTHETIC = Weights(
        name="grayvgg_small_synthetic", kind="gray-VGG", file="grayvgg_small.pt",
        sha256="22a33f3aabf06c84c71a150aea97262e9e3b68da71bc21a827f70283264e92f3", format=SMALL_FORMAT,
        convention="l_centered", licence="MIT (trained by this project)", seed=0,
        command="python -m reprolib train grayvgg --out grayvgg_small.pt --steps 800 --seed 0",
        extractor="grayvgg_small_synthetic",
        source="small gray-VGG (VGG-16 layout, widths 16-128) trained on the synthetic world from L only")
    GRAYVGG_SMALL_PHOTO = Weights(
        name="grayvgg_small_photo", kind="gray-VGG", file="grayvgg_small_photo.pt",
        sha256="13091c14a4ddabd9ec04d398c057b8c631e6e8529b9b9a164dd34233dda71665", format=SMALL_FORMAT,
        convention="l_centered", licence="MIT (trained by this project; teacher: the original VGG-16, CC BY 4.0)",
        seed=0, command="python -m reprolib train distill --out grayvgg_small_photo.pt --teacher vgg16 --steps 1500 "
                        "--seed 0 --no-progress",
        extractor="grayvgg_small_photo",
        source="small gray-VGG (VGG-16 layout to conv5_1, widths 32-224) distilled from ImageNet VGG-16 on the "
               "training photos, from L only")
    VGG16 = Weights(
        name="vgg16", kind="gray-VGG", url="https://download.pytorch.org/models/vgg16_features-amdegroot-88682ab5.pth",
        sha256="88682ab5", convention="caffe_rgb", licence=_VGG_LICENCE, extractor="vgg16_imagenet_caffe",
        source="torchvision VGG16_Weights.IMAGENET1K_FEATURES: the original Caffe VGG-16 on ImageNet")
    VGG16_TORCHVISION = Weights(
        name="vgg16_torchvision", kind="gray-VGG", url="https://download.pytorch.org/models/vgg16-397923af.pth",
        sha256="397923af", convention="torchvision", licence=_TV_LICENCE, extractor="vgg16_imagenet_torchvision",
        source="torchvision VGG16_Weights.IMAGENET1K_V1")
    VGG19 = Weights(
        name="vgg19", kind="gray-VGG", url="https://download.pytorch.org/models/vgg19-dcbb9e9d.pth",
        sha256="dcbb9e9d", convention="torchvision", licence=_TV_LICENCE, extractor="vgg19_imagenet_torchvision",
        source="torchvision VGG19_Weights.IMAGENET1K_V1")


TORCHVISION = {"vgg16": GrayVGGWeights.VGG16, "vgg19": GrayVGGWeights.VGG19}
# what load_extractor (colorize --features, the trainers' gray-VGG settings) takes, besides a file: every registry
# name, "auto" (the best on this machine) and the aliases
CHOICES = (*(entry.value.name for entry in GrayVGGWeights), "auto", *ALIASES)


def file_extractor(arch: str, convention: str) -> str:
    """The feature space of a local VGG file: a Caffe-convention file is the original VGG ("vgg16_imagenet_caffe"),
    a torchvision-convention one torchvision's retraining ("vgg16_imagenet_torchvision")."""
    return f"{arch}_imagenet_{'caffe' if convention.startswith('caffe') else 'torchvision'}"


def _infer_arch(state: Mapping[str, torch.Tensor]) -> str:
    n_convs = sum(1 for k, v in state.items()
                  if k.endswith("weight") and not k.startswith("classifier.") and v.dim() == 4)
    for arch, convs in ARCHS.items():
        if sum(convs) == n_convs:
            return arch
    raise ValueError(f"cannot tell the VGG architecture: found {n_convs} conv weights (VGG-16 has 13, VGG-19 has 16)")


def _imagenet_vgg(state: Mapping[str, torch.Tensor], arch: str, convention: str, where: str, source: str,
                  extractor: str) -> GrayVGG:
    model = GrayVGG(ARCHS[arch], VGG_WIDTHS, convention=convention, source=source, extractor=extractor)
    model.load_features(state, what=where)
    return model.eval()


def grayvgg_from_file(path: str | os.PathLike, arch: str = "auto", convention: str | None = None) -> GrayVGG:
    """A gray-VGG with the conv weights of a local state_dict file and its DECLARED input convention.

    Args:
        path: a file written by ``torch.save(state_dict)``; keys ``features.N.weight`` (torchvision's
            ``vgg*.state_dict()`` or ``vgg*.features`` prefixed) or bare ``N.weight``.
        arch: "vgg16", "vgg19", or "auto" (told apart by the number of conv layers).
        convention: "torchvision", "caffe_rgb" or "caffe_bgr": how the weights expect their input.
            Required: a wrong convention silently gives worse features, so it is never guessed.
    """
    if convention not in FILE_CONVENTIONS:
        raise ValueError(
            f"declare the input convention of {path}: convention='torchvision', 'caffe_rgb' or 'caffe_bgr' "
            f"(got {convention!r})"
        )
    path = Path(path).expanduser()
    state = state_dict_of(read_weights(path, "VGG weights file"), path, "VGG weights file")
    if arch == "auto":
        arch = _infer_arch(state)
    if arch not in ARCHS:
        raise ValueError(f"unknown arch {arch!r}; expected one of {', '.join(ARCHS)} or 'auto'")
    return _imagenet_vgg(state, arch, convention, f"VGG weights file {path}", f"{arch} from {path} ({convention})",
                         file_extractor(arch, convention))


def local_weights(path: str | os.PathLike, arch: str = "auto", convention: str | None = None) -> Weights:
    """The registry entry of a local VGG file (for ``python -m reprolib models``): its sha256 and feature space."""
    path = Path(path).expanduser()
    exists = path.is_file()
    arch = arch if arch != "auto" else "vgg (arch inferred on load)"
    return Weights(name=f"file:{path.name}", kind="gray-VGG", local=str(path),
                   sha256=sha256_file(path) if exists else "", convention=convention, licence="the file's own",
                   source=f"local file {path}",
                   extractor=file_extractor(arch, convention) if convention in FILE_CONVENTIONS else None)


def torchvision_cache_path(arch: str = "vgg19") -> Path:
    """Where torchvision keeps the ImageNet weights of ``arch`` ("vgg16": IMAGENET1K_FEATURES, "vgg19":
    IMAGENET1K_V1); they may not be there."""
    if arch not in TORCHVISION:
        raise ValueError(f"unknown arch {arch!r}; expected one of {', '.join(TORCHVISION)}")
    return TORCHVISION[arch].path


def fetch(entry: GrayVGGWeights, progress: bool = True) -> Path:
    """Fetch a torchvision entry into torch's cache (torchvision's weights API checks the hash); the one
    place anything is downloaded, called only by ``python -m reprolib download NAME``."""
    if not entry.url:
        raise ValueError(f"{entry.value.name} is not downloadable (it {entry.how_to_get()})")
    torch.hub.load_state_dict_from_url(entry.url, map_location="cpu", progress=progress, check_hash=True,
                                       weights_only=True)
    return entry.path


def grayvgg_torchvision(arch: str = "vgg19", download: bool = False, progress: bool = True) -> GrayVGG:
    """torchvision's ImageNet VGG-19 (``VGG19_Weights.IMAGENET1K_V1``) or VGG-16
    (``VGG16_Weights.IMAGENET1K_FEATURES``, the original Caffe weights) as a gray-VGG.

    The weights are read from torchvision's cache and checked against the hash in their file name. They
    are downloaded (548 MB for VGG-19) only when ``download=True``. Note: these weights were trained on
    colour images; fed with L replicated to RGB they are the usual stand-in for the paper's gray-VGG-19.
    """
    if arch not in TORCHVISION:
        raise ValueError(f"unknown arch {arch!r}; expected one of {', '.join(TORCHVISION)}")
    return grayvgg_download(TORCHVISION[arch], download, progress)


def grayvgg_download(entry: GrayVGGWeights, download: bool = False, progress: bool = True) -> GrayVGG:
    """A downloadable entry (``vgg16``, ``vgg16_torchvision``, ``vgg19``) from torchvision's cache, checked against
    the hash in its file name; fetched only when ``download=True``."""
    arch = entry.value.name.split("_")[0]
    if download and entry.status() == "missing":
        fetch(entry, progress)
    if entry.status() == "missing":
        raise FileNotFoundError(
            f"torchvision's {arch} ImageNet weights are not cached at {entry.path}; fetch them once with "
            f"`python -m reprolib download {entry.value.name}` (or pass download=True), or load a local file "
            f"with grayvgg_from_file(path, arch, convention)")
    state = state_dict_of(load_checkpoint(entry, what=f"torchvision {arch} weights"), entry.path,
                          f"torchvision {arch} weights")
    return _imagenet_vgg(state, arch, entry.convention, f"torchvision {arch} weights {entry.path}",
                         f"torchvision {arch} ({entry.value.source})", entry.extractor)


# -- the small gray-VGG -------------------------------------------------------------------------
def small_grayvgg(
    widths: Sequence[int] = SMALL_WIDTHS,
    convs: Sequence[int] = SMALL_CONVS,
    num_classes: int = 0,
    classes: Sequence[str] = (),
    head_layers: Sequence[str] | None = None,
    head_type: str = "cosine",
    source: str = "random init",
) -> GrayVGG:
    """An untrained small gray-VGG (1-channel "l_centered" input); seed with torch.manual_seed first."""
    return GrayVGG(convs, widths, convention="l_centered", source=source, num_classes=num_classes,
                   head_layers=head_layers, head_type=head_type, classes=classes)


def random_like(model: GrayVGG, seed: int = 0) -> GrayVGG:
    """The same architecture and input convention with fresh random weights (PyTorch's default init,
    seeded; the global RNG is left untouched): the baseline that shows what training adds."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        twin = GrayVGG(model.convs, model.widths, convention=model.convention, source=f"random init (seed {seed})",
                       extractor=f"random:{seed}")
    return twin.eval()


def small_checkpoint(model: GrayVGG, dtype: torch.dtype = torch.float32, **meta) -> dict:
    """The weights_only-loadable dict that :func:`grayvgg_small` reads (model config, weights stored as
    ``dtype``: float16 halves the file and loads back into float32 parameters, metadata)."""
    return {
        "format": SMALL_FORMAT,
        "config": {"widths": list(model.widths), "convs": list(model.convs), "convention": model.convention,
                   "classes": list(model.classes), "head_layers": list(model.head_layers),
                   "head_type": model.head_type},
        "state_dict": {k: v.detach().cpu().to(dtype if v.is_floating_point() else v.dtype).clone()
                       for k, v in model.state_dict().items()},
        "meta": dict(meta),
    }


def grayvgg_small(path: str | os.PathLike | GrayVGGWeights | None = None) -> GrayVGG:
    """A small gray-VGG checkpoint: by default the shipped one trained on the synthetic world
    (``GrayVGGWeights.GRAYVGG_SMALL_SYNTHETIC``), or a registry entry, or a file written by ``train grayvgg``."""
    source = GrayVGGWeights.GRAYVGG_SMALL_SYNTHETIC if path is None else path
    entry = source if isinstance(source, GrayVGGWeights) else None
    where = entry.path if entry else Path(source).expanduser()
    obj = load_checkpoint(source, SMALL_FORMAT, "small gray-VGG checkpoint",
                          make=entry.command if entry else f"python -m reprolib train grayvgg --out {where}")
    try:
        cfg = obj["config"]
        meta = obj.get("meta", {})
        model = small_grayvgg(cfg["widths"], cfg["convs"], num_classes=len(cfg["classes"]), classes=cfg["classes"],
                              head_layers=cfg["head_layers"] or None, head_type=cfg["head_type"],
                              source=f"small gray-VGG {where.name} ({meta.get('trained_on', 'synthetic scenes')}, "
                                     f"seed {meta.get('seed')}, {meta.get('steps')} steps)")
        model.load_state_dict(obj["state_dict"])
    except (KeyError, TypeError, RuntimeError, ValueError) as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise ValueError(f"{where}: malformed small gray-VGG checkpoint ({first[:160]})") from None
    model.meta = dict(meta)
    model.extractor = entry.extractor if entry else meta.get("extractor") or f"grayvgg_small:{sha256_file(where)[:12]}"
    return model.eval()


# -- choosing one ---------------------------------------------------------------------------------
def from_environment() -> GrayVGG | None:
    """The VGG file named by $REPROLIB_VGG_WEIGHTS (convention $REPROLIB_VGG_CONVENTION, required; arch
    $REPROLIB_VGG_ARCH or inferred), or None when the variable is not set."""
    path = os.environ.get("REPROLIB_VGG_WEIGHTS")
    if not path:
        return None
    return grayvgg_from_file(path, os.environ.get("REPROLIB_VGG_ARCH", "auto"),
                             os.environ.get("REPROLIB_VGG_CONVENTION"))


def _same_network_from_environment(entry: GrayVGGWeights) -> GrayVGG | None:
    """$REPROLIB_VGG_WEIGHTS when torchvision's file of ``entry`` is not cached and the local file is declared
    as the same network (its extractor name: e.g. a Caffe-convention VGG-16 file is the original VGG-16)."""
    if entry.status() != "missing" or not os.environ.get("REPROLIB_VGG_WEIGHTS"):
        return None
    arch, convention = os.environ.get("REPROLIB_VGG_ARCH", "auto"), os.environ.get("REPROLIB_VGG_CONVENTION")
    if arch not in ARCHS or convention not in FILE_CONVENTIONS or file_extractor(arch, convention) != entry.extractor:
        return None
    return from_environment()


def best_available(prefer: str = "torchvision", verbose: bool = True) -> GrayVGG:
    """The best gray-VGG on this machine, never downloading; ``model.source`` says which one.

    Order with prefer="torchvision": torchvision's cached VGG-19, then VGG-16; then the file named by
    $REPROLIB_VGG_WEIGHTS; then the shipped small net of the synthetic world (it has every layer of every
    method; the photo gray-VGG stops at conv5_1). prefer="small" returns the small net.
    """
    if prefer not in ("torchvision", "small"):
        raise ValueError(f"prefer must be 'torchvision' or 'small', got {prefer!r}")
    model = None
    if prefer == "torchvision":
        cached = [arch for arch in ("vgg19", "vgg16") if TORCHVISION[arch].status() == "cached"]
        model = grayvgg_torchvision(cached[0]) if cached else from_environment()
    if model is None:
        model = grayvgg_small()
    if verbose:
        print(f"gray-VGG: {model.source}", file=sys.stderr)
    return model


def grayvgg_file(path: str | os.PathLike) -> GrayVGG:
    """The gray-VGG of a local file: a small gray-VGG checkpoint (``train grayvgg``, ``train distill``; its format
    says so), else VGG weights with $REPROLIB_VGG_CONVENTION and $REPROLIB_VGG_ARCH (:func:`grayvgg_from_file`)."""
    obj = read_weights(path, "gray-VGG file")
    if isinstance(obj, dict) and obj.get("format") == SMALL_FORMAT:
        return grayvgg_small(path)
    return grayvgg_from_file(path, os.environ.get("REPROLIB_VGG_ARCH", "auto"),
                             os.environ.get("REPROLIB_VGG_CONVENTION"))


def load_extractor(choice: str | os.PathLike | GrayVGG = "grayvgg_small_synthetic") -> GrayVGG:
    """The gray-VGG a user asked for: a registry name (``GrayVGGWeights``: the shipped small nets, or torchvision's
    cached ImageNet weights, never downloaded; for ``vgg16``/``vgg19`` not cached, the same network from
    $REPROLIB_VGG_WEIGHTS, declared by $REPROLIB_VGG_ARCH and $REPROLIB_VGG_CONVENTION), an alias (``ALIASES``),
    "auto" (:func:`best_available`) or a file (:func:`grayvgg_file`). A GrayVGG is passed through."""
    if isinstance(choice, GrayVGG):
        return choice.eval()
    if choice == "auto":
        return best_available(verbose=False)
    name = ALIASES.get(os.fspath(choice), os.fspath(choice))
    if name in CHOICES:
        entry = GrayVGGWeights.named(name)
        if entry.format == SMALL_FORMAT:
            return grayvgg_small(entry)
        local = _same_network_from_environment(entry)
        return local if local is not None else grayvgg_download(entry)
    if not os.path.isfile(choice):
        raise ValueError(f"features {choice!r}: not one of {', '.join(CHOICES)} and no such weights file")
    return grayvgg_file(choice)
