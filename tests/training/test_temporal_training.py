"""The recurrence's trainer (training/temporal.py): its loss, its unrolling, and a checkpoint the loader reads."""
import torch

from reprolib.training import temporal
from reprolib.video.flow import flow_warp
from reprolib.video.recurrent import TemporalNet, load_temporal


def tiny_cache(n=3, T=4, size=24, seed=0):
    g = torch.Generator().manual_seed(seed)
    flow = torch.zeros(n, T, 2, size, size)
    flow[:, 1:, 0] = 1.0  # a pan of one pixel per frame
    mask = torch.ones(n, T, 1, size, size)
    mask[:, 0] = 0
    mask[:, :, :, :, -1] = 0
    ab = torch.randn(n, 1, 2, size, size, generator=g).expand(n, T, 2, size, size) * 20
    return {"T_L": torch.rand(n, T, 1, size, size, generator=g) * 100, "T_ab": ab.clone(),
            "P_ab": ab + torch.randn(n, T, 2, 1, 1, generator=g) * 10, "flow_exact": flow, "mask_exact": mask,
            "flow": flow.clone(), "mask": mask.clone()}


def test_the_temporal_term_is_zero_when_the_output_follows_the_exact_flow():
    b = tiny_cache()
    first = b["T_ab"][:, 0]
    outs = [first]
    for t in range(1, 4):
        outs.append(flow_warp(outs[-1], b["flow_exact"][:, t]))
    _, fidelity, term = temporal.clip_loss(outs, b, 1.0)
    assert term < 1e-10
    shaken = [o + (5.0 if t % 2 else 0.0) for t, o in enumerate(outs)]
    assert temporal.clip_loss(shaken, b, 1.0)[2] > 1e-4


def test_unroll_starts_from_the_first_prediction():
    b = tiny_cache()
    outs = temporal.unroll(TemporalNet(), b)
    assert len(outs) == 4 and torch.equal(outs[0], b["P_ab"][:, 0])
    assert outs[1].shape == b["P_ab"][:, 1].shape


def test_a_short_run_writes_a_checkpoint_the_loader_reads(tmp_path, monkeypatch):
    monkeypatch.setattr(temporal, "clip_cache", lambda names, seed=100: tiny_cache())
    metrics = temporal.train(tmp_path / "t.pt", steps=3, size=16, eval_clips=0, progress=False)
    assert metrics["steps"] == 3 and len(metrics["sha256"]) == 64
    net = load_temporal(tmp_path / "t.pt")
    assert isinstance(net, TemporalNet) and not net.training
