"""resolve_device: --device cpu|cuda|auto."""
import pytest
import torch

from reprolib.core.devices import resolve_device


def test_devices_resolve_or_say_what_is_missing(monkeypatch):
    assert resolve_device("cpu") == torch.device("cpu") == resolve_device(torch.device("cpu"))
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_device("auto") == torch.device("cpu")
    for choice in ("cuda", "cuda:1"):
        with pytest.raises(ValueError, match=f"device '{choice}': torch sees no CUDA GPU here"):
            resolve_device(choice)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    assert resolve_device("auto") == torch.device("cuda")
    with pytest.raises(ValueError, match="torch sees 1 CUDA GPU"):
        resolve_device("cuda:1")
    with pytest.raises(ValueError, match="device must be one of cpu, cuda, auto"):
        resolve_device("tpu")
