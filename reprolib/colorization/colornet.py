"""The colorization sub-net of He et al. 2018 (Sec. 3.2): a U-Net from 13 channels to P_ab.

    P_ab = C(T_L, sim_T<->R, R'_ab; theta),        P_L = T_L,        P_lab = (T_L, P_ab)

Input and output conventions (the same everywhere in the project):

* **Input** (B, 13, H, W): :func:`colornet_input` of the similarity sub-net's output
  (``matching.match``) with normalization "dec": channels 0-4 sim_T->R, 5-9 sim_T<->R (per layer relu1_1 ...
  relu5_1) as (255 s - 127) / 2, channel 10 T_L - 50, channels 11-12 R'_ab raw a*, b*. ColorNet rescales
  these fixed ranges to about [-1, 1] itself (sims / 64, L / 50, ab / 110), so callers pass DEC's numbers.
  The automatic baseline (``in_channels=1``) reads channel 10 only: (B, 1, H, W) = T_L - 50.
* **Output** (B, 2, H, W): P_ab in raw a*, b*, 100 tanh(y) (DEC's output layer), so |P_ab| < 100.
  With ``residual=True`` (the trainer's default; the shipped 13-channel nets) the last layer predicts a correction of
  the input chrominance instead: P_ab = 100 tanh(y + atanh(R'_ab / 100)), and y starts at 0 (zero-initialised
  1x1 convolution), so an untrained net returns R'_ab and training learns where to change it.
* With ``guided=r`` (off in the shipped nets) P_ab passes last through ``smoothing.guided_layer``, He et al.'s guided
  filter with guide T_L, as a differentiable layer trained with the net (notebook 05 measures it).
* Any H, W: the input is padded (replicate) on the bottom and right to multiples of 8, the output cropped back.

Layout (DEC's ExampleColorNet = Zhang et al. 2017's SIGGRAPHGenerator): encoder blocks of
64, 128, 256, 512 channels (2, 2, 3, 3 convs), each block after the first reading its predecessor
subsampled x2; two blocks of 512 with dilation 2; one block of 512; decoder blocks 256, 128, 128, each a
4x4 transposed convolution (x2) plus a 3x3 projection of the encoder block of the same resolution (skip
connections from blocks 3, 2, 1); a 1x1 convolution to 2 channels; tanh x 100.

Deviations from the paper: every width is multiplied by ``width`` (default 1/8: 8 ... 64 channels, about
0.53 M parameters instead of about 32 M, so that it trains on a CPU in minutes; a 256 x 256 forward pass
takes about 0.1 s on one CPU thread); GroupNorm instead of BatchNorm, so that a result does not depend on
how a batch is split across processes (DDP) or on the batch size; the fixed input rescaling above; the
residual output (a CPU-sized net trained for minutes starts from the warped reference instead of having
to learn to copy it first: after 800 steps the plain output scored 4.40 CIEDE2000, worse than R'_ab alone
at 3.35, the residual one 3.01 (2.84 after 1600 steps); see :mod:`reprolib.training.colornet`).

Weights: every shipped ColorNet is a :class:`ColorNetWeights` entry that names the gray-VGG whose similarity
maps it was trained on; :func:`check_pairing` refuses to run a net on another extractor's maps (their
numbers mean something else), unless forced, with a warning.
"""
from __future__ import annotations

import os
import warnings

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..core import checks
from ..core.weights import Weights, WeightsEnum, load_checkpoint
from .smoothing import guided_layer

IN_CHANNELS = 13  # 5 + 5 similarity maps, T_L, R'_ab
L_CHANNEL = 10  # index of T_L - 50 in the 13-channel input
MULTIPLE = 8  # three x2 subsamplings
OUT_SCALE = 100.0  # P_ab = 100 tanh(y) (DEC)
BASE_WIDTHS = (64, 128, 256, 512)  # encoder blocks 1-4 of DEC / Zhang 2017
FORMAT = "reprolib.colornet/1"
NORMALIZATIONS = ("dec", "unit")
SYNTHETIC_FEATURES = "grayvgg_small_synthetic"  # the extractor of the nets trained on the synthetic world
_COMMAND = ("python -m reprolib train colornet --out {file} --mode {mode} --steps {steps} --batch-size 16{pool} "
            "--seed 0 --no-progress")


def _photo_net(name: str, features: str, maps: str, sha256: str, choice: str | None = None) -> Weights:
    """The entry of a ColorNet trained by ``train photo-colornet`` (the shipped training photos) on the maps of
    ``features`` (its provenance records the command as it was then: ``train colornet --images shipped``)."""
    file = f"colornet_photo_{name}.pt"
    return Weights(
        name=f"colornet_photo_{name}", kind="ColorNet", file=file, format=FORMAT, seed=0, sha256=sha256,
        licence="MIT (trained by this project)", features=features,
        command=f"python -m reprolib train photo-colornet --features {choice or name} --branches real "
                f"--out {file} --steps 1200 --batch-size 8 --seed 0",
        source=f"the real branch (R'_ab of the other view), 1200 steps on other-view pairs of the training photos, "
               f"{maps}")


def _usual_net(mode: str, sha256: str, branches: str) -> Weights:
    """The entry of a ColorNet trained on the usual-colour world (``--usual 0.7 --related 0.5``), for
    :mod:`reprolib.studies.robustness`."""
    file = f"colornet_usual_{mode}.pt"
    return Weights(
        name=f"colornet_usual_{mode}", kind="ColorNet", file=file, format=FORMAT, seed=0, sha256=sha256,
        licence="MIT (trained by this project)", features=SYNTHETIC_FEATURES,
        command=_COMMAND.format(file=file, mode=mode, steps=800, pool=" --pool 96 --usual 0.7 --related 0.5"),
        source=f"{branches}, 800 steps on the usual-colour world (usual 0.7, related 0.5), for studies.robustness")


class ColorNetWeights(WeightsEnum):
    """The shipped colorization sub-nets (``python -m reprolib train colornet`` made them)."""

    COLORNET_FULL = Weights(
        name="colornet_full", kind="ColorNet", file="colornet_small.pt", format=FORMAT, seed=0,
        sha256="9e1481937209d991799feaebfd744b66742785f4c2e5e42777f4d0f8605abee0",
        licence="MIT (trained by this project)",
        command=_COMMAND.format(file="colornet_small.pt", mode="full", steps=1600, pool=" --pool 192"),
        features=SYNTHETIC_FEATURES, source="both branches, 1600 steps on synthetic 64 x 64 pairs")
    COLORNET_CHROMINANCE_ONLY = Weights(
        name="colornet_chrominance_only", kind="ColorNet", file="colornet_chrominance_only.pt", format=FORMAT, seed=0,
        sha256="0e7134ccd130f0029a81e150494cdeaf0c2091498c92e9c0096f92356dc77a10",
        licence="MIT (trained by this project)",
        command=_COMMAND.format(file="colornet_chrominance_only.pt", mode="chrominance_only", steps=1600,
                                pool=" --pool 192"),
        features=SYNTHETIC_FEATURES, source="chrominance branch only, 1600 steps on synthetic 64 x 64 pairs")
    COLORNET_L1_AUTO = Weights(
        name="colornet_l1_auto", kind="ColorNet", file="colornet_l1_auto.pt", format=FORMAT, seed=0,
        sha256="b983b016d8ae65e36f5042b266546a5b58aecea12de114c54508c07e7bc9a28e",
        licence="MIT (trained by this project)",
        command=_COMMAND.format(file="colornet_l1_auto.pt", mode="l1_auto", steps=800, pool=""),
        source="automatic baseline: T_L only, plain L1, 800 steps on synthetic 64 x 64 scenes")
    COLORNET_USUAL_FULL = _usual_net("full", "9474095c445bff0652a9438be9e79794919de0cecb2752de9ddcdcc81c9db093",
                            "both branches")
    COLORNET_USUAL_CHROMINANCE_ONLY = _usual_net("chrominance_only",
                                        "b0618e33769a420c6278eacacaddd438d2e74b765e0d6c0a09b9e36b41ce3851",
                                        "chrominance branch only")
    COLORNET_PHOTO_VGG16 = _photo_net("vgg16", "vgg16_imagenet_caffe", "VGG-16's maps",
                             "a1372ac01236e6231c8fbd0a2d8187732ac079662a76819b9438590b349c1218")
    COLORNET_PHOTO_SMALL = _photo_net("small", "grayvgg_small_photo", "the distilled small gray-VGG's maps",
                             "4f7893ae2c5e24c6eb808c39e4b1daaebb41d0a0256f536fbe2da00cac8dfb60", choice="photo")


MODES = {"full": ColorNetWeights.COLORNET_FULL, "chrominance_only": ColorNetWeights.COLORNET_CHROMINANCE_ONLY,
         "l1_auto": ColorNetWeights.COLORNET_L1_AUTO}


def _scaled(width: float, base: int) -> int:
    """base x width rounded to a multiple of 4 (GroupNorm with 4 groups), at least 4."""
    return max(4, int(round(base * width / 4)) * 4)


def _block(c_in: int, c_out: int, n: int, dilation: int = 1) -> nn.Sequential:
    """n x (3x3 conv + ReLU), then GroupNorm (Zhang 2017: BatchNorm)."""
    layers: list[nn.Module] = []
    for i in range(n):
        layers += [nn.Conv2d(c_in if i == 0 else c_out, c_out, 3, padding=dilation, dilation=dilation),
                   nn.ReLU(inplace=True)]
    layers.append(nn.GroupNorm(4, c_out))
    return nn.Sequential(*layers)


def input_scale(in_channels: int, dtype=torch.float32) -> Tensor:
    """Per-channel factors (1, C, 1, 1) that bring the "dec" input to about [-1, 1]."""
    if in_channels == 1:
        return torch.full((1, 1, 1, 1), 1 / 50.0, dtype=dtype)
    if in_channels < 4:
        raise ValueError(f"in_channels must be 1 or 2 L + 3, got {in_channels}")
    n_sims = in_channels - 3
    scale = [1 / 64.0] * n_sims + [1 / 50.0, 1 / 110.0, 1 / 110.0]
    return torch.tensor(scale, dtype=dtype).view(1, -1, 1, 1)


class ColorNet(nn.Module):
    """The colorization sub-net: (B, in_channels, H, W) "dec" input -> P_ab (B, 2, H, W), |P_ab| < 100.

    Args:
        in_channels: 13 (exemplar-based: sims, T_L, R'_ab) or 1 (automatic baseline: T_L only).
        width: multiplier of DEC's widths 64/128/256/512 (1.0 = the paper's network).
        residual: P_ab = 100 tanh(y + atanh(R'_ab / 100)) with y zero at initialisation (module docstring);
            needs the 13-channel input (R'_ab = its last two channels).
    """

    def __init__(self, in_channels: int = IN_CHANNELS, width: float = 0.125, residual: bool = False, guided: int = 0):
        super().__init__()
        checks.positive_int(in_channels, "in_channels")
        if not isinstance(width, (int, float)) or isinstance(width, bool) or not 0 < width <= 4:
            raise ValueError(f"width must be a number in (0, 4], got {width!r}")
        if residual and in_channels < 4:
            raise ValueError(f"residual=True needs the 13-channel input with R'_ab, got in_channels={in_channels}")
        if not isinstance(guided, int) or isinstance(guided, bool) or guided < 0:
            raise ValueError(f"guided must be a radius >= 0 (0: no guided filter layer), got {guided!r}")
        self.in_channels, self.width, self.residual, self.guided = in_channels, float(width), bool(residual), guided
        self.register_buffer("scale", input_scale(in_channels), persistent=False)
        c1, c2, c3, c4 = (_scaled(width, b) for b in BASE_WIDTHS)
        self.block1 = _block(in_channels, c1, 2)
        self.block2 = _block(c1, c2, 2)
        self.block3 = _block(c2, c3, 3)
        self.block4 = _block(c3, c4, 3)
        self.block5 = _block(c4, c4, 3, dilation=2)
        self.block6 = _block(c4, c4, 3, dilation=2)
        self.block7 = _block(c4, c4, 3)
        self.up8, self.short8 = nn.ConvTranspose2d(c4, c3, 4, 2, 1), nn.Conv2d(c3, c3, 3, padding=1)
        self.block8 = nn.Sequential(nn.ReLU(inplace=True), *_block(c3, c3, 2))
        self.up9, self.short9 = nn.ConvTranspose2d(c3, c2, 4, 2, 1), nn.Conv2d(c2, c2, 3, padding=1)
        self.block9 = nn.Sequential(nn.ReLU(inplace=True), *_block(c2, c2, 1))
        self.up10, self.short10 = nn.ConvTranspose2d(c2, c2, 4, 2, 1), nn.Conv2d(c1, c2, 3, padding=1)
        self.block10 = nn.Sequential(nn.ReLU(inplace=True), nn.Conv2d(c2, c2, 3, padding=1), nn.LeakyReLU(0.2))
        self.out = nn.Conv2d(c2, 2, 1)
        if self.residual:
            nn.init.zeros_(self.out.weight)
            nn.init.zeros_(self.out.bias)

    def forward(self, x: Tensor) -> Tensor:
        """x (B, in_channels, H, W), "dec" normalisation (module docstring) -> P_ab (B, 2, H, W)."""
        checks.net_input(x, self.in_channels)
        H, W = x.shape[-2:]
        l_at = self.in_channels - 3 if self.in_channels > 1 else 0  # T_L - 50 (module docstring)
        ab_in, T_L = x[:, -2:], x[:, l_at:l_at + 1] + 50.0
        y = self.out(self.trunk(x * self.scale.to(x.dtype)))[..., :H, :W]
        if self.residual:
            y = y + torch.atanh((ab_in / OUT_SCALE).clamp(-0.999, 0.999))
        P_ab = OUT_SCALE * torch.tanh(y)
        return guided_layer(P_ab, T_L, self.guided) if self.guided else P_ab

    def trunk(self, x: Tensor) -> Tensor:
        """The U-Net's last feature map (B, c, H', W') of a scaled input x (B, in_channels, H, W), padded to
        H', W', multiples of ``MULTIPLE``; ``out`` turns it into P_ab."""
        H, W = x.shape[-2:]
        if -H % MULTIPLE or -W % MULTIPLE:
            x = F.pad(x, (0, -W % MULTIPLE, 0, -H % MULTIPLE), mode="replicate")
        f1 = self.block1(x)
        f2 = self.block2(f1[..., ::2, ::2])
        f3 = self.block3(f2[..., ::2, ::2])
        f4 = self.block4(f3[..., ::2, ::2])
        f7 = self.block7(self.block6(self.block5(f4)))
        f8 = self.block8(self.up8(f7) + self.short8(f3))
        f9 = self.block9(self.up9(f8) + self.short9(f2))
        return self.block10(self.up10(f9) + self.short10(f1))

    def extra_repr(self) -> str:
        return f"in_channels={self.in_channels}, width={self.width}, residual={self.residual}, guided={self.guided}"



def net_input_for(net: ColorNet, net_input: Tensor) -> Tensor:
    """The part of a 13-channel "dec" input that ``net`` reads: all of it, or T_L - 50 (channel 10) for
    the automatic baseline (``in_channels=1``). A 1-channel input is passed through as it is."""
    if net.in_channels == 1 and isinstance(net_input, Tensor) and net_input.dim() == 4 \
            and net_input.shape[1] == IN_CHANNELS:
        return net_input[:, L_CHANNEL:L_CHANNEL + 1]
    return net_input


@torch.no_grad()
def predict_ab(net: ColorNet, net_input: Tensor) -> Tensor:
    """P_ab (B, 2, H, W) raw a*, b* for a "dec" net_input (B, 13, H, W) (:func:`colornet_input`).

    The automatic baseline (``in_channels=1``) takes the same 13-channel input and reads T_L only.
    Runs without gradients on the net's device and dtype; the result is on the input's device.
    """
    if not isinstance(net, ColorNet):
        raise ValueError(f"net must be a ColorNet, got {type(net).__name__}")
    x = checks.net_input(net_input_for(net, net_input), net.in_channels)
    p = next(net.parameters())
    return net(x.to(device=p.device, dtype=p.dtype)).to(x.device)


def checkpoint_dict(net: ColorNet, **meta) -> dict:
    """What the trainer saves: format, config, state_dict (float32) and provenance metadata (``meta``
    includes "features", the extractor whose maps the net learned from)."""
    config = {"in_channels": net.in_channels, "width": net.width, "residual": net.residual}
    if net.guided:  # nets without the layer keep the files they always had
        config["guided"] = net.guided
    return {"format": FORMAT, "config": config,
            "state_dict": {k: v.detach().float().cpu().clone() for k, v in net.state_dict().items()}, "meta": meta}


def load_colornet(path: str | os.PathLike | ColorNetWeights | None = None, mode: str = "full") -> ColorNet:
    """A trained ColorNet in eval mode: a registry entry, a file written by ``train colornet``, or (default)
    the shipped net of ``mode``: "full" (both training branches), "chrominance_only" or "l1_auto"
    (automatic baseline, T_L only); ``mode`` is ignored when ``path`` is given.

    Loaded with weights_only=True, sha256 checked; ``net.meta`` holds the checkpoint's metadata and
    ``net.features`` the extractor whose maps the net was trained on (None for the automatic baseline).
    """
    if path is None:
        if mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
        path = MODES[mode]
    entry = path if isinstance(path, ColorNetWeights) else None
    where = entry.path if entry else os.fspath(path)
    obj = load_checkpoint(path, FORMAT, "colornet checkpoint", make=f"python -m reprolib train colornet --out {where}")
    try:
        cfg = obj["config"]
        net = ColorNet(int(cfg["in_channels"]), float(cfg["width"]), bool(cfg.get("residual", False)),
                       int(cfg.get("guided", 0)))
        net.load_state_dict(obj["state_dict"])
    except (KeyError, TypeError, RuntimeError) as err:
        raise ValueError(f"{where}: malformed colornet checkpoint ({str(err).splitlines()[0][:160]})") from None
    net.meta = dict(obj.get("meta", {}))
    net.name = entry.value.name if entry else os.path.basename(where)
    # checkpoints written before the registry carry no "features": the trainer then always used the small net
    net.features = None if net.in_channels == 1 else (
        entry.features if entry else net.meta.get("features", SYNTHETIC_FEATURES))
    return net.eval()


def colornet_for(extractor: str) -> ColorNet | None:
    """The shipped ColorNet trained on the similarity maps of gray-VGG ``extractor`` (the first registry entry that
    names it: ``colornet_full`` for the synthetic world's, the photo ColorNet for a photo gray-VGG), or None."""
    for entry in ColorNetWeights:
        if entry.features == extractor and entry.status() != "missing":
            return load_colornet(entry)
    return None


def check_pairing(net: ColorNet, extractor: str, allow_mismatch: bool = False) -> None:
    """Refuse to run ``net`` on the similarity maps of gray-VGG ``extractor`` when it was trained on another's
    (the maps and R'_ab of another feature space mean something else to it). ``allow_mismatch`` runs it
    anyway, with a warning. The automatic baseline reads no maps and passes."""
    trained_on = getattr(net, "features", None)
    if trained_on is None or trained_on == extractor:
        return
    message = (f"ColorNet {getattr(net, 'name', 'net')} was trained on the similarity maps of gray-VGG "
               f"{trained_on!r}, not of {extractor!r}")
    if not allow_mismatch:
        raise ValueError(f"{message}; match with --features of {trained_on!r}, or pass --allow-feature-mismatch "
                         f"(allow_mismatch=True) to run it anyway")
    warnings.warn(f"{message}; running it anyway (allow_mismatch=True)", stacklevel=2)


def colornet_input(T_L: Tensor, R_ab_warped: Tensor, sims: Tensor, normalization: str = "dec") -> Tensor:
    """The 13-channel input of the colorization sub-net: [sims (10), T_L (1), R'_ab (2)] in that order
    (2 L + 3 channels for a pyramid of L layers).

    T_L (B, 1, H, W) in L* 0..100, R_ab_warped = R'_ab (B, 2, H, W) raw a*, b*, sims (B, 10, H, W) from
    ``matching.similarity_maps`` (cosines; clipped to [0, 1] here, as the 0..255 maps of DEC are).

    normalization "dec" (default, DEC's code): sims -> (255 s - 127) / 2 (about -63.5..64),
    T_L -> L - 50 (as :func:`reprolib.core.color.normalize_l`), R'_ab raw.
    normalization "unit" (ours, all near [-1, 1]): sims -> 2 s - 1, T_L -> L / 50 - 1, R'_ab / 110.
    (The channel order of DEC's input file is not documented in PAPERS.md; this order is ours.)
    """
    if normalization not in NORMALIZATIONS:
        raise ValueError(f"normalization must be one of {NORMALIZATIONS}, got {normalization!r}")
    for name, x, c in (("T_L", T_L, 1), ("R_ab_warped", R_ab_warped, 2), ("sims", sims, None)):
        if not isinstance(x, Tensor) or x.dim() != 4 or (c is not None and x.shape[1] != c) or x.numel() == 0:
            want = f"(B, {c}, H, W)" if c else "(B, 2 L, H, W)"
            raise ValueError(f"{name} must be a non-empty tensor {want}, got {checks.summary(x)}")
    if not (T_L.shape[0] == R_ab_warped.shape[0] == sims.shape[0]) or not (
            T_L.shape[-2:] == R_ab_warped.shape[-2:] == sims.shape[-2:]):
        raise ValueError(f"T_L {tuple(T_L.shape)}, R_ab_warped {tuple(R_ab_warped.shape)} and sims "
                         f"{tuple(sims.shape)} must share batch and image size")
    s = sims.clamp(0.0, 1.0)
    if normalization == "dec":
        parts = ((255.0 * s - 127.0) / 2.0, T_L.to(s) - 50.0, R_ab_warped)
    else:
        parts = (2.0 * s - 1.0, T_L.to(s) / 50.0 - 1.0, R_ab_warped / 110.0)
    return torch.cat([p.to(device=sims.device, dtype=sims.dtype) for p in parts], dim=1)
