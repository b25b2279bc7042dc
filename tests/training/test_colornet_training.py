"""Training the colorization sub-net (reprolib.training.colornet): branches, data, learning, DDP."""
from __future__ import annotations

import json

import pytest
import torch

from reprolib.cli import main
from reprolib.colorization import losses, matching
from reprolib.colorization.colornet import ColorNet, load_colornet
from reprolib.colorization.grayvgg_weights import grayvgg_small
from reprolib.core.seeds import train_data_seed
from reprolib.training import colornet as ct
from reprolib.world import scenes

TINY = dict(batch_size=4, size=32, eval_n=0, progress=False)


@pytest.fixture(scope="module")
def batch():
    target, reference = scenes.sample_pairs(11, 3, 32)
    return target, reference, ct.pair_batch(grayvgg_small(), target, reference)


def test_branches_alternate_and_share_data():
    assert [ct.branch_of("full", s) for s in range(4)] == ["chrominance", "perceptual"] * 2
    assert [ct.data_index("full", s, None) for s in range(4)] == [0, 0, 1, 1]
    assert ct.branch_of("chrominance_only", 5) == "chrominance" and ct.branch_of("l1_auto", 5) == "l1_auto"
    assert [ct.data_index("l1_auto", s, 3) for s in range(5)] == [0, 1, 2, 0, 1]


def test_pair_batch_builds_t_prime_and_ground_truth(batch):
    target, reference, b = batch
    m = matching.match(grayvgg_small(), target.L, reference.L, reference.ab)
    round_trip = matching.warp(m.phi_RT, m.phi_TR)
    assert torch.equal(b.T_ab_warped, matching.warp(target.ab, round_trip))  # T_ab(phi_R->T(phi_T->R(p)))
    assert torch.equal(b.R_ab_warped, m.R_ab_warped)
    assert torch.equal(b.GT_ab, scenes.ground_truth(target, reference).ab)
    # T'_ab carries the target's own colours only: every value is one of T_ab's (per image)
    for i in range(len(target)):
        own = {tuple(v) for v in target.ab[i].flatten(1).T.tolist()}
        assert {tuple(v) for v in b.T_ab_warped[i].flatten(1).T.tolist()} <= own
    x = ct.branch_input(b, "chrominance")
    assert x.shape == (3, 13, 32, 32) and torch.equal(x[:, 11:], b.T_ab_warped)
    assert torch.equal(ct.branch_input(b, "perceptual")[:, 11:], b.R_ab_warped)
    assert torch.equal(ct.branch_input(b, "l1_auto"), target.L - 50)


def test_a_few_steps_reduce_the_loss(tmp_path, batch):
    out = tmp_path / "c.pt"
    ct.train(out, steps=25, mode="chrominance_only", residual=False, pool=1, lr=3e-3, seed=1, **TINY)
    target, reference = scenes.sample_pairs(train_data_seed(1, 0), 4, 32)
    b = ct.pair_batch(grayvgg_small(), target, reference)
    torch.manual_seed(1)
    before, after = ColorNet().eval(), load_colornet(out)  # the trainer's initial net
    with torch.no_grad():
        x = ct.branch_input(b, "chrominance")
        l0, l1 = losses.chrominance_loss(before(x), b.T_ab), losses.chrominance_loss(after(x), b.T_ab)
    assert l1 < 0.7 * l0, (l0, l1)


def test_two_processes_match_one(tmp_path, torchrun_metrics):
    """torchrun with 2 gloo processes: ranks stay in sync and the result equals the 1-process run."""
    args = ["train", "colornet", "--mode", "full", "--steps", "4", "--batch-size", "4", "--size", "32",
            "--pool", "2", "--seed", "2", "--eval-n", "0", "--no-progress"]
    record = torchrun_metrics(args, tmp_path / "ddp.pt", timeout=120)
    assert record["world_size"] == 2 and record["ddp_weight_spread"] == 0.0  # both ranks end identical
    assert main([*args, "--out", str(tmp_path / "one.pt")]) == 0
    single = json.loads((tmp_path / "one.json").read_text())["metrics"]
    for key in ("train_loss_chrominance", "train_loss_perceptual"):  # whole-batch losses, averaged over ranks
        assert record[key] == pytest.approx(single[key], rel=1e-3)
    # same result up to float rounding (which Adam's first steps amplify for near-zero gradients)
    two, one = load_colornet(tmp_path / "ddp.pt"), load_colornet(tmp_path / "one.pt")
    torch.manual_seed(2)
    start = ColorNet(residual=True).eval()  # the initial net of both runs
    x = ct.branch_input(ct.pair_batch(grayvgg_small(), *scenes.sample_pairs(5, 2, 32)), "perceptual")
    with torch.no_grad():
        gap, moved = (two(x) - one(x)).abs().mean(), (start(x) - one(x)).abs().mean()
    assert gap < 1e-3 * moved, (gap, moved)  # measured: about 4e-8 against 0.06


def test_bad_settings():
    with pytest.raises(ValueError, match="mode"):
        ct.train("x.pt", steps=1, mode="auto")
    with pytest.raises(ValueError, match=">= 1"):
        ct.train("x.pt", steps=0)
    with pytest.raises(ValueError, match="usual"):
        ct.train("x.pt", steps=1, usual=1.0)
    with pytest.raises(ValueError, match="related"):
        ct.train("x.pt", steps=1, related=-0.1)


def test_the_usual_colour_world_trains_and_is_recorded(tmp_path):
    out = tmp_path / "usual.pt"
    metrics = ct.train(out, steps=2, mode="chrominance_only", batch_size=2, size=32, eval_n=2, usual=0.7,
                       related=0.5, progress=False)
    record = json.loads(out.with_suffix(".json").read_text())
    assert record["config"]["usual"] == 0.7 and record["config"]["related"] == 0.5
    assert "usual=0.7, related=0.5" in record["data"] and "usual=0.7, related=0.5" in metrics["heldout_pairs"]
    assert record["log"]["steps"] == 2 and "loss.chrominance" in record["log"]["series"]
