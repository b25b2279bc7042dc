"""Where the work runs: ``--device cpu|cuda|auto`` of ``colorize`` and ``train colornet`` (and
``$REPROLIB_DEVICE`` for the scaling benchmark).

The matching and colorization functions make their tensors on their inputs' device, so choosing a device is
moving the networks and the inputs there; the tests run on the CPU.
"""
from __future__ import annotations

import torch

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
