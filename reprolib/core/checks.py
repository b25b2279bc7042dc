"""Validators shared by the whole library: each checks one kind of argument and raises a ValueError whose
one-line message names the argument and what was wrong (tests match on these messages).

Numbers: :func:`positive_int`, :func:`non_negative_int`, :func:`int_at_least`, :func:`odd_positive_int`,
:func:`count`, :func:`seed`. Tensors: :func:`features` (C, h, w) or (B, C, h, w), :func:`feature_pair`,
:func:`luminance` (B, 1, H, W), :func:`net_input` (B, C, H, W), :func:`ab` (B, 2, H, W), :func:`rgb_image`
(3, H, W), :func:`rgb_batch` (n, 3, H, W), :func:`image` (C, H, W) or (B, C, H, W).
"""
from __future__ import annotations

import numbers

import torch
from torch import Tensor


def summary(x: object) -> str:
    """"shape (...)" for a tensor, else the type's name: how messages describe a bad argument."""
    return f"shape {tuple(x.shape)}" if isinstance(x, Tensor) else type(x).__name__


def is_int(value: object) -> bool:
    """An integer (Python or NumPy), not a bool."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


# ---------------------------------------------------------------------------------------------- numbers
def positive_int(value: object, name: str) -> int:
    """``value`` if it is an int >= 1."""
    if not is_int(value) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")
    return int(value)


def non_negative_int(value: object, name: str) -> int:
    """``value`` if it is an int >= 0."""
    if not is_int(value) or value < 0:
        raise ValueError(f"{name} must be a non-negative int, got {value!r}")
    return int(value)


def odd_positive_int(value: object, name: str) -> int:
    """``value`` if it is an odd int >= 1 (a patch side)."""
    if not is_int(value) or value < 1 or value % 2 == 0:
        raise ValueError(f"{name} must be a positive odd int, got {value!r}")
    return int(value)


def int_at_least(value: object, name: str, minimum: int = 1) -> int:
    """``value`` if it is an int >= ``minimum``."""
    if not is_int(value) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def count(value: object, name: str, minimum: int) -> int:
    """Like :func:`int_at_least`, with separate messages for a non-int and for a small int."""
    if not is_int(value):
        raise ValueError(f"{name} must be an int, got {type(value).__name__}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return int(value)


def seed(value: object) -> int:
    """A seed of a ``torch.Generator``: an int in [0, 2**63)."""
    if not is_int(value):
        raise ValueError(f"seed must be an int, got {type(value).__name__}")
    if not 0 <= value < 2**63:
        raise ValueError(f"seed must be in [0, 2**63), got {value}")
    return int(value)


def number_in(value: object, name: str, low: float, high: float) -> float:
    """A real number with low <= value <= high."""
    if not isinstance(value, numbers.Real) or isinstance(value, bool) or not low <= value <= high:
        raise ValueError(f"{name} must be a number in [{low}, {high}], got {value!r}")
    return float(value)


# ---------------------------------------------------------------------------------------------- tensors
def _float_tensor(x: Tensor, name: str) -> Tensor:
    if not x.is_floating_point():
        raise ValueError(f"{name} must be a floating-point tensor, got {x.dtype}")
    if x.numel() == 0:
        raise ValueError(f"{name} is empty: {summary(x)}")
    if torch.isnan(x.detach().sum()) and torch.isnan(x).any():  # the sum is NaN if a value is: one pass, no mask
        raise ValueError(f"{name} contains NaN values")
    return x


def features(x: object, name: str) -> Tensor:
    """Features (C, h, w) or (B, C, h, w) -> (B, C, h, w): float, non-empty, without NaN."""
    if not isinstance(x, Tensor):
        raise ValueError(f"{name} must be a torch.Tensor (C, h, w) or (B, C, h, w), got {type(x).__name__}")
    if x.dim() == 3:
        x = x.unsqueeze(0)
    if x.dim() != 4:
        raise ValueError(f"{name} must be shaped (C, h, w) or (B, C, h, w), got {summary(x)}")
    return _float_tensor(x, name)


def feature_pair(F_T: object, F_R: object) -> tuple[Tensor, Tensor]:
    """Target and reference features with the same batch and channels; F_R moved to F_T's device and dtype."""
    F_T, F_R = features(F_T, "F_T"), features(F_R, "F_R")
    if F_T.shape[1] != F_R.shape[1]:
        raise ValueError(f"F_T and F_R have different channel counts: {F_T.shape[1]} and {F_R.shape[1]}")
    if F_T.shape[0] != F_R.shape[0]:
        raise ValueError(f"F_T and F_R have different batch sizes: {F_T.shape[0]} and {F_R.shape[0]}")
    if F_T.dtype != F_R.dtype or F_T.device != F_R.device:
        F_R = F_R.to(device=F_T.device, dtype=F_T.dtype)
    return F_T, F_R


def luminance(L: object, name: str = "L", min_size: int = 1) -> Tensor:
    """A batch of luminance images: a float tensor (B, 1, H, W) of CIE L*, H, W >= ``min_size``, no NaN."""
    if not isinstance(L, Tensor) or L.dim() != 4 or L.shape[1] != 1:
        raise ValueError(f"{name} must be a luminance torch.Tensor shaped (B, 1, H, W) (CIE L* in 0..100), "
                         f"got {summary(L)}")
    if L.shape[-1] < min_size or L.shape[-2] < min_size:
        raise ValueError(f"{name} must be at least {min_size} x {min_size} pixels, got {tuple(L.shape[-2:])}")
    return _float_tensor(L, name)


def net_input(x: object, channels: int, name: str = "net_input") -> Tensor:
    """A network input: float tensor (B, channels, H, W), H, W >= 1, no NaN."""
    if not isinstance(x, Tensor):
        raise ValueError(f"{name} must be a torch.Tensor (B, {channels}, H, W), got {type(x).__name__}")
    if x.dim() != 4 or x.shape[1] != channels:
        raise ValueError(f"{name} must be shaped (B, {channels}, H, W), got shape {tuple(x.shape)}")
    return _float_tensor(x, name)


def ab(x: object, name: str) -> Tensor:
    """Chrominance: a float tensor (B, 2, H, W) of raw a*, b*, non-empty, without NaN."""
    if not isinstance(x, Tensor) or x.dim() != 4 or x.shape[1] != 2 or not x.is_floating_point():
        got = f"shape {tuple(x.shape)}, {x.dtype}" if isinstance(x, Tensor) else type(x).__name__
        raise ValueError(f"{name} must be a float tensor (B, 2, H, W) of a*, b*, got {got}")
    return _float_tensor(x, name)


def rgb_image(x: object, name: str, min_side: int = 16) -> Tensor:
    """One sRGB image (3, H, W), float, finite, at least ``min_side`` a side -> float32 clamped to [0, 1]."""
    if not isinstance(x, Tensor) or x.dim() != 3 or x.shape[0] != 3:
        shape = tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__
        raise ValueError(f"{name} must be an RGB image tensor (3, H, W), got {shape}")
    if not x.is_floating_point():
        raise ValueError(f"{name} must be a float tensor in [0, 1], got {x.dtype}")
    if min(x.shape[-2:]) < min_side:
        raise ValueError(f"{name} is too small ({x.shape[-2]} x {x.shape[-1]}); need at least {min_side} px a side")
    if not torch.isfinite(x).all():
        raise ValueError(f"{name} contains NaN or infinite values")
    return x.float().clamp(0, 1)


def rgb_batch(x: object, name: str = "image", multiple: int = 4, min_side: int = 8) -> Tensor:
    """A batch of sRGB images (n, 3, H, W), float, finite, sides multiples of ``multiple`` and >= ``min_side``."""
    if not isinstance(x, Tensor) or x.dim() != 4 or x.shape[1] != 3 or not x.is_floating_point():
        raise ValueError(f"{name} must be a float tensor (n, 3, H, W), got {getattr(x, 'shape', type(x).__name__)}")
    if x.shape[-1] % multiple or x.shape[-2] % multiple or min(x.shape[-2:]) < min_side:
        raise ValueError(f"{name} must be at least {min_side} x {min_side} with sides divisible by {multiple}, "
                         f"got {tuple(x.shape[-2:])}")
    if not torch.isfinite(x).all():
        raise ValueError(f"{name} contains NaN or infinite values")
    return x


def image(img: object) -> Tensor:
    """Any image tensor (C, H, W) or (B, C, H, W) of floats (for resizing and padding)."""
    if not isinstance(img, Tensor):
        raise ValueError(f"expected a torch.Tensor, got {type(img).__name__}")
    if img.dim() not in (3, 4):
        raise ValueError(f"expected a tensor shaped (C, H, W) or (B, C, H, W), got {tuple(img.shape)}")
    if not img.is_floating_point():
        raise ValueError(f"expected a floating-point tensor, got {img.dtype}")
    return img
