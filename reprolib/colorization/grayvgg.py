"""Gray-VGG features: VGG activations computed from the luminance T_L alone (He et al. 2018, Sec. 3.1).

The paper matches a gray target T and a colour reference R on features of a "gray-VGG-19", a VGG-19
trained for classification on the luminance channel only, so that both images are described from L alone
and their features are comparable. Activations are named as in VGG: block b, convolution c -> ``relu{b}_{c}``
(relu1_1 ... relu5_4 for VGG-19). DEC compares relu1_1 ... relu5_1 (``DEC_LAYERS``), the video follow-up
relu2_2 ... relu5_2 (``VID_LAYERS``).

One module, :class:`GrayVGG`, laid out like torchvision's ``vgg*.features``; where its weights come from
(torchvision's ImageNet VGG-16/19, a local file, the small net trained here) is :mod:`.grayvgg_weights`.
The small net carries a dense classification head (:class:`DenseHead`), so ``model.classify(L)`` gives
per-pixel class logits.

Input conventions (how L* in 0..100 becomes the network's input; the first three come from
:func:`reprolib.core.color.gray_vgg_input`, L replicated to three channels):

* ``"torchvision"``: L/100 in R, G and B, minus the ImageNet mean (0.485, 0.456, 0.406), over its std.
* ``"caffe_rgb"``: 2.55 L in R, G and B minus the Caffe means (123.68, 116.779, 103.939), no std.
* ``"caffe_bgr"``: the same with the means in B, G, R order (103.939, 116.779, 123.68), as in Caffe VGG.
* ``"l_centered"``: one channel, L/100 - 0.5 (the small net's own input).

For a gray input the three channels differ only by their means, so "caffe_bgr" weights are exactly
"caffe_rgb" weights with conv1_1's input channels flipped.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..core import checks, color

# Convolutions per block and channel widths of the two ImageNet VGGs (Simonyan & Zisserman 2015).
ARCHS: dict[str, tuple[int, ...]] = {"vgg16": (2, 2, 3, 3, 3), "vgg19": (2, 2, 4, 4, 4)}
VGG_WIDTHS = (64, 128, 256, 512, 512)
CONVENTIONS = ("torchvision", "caffe_rgb", "caffe_bgr", "l_centered")
DEC_LAYERS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")  # what DEC's code compares
VID_LAYERS = ("relu2_2", "relu3_2", "relu4_2", "relu5_2")  # what the video follow-up compares
MIN_SIZE = 16  # four 2x2 poolings before block 5: at least one cell left
COSINE_SCALE = 10.0  # logit scale s of the cosine classification head


def network_input(L: Tensor, convention: str) -> Tensor:
    """T_L (B, 1, H, W) in 0..100 -> the input a network trained with ``convention`` expects."""
    if convention == "l_centered":
        return L / 100.0 - 0.5
    if convention not in CONVENTIONS:
        raise ValueError(f"unknown input convention {convention!r}; expected one of {', '.join(CONVENTIONS)}")
    return color.gray_vgg_input(L, convention)


class DenseHead(nn.ModuleDict):
    """FCN-style dense classifier on several layers: one 1x1 convolution per layer, scores upsampled
    bilinearly to the image and summed.

        logits(p) = sum_l up(s cos(F_l, w_l,c))(p)      ("cosine", s = COSINE_SCALE)
        logits(p) = sum_l up(W_l F_l + b_l)(p)          ("linear")

    (F_l the features of layer l, w_l,c the class-c weight of layer l.) A ModuleDict keyed by layer name,
    so a checkpoint's keys are ``head.<layer>.weight``.
    """

    def __init__(self, channels: Mapping[str, int], num_classes: int, head_type: str = "cosine"):
        super().__init__({name: nn.Conv2d(c, num_classes, kernel_size=1, bias=head_type == "linear")
                          for name, c in channels.items()})
        self.head_type = head_type

    def forward(self, feats: Mapping[str, Tensor], size: tuple[int, int]) -> Tensor:
        """{layer: (B, C_l, h_l, w_l)} -> logits (B, num_classes, *size)."""
        logits = None
        for name, conv in self.items():
            if self.head_type == "cosine":
                y = COSINE_SCALE * F.conv2d(F.normalize(feats[name], dim=1, eps=1e-6), F.normalize(conv.weight, dim=1))
            else:
                y = conv(feats[name])
            y = F.interpolate(y, size=size, mode="bilinear", align_corners=False)
            logits = y if logits is None else logits + y
        return logits


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
        extractor: the registry's name of this feature space (``colorization.grayvgg_weights``); a ColorNet
            refuses the similarity maps of any other.
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
        extractor: str = "unregistered",
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
        self.extractor = extractor  # the feature space's name in the registry (ColorNets name the one they learned)
        self.head_layers: tuple[str, ...] = ()
        self.head: DenseHead | None = None
        if num_classes > 0:
            if head_layers is None:
                head_layers = [f"relu{b + 1}_{self.convs[b]}" for b in range(1, len(self.convs))]
            self.head_layers = tuple(self.check_layers(head_layers))
            self.head = DenseHead({name: self.channels(name) for name in self.head_layers}, num_classes, head_type)
        self.head_type = head_type

    # -- names ----------------------------------------------------------------------------------
    @property
    def layer_names(self) -> tuple[str, ...]:
        """All activation names, shallow to deep: relu1_1, relu1_2, relu2_1, ..."""
        return tuple(self._index)

    def channels(self, layer: str) -> int:
        """Number of channels of activation ``layer``."""
        self.check_layers([layer])
        return self.widths[int(layer[4:].split("_")[0]) - 1]

    def stride(self, layer: str) -> int:
        """Downsampling factor of activation ``layer`` (1 for block 1, 16 for block 5)."""
        self.check_layers([layer])
        return 2 ** (int(layer[4:].split("_")[0]) - 1)

    def check_layers(self, layers: Iterable[str]) -> list[str]:
        """The requested layer names as a list; one error naming every unknown one."""
        layers = list(layers)
        unknown = [name for name in layers if name not in self._index]
        if unknown:
            raise ValueError(f"unknown layer(s) {unknown} for this {self.describe()}; "
                             f"available: {', '.join(self._index)}")
        if not layers:
            raise ValueError("no layers requested")
        return layers

    def describe(self) -> str:
        blocks = "-".join(str(w) for w in self.widths)
        return f"gray-VGG (convs {'-'.join(map(str, self.convs))}, widths {blocks}, input {self.convention})"

    def extra_repr(self) -> str:
        return f"source={self.source!r}, convention={self.convention!r}, extractor={self.extractor!r}"

    # -- forward --------------------------------------------------------------------------------
    def forward(self, L: Tensor, layers: str | Sequence[str] = DEC_LAYERS) -> dict[str, Tensor]:
        """T_L (B, 1, H, W), CIE L* in 0..100 -> {layer name: activation (B, C, H / stride, W / stride)}.

        Only the modules up to the deepest requested layer run. L is moved to the model's device and dtype.
        ``layers`` may be one name or a sequence; the dict keeps the requested order.
        """
        wanted = self.check_layers([layers] if isinstance(layers, str) else layers)
        checks.luminance(L, "L", MIN_SIZE)
        weight = self.features[0].weight
        return self._run(network_input(L.to(device=weight.device, dtype=weight.dtype), self.convention), wanted)

    def forward_rgb(self, rgb: Tensor, layers: str | Sequence[str] = DEC_LAYERS) -> dict[str, Tensor]:
        """The same activations for a COLOUR image (B, 3, H, W), sRGB in [0, 1], under the weights' own
        convention (an ImageNet VGG's real input; the perceptual loss on photos compares colours with it)."""
        if self.in_channels != 3:
            raise ValueError(f"this {self.describe()} reads one channel, not a colour image")
        wanted = self.check_layers([layers] if isinstance(layers, str) else layers)
        if not isinstance(rgb, Tensor) or rgb.dim() != 4 or rgb.shape[1] != 3 or not rgb.is_floating_point():
            raise ValueError(f"rgb must be a float tensor (B, 3, H, W) in [0, 1], got {checks.summary(rgb)}")
        order, scale, mean, std = color.VGG_CONVENTIONS[self.convention]
        weight = self.features[0].weight
        x = rgb.to(device=weight.device, dtype=weight.dtype)
        x = x.flip(1) if order == "BGR" else x
        mean_t = torch.tensor(mean, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
        std_t = torch.tensor(std, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
        return self._run((x * scale - mean_t) / std_t, wanted)

    def _run(self, x: Tensor, wanted: list[str]) -> dict[str, Tensor]:
        """The conv stack on a prepared input, up to the deepest of ``wanted``."""
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
        return self.head(self.forward(L, self.head_layers), tuple(L.shape[-2:]))

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
                return (", ".join(f"features.{k}" if k[0].isdigit() else k for k in keys[:4])
                        + (" ..." if len(keys) > 4 else ""))

            raise ValueError(
                f"{what} does not fit {self.describe()}: expected {len(expected)} keys features.0.weight ... "
                f"features.{list(expected)[-1]}, found {len(found)}; "
                + (f"missing {len(missing)} ({few(missing)})" if missing else "")
                + ("; " if missing and unexpected else "")
                + (f"unexpected {len(unexpected)} ({few(unexpected)})" if unexpected else "")
                + arch_hint(found, self.convs)
            )
        for key, shape in expected.items():
            value = found[key]
            if not isinstance(value, Tensor) or value.shape != shape:
                raise ValueError(
                    f"{what} does not fit {self.describe()}: features.{key} should have shape {tuple(shape)}, "
                    f"found {checks.summary(value)}"
                )
        self.features.load_state_dict({k: found[k].float() for k in expected})


def arch_hint(found: Mapping[str, object], convs: Sequence[int]) -> str:
    """"; the file looks like vgg16 ..." when a state_dict's conv count is another ImageNet VGG's."""
    n = sum(1 for k, v in found.items() if k.endswith("weight") and isinstance(v, Tensor) and v.dim() == 4)
    for arch, arch_convs in ARCHS.items():
        if sum(arch_convs) == n and tuple(convs) != arch_convs:
            return f"; the file looks like {arch} ({n} conv layers): pass arch='{arch}'"
    return ""


def forward_passes(model: GrayVGG, run: Callable[[], object]) -> int:
    """How many times ``run()`` runs the gray-VGG ``model`` (its first convolution, counted with a forward hook):
    what computing each image's pyramid once saves (``matching.pyramids``)."""
    calls = []
    handle = model.features[0].register_forward_hook(lambda *_: calls.append(1))
    try:
        run()
    finally:
        handle.remove()
    return len(calls)
