"""Training and evaluating the insertion GAN of :mod:`reprolib.insertion` (semi-supervised, with or without
the pair discriminator), on the one resumable loop of :mod:`.loop`.

One step, with fake pairs (u_B + r_B, target y*) and real pairs (u_A + r_B, no target) of ``batch_size`` each,
y_f = G(fake), y_r = G(real), frames x (complete source frames, real images), image discriminator D_img and
pair discriminator D_pair:

    D_img:  L_D = BCE(D_img(x), 1) + 1/2 [BCE(D_img(y_f), 0) + BCE(D_img(y_r), 0)]
    D_pair: L_pair = 1/2 [BCE(D_pair(y_f), 0) + BCE(D_pair(y_r), 1)]
    G:      L_G = lambda_gan 1/2 [BCE(D_img(y_f), 1) + BCE(D_img(y_r), 1)]           (GAN, both kinds)
                + lambda_l1 |y_f - y*|_1 + lambda_perc L_perc(y_f, y*)              (fake pairs only)
                + lambda_pair 1/2 [L_conf(D_pair(y_f)) + L_conf(D_pair(y_r))]       (the trick)

``pair="none"`` drops D_pair; ``pair="confusion"`` is the above; ``pair="reversal"`` trains D_pair on L_pair
computed through a gradient-reversal layer, so the same backward pass updates D_pair to separate the pairs and G
(by the reversed gradient, lambda_pair L_pair) to mix them (DANN). ``hold_matte`` (a deviation, for a fair test
in notebook 04): the pair term reaches G through the blending foreground f only, not the matte alpha, so that
fading the object cannot lower it. The batch of step s comes from ``train_data_seed(seed, s)``; evaluation pairs
come from the held-out seed range.
"""
from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field

import torch

from ..core.configs import setting
from ..core.devices import device_of, to_device
from ..core.seeds import train_data_seed
from ..insertion import losses as L
from ..insertion.metrics import evaluate_generator
from ..insertion.nets import (
    CHECKPOINT_FORMAT,
    InsertionGenerator,
    PairDiscriminator,
    PatchDiscriminator,
    gradient_reversal,
)
from ..insertion.pairs import Pairs, make_pairs
from . import loop

PAIR_MODES = ("none", "confusion", "reversal")


@dataclass
class Config:
    """Settings of one training run (all of them enter the checkpoint and the resume check)."""

    steps: int = setting(300, "optimiser steps")
    seed: int = setting(0, "seed of the model and the data stream")
    batch_size: int = setting(12, "fake pairs per step, and as many real pairs")
    pair: str = setting("confusion", "pair discriminator: none, confusion loss, or gradient reversal",
                        choices=PAIR_MODES)
    blending: bool = setting(True, "the blending generator (--no-blending: the direct generator)")
    width: int = setting(8, "channel width of the generator")
    d_width: int = setting(16, "channel width of the image and pair discriminators")
    lr: float = setting(2e-3, "learning rate")
    lambda_gan: float = setting(1.0, "weight of the GAN loss")
    lambda_l1: float = setting(100.0, "weight of the L1 loss on fake pairs")
    lambda_perc: float = setting(1.0, "weight of the perceptual loss on fake pairs")
    lambda_pair: float = setting(1.0, "weight of the pair discriminator's term")
    # A deviation, for a fair test (notebook 04): the pair discriminator's term reaches G through the blending
    # generator's foreground only, not its matte alpha, so that fading the object cannot lower it.
    hold_matte: bool = setting(False, "the pair discriminator's term cannot move the blending matte (fading)")
    # also L1 + perceptual on real pairs against their rendered ground truth (a diagnostic upper bound that the
    # paper cannot have: it shows what the generator could learn with full supervision)
    oracle: bool = setting(False, "also supervise real pairs with their rendered ground truth (a diagnostic)")

    def check(self) -> Config:
        if self.pair not in PAIR_MODES:
            raise ValueError(f"pair must be one of {', '.join(PAIR_MODES)}, got {self.pair!r}")
        if self.steps < 1 or self.batch_size < 1 or self.width < 1:
            raise ValueError(f"steps, batch_size and width must be >= 1, "
                             f"got {self.steps}, {self.batch_size}, {self.width}")
        if self.hold_matte and (not self.blending or self.pair == "none"):
            raise ValueError("hold_matte needs the blending generator and a pair discriminator "
                             f"(got blending={self.blending}, pair={self.pair!r})")
        train_data_seed(self.seed, self.steps - 1)  # validates the seed and step ranges
        return self



@dataclass
class Models:
    generator: InsertionGenerator
    image_d: PatchDiscriminator
    pair_d: PairDiscriminator
    opt_g: torch.optim.Optimizer
    opt_d: torch.optim.Optimizer
    opt_p: torch.optim.Optimizer
    perceptual: L.LuminancePerceptualLoss | None = None
    history: list = field(default_factory=list)

    def modules(self) -> dict:
        return {"generator": self.generator, "image_d": self.image_d, "pair_d": self.pair_d,
                "opt_g": self.opt_g, "opt_d": self.opt_d, "opt_p": self.opt_p}

    def stateful(self) -> dict:
        return self.modules()


def build(cfg: Config, perceptual: L.LuminancePerceptualLoss | None = None) -> Models:
    """Networks and Adam optimisers of a run, initialised from ``cfg.seed`` (and the perceptual loss's net)."""
    perceptual = perceptual or L.LuminancePerceptualLoss()
    torch.manual_seed(cfg.seed)
    g = InsertionGenerator(cfg.width, cfg.blending)
    d = PatchDiscriminator(cfg.d_width)
    p = PairDiscriminator(cfg.d_width)

    def adam(m):
        return torch.optim.Adam(m.parameters(), lr=cfg.lr, betas=(0.5, 0.999))

    return Models(g, d, p, adam(g), adam(d), adam(p), perceptual)


def batch(cfg: Config, step: int) -> tuple[Pairs, Pairs]:
    """(fake pairs, real pairs) of training step ``step``."""
    seed = train_data_seed(cfg.seed, step)
    return make_pairs(seed, cfg.batch_size, real=False), make_pairs(seed, cfg.batch_size, real=True)


def train_step(cfg: Config, m: Models, fake: Pairs, real: Pairs, perceptual: L.LuminancePerceptualLoss) -> dict:
    """One update of D, P (unless pair="none") and G; returns the losses."""
    y_f = m.generator(fake.composite, fake.background)
    y_r = m.generator(real.composite, real.background)
    frames = torch.cat((fake.frame, real.frame))

    # image discriminator D and pair discriminator P on detached outputs
    loss_d = L.gan_loss(m.image_d(frames), True) + 0.5 * (
        L.gan_loss(m.image_d(y_f.detach()), False) + L.gan_loss(m.image_d(y_r.detach()), False))
    m.opt_d.zero_grad(set_to_none=True)
    loss_d.backward()
    m.opt_d.step()
    loss_p = torch.zeros(())
    if cfg.pair == "confusion":
        loss_p = L.pair_loss(m.pair_d(y_f.detach()), m.pair_d(y_r.detach()))
        m.opt_p.zero_grad(set_to_none=True)
        loss_p.backward()
        m.opt_p.step()

    # generator
    gan = 0.5 * (L.gan_loss(m.image_d(y_f), True) + L.gan_loss(m.image_d(y_r), True))
    l1 = L.fake_pair_l1(y_f, fake.target)
    perc = perceptual(y_f, fake.target)
    loss_g = cfg.lambda_gan * gan + cfg.lambda_l1 * l1 + cfg.lambda_perc * perc
    if cfg.oracle:
        loss_g = (loss_g + cfg.lambda_l1 * L.fake_pair_l1(y_r, real.target)
                  + cfg.lambda_perc * perceptual(y_r, real.target))
    conf = torch.zeros(())
    if cfg.hold_matte:  # the same outputs, with no gradient through the matte for the pair term
        y_f = m.generator.parts(fake.composite, fake.background, hold_matte=True)[0]
        y_r = m.generator.parts(real.composite, real.background, hold_matte=True)[0]
    if cfg.pair == "confusion":
        conf = 0.5 * (L.confusion_loss(m.pair_d(y_f)) + L.confusion_loss(m.pair_d(y_r)))
        loss_g = loss_g + cfg.lambda_pair * conf
    elif cfg.pair == "reversal":
        loss_p = L.pair_loss(m.pair_d(gradient_reversal(y_f, cfg.lambda_pair)),
                             m.pair_d(gradient_reversal(y_r, cfg.lambda_pair)))
        loss_g = loss_g + loss_p  # P descends L_P; G, through the reversal, ascends lambda_pair L_P
        m.opt_p.zero_grad(set_to_none=True)
    m.opt_g.zero_grad(set_to_none=True)
    m.opt_d.zero_grad(set_to_none=True)
    loss_g.backward()
    m.opt_g.step()
    if cfg.pair == "reversal":
        m.opt_p.step()
    return {"d": loss_d.item(), "p": loss_p.item(), "gan": gan.item(), "l1": l1.item(), "perc": perc.item(),
            "conf": conf.item()}



def step(cfg: Config, m: Models, i: int) -> dict:
    """Batch ``i`` and one :func:`train_step`."""
    fake, real = to_device(batch(cfg, i), device_of(m.generator))
    return train_step(cfg, m, fake, real, m.perceptual)


def fit(cfg: Config, *, progress: bool = True, state_file: str | os.PathLike | None = None,
        resume: bool = True, checkpoint_every: int = 100,
        perceptual: L.LuminancePerceptualLoss | None = None, device: str | torch.device | None = None) -> Models:
    """Train a run of ``cfg`` in memory and return its networks (on the CPU); with ``state_file``, save a
    resumable state every ``checkpoint_every`` steps (and on Ctrl-C) and resume from it when ``resume`` is
    True; with ``device``, the networks train there."""
    cfg.check()
    m = build(cfg, perceptual)
    if device is not None:
        m = loop.move_parts(m, device)
    result = loop.run_steps("insertion", asdict(cfg), cfg.steps, m.stateful(), lambda i: step(cfg, m, i),
                            state_file=state_file, resume=resume, checkpoint_every=checkpoint_every,
                            progress=progress, desc=f"train insertion ({cfg.pair})")
    m.history = result.history
    if device is not None:
        m = to_device(m, "cpu")
    m.generator.eval()
    return m


def finish(cfg: Config, m: Models, history: list, rank: int, eval_n: int = 256,
           classifier_steps: int = 150) -> tuple[dict, dict]:
    m.generator.eval()
    metrics = evaluate_generator(m.generator, n=eval_n, classifier_steps=classifier_steps)
    tail = history[-50:]
    metrics["train_l1_last50"] = round(sum(h["l1"] for h in tail) / len(tail), 4)
    checkpoint = {"format": CHECKPOINT_FORMAT, "config": asdict(cfg), "metrics": dict(metrics),
                  "generator": {k: v.detach().clone() for k, v in m.generator.state_dict().items()}}
    return checkpoint, metrics


def data(cfg: Config) -> str:
    return (f"insertion.pairs.make_pairs(train_data_seed({cfg.seed}, s), {cfg.batch_size}, real=False/True) at step s; "
            "metrics on insertion.metrics.eval_pairs (held-out seeds)")


@dataclass
class Evaluation:
    """What the final evaluation of ``train`` measures (not a setting of the run: it does not enter its state)."""

    eval_n: int = setting(256, "held-out pairs of each kind for the metrics")
    classifier_steps: int = setting(150, "training steps of the pair classifier")


def summary(metrics: dict) -> str:
    """The line ``train insertion`` ends with."""
    return (f"real-pair error {metrics['real_pair_error']:.2f}, fake-pair error {metrics['fake_pair_error']:.2f} "
            f"(mean Delta E in the box), pair classifier accuracy {metrics['pair_classifier_accuracy']:.3f}, "
            f"{metrics['config']['steps']} steps in {metrics['seconds']} s")


def train(out: str | os.PathLike, *, resume: bool = True, progress: bool = True, eval_n: int = Evaluation.eval_n,
          classifier_steps: int = Evaluation.classifier_steps, checkpoint_every: int = 100, command: str | None = None,
          device: str | None = None, **settings) -> dict:
    """Train one run of ``Config(**settings)`` and write the generator to ``out`` (weights + config + metrics,
    weights_only loadable by :func:`reprolib.insertion.nets.load_generator`) and its provenance ``out``.json."""
    trainer = loop.Trainer("insertion", build, step,
                           lambda cfg, m, history, rank: finish(cfg, m, history, rank, eval_n, classifier_steps), data)
    metrics = loop.fit(trainer, Config(**settings), out, command=command, resume=resume, progress=progress,
                       checkpoint_every=checkpoint_every, features="grayvgg_small_synthetic", device=device)
    return {**metrics, "config": asdict(Config(**settings).check())}
