"""CIE Lab colour, the space both papers colorize in (study note, point 2).

sRGB (IEC 61966-2-1, D65 white) in [0, 1]  <->  CIE L* in [0, 100] and unscaled a*, b*.
The luminance L* of a gray target is T_L; its chrominance a*, b* is what the network predicts (P_ab).

    linear:  c_lin = c / 12.92                     if c <= 0.04045
             c_lin = ((c + 0.055) / 1.055) ** 2.4  otherwise
    XYZ   =  M @ rgb_lin,  then divided by the D65 white (Xn, Yn, Zn)
    f(t)  =  t ** (1/3)                            if t > 0.008856
             7.787 t + 16/116                      otherwise
    L* = 116 f(Y) - 16,   a* = 500 (f(X) - f(Y)),   b* = 200 (f(Y) - f(Z))

M is the sRGB-to-XYZ matrix derived from the sRGB primaries, and 0.008856 and 7.787 are the rounded
constants of CIE 15.2 (1986) (exactly (6/29)**3 and (29/6)**2 / 3 in later texts); scikit-image uses the
same, so our numbers agree with that reference implementation to float64 rounding.
Tensors are shaped (..., 3, H, W): the channel axis is the third from the end.
"""
from __future__ import annotations

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


def _check(x: Tensor, name: str) -> None:
    if not isinstance(x, Tensor):
        raise ValueError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    if x.dim() < 3 or x.shape[-3] != 3:
        raise ValueError(f"{name} must be shaped (..., 3, H, W), got shape {tuple(x.shape)}")
    if not x.is_floating_point():
        raise ValueError(f"{name} must be a floating-point tensor (float32 or float64), got {x.dtype}")
    if torch.isnan(x).any():
        raise ValueError(f"{name} contains NaN values")


def _matrix(rows, like: Tensor) -> Tensor:
    return torch.tensor(rows, dtype=like.dtype, device=like.device)


def _apply_matrix(m: Tensor, x: Tensor) -> Tensor:
    """y[..., i, h, w] = sum_j m[i, j] x[..., j, h, w]."""
    return torch.einsum("ij,...jhw->...ihw", m, x)


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


def rgb_to_lab(rgb: Tensor) -> Tensor:
    """sRGB in [0, 1], shaped (..., 3, H, W) -> CIE Lab (L* in [0, 100], a*, b* unscaled)."""
    _check(rgb, "rgb")
    xyz = _apply_matrix(_matrix(XYZ_FROM_RGB, rgb), srgb_to_linear(rgb))
    white = torch.tensor(WHITE_D65, dtype=rgb.dtype, device=rgb.device).view(3, 1, 1)
    fx, fy, fz = _f(xyz / white).unbind(-3)
    return torch.stack((116.0 * fy - 16.0, 500.0 * (fx - fy), 200.0 * (fy - fz)), dim=-3)


def lab_to_rgb_unclipped(lab: Tensor) -> Tensor:
    """CIE Lab -> sRGB without clipping: values outside [0, 1] mark colours outside the sRGB gamut."""
    _check(lab, "lab")
    L, a, b = lab.unbind(-3)
    fy = (L + 16.0) / 116.0
    f = torch.stack((fy + a / 500.0, fy, fy - b / 200.0), dim=-3)
    white = torch.tensor(WHITE_D65, dtype=lab.dtype, device=lab.device).view(3, 1, 1)
    xyz = _f_inv(f) * white
    rgb_from_xyz = torch.linalg.inv(_matrix(XYZ_FROM_RGB, lab).double()).to(lab.dtype)
    return linear_to_srgb(_apply_matrix(rgb_from_xyz, xyz))


def lab_to_rgb(lab: Tensor, return_clipped: bool = False) -> Tensor | tuple[Tensor, Tensor]:
    """CIE Lab, shaped (..., 3, H, W) -> sRGB clipped to [0, 1].

    With ``return_clipped=True`` also returns a bool mask shaped (..., H, W), True where the colour
    lies outside the sRGB gamut (some channel had to be clipped by more than 1e-6).
    """
    rgb = lab_to_rgb_unclipped(lab)
    clipped = rgb.clamp(0.0, 1.0)
    if not return_clipped:
        return clipped
    return clipped, ((rgb - clipped).abs() > 1e-6).any(dim=-3)
