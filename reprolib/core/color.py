"""CIE Lab colour, the space both papers colorize in (study note, point 2).

sRGB (IEC 61966-2-1, D65 white) in [0, 1]  <->  CIE L* in [0, 100] and unscaled a*, b*.
The luminance L* of a gray target is T_L; the chrominance a*, b* of the reference is R_ab, and what the
network predicts for the target is P_ab.

    linear:  c_lin = c / 12.92                     if c <= 0.04045
             c_lin = ((c + 0.055) / 1.055) ** 2.4  otherwise
    XYZ   =  M @ rgb_lin,  then divided by the D65 white (Xn, Yn, Zn)
    f(t)  =  t ** (1/3)                            if t > 0.008856
             7.787 t + 16/116                      otherwise
    L* = 116 f(Y) - 16,   a* = 500 (f(X) - f(Y)),   b* = 200 (f(Y) - f(Z))

M is the sRGB-to-XYZ matrix derived from the sRGB primaries, and 0.008856 and 7.787 are the rounded
constants of CIE 15.2 (1986) (exactly (6/29)**3 and (29/6)**2 / 3 in later texts); scikit-image uses the
same, so our numbers agree with that reference implementation to float64 rounding.
Tensors are shaped (..., C, H, W): the channel axis is the third from the end, on any device.

Network input conventions (the one place they are written down)
----------------------------------------------------------------
* The paper's networks (DEC code) take L* centred, ``L - 50`` (:func:`normalize_l`), and read and
  predict a*, b* raw (unscaled, about -110..110): T_L -> T_L - 50, R_ab and P_ab as they are.
* The similarity maps fed to its colorization subnet are stored as 0..255 images and enter the
  network as ``(x - 127) / 2``.
* The gray target goes through a VGG-19 pretrained on ImageNet with L copied to three channels,
  the gray level v = L / 100 standing for R = G = B (:func:`gray_vgg_input`). How v is then normalized
  depends on where the weights come from (``VGG_CONVENTIONS``):
  "torchvision" (RGB in 0..1, minus mean (0.485, 0.456, 0.406), divided by std (0.229, 0.224, 0.225)),
  "caffe_rgb" (RGB in 0..255 minus (123.68, 116.779, 103.939)),
  "caffe_bgr" (BGR in 0..255 minus (103.939, 116.779, 123.68); the original Caffe VGG).
"""
from __future__ import annotations

import functools
import math

import torch
from torch import Tensor

# sRGB (linear) -> CIE XYZ, D65; rows X, Y, Z.
XYZ_FROM_RGB = (
    (0.412453, 0.357580, 0.180423),
    (0.212671, 0.715160, 0.072169),
    (0.019334, 0.119193, 0.950227),
)
# D65 reference white, CIE 1931 2 degree observer.
WHITE_D65 = (0.95047, 1.0, 1.08883)

_EPSILON = 0.008856  # where f(t) switches from linear to cube root (CIE 15.2; exactly (6/29)**3)
_SLOPE = 7.787  # slope of the linear segment of f (CIE 15.2; exactly (29/6)**2 / 3)
_F_KNEE = _EPSILON ** (1.0 / 3.0)  # f(_EPSILON): the knee of the inverse of f (about 6/29)
_SRGB_KNEE = 0.04045  # where the sRGB curve switches from linear to power
_LINEAR_KNEE = 0.0031308  # the same knee on the linear side

L_OFFSET = 50.0  # the paper's networks see T_L - 50
# name -> (channel order, scale of the gray level v = L/100, per-channel mean, per-channel std)
VGG_CONVENTIONS: dict[str, tuple[str, float, tuple[float, float, float], tuple[float, float, float]]] = {
    "torchvision": ("RGB", 1.0, (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)),
    "caffe_rgb": ("RGB", 255.0, (123.68, 116.779, 103.939), (1.0, 1.0, 1.0)),
    "caffe_bgr": ("BGR", 255.0, (103.939, 116.779, 123.68), (1.0, 1.0, 1.0)),
}

# How far (in sRGB, 0..1) lab_to_rgb may clip a channel and still call the colour in gamut: 1/40 of an 8-bit
# level. Not 0 because the rounded constants above make Lab (100, 0, 0) come back as rgb (1, 1, 1.0000357)
# (sRGB white itself is Lab (100, -0.0025, 0.0047)); the neutral axis stays in gamut.
GAMUT_TOLERANCE = 1e-4

_FAST_CHUNK = 1 << 17  # pixels per channel per block of the no-grad CPU path (about 1.5 MB per float32 buffer)


def _check(x: Tensor, name: str, channels: int = 3) -> None:
    """Raise ValueError unless x is a floating tensor shaped (..., channels, H, W) without NaN."""
    if not isinstance(x, Tensor):
        raise ValueError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    if x.dim() < 3 or x.shape[-3] != channels:
        channels_last = x.dim() >= 3 and x.shape[-1] == channels
        hint = " (channels-last (H, W, C) arrays must be permuted to (C, H, W))" if channels_last else ""
        raise ValueError(f"{name} must be shaped (..., {channels}, H, W), got shape {tuple(x.shape)}{hint}")
    if not x.is_floating_point():
        raise ValueError(f"{name} must be a floating-point tensor (float32 or float64), got {x.dtype}")
    # A NaN anywhere makes the sum NaN; the exact (slower, allocating) test runs only then.
    if torch.isnan(x.detach().sum()) and torch.isnan(x).any():
        raise ValueError(f"{name} contains NaN values")


@functools.lru_cache(maxsize=32)
def _constants(dtype: torch.dtype, device: torch.device) -> dict[str, Tensor]:
    m = torch.tensor(XYZ_FROM_RGB, dtype=torch.float64)
    white = torch.tensor(WHITE_D65, dtype=torch.float64)
    lab_from_f = torch.tensor([[0.0, 116.0, 0.0], [500.0, -500.0, 0.0], [0.0, 200.0, -200.0]], dtype=torch.float64)
    c = {
        "xyz_from_rgb": m,
        "rgb_from_xyz": torch.linalg.inv(m),
        "white": white.view(3, 1, 1),
        # the folded constants of the no-grad path, see _rgb_to_lab_fast
        "t_from_u": m / white[:, None] / 12.92,
        "lab_from_g": lab_from_f * _SLOPE,
        "c_srgb": torch.tensor(math.log2(12.92) - 2.4 * math.log2(1.055), dtype=torch.float64),
        "c_f": torch.tensor(-math.log2(_SLOPE), dtype=torch.float64),
    }
    return {k: v.to(dtype=dtype, device=device) for k, v in c.items()}


def _apply_matrix(m: Tensor, x: Tensor) -> Tensor:
    """y[..., i, h, w] = sum_j m[i, j] x[..., j, h, w], as one (3, 3) @ (..., 3, H*W) matmul."""
    return torch.matmul(m, x.reshape(*x.shape[:-2], -1)).view(x.shape)


def _safe_sqrt(s: Tensor) -> Tensor:
    """sqrt(s) for s >= 0, 0 for s <= 0; its gradient is 0 (not NaN) at s = 0."""
    positive = s > 0
    return torch.where(positive, torch.sqrt(torch.where(positive, s, torch.ones_like(s))), torch.zeros_like(s))


def srgb_to_linear(rgb: Tensor) -> Tensor:
    """Undo the sRGB transfer curve (IEC 61966-2-1); finite gradients everywhere."""
    power = ((rgb.clamp(min=_SRGB_KNEE) + 0.055) / 1.055) ** 2.4
    return torch.where(rgb > _SRGB_KNEE, power, rgb / 12.92)


def linear_to_srgb(lin: Tensor) -> Tensor:
    """Apply the sRGB transfer curve; finite gradients everywhere."""
    power = 1.055 * lin.clamp(min=_LINEAR_KNEE) ** (1.0 / 2.4) - 0.055
    return torch.where(lin > _LINEAR_KNEE, power, lin * 12.92)


def _f(t: Tensor) -> Tensor:
    cube_root = t.clamp(min=_EPSILON) ** (1.0 / 3.0)
    return torch.where(t > _EPSILON, cube_root, _SLOPE * t + 16.0 / 116.0)


def _f_inv(f: Tensor) -> Tensor:
    return torch.where(f > _F_KNEE, f**3, (f - 16.0 / 116.0) / _SLOPE)


def _rgb_to_lab_autograd(rgb: Tensor) -> Tensor:
    """The equations of the module docstring, written as they read (used when gradients are needed)."""
    k = _constants(rgb.dtype, rgb.device)
    fx, fy, fz = _f(_apply_matrix(k["xyz_from_rgb"], srgb_to_linear(rgb)) / k["white"]).unbind(-3)
    return torch.stack((116.0 * fy - 16.0, 500.0 * (fx - fy), 200.0 * (fy - fz)), dim=-3)


def _rgb_to_lab_fast(rgb: Tensor) -> Tensor:
    """The same equations without autograd, in place, block by block (so a block stays in cache).

    With the constants folded (u = 12.92 c_lin, t = XYZ / white, g = (f(t) - 16/116) / 7.787):
        u   = lerp(c, 2 ** (2.4 log2(c + 0.055) + log2(12.92) - 2.4 log2(1.055)), [c > 0.04045])
        t   = (M / white / 12.92) @ u
        g   = lerp(t, 2 ** (log2(t) / 3 - log2(7.787)) - 16 / (116 * 7.787), [t > 0.008856])
        Lab = 7.787 [[0, 116, 0], [500, -500, 0], [0, 200, -200]] @ g
    lerp with a 0/1 weight returns one of its ends exactly; the log2/exp2 pairs are cheaper than pow.
    """
    if rgb.numel() == 0:
        return torch.empty_like(rgb)
    work_dtype = rgb.dtype if rgb.dtype in (torch.float32, torch.float64) else torch.float32
    shape = rgb.shape
    x = rgb.detach().reshape(-1, 3, shape[-2] * shape[-1]).to(work_dtype)
    out = torch.empty_like(x, memory_format=torch.contiguous_format)
    n_img, _, n_pix = x.shape
    k = _constants(work_dtype, x.device)
    block = _FAST_CHUNK if x.device.type == "cpu" else n_pix * n_img  # one block off the CPU
    if n_pix >= block:  # big images: (3, block) slices of one image; 2-D mm is the fastest matmul here
        buf, mask = torch.empty((2, 3, block), dtype=work_dtype, device=x.device)
        for i in range(n_img):
            for j in range(0, n_pix, block):
                c = x[i, :, j : j + block]
                n = c.shape[-1]
                _lab_block(c, out[i, :, j : j + block], buf[:, :n], mask[:, :n], k, torch.mm)
    else:  # small images: (n_b, 3, n_pix) stacks of whole images
        n_b = max(1, block // n_pix)
        buf, mask = torch.empty((2, n_b, 3, n_pix), dtype=work_dtype, device=x.device)
        for i in range(0, n_img, n_b):
            c = x[i : i + n_b]
            _lab_block(c, out[i : i + n_b], buf[: len(c)], mask[: len(c)], k, torch.matmul)
    return out.view(shape).to(rgb.dtype)


def _lab_block(c: Tensor, o: Tensor, buf: Tensor, mask: Tensor, k: dict[str, Tensor], matmul) -> None:
    """o = Lab of the sRGB block c (..., 3, n), through the scratch tensors buf and mask (c's shape)."""
    torch.gt(c, _SRGB_KNEE, out=mask)
    torch.clamp(c, min=_SRGB_KNEE, out=buf).add_(0.055).log2_()
    torch.add(k["c_srgb"], buf, alpha=2.4, out=buf).exp2_()
    torch.lerp(c, buf, mask, out=buf)  # u
    matmul(k["t_from_u"], buf, out=o)  # t
    torch.gt(o, _EPSILON, out=mask)
    torch.clamp(o, min=_EPSILON, out=buf).log2_()
    torch.add(k["c_f"], buf, alpha=1.0 / 3.0, out=buf).exp2_().sub_(16.0 / (116.0 * _SLOPE))
    torch.lerp(o, buf, mask, out=buf)  # g
    matmul(k["lab_from_g"], buf, out=o)


def rgb_to_lab(rgb: Tensor) -> Tensor:
    """sRGB in [0, 1], shaped (..., 3, H, W) -> CIE Lab (L* in [0, 100], a*, b* unscaled).

    Differentiable (finite gradients everywhere) when ``rgb.requires_grad`` and grad mode is on;
    otherwise a faster in-place path computes the same equations (agreeing to float rounding).
    """
    _check(rgb, "rgb")
    if rgb.requires_grad and torch.is_grad_enabled():
        return _rgb_to_lab_autograd(rgb)
    return _rgb_to_lab_fast(rgb)


def lab_to_rgb_unclipped(lab: Tensor) -> Tensor:
    """CIE Lab -> sRGB without clipping: values outside [0, 1] mark colours outside the sRGB gamut.

    fy = (L + 16) / 116, fx = fy + a / 500, fz = fy - b / 200;  XYZ = white * f^-1(fx, fy, fz);
    rgb = linear_to_srgb(M^-1 @ XYZ), with f^-1(f) = f ** 3 above f(0.008856), (f - 16/116) / 7.787 below.
    """
    _check(lab, "lab")
    k = _constants(lab.dtype, lab.device)
    L, a, b = lab.unbind(-3)
    fy = (L + 16.0) / 116.0
    f = torch.stack((fy + a / 500.0, fy, fy - b / 200.0), dim=-3)
    return linear_to_srgb(_apply_matrix(k["rgb_from_xyz"], _f_inv(f) * k["white"]))


def lab_to_rgb(lab: Tensor, return_clipped: bool = False) -> Tensor | tuple[Tensor, Tensor]:
    """CIE Lab, shaped (..., 3, H, W) -> sRGB clipped to [0, 1].

    With ``return_clipped=True`` also returns a bool mask shaped (..., H, W), True where the colour
    lies outside the sRGB gamut: some channel had to be clipped by more than GAMUT_TOLERANCE.
    """
    rgb = lab_to_rgb_unclipped(lab)
    clipped = rgb.clamp(0.0, 1.0)
    if not return_clipped:
        return clipped
    return clipped, ((rgb - clipped).abs() > GAMUT_TOLERANCE).any(dim=-3)


# ----- L and ab: splitting, merging, network inputs -----


def fit_to_gamut(lab: Tensor, iters: int = 12, tol: float = 1e-6) -> Tensor:
    """Bring Lab colours (..., 3, H, W) inside the sRGB gamut by scaling their chroma, keeping L* and hue:

        s*(p) = max { s in [0, 1] : lab_to_rgb(L(p), s ab(p)) in [0, 1]^3 },     out = (L, s* ab)

    found by ``iters`` bisection steps (s* to 2^-iters); gray (s = 0) is always inside for 0 <= L* <= 100.
    Clipping RGB instead (:func:`lab_to_rgb`) changes L* too, by several units for saturated colours."""
    _check(lab, "lab")
    L, ab = lab[..., :1, :, :].clamp(0, 100), lab[..., 1:, :, :]

    def inside(s: Tensor) -> Tensor:
        rgb = lab_to_rgb_unclipped(torch.cat((L, s * ab), dim=-3))
        return ((rgb >= -tol) & (rgb <= 1 + tol)).all(dim=-3, keepdim=True)

    one = torch.ones_like(L)
    if bool(inside(one).all()):
        return torch.cat((L, ab), dim=-3)
    lo, hi = torch.zeros_like(L), one
    ok = inside(one)
    lo = torch.where(ok, one, lo)
    for _ in range(iters):
        mid = (lo + hi) / 2
        good = inside(mid) | ok
        lo, hi = torch.where(good, mid, lo), torch.where(good, hi, mid)
        lo = torch.where(ok, one, lo)
    return torch.cat((L, lo * ab), dim=-3)


def split_lab(lab: Tensor) -> tuple[Tensor, Tensor]:
    """Lab (..., 3, H, W) -> (L (..., 1, H, W), ab (..., 2, H, W)), both views of ``lab``."""
    _check(lab, "lab")
    return lab[..., :1, :, :], lab[..., 1:, :, :]


def merge_lab(L: Tensor, ab: Tensor) -> Tensor:
    """(L (..., 1, H, W), ab (..., 2, H, W)) -> Lab (..., 3, H, W); e.g. merge_lab(T_L, P_ab)."""
    _check(L, "L", channels=1)
    _check(ab, "ab", channels=2)
    if L.shape[:-3] != ab.shape[:-3] or L.shape[-2:] != ab.shape[-2:]:
        raise ValueError(
            f"L and ab must agree in every axis but the channel axis: L is {tuple(L.shape)}, ab is {tuple(ab.shape)}"
        )
    return torch.cat((L, ab), dim=-3)


def normalize_l(L: Tensor) -> Tensor:
    """The paper's network input for luminance: T_L - 50 (a*, b* are fed and predicted unscaled)."""
    return L - L_OFFSET


def denormalize_l(x: Tensor) -> Tensor:
    """Inverse of :func:`normalize_l`: x + 50."""
    return x + L_OFFSET


def gray_vgg_input(L: Tensor, convention: str) -> Tensor:
    """T_L in 0..100, shaped (..., 1, H, W) -> the (..., 3, H, W) input of a VGG trained under ``convention``.

    The gray level v = L / 100 is copied to the three channels, then
        torchvision:  (v - mean) / std       (RGB, mean 0.485, 0.456, 0.406; std 0.229, 0.224, 0.225)
        caffe_rgb:    255 v - mean           (RGB, mean 123.68, 116.779, 103.939)
        caffe_bgr:    255 v - mean           (BGR, mean 103.939, 116.779, 123.68)
    """
    if convention not in VGG_CONVENTIONS:
        raise ValueError(f"unknown VGG input convention {convention!r}; valid ones: {', '.join(VGG_CONVENTIONS)}")
    _check(L, "L", channels=1)
    _, scale, mean, std = VGG_CONVENTIONS[convention]
    mean_t = torch.tensor(mean, dtype=L.dtype, device=L.device).view(3, 1, 1)
    std_t = torch.tensor(std, dtype=L.dtype, device=L.device).view(3, 1, 1)
    return (L * (scale / 100.0) - mean_t) / std_t


# ----- colour differences -----


def chroma(lab: Tensor) -> Tensor:
    """C* = sqrt(a*^2 + b*^2), shaped (..., H, W); gradient 0 (not NaN) at a* = b* = 0."""
    _check(lab, "lab")
    _, a, b = lab.unbind(-3)
    return _safe_sqrt(a * a + b * b)


def _check_pair(lab1: Tensor, lab2: Tensor) -> None:
    _check(lab1, "lab1")
    _check(lab2, "lab2")
    try:
        torch.broadcast_shapes(lab1.shape, lab2.shape)
    except RuntimeError:
        raise ValueError(f"lab1 {tuple(lab1.shape)} and lab2 {tuple(lab2.shape)} do not broadcast") from None


def delta_e76(lab1: Tensor, lab2: Tensor) -> Tensor:
    """CIE76 colour difference ||Lab1 - Lab2||_2 over the channel axis: (..., 3, H, W) -> (..., H, W)."""
    _check_pair(lab1, lab2)
    d = lab1 - lab2
    return _safe_sqrt((d * d).sum(dim=-3))


def delta_e2000(lab1: Tensor, lab2: Tensor, kL: float = 1.0, kC: float = 1.0, kH: float = 1.0) -> Tensor:
    """CIEDE2000 colour difference (Sharma, Wu & Dalal 2005), (..., 3, H, W) -> (..., H, W).

        C = sqrt(a^2 + b^2),  G = (1 - sqrt(Cm^7 / (Cm^7 + 25^7))) / 2  with Cm the mean of C1, C2
        a' = (1 + G) a,  C' = sqrt(a'^2 + b^2),  h' = atan2(b, a') in [0, 360)  (0 where a' = b = 0)
        dL' = L2 - L1,  dC' = C2' - C1',  dH' = 2 sqrt(C1' C2') sin(dh' / 2)
        dh' = h2' - h1' wrapped into [-180, 180]  (0 if C1' C2' = 0)
        mean hue H' = (h1' + h2') / 2, moved by 180 degrees if |h1' - h2'| > 180  (h1' + h2' if C1' C2' = 0)
        T = 1 - 0.17 cos(H' - 30) + 0.24 cos(2 H') + 0.32 cos(3 H' + 6) - 0.20 cos(4 H' - 63)
        S_L = 1 + 0.015 (L' - 50)^2 / sqrt(20 + (L' - 50)^2),  S_C = 1 + 0.045 C',  S_H = 1 + 0.015 C' T
        R_T = -sin(2 dtheta) R_C,  dtheta = 30 exp(-((H' - 275) / 25)^2),  R_C = 2 sqrt(C'^7 / (C'^7 + 25^7))
        dE00 = sqrt((dL'/kL S_L)^2 + (dC'/kC S_C)^2 + (dH'/kH S_H)^2 + R_T (dC'/kC S_C)(dH'/kH S_H))
    with L', C' the means over the pair. Gradients stay finite at gray colours and at identical pairs.
    """
    _check_pair(lab1, lab2)
    L1, a1, b1 = lab1.unbind(-3)
    L2, a2, b2 = lab2.unbind(-3)
    pow25_7 = 25.0**7
    c_mean = (_safe_sqrt(a1 * a1 + b1 * b1) + _safe_sqrt(a2 * a2 + b2 * b2)) / 2
    c7 = c_mean**7
    g = 0.5 * (1 - _safe_sqrt(c7 / (c7 + pow25_7)))
    a1p, a2p = (1 + g) * a1, (1 + g) * a2
    c1p, c2p = _safe_sqrt(a1p * a1p + b1 * b1), _safe_sqrt(a2p * a2p + b2 * b2)

    def hue(ap: Tensor, b: Tensor) -> Tensor:  # degrees in [0, 360); atan2(0, 0) = 0 (torch's gradient there is 0)
        h = torch.rad2deg(torch.atan2(b, ap))
        return torch.where(h < 0, h + 360.0, h)

    h1p, h2p = hue(a1p, b1), hue(a2p, b2)
    neutral = (c1p * c2p) == 0
    dh = h2p - h1p
    dh = torch.where(dh > 180.0, dh - 360.0, torch.where(dh < -180.0, dh + 360.0, dh))
    dh = torch.where(neutral, torch.zeros_like(dh), dh)
    dL = L2 - L1
    dC = c2p - c1p
    dH = 2 * _safe_sqrt(c1p * c2p) * torch.sin(torch.deg2rad(dh / 2))

    L_mean = (L1 + L2) / 2
    cp_mean = (c1p + c2p) / 2
    h_sum = h1p + h2p
    h_mean = torch.where(
        (h1p - h2p).abs() <= 180.0, h_sum / 2, torch.where(h_sum < 360.0, (h_sum + 360.0) / 2, (h_sum - 360.0) / 2)
    )
    h_mean = torch.where(neutral, h_sum, h_mean)
    rad = torch.deg2rad
    T = (
        1
        - 0.17 * torch.cos(rad(h_mean - 30.0))
        + 0.24 * torch.cos(rad(2 * h_mean))
        + 0.32 * torch.cos(rad(3 * h_mean + 6.0))
        - 0.20 * torch.cos(rad(4 * h_mean - 63.0))
    )
    d_theta = 30.0 * torch.exp(-(((h_mean - 275.0) / 25.0) ** 2))
    cp7 = cp_mean**7
    R_C = 2 * _safe_sqrt(cp7 / (cp7 + pow25_7))
    l50 = (L_mean - 50.0) ** 2
    S_L = 1 + 0.015 * l50 / torch.sqrt(20 + l50)
    S_C = 1 + 0.045 * cp_mean
    S_H = 1 + 0.015 * cp_mean * T
    R_T = -torch.sin(rad(2 * d_theta)) * R_C
    tL, tC, tH = dL / (kL * S_L), dC / (kC * S_C), dH / (kH * S_H)
    return _safe_sqrt(tL * tL + tC * tC + tH * tH + R_T * tC * tH)
