"""Measurements of the insertion GAN on held-out pairs: the colour error over the inserted box against the
rendered ground truth, how visible the inserted object still is (so that a lower error cannot come from an
object fading into the background; the "erase the object" baseline, y = r_B, has visibility 0), and how well a
fresh classifier still tells fake-pair outputs from real-pair ones."""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

from ..core import color
from ..core.seeds import heldout_seed
from .nets import InsertionGenerator, PairDiscriminator
from .pairs import Pairs, make_pairs


def box_error(y: Tensor, target: Tensor, box: Tensor) -> Tensor:
    """Per-item mean CIE76 colour difference (Delta E) over the inserted box: (n,)."""
    de = color.delta_e76(color.rgb_to_lab(y.detach()), color.rgb_to_lab(target))
    return (de * box[:, 0]).sum(dim=(1, 2)) / box[:, 0].sum(dim=(1, 2))


def object_visibility(y: Tensor, background: Tensor, mask: Tensor) -> Tensor:
    """Per-item visibility of the inserted object, (n,): the mean CIE76 Delta E between the output and the
    background over the object's mask, V = sum_mask dE(y, r_B) / sum_mask 1. 0 for an erased object (y = r_B);
    the ground truth's V is the reference (a relit object may contrast less than an unrelit one)."""
    de = color.delta_e76(color.rgb_to_lab(y.detach()), color.rgb_to_lab(background))
    m = mask[:, 0]
    return (de * m).sum(dim=(1, 2)) / m.sum(dim=(1, 2)).clamp_min(1)


def erase_object(pairs: Pairs) -> Tensor:
    """The "erase the object" baseline: its output is the background r_B alone (n, 3, S, S)."""
    return pairs.background


def faded_copy(pairs: Pairs, t: float) -> Tensor:
    """The unrelit copy faded towards the background, t * copy + (1 - t) * r_B (t = 1: the copy, 0: erased)."""
    return t * pairs.copy + (1 - t) * pairs.background


def fade_at_visibility(pairs: Pairs, visibility: float, steps: int = 40) -> dict:
    """The fair baseline at equal visibility: the fade t in [0, 1] at which the unrelit copy's mean visibility
    V(faded_copy(t)) equals ``visibility`` (bisection; V grows with t), and that faded copy's real-pair box error.

    An output that fades its object scores a lower box error for that reason alone; a generator *relights* only
    if its error is below what fading the unrelit copy to the same visibility gives. (t = 1 when ``visibility``
    is at least the copy's own.)"""
    def mean_v(t: float) -> float:
        return float(object_visibility(faded_copy(pairs, t), pairs.background, pairs.mask).mean())

    lo, hi = 0.0, 1.0
    if visibility >= mean_v(1.0):
        lo = 1.0
    else:
        for _ in range(steps):
            mid = (lo + hi) / 2
            lo, hi = (mid, hi) if mean_v(mid) < visibility else (lo, mid)
    t = round(lo, 4)
    return {"t": t, "error": round(float(box_error(faded_copy(pairs, t), pairs.target, pairs.box).mean()), 3)}


@torch.no_grad()
def alpha_in_mask(generator: InsertionGenerator, pairs: Pairs, batch_size: int = 128) -> Tensor:
    """Per-item mean blending alpha over the object's mask, (n,): 0 = the object erased (y = r_B there),
    1 = every object pixel taken from G's foreground f. Blending generators only."""
    if not generator.blending:
        raise ValueError("alpha_in_mask needs a blending generator (the direct one has no alpha)")
    generator.eval()
    out = []
    for i in range(0, len(pairs), batch_size):
        _, alpha, _ = generator.parts(pairs.composite[i:i + batch_size], pairs.background[i:i + batch_size])
        m = pairs.mask[i:i + batch_size]
        out.append((alpha * m).sum(dim=(1, 2, 3)) / m.sum(dim=(1, 2, 3)).clamp_min(1))
    return torch.cat(out)


def mean_std(values: list[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (0 for one value)."""
    m = sum(values) / len(values)
    s = math.sqrt(sum((v - m) ** 2 for v in values) / (len(values) - 1)) if len(values) > 1 else 0.0
    return m, s


@torch.no_grad()
def generate(generator: InsertionGenerator, pairs: Pairs, batch_size: int = 128) -> torch.Tensor:
    """G's outputs for a batch of pairs, in chunks, in eval mode."""
    generator.eval()
    return torch.cat([generator(pairs.composite[i:i + batch_size], pairs.background[i:i + batch_size])
                      for i in range(0, len(pairs), batch_size)])


def eval_pairs(n: int = 256, seed: int = 0) -> tuple[Pairs, Pairs]:
    """Held-out (fake, real) pairs, from the seed range that training never uses."""
    s = heldout_seed(seed)
    return make_pairs(s, n, real=False), make_pairs(s, n, real=True)


def pair_classifier_accuracy(y_fake: torch.Tensor, y_real: torch.Tensor, *, steps: int = 150, seed: int = 0,
                             width: int = 16) -> float:
    """Train a fresh classifier (PairDiscriminator layout) to tell outputs of fake pairs (0) from outputs of
    real pairs (1) on the first half of each set; return its accuracy on the second half (0.5 = no
    difference left in the outputs that a small CNN can find)."""
    if y_fake.shape != y_real.shape or len(y_fake) < 4:
        raise ValueError(f"need as many fake- as real-pair outputs (>= 4), "
                         f"got {tuple(y_fake.shape)}, {tuple(y_real.shape)}")
    half = len(y_fake) // 2
    x_train = torch.cat((y_fake[:half], y_real[:half]))
    t_train = torch.cat((torch.zeros(half), torch.ones(half)))
    x_test = torch.cat((y_fake[half:], y_real[half:]))
    t_test = torch.cat((torch.zeros(len(y_fake) - half), torch.ones(len(y_real) - half)))
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        clf = PairDiscriminator(width)
        opt = torch.optim.Adam(clf.parameters(), lr=2e-3)
        g = torch.Generator().manual_seed(seed)
        for _ in range(steps):
            idx = torch.randint(len(x_train), (64,), generator=g)
            loss = F.binary_cross_entropy_with_logits(clf(x_train[idx]), t_train[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        with torch.no_grad():
            pred = (clf(x_test) > 0).float()
    return float((pred == t_test).float().mean())


def evaluate_generator(generator: InsertionGenerator, n: int = 256, seed: int = 0, classifier_steps: int = 150) -> dict:
    """Mean Delta E (CIE76) over the inserted box against the rendered ground truth, for held-out fake and
    real pairs; the inserted object's visibility on real pairs (:func:`object_visibility`); and the pair
    classifier's accuracy on the outputs."""
    fake, real = eval_pairs(n, seed)
    y_f, y_r = generate(generator, fake), generate(generator, real)
    return {
        "fake_pair_error": round(float(box_error(y_f, fake.target, fake.box).mean()), 3),
        "real_pair_error": round(float(box_error(y_r, real.target, real.box).mean()), 3),
        "real_pair_visibility": round(float(object_visibility(y_r, real.background, real.mask).mean()), 3),
        "pair_classifier_accuracy": round(pair_classifier_accuracy(y_f, y_r, steps=classifier_steps), 3),
    }

