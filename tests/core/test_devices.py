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


def test_to_device_moves_modules_in_place_and_walks_containers():
    from dataclasses import dataclass
    from typing import NamedTuple

    from reprolib.core.devices import device_of, to_device

    class Pair(NamedTuple):
        a: torch.Tensor
        b: int

    @dataclass(frozen=True)
    class Batch:
        x: torch.Tensor
        extra: dict
        label: str

    net = torch.nn.Linear(2, 2)
    opt = torch.optim.Adam(net.parameters())
    assert to_device(net, "cpu") is net and opt.param_groups[0]["params"][0] is net.weight
    batch = Batch(torch.ones(2), {"y": [torch.zeros(1), (torch.zeros(1), 3), Pair(torch.ones(1), 4)]}, "keep")
    moved, same_net, same_opt = to_device((batch, net, opt), "meta")
    assert same_net is net and same_opt is opt and device_of(net).type == "meta"
    assert moved.x.device.type == "meta" and moved.extra["y"][0].device.type == "meta"
    assert moved.extra["y"][1][0].device.type == "meta" and moved.extra["y"][1][1] == 3 and moved.label == "keep"
    assert isinstance(moved.extra["y"][2], Pair) and moved.extra["y"][2].a.device.type == "meta"
    assert batch.x.device.type == "cpu"  # the input is left as it was
    assert device_of(torch.nn.ReLU()) == torch.device("cpu")
