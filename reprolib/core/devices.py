"""Where the work runs: ``--device cpu|cuda|auto`` of ``colorize``, every ``train`` command and
``reproduce`` (and ``$REPROLIB_DEVICE`` for the scaling benchmark).

The matching and colorization functions make their tensors on their inputs' device, so choosing a device is
moving the networks and the inputs there (:func:`to_device`); the tests run on the CPU.
"""
from __future__ import annotations

import copy
import dataclasses
from typing import Any

import torch
from torch import nn

DEVICES = ("cpu", "cuda", "auto")


def resolve_device(choice: str | torch.device = "cpu") -> torch.device:
    """"cpu", "cuda" (or "cuda:N") or "auto" (the first GPU when torch sees one, else the CPU) -> a torch.device;
    one line naming the problem when the GPU asked for is not there."""
    if isinstance(choice, torch.device):
        choice = str(choice)
    if not isinstance(choice, str) or not (choice in DEVICES or choice.startswith("cuda:")):
        raise ValueError(f"device must be one of {', '.join(DEVICES)} (or cuda:N), got {choice!r}")
    if choice == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if choice.startswith("cuda"):
        if not torch.cuda.is_available():
            raise ValueError(f"device {choice!r}: torch sees no CUDA GPU here (torch {torch.__version__}); "
                             "use --device cpu or auto")
        index = int(choice.split(":")[1]) if ":" in choice else 0
        if index >= torch.cuda.device_count():
            raise ValueError(f"device {choice!r}: torch sees {torch.cuda.device_count()} CUDA GPU(s)")
    return torch.device(choice)


def to_device(obj: Any, device: str | torch.device) -> Any:
    """``obj`` with every tensor and module in it on ``device``: modules are moved in place (so that an
    optimiser's parameters stay its own), tensors copied; dataclasses, dicts, lists and tuples are walked
    (a dataclass comes back as a shallow copy); anything else (optimisers, generators, numbers) is kept."""
    if isinstance(obj, nn.Module):
        return obj.to(device)
    if isinstance(obj, torch.Tensor):
        return obj.to(device)
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        moved = copy.copy(obj)
        for f in dataclasses.fields(obj):
            object.__setattr__(moved, f.name, to_device(getattr(obj, f.name), device))
        return moved
    if isinstance(obj, dict):
        return {k: to_device(v, device) for k, v in obj.items()}
    if isinstance(obj, tuple) and hasattr(obj, "_fields"):  # a NamedTuple
        return type(obj)(*(to_device(v, device) for v in obj))
    if isinstance(obj, (list, tuple)):
        return type(obj)(to_device(v, device) for v in obj)
    return obj


def device_of(module: nn.Module) -> torch.device:
    """The device of a module's first parameter (the CPU for a module without any)."""
    return next((p.device for p in module.parameters()), torch.device("cpu"))
