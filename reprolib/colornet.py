"""The colorization sub-net of He et al. 2018 (Sec. 3.2): a U-Net from 13 channels to P_ab.

    P_ab = C(T_L, sim_T<->R, R'_ab; theta),        P_L = T_L,        P_lab = (T_L, P_ab)

Input and output conventions (the same everywhere in the project):

* **Input** (B, 13, H, W): ``matching.match(...).net_input`` with normalization "dec", i.e. the output of
  :func:`reprolib.matching.colornet_input`: channels 0-4 sim_T->R, 5-9 sim_T<->R (per layer relu1_1 ...
  relu5_1) as (255 s - 127) / 2, channel 10 T_L - 50, channels 11-12 R'_ab raw a*, b*. ColorNet rescales
  these fixed ranges to about [-1, 1] itself (sims / 64, L / 50, ab / 110), so callers pass DEC's numbers.
  The automatic baseline (``in_channels=1``) reads channel 10 only: (B, 1, H, W) = T_L - 50.
* **Output** (B, 2, H, W): P_ab in raw a*, b*, 100 tanh(y) (DEC's output layer), so |P_ab| < 100.
  With ``residual=True`` (the trainer's default; the shipped 13-channel nets) the last layer predicts a correction of
  the input chrominance instead: P_ab = 100 tanh(y + atanh(R'_ab / 100)), and y starts at 0 (zero-initialised
  1x1 convolution), so an untrained net returns R'_ab and training learns where to change it.
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
at 3.35, the residual one 3.01 (2.84 after 1600 steps); see :mod:`reprolib.colortrain`).
"""
from __future__ import annotations

import os
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

IN_CHANNELS = 13  # 5 + 5 similarity maps, T_L, R'_ab
L_CHANNEL = 10  # index of T_L - 50 in the 13-channel input
MULTIPLE = 8  # three x2 subsamplings
OUT_SCALE = 100.0  # P_ab = 100 tanh(y) (DEC)
BASE_WIDTHS = (64, 128, 256, 512)  # encoder blocks 1-4 of DEC / Zhang 2017
FORMAT = "reprolib.colornet/1"
DATA_DIR = Path(__file__).resolve().parent.parent / "data"
CHECKPOINTS = {"full": DATA_DIR / "colornet_small.pt",
               "chrominance_only": DATA_DIR / "colornet_chrominance_only.pt",
               "l1_auto": DATA_DIR / "colornet_l1_auto.pt"}


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

    def __init__(self, in_channels: int = IN_CHANNELS, width: float = 0.125, residual: bool = False):
        super().__init__()
        if isinstance(in_channels, bool) or not isinstance(in_channels, int) or in_channels < 1:
            raise ValueError(f"in_channels must be a positive int, got {in_channels!r}")
        if not isinstance(width, (int, float)) or isinstance(width, bool) or not 0 < width <= 4:
            raise ValueError(f"width must be a number in (0, 4], got {width!r}")
        if residual and in_channels < 4:
            raise ValueError(f"residual=True needs the 13-channel input with R'_ab, got in_channels={in_channels}")
        self.in_channels, self.width, self.residual = in_channels, float(width), bool(residual)
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
        check_input(x, self.in_channels)
        H, W = x.shape[-2:]
        pad_h, pad_w = -H % MULTIPLE, -W % MULTIPLE
        ab_in = x[:, -2:]
        x = x * self.scale.to(x.dtype)
        if pad_h or pad_w:
            x = F.pad(x, (0, pad_w, 0, pad_h), mode="replicate")
        f1 = self.block1(x)
        f2 = self.block2(f1[..., ::2, ::2])
        f3 = self.block3(f2[..., ::2, ::2])
        f4 = self.block4(f3[..., ::2, ::2])
        f7 = self.block7(self.block6(self.block5(f4)))
        f8 = self.block8(self.up8(f7) + self.short8(f3))
        f9 = self.block9(self.up9(f8) + self.short9(f2))
        f10 = self.block10(self.up10(f9) + self.short10(f1))
        y = self.out(f10)[..., :H, :W]
        if self.residual:
            y = y + torch.atanh((ab_in / OUT_SCALE).clamp(-0.999, 0.999))
        return OUT_SCALE * torch.tanh(y)

    def extra_repr(self) -> str:
        return f"in_channels={self.in_channels}, width={self.width}, residual={self.residual}"


def check_input(x: object, channels: int, name: str = "net_input") -> Tensor:
    """Validate a network input: float tensor (B, channels, H, W), H, W >= 1, no NaN."""
    if not isinstance(x, Tensor):
        raise ValueError(f"{name} must be a torch.Tensor (B, {channels}, H, W), got {type(x).__name__}")
    if x.dim() != 4 or x.shape[1] != channels:
        raise ValueError(f"{name} must be shaped (B, {channels}, H, W), got shape {tuple(x.shape)}")
    if not x.is_floating_point():
        raise ValueError(f"{name} must be a floating-point tensor, got {x.dtype}")
    if x.numel() == 0:
        raise ValueError(f"{name} is empty: shape {tuple(x.shape)}")
    if torch.isnan(x).any():
        raise ValueError(f"{name} contains NaN values")
    return x


def net_input_for(net: ColorNet, net_input: Tensor) -> Tensor:
    """The part of a 13-channel "dec" input that ``net`` reads: all of it, or T_L - 50 (channel 10) for
    the automatic baseline (``in_channels=1``). A 1-channel input is passed through as it is."""
    if net.in_channels == 1 and isinstance(net_input, Tensor) and net_input.dim() == 4 \
            and net_input.shape[1] == IN_CHANNELS:
        return net_input[:, L_CHANNEL:L_CHANNEL + 1]
    return net_input


@torch.no_grad()
def predict_ab(net: ColorNet, net_input: Tensor) -> Tensor:
    """P_ab (B, 2, H, W) raw a*, b* for a "dec" net_input (B, 13, H, W) (``matching.match(...).net_input``).

    The automatic baseline (``in_channels=1``) takes the same 13-channel input and reads T_L only.
    Runs without gradients on the net's device and dtype; the result is on the input's device.
    """
    if not isinstance(net, ColorNet):
        raise ValueError(f"net must be a ColorNet, got {type(net).__name__}")
    x = check_input(net_input_for(net, net_input), net.in_channels)
    p = next(net.parameters())
    return net(x.to(device=p.device, dtype=p.dtype)).to(x.device)


def checkpoint_dict(net: ColorNet, **meta) -> dict:
    """What ``colortrain`` saves: format, config, state_dict (float32) and provenance metadata."""
    return {"format": FORMAT, "config": {"in_channels": net.in_channels, "width": net.width, "residual": net.residual},
            "state_dict": {k: v.detach().float().cpu().clone() for k, v in net.state_dict().items()}, "meta": meta}


def load_colornet(path: str | os.PathLike | None = None, mode: str = "full") -> ColorNet:
    """A trained ColorNet in eval mode; default: the shipped checkpoint of ``mode``.

    mode "full" (both training branches, data/colornet_small.pt), "chrominance_only"
    (data/colornet_chrominance_only.pt) or "l1_auto" (automatic baseline, T_L only,
    data/colornet_l1_auto.pt); ignored when ``path`` is given. Loaded with weights_only=True;
    ``net.meta`` holds the checkpoint's provenance.
    """
    if path is None:
        if mode not in CHECKPOINTS:
            raise ValueError(f"mode must be one of {', '.join(CHECKPOINTS)}, got {mode!r}")
        path = CHECKPOINTS[mode]
    path = Path(path).expanduser()
    if not path.is_file():
        raise ValueError(f"colornet checkpoint {path} does not exist; make one with "
                         f"`python -m reprolib train colornet --out {path}`")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 - a corrupt or foreign file: one clear line
        raise ValueError(f"{path}: not a readable checkpoint ({str(err).splitlines()[0][:160]})") from None
    if not isinstance(obj, dict) or obj.get("format") != FORMAT:
        raise ValueError(f"{path} is not a colornet checkpoint (expected format {FORMAT!r})")
    try:
        cfg = obj["config"]
        net = ColorNet(int(cfg["in_channels"]), float(cfg["width"]), bool(cfg.get("residual", False)))
        net.load_state_dict(obj["state_dict"])
    except (KeyError, TypeError, RuntimeError) as err:
        raise ValueError(f"{path}: malformed colornet checkpoint ({str(err).splitlines()[0][:160]})") from None
    net.meta = dict(obj.get("meta", {}))
    return net.eval()
