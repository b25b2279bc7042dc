"""Gray-VGG features: VGG activations computed from the luminance T_L alone (He et al. 2018, Sec. 3.1).

The paper matches a gray target T and a colour reference R on features of a "gray-VGG-19", a VGG-19
trained for classification on the luminance channel only, so that both images are described from L alone
and their features are comparable. Activations are named as in VGG: block b, convolution c -> ``relu{b}_{c}``
(relu1_1 ... relu5_4 for VGG-19). DEC compares relu1_1 ... relu5_1 (``DEC_LAYERS``), the video follow-up
relu2_2 ... relu5_2 (``VID_LAYERS``).

Three sources of weights, one module (:class:`GrayVGG`):

* :func:`grayvgg_torchvision` -- torchvision's ImageNet VGG-19 (or VGG-16), the real path for photographs.
  It reads torchvision's cache (``torch.hub.get_dir()/checkpoints``) and downloads only when asked to.
* :func:`grayvgg_from_file` -- a local state_dict with a DECLARED input convention (never guessed).
* :func:`grayvgg_small` -- a small gray-VGG (same layer names, fewer channels) trained by this project on
  the synthetic world of :mod:`reprolib.scenes` (``python -m reprolib train grayvgg``); it carries its
  dense classification head, so ``model.classify(L)`` gives per-pixel class logits.

:func:`best_available` picks the best of these that is present on this machine, without downloading.

Input conventions (how L* in 0..100 becomes the network's input; the first three come from
:func:`reprolib.color.gray_vgg_input`, L replicated to three channels):

* ``"torchvision"``: L/100 in R, G and B, minus the ImageNet mean (0.485, 0.456, 0.406), over its std.
* ``"caffe_rgb"``: 2.55 L in R, G and B minus the Caffe means (123.68, 116.779, 103.939), no std.
* ``"caffe_bgr"``: the same with the means in B, G, R order (103.939, 116.779, 123.68), as in Caffe VGG.
* ``"l_centered"``: one channel, L/100 - 0.5 (the small net's own input).

For a gray input the three channels differ only by their means, so "caffe_bgr" weights are exactly
"caffe_rgb" weights with conv1_1's input channels flipped.
"""
from __future__ import annotations

import os
import pickle
import re
import sys
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from urllib.parse import urlparse

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from . import color

# Convolutions per block and channel widths of the two ImageNet VGGs (Simonyan & Zisserman 2015).
ARCHS: dict[str, tuple[int, ...]] = {"vgg16": (2, 2, 3, 3, 3), "vgg19": (2, 2, 4, 4, 4)}
VGG_WIDTHS = (64, 128, 256, 512, 512)
CONVENTIONS = ("torchvision", "caffe_rgb", "caffe_bgr", "l_centered")
DEC_LAYERS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")  # what DEC's code compares
VID_LAYERS = ("relu2_2", "relu3_2", "relu4_2", "relu5_2")  # what the video follow-up compares

# The shipped small gray-VGG (trained by `python -m reprolib train grayvgg`, provenance in the .json).
DATA_DIR = Path(__file__).resolve().parent.parent / "data"
SMALL_CHECKPOINT = DATA_DIR / "grayvgg_small.pt"
SMALL_FORMAT = "reprolib.grayvgg_small/1"
# Default small architecture: VGG-16's layout (so every VGG-16 layer name exists), 1/4 to 1/8 the width.
SMALL_WIDTHS = (16, 32, 64, 128, 128)
SMALL_CONVS = (2, 2, 3, 3, 3)
MIN_SIZE = 16  # four 2x2 poolings before block 5: at least one cell left
COSINE_SCALE = 10.0  # logit scale s of the cosine classification head


def _tensor_summary(x: object) -> str:
    return f"shape {tuple(x.shape)}" if isinstance(x, Tensor) else type(x).__name__


def check_luminance(L: object, name: str = "L") -> Tensor:
    """Validate a batch of luminance images: a float tensor (B, 1, H, W), H, W >= 16, no NaN."""
    if not isinstance(L, Tensor):
        raise ValueError(f"{name} must be a torch.Tensor shaped (B, 1, H, W), got {type(L).__name__}")
    if L.dim() != 4 or L.shape[1] != 1:
        raise ValueError(f"{name} must be shaped (B, 1, H, W) (CIE L* in 0..100), got {_tensor_summary(L)}")
    if not L.is_floating_point():
        raise ValueError(f"{name} must be a floating-point tensor, got {L.dtype}")
    if L.shape[-1] < MIN_SIZE or L.shape[-2] < MIN_SIZE:
        raise ValueError(f"{name} must be at least {MIN_SIZE} x {MIN_SIZE} pixels, got {tuple(L.shape[-2:])}")
    if torch.isnan(L).any():
        raise ValueError(f"{name} contains NaN values")
    return L


def network_input(L: Tensor, convention: str) -> Tensor:
    """T_L (B, 1, H, W) in 0..100 -> the input a network trained with ``convention`` expects."""
    if convention == "l_centered":
        return L / 100.0 - 0.5
    if convention not in CONVENTIONS:
        raise ValueError(f"unknown input convention {convention!r}; expected one of {', '.join(CONVENTIONS)}")
    return color.gray_vgg_input(L, convention)


class GrayVGG(nn.Module):
    """The convolutional part of a VGG, applied to a luminance image, returning named activations.

    ``features`` is an ``nn.Sequential`` laid out exactly like torchvision's ``vgg*.features``
    (3x3 conv + ReLU, repeated, then a 2x2 max-pool closing every block), so its state_dict keys are
    torchvision's ``features.N.weight`` / ``features.N.bias``.

    Args:
        convs: convolutions per block, e.g. (2, 2, 3, 3, 3) for VGG-16, (2, 2, 4, 4, 4) for VGG-19.
        widths: output channels per block, e.g. (64, 128, 256, 512, 512).
        convention: input convention (see the module docstring); "l_centered" means a 1-channel input.
        source: a human-readable note of where the weights came from.
        num_classes: if > 0, add a dense classification head (1x1 convolutions on ``head_layers``,
            upsampled bilinearly to the input size and summed, as in FCN); used by the small net.
        head_layers: the layers the head reads (default: the last ReLU of blocks 2 to 5).
        head_type: "cosine" (logits = s cos(feature, class weight), s = COSINE_SCALE: the features are
            trained for the cosine similarity that matching uses) or "linear" (a plain 1x1 convolution).
        classes: names of the head's classes.
    """

    def __init__(
        self,
        convs: Sequence[int] = ARCHS["vgg19"],
        widths: Sequence[int] = VGG_WIDTHS,
        *,
        convention: str = "torchvision",
        source: str = "random init",
        num_classes: int = 0,
        head_layers: Sequence[str] | None = None,
        head_type: str = "cosine",
        classes: Sequence[str] = (),
    ):
        super().__init__()
        if head_type not in ("linear", "cosine"):
            raise ValueError(f"head_type must be 'linear' or 'cosine', got {head_type!r}")
        if convention not in CONVENTIONS:
            raise ValueError(f"unknown input convention {convention!r}; expected one of {', '.join(CONVENTIONS)}")
        if len(convs) != len(widths) or not convs or min(convs) < 1 or min(widths) < 1:
            raise ValueError(f"convs and widths must be equally long lists of positive ints, got {convs}, {widths}")
        self.convs = tuple(int(n) for n in convs)
        self.widths = tuple(int(w) for w in widths)
        self.convention = convention
        self.source = source
        self.in_channels = 1 if convention == "l_centered" else 3
        layers: list[nn.Module] = []
        self._index: dict[str, int] = {}  # layer name -> index of its ReLU in `features`
        channels = self.in_channels
        for b, (n, width) in enumerate(zip(self.convs, self.widths)):
            for c in range(n):
                layers.append(nn.Conv2d(channels, width, kernel_size=3, padding=1))
                layers.append(nn.ReLU(inplace=False))
                self._index[f"relu{b + 1}_{c + 1}"] = len(layers) - 1
                channels = width
            layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
        self.features = nn.Sequential(*layers)
        self.classes = tuple(classes)
        self.meta: dict = {}
        self.head_layers: tuple[str, ...] = ()
        self.head: nn.ModuleDict | None = None
        if num_classes > 0:
            if head_layers is None:
                head_layers = [f"relu{b + 1}_{self.convs[b]}" for b in range(1, len(self.convs))]
            self.head_layers = tuple(self._check_layers(head_layers))
            self.head = nn.ModuleDict({name: nn.Conv2d(self.channels(name), num_classes, kernel_size=1,
                                                       bias=head_type == "linear") for name in self.head_layers})
        self.head_type = head_type

    # -- names ----------------------------------------------------------------------------------
    @property
    def layer_names(self) -> tuple[str, ...]:
        """All activation names, shallow to deep: relu1_1, relu1_2, relu2_1, ..."""
        return tuple(self._index)

    def channels(self, layer: str) -> int:
        """Number of channels of activation ``layer``."""
        self._check_layers([layer])
        return self.widths[int(layer[4:].split("_")[0]) - 1]

    def stride(self, layer: str) -> int:
        """Downsampling factor of activation ``layer`` (1 for block 1, 16 for block 5)."""
        self._check_layers([layer])
        return 2 ** (int(layer[4:].split("_")[0]) - 1)

    def _check_layers(self, layers: Iterable[str]) -> list[str]:
        layers = list(layers)
        unknown = [name for name in layers if name not in self._index]
        if unknown:
            raise ValueError(f"unknown layer(s) {unknown} for this {self.describe()}; available: {', '.join(self._index)}")
        if not layers:
            raise ValueError("no layers requested")
        return layers

    def describe(self) -> str:
        blocks = "-".join(str(w) for w in self.widths)
        return f"gray-VGG (convs {'-'.join(map(str, self.convs))}, widths {blocks}, input {self.convention})"

    def extra_repr(self) -> str:
        return f"source={self.source!r}, convention={self.convention!r}"

    # -- forward --------------------------------------------------------------------------------
    def forward(self, L: Tensor, layers: str | Sequence[str] = DEC_LAYERS) -> dict[str, Tensor]:
        """T_L (B, 1, H, W), CIE L* in 0..100 -> {layer name: activation (B, C, H / stride, W / stride)}.

        Only the modules up to the deepest requested layer run. L is moved to the model's device and dtype.
        ``layers`` may be one name or a sequence; the dict keeps the requested order.
        """
        wanted = self._check_layers([layers] if isinstance(layers, str) else layers)
        check_luminance(L)
        weight = self.features[0].weight
        x = network_input(L.to(device=weight.device, dtype=weight.dtype), self.convention)
        by_index = {self._index[name]: name for name in wanted}
        last = max(by_index)
        out: dict[str, Tensor] = {}
        for i, module in enumerate(self.features):
            x = module(x)
            if i in by_index:
                out[by_index[i]] = x
            if i == last:
                break
        return {name: out[name] for name in wanted}

    def classify(self, L: Tensor) -> Tensor:
        """Per-pixel class logits (B, num_classes, H, W) from the dense head (small net only).

        logits(p) = sum over head layers l of up(s cos(F_l, w_l,c))(p)  (cosine head; F_l = relu_l(T_L),
        w_l,c the class-c weight of layer l, up = bilinear upsampling to the input size), or
        sum_l up(W_l F_l + b_l)(p) for the linear head.
        """
        if self.head is None:
            raise ValueError(f"this {self.describe()} ({self.source}) has no classification head")
        feats = self.forward(L, self.head_layers)
        size = L.shape[-2:]
        logits = None
        for name in self.head_layers:
            conv = self.head[name]
            if self.head_type == "cosine":
                y = COSINE_SCALE * F.conv2d(F.normalize(feats[name], dim=1, eps=1e-6), F.normalize(conv.weight, dim=1))
            else:
                y = conv(feats[name])
            y = F.interpolate(y, size=size, mode="bilinear", align_corners=False)
            logits = y if logits is None else logits + y
        return logits

    # -- weights --------------------------------------------------------------------------------
    def load_features(self, state: Mapping[str, Tensor], what: str = "state_dict") -> None:
        """Load conv weights from a mapping with keys ``features.N.weight`` or bare ``N.weight``.

        ``classifier.*`` keys (the fully-connected layers of a full torchvision VGG) are ignored.
        Wrong keys or shapes raise one ValueError naming what was expected and what was found.
        """
        expected = {k: v.shape for k, v in self.features.state_dict().items()}
        found: dict[str, Tensor] = {}
        for key, value in state.items():
            if not isinstance(key, str):
                raise ValueError(f"{what} has a non-string key {key!r}; expected keys like 'features.0.weight'")
            if key.startswith("classifier."):
                continue
            found[key[len("features."):] if key.startswith("features.") else key] = value
        missing = [k for k in expected if k not in found]
        unexpected = [k for k in found if k not in expected]
        if missing or unexpected:
            def few(keys):
                return ", ".join(f"features.{k}" if k[0].isdigit() else k for k in keys[:4]) + (" ..." if len(keys) > 4 else "")

            raise ValueError(
                f"{what} does not fit {self.describe()}: expected {len(expected)} keys features.0.weight ... "
                f"features.{list(expected)[-1]}, found {len(found)}; "
                + (f"missing {len(missing)} ({few(missing)})" if missing else "")
                + ("; " if missing and unexpected else "")
                + (f"unexpected {len(unexpected)} ({few(unexpected)})" if unexpected else "")
                + _arch_hint(found, self.convs)
            )
        for key, shape in expected.items():
            value = found[key]
            if not isinstance(value, Tensor) or value.shape != shape:
                raise ValueError(
                    f"{what} does not fit {self.describe()}: features.{key} should have shape {tuple(shape)}, "
                    f"found {_tensor_summary(value)}"
                )
        self.features.load_state_dict({k: found[k].float() for k in expected})


# -- reading files ------------------------------------------------------------------------------
def _first_line(err: BaseException) -> str:
    text = re.sub(r"\x1b\[[0-9;]*m", "", str(err)).strip().splitlines()
    return text[0] if text else type(err).__name__


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


def _as_state_dict(obj: object, path: Path, what: str) -> Mapping[str, Tensor]:
    if isinstance(obj, Mapping) and "state_dict" in obj and isinstance(obj["state_dict"], Mapping):
        obj = obj["state_dict"]
    if not isinstance(obj, Mapping) or not obj or not all(isinstance(v, Tensor) for v in obj.values()):
        kind = type(obj).__name__ if not isinstance(obj, Mapping) else "a mapping that is not name -> tensor"
        raise ValueError(f"{what} {path} does not hold a state_dict (name -> tensor), it holds {kind}")
    return obj


def _arch_hint(found: Mapping[str, object], convs: Sequence[int]) -> str:
    n = sum(1 for k, v in found.items() if k.endswith("weight") and isinstance(v, Tensor) and v.dim() == 4)
    for arch, arch_convs in ARCHS.items():
        if sum(arch_convs) == n and tuple(convs) != arch_convs:
            return f"; the file looks like {arch} ({n} conv layers): pass arch='{arch}'"
    return ""


def _infer_arch(state: Mapping[str, Tensor]) -> str:
    n_convs = sum(1 for k, v in state.items() if k.endswith("weight") and not k.startswith("classifier.") and v.dim() == 4)
    for arch, convs in ARCHS.items():
        if sum(convs) == n_convs:
            return arch
    raise ValueError(f"cannot tell the VGG architecture: found {n_convs} conv weights (VGG-16 has 13, VGG-19 has 16)")


def grayvgg_from_file(path: str | os.PathLike, arch: str = "auto", convention: str | None = None) -> GrayVGG:
    """A gray-VGG with the conv weights of a local state_dict file and its DECLARED input convention.

    Args:
        path: a file written by ``torch.save(state_dict)``; keys ``features.N.weight`` (torchvision's
            ``vgg*.state_dict()`` or ``vgg*.features`` prefixed) or bare ``N.weight``.
        arch: "vgg16", "vgg19", or "auto" (told apart by the number of conv layers).
        convention: "torchvision", "caffe_rgb" or "caffe_bgr": how the weights expect their input.
            Required: a wrong convention silently gives worse features, so it is never guessed.
    """
    if convention not in ("torchvision", "caffe_rgb", "caffe_bgr"):
        raise ValueError(
            f"declare the input convention of {path}: convention='torchvision', 'caffe_rgb' or 'caffe_bgr' (got {convention!r})"
        )
    path = Path(path).expanduser()
    state = _as_state_dict(read_weights(path, "VGG weights file"), path, "VGG weights file")
    if arch == "auto":
        arch = _infer_arch(state)
    if arch not in ARCHS:
        raise ValueError(f"unknown arch {arch!r}; expected one of {', '.join(ARCHS)} or 'auto'")
    model = GrayVGG(ARCHS[arch], VGG_WIDTHS, convention=convention, source=f"{arch} from {path} ({convention})")
    model.load_features(state, what=f"VGG weights file {path}")
    return model.eval()


def _torchvision_weights(arch: str):
    import torchvision.models as tvm

    if arch not in ARCHS:
        raise ValueError(f"unknown arch {arch!r}; expected one of {', '.join(ARCHS)}")
    return getattr(tvm, f"VGG{arch[3:]}_Weights").IMAGENET1K_V1


def torchvision_cache_path(arch: str = "vgg19") -> Path:
    """Where torchvision keeps the ImageNet weights of ``arch`` (they may not be there)."""
    name = os.path.basename(urlparse(_torchvision_weights(arch).url).path)
    return Path(torch.hub.get_dir()) / "checkpoints" / name


def grayvgg_torchvision(arch: str = "vgg19", download: bool = False, progress: bool = True) -> GrayVGG:
    """torchvision's ImageNet VGG-19 (``VGG19_Weights.IMAGENET1K_V1``) or VGG-16 as a gray-VGG.

    The weights are read from torchvision's cache. They are downloaded (548 MB for VGG-19, checked
    against torchvision's hash) only when ``download=True``. Note: these weights were trained on colour
    images; fed with L replicated to RGB they are the usual stand-in for the paper's gray-VGG-19.
    """
    weights = _torchvision_weights(arch)
    path = torchvision_cache_path(arch)
    if path.is_file():
        state = read_weights(path, f"torchvision {arch} weights")
    elif download:
        state = torch.hub.load_state_dict_from_url(weights.url, map_location="cpu", progress=progress, check_hash=True, weights_only=True)
    else:
        raise FileNotFoundError(
            f"torchvision's {arch} ImageNet weights are not cached at {path}; pass download=True to fetch them "
            f"({weights.url}), or load a local file with grayvgg_from_file(path, arch, convention)"
        )
    model = GrayVGG(ARCHS[arch], VGG_WIDTHS, convention="torchvision", source=f"torchvision {arch} {weights}")
    model.load_features(_as_state_dict(state, path, f"torchvision {arch} weights"), what=f"torchvision {arch} weights {path}")
    return model.eval()


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
        twin = GrayVGG(model.convs, model.widths, convention=model.convention, source=f"random init (seed {seed})")
    return twin.eval()


def small_checkpoint(model: GrayVGG, **meta) -> dict:
    """The weights_only-loadable dict that :func:`grayvgg_small` reads (model config, weights, metadata)."""
    return {
        "format": SMALL_FORMAT,
        "config": {"widths": list(model.widths), "convs": list(model.convs), "convention": model.convention,
                   "classes": list(model.classes), "head_layers": list(model.head_layers),
                   "head_type": model.head_type},
        "state_dict": {k: v.detach().cpu().clone() for k, v in model.state_dict().items()},
        "meta": dict(meta),
    }


def grayvgg_small(path: str | os.PathLike | None = None) -> GrayVGG:
    """The small gray-VGG trained on the synthetic world (default: the shipped data/grayvgg_small.pt)."""
    path = Path(path).expanduser() if path is not None else SMALL_CHECKPOINT
    obj = read_weights(path, "small gray-VGG checkpoint")
    if not isinstance(obj, Mapping) or obj.get("format") != SMALL_FORMAT:
        raise ValueError(f"{path} is not a small gray-VGG checkpoint (expected format {SMALL_FORMAT!r}); "
                         f"make one with `python -m reprolib train grayvgg --out {path}`")
    try:
        cfg = obj["config"]
        meta = obj.get("meta", {})
        model = small_grayvgg(cfg["widths"], cfg["convs"], num_classes=len(cfg["classes"]), classes=cfg["classes"],
                              head_layers=cfg["head_layers"] or None, head_type=cfg["head_type"],
                              source=f"small gray-VGG {path.name} (synthetic scenes, seed {meta.get('seed')}, "
                                     f"{meta.get('steps')} steps)")
        model.load_state_dict(obj["state_dict"])
    except (KeyError, TypeError, RuntimeError, ValueError) as err:
        raise ValueError(f"{path}: malformed small gray-VGG checkpoint ({_first_line(err)[:160]})") from None
    model.meta = dict(meta)
    return model.eval()


def best_available(prefer: str = "torchvision", verbose: bool = True) -> GrayVGG:
    """The best gray-VGG on this machine, never downloading; ``model.source`` says which one.

    Order with prefer="torchvision": torchvision's cached VGG-19, then VGG-16; then the file named by
    $REPROLIB_VGG_WEIGHTS (its convention in $REPROLIB_VGG_CONVENTION, required; arch from
    $REPROLIB_VGG_ARCH or inferred); then the shipped small net. prefer="small" returns the small net.
    """
    if prefer not in ("torchvision", "small"):
        raise ValueError(f"prefer must be 'torchvision' or 'small', got {prefer!r}")
    model = None
    if prefer == "torchvision":
        for arch in ("vgg19", "vgg16"):
            if torchvision_cache_path(arch).is_file():
                model = grayvgg_torchvision(arch)
                break
        if model is None and os.environ.get("REPROLIB_VGG_WEIGHTS"):
            model = grayvgg_from_file(os.environ["REPROLIB_VGG_WEIGHTS"], os.environ.get("REPROLIB_VGG_ARCH", "auto"),
                                      os.environ.get("REPROLIB_VGG_CONVENTION"))
    if model is None:
        model = grayvgg_small()
    if verbose:
        print(f"gray-VGG: {model.source}", file=sys.stderr)
    return model
