"""Training and evaluating the insertion GAN of :mod:`reprolib.insertion` (semi-supervised, with or without
the pair discriminator), resumable like :func:`reprolib.train.train_grayvgg`.

One step, with fake pairs (u_B + r_B, target y*) and real pairs (u_A + r_B, no target) of ``batch_size`` each,
y_f = G(fake), y_r = G(real), frames x (complete source frames, real images):

    D:  L_D = BCE(D(x), 1) + 1/2 [BCE(D(y_f), 0) + BCE(D(y_r), 0)]
    P:  L_P = 1/2 [BCE(P(y_f), 0) + BCE(P(y_r), 1)]                                  (pair discriminator)
    G:  L_G = lambda_gan 1/2 [BCE(D(y_f), 1) + BCE(D(y_r), 1)]                      (GAN, both kinds)
            + lambda_l1 |y_f - y*|_1 + lambda_perc L_perc(y_f, y*)                  (fake pairs only)
            + lambda_pair 1/2 [L_conf(P(y_f)) + L_conf(P(y_r))]                     (the trick)

``pair="none"`` drops P; ``pair="confusion"`` is the above; ``pair="reversal"`` trains P on L_P computed
through a gradient-reversal layer, so the same backward pass updates P to separate the pairs and G (by the
reversed gradient, lambda_pair L_P) to mix them (DANN). The batch of step s comes from
``train.train_data_seed(seed, s)``; evaluation pairs come from the held-out seed range.
"""
from __future__ import annotations

import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from . import insertion as ins
from .train import heldout_seed, load_checkpoint, save_checkpoint, sha256_file, state_path, train_data_seed

PAIR_MODES = ("none", "confusion", "reversal")
STATE_FORMAT = "reprolib.insertion_state/1"
CHECKPOINT_FORMAT = "reprolib.insertion/1"
DATA_DIR = Path(__file__).resolve().parent.parent / "data" / "insertion"


@dataclass
class Config:
    """Settings of one training run (all of them enter the checkpoint and the resume check)."""

    steps: int = 300
    seed: int = 0
    batch_size: int = 12  # fake pairs per step, and as many real pairs
    pair: str = "confusion"  # "none", "confusion" or "reversal"
    blending: bool = True
    width: int = 8  # generator
    d_width: int = 16  # image and pair discriminators
    lr: float = 2e-3
    lambda_gan: float = 1.0
    lambda_l1: float = 100.0
    lambda_perc: float = 1.0
    lambda_pair: float = 1.0
    oracle: bool = False  # also L1 + perceptual on real pairs against their rendered ground truth (a diagnostic
    # upper bound that the paper cannot have: it shows what the generator could learn with full supervision)

    def check(self) -> "Config":
        if self.pair not in PAIR_MODES:
            raise ValueError(f"pair must be one of {', '.join(PAIR_MODES)}, got {self.pair!r}")
        if self.steps < 1 or self.batch_size < 1 or self.width < 1:
            raise ValueError(f"steps, batch_size and width must be >= 1, got {self.steps}, {self.batch_size}, {self.width}")
        train_data_seed(self.seed, self.steps - 1)  # validates the seed and step ranges
        return self


@dataclass
class Models:
    generator: ins.InsertionGenerator
    image_d: ins.PatchDiscriminator
    pair_d: ins.PairDiscriminator
    opt_g: torch.optim.Optimizer
    opt_d: torch.optim.Optimizer
    opt_p: torch.optim.Optimizer
    history: list = field(default_factory=list)

    def modules(self) -> dict:
        return {"generator": self.generator, "image_d": self.image_d, "pair_d": self.pair_d,
                "opt_g": self.opt_g, "opt_d": self.opt_d, "opt_p": self.opt_p}


def build(cfg: Config) -> Models:
    """Networks and Adam optimisers of a run, initialised from ``cfg.seed``."""
    torch.manual_seed(cfg.seed)
    g = ins.InsertionGenerator(cfg.width, cfg.blending)
    d = ins.PatchDiscriminator(cfg.d_width)
    p = ins.PairDiscriminator(cfg.d_width)

    def adam(m):
        return torch.optim.Adam(m.parameters(), lr=cfg.lr, betas=(0.5, 0.999))

    return Models(g, d, p, adam(g), adam(d), adam(p))


def batch(cfg: Config, step: int) -> tuple[ins.Pairs, ins.Pairs]:
    """(fake pairs, real pairs) of training step ``step``."""
    seed = train_data_seed(cfg.seed, step)
    return ins.make_pairs(seed, cfg.batch_size, real=False), ins.make_pairs(seed, cfg.batch_size, real=True)


def train_step(cfg: Config, m: Models, fake: ins.Pairs, real: ins.Pairs, perceptual: ins.Perceptual) -> dict:
    """One update of D, P (unless pair="none") and G; returns the losses."""
    y_f = m.generator(fake.composite, fake.background)
    y_r = m.generator(real.composite, real.background)
    frames = torch.cat((fake.frame, real.frame))

    # image discriminator D and pair discriminator P on detached outputs
    loss_d = ins.gan_loss(m.image_d(frames), True) + 0.5 * (
        ins.gan_loss(m.image_d(y_f.detach()), False) + ins.gan_loss(m.image_d(y_r.detach()), False))
    m.opt_d.zero_grad(set_to_none=True)
    loss_d.backward()
    m.opt_d.step()
    loss_p = torch.zeros(())
    if cfg.pair == "confusion":
        loss_p = ins.pair_loss(m.pair_d(y_f.detach()), m.pair_d(y_r.detach()))
        m.opt_p.zero_grad(set_to_none=True)
        loss_p.backward()
        m.opt_p.step()

    # generator
    gan = 0.5 * (ins.gan_loss(m.image_d(y_f), True) + ins.gan_loss(m.image_d(y_r), True))
    l1 = ins.l1_loss(y_f, fake.target)
    perc = perceptual(y_f, fake.target)
    loss_g = cfg.lambda_gan * gan + cfg.lambda_l1 * l1 + cfg.lambda_perc * perc
    if cfg.oracle:
        loss_g = loss_g + cfg.lambda_l1 * ins.l1_loss(y_r, real.target) + cfg.lambda_perc * perceptual(y_r, real.target)
    conf = torch.zeros(())
    if cfg.pair == "confusion":
        conf = 0.5 * (ins.confusion_loss(m.pair_d(y_f)) + ins.confusion_loss(m.pair_d(y_r)))
        loss_g = loss_g + cfg.lambda_pair * conf
    elif cfg.pair == "reversal":
        loss_p = ins.pair_loss(m.pair_d(ins.gradient_reversal(y_f, cfg.lambda_pair)),
                               m.pair_d(ins.gradient_reversal(y_r, cfg.lambda_pair)))
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


def _state(cfg: Config, m: Models, step: int) -> dict:
    return {"format": STATE_FORMAT, "config": asdict(cfg), "step": step, "rng": torch.get_rng_state(),
            "history": m.history, **{k: v.state_dict() for k, v in m.modules().items()}}


def fit(cfg: Config, *, progress: bool = True, state_file: str | os.PathLike | None = None,
        resume: bool = True, checkpoint_every: int = 100, perceptual: ins.Perceptual | None = None) -> Models:
    """Train a run of ``cfg`` and return its networks; with ``state_file``, save a resumable state every
    ``checkpoint_every`` steps (and on Ctrl-C) and resume from it when ``resume`` is True."""
    cfg.check()
    m = build(cfg)
    perceptual = perceptual or ins.Perceptual()
    start = 0
    state_file = Path(state_file) if state_file is not None else None
    if state_file is not None and resume and state_file.exists():
        state = load_checkpoint(state_file)
        if state.get("format") != STATE_FORMAT or state.get("config") != asdict(cfg):
            raise ValueError(f"{state_file} was made by a run with other settings ({state.get('config')}); "
                             f"run with those settings, pass resume=False, or delete the file")
        for k, v in m.modules().items():
            v.load_state_dict(state[k])
        torch.set_rng_state(state["rng"])
        start, m.history = int(state["step"]), [dict(h) for h in state["history"]]
    step = start
    consistent = True
    bar = tqdm(total=cfg.steps, initial=start, desc=f"train insertion ({cfg.pair})", disable=not progress, leave=False)
    try:
        while step < cfg.steps:
            fake, real = batch(cfg, step)
            consistent = False
            losses = train_step(cfg, m, fake, real, perceptual)
            m.history.append(losses)
            step += 1
            consistent = True
            bar.update(1)
            bar.set_postfix(l1=f"{losses['l1']:.3f}", p=f"{losses['p']:.3f}")
            if state_file is not None and step % checkpoint_every == 0 and step < cfg.steps:
                save_checkpoint(_state(cfg, m, step), state_file)
    except KeyboardInterrupt:
        if state_file is not None and consistent:
            save_checkpoint(_state(cfg, m, step), state_file)
        raise
    finally:
        bar.close()
    m.generator.eval()
    return m


# ------------------------------------------------------------------------------------------ evaluation
@torch.no_grad()
def generate(generator: ins.InsertionGenerator, pairs: ins.Pairs, batch_size: int = 128) -> torch.Tensor:
    """G's outputs for a batch of pairs, in chunks, in eval mode."""
    generator.eval()
    return torch.cat([generator(pairs.composite[i:i + batch_size], pairs.background[i:i + batch_size])
                      for i in range(0, len(pairs), batch_size)])


def eval_pairs(n: int = 256, seed: int = 0) -> tuple[ins.Pairs, ins.Pairs]:
    """Held-out (fake, real) pairs, from the seed range that training never uses."""
    s = heldout_seed(seed)
    return ins.make_pairs(s, n, real=False), ins.make_pairs(s, n, real=True)


def pair_classifier_accuracy(y_fake: torch.Tensor, y_real: torch.Tensor, *, steps: int = 150, seed: int = 0,
                             width: int = 16) -> float:
    """Train a fresh classifier (PairDiscriminator layout) to tell outputs of fake pairs (0) from outputs of
    real pairs (1) on the first half of each set; return its accuracy on the second half (0.5 = no
    difference left in the outputs that a small CNN can find)."""
    if y_fake.shape != y_real.shape or len(y_fake) < 4:
        raise ValueError(f"need as many fake- as real-pair outputs (>= 4), got {tuple(y_fake.shape)}, {tuple(y_real.shape)}")
    half = len(y_fake) // 2
    x_train = torch.cat((y_fake[:half], y_real[:half]))
    t_train = torch.cat((torch.zeros(half), torch.ones(half)))
    x_test = torch.cat((y_fake[half:], y_real[half:]))
    t_test = torch.cat((torch.zeros(len(y_fake) - half), torch.ones(len(y_real) - half)))
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        clf = ins.PairDiscriminator(width)
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


def evaluate(generator: ins.InsertionGenerator, n: int = 256, seed: int = 0, classifier_steps: int = 150) -> dict:
    """Mean Delta E (CIE76) over the inserted box against the rendered ground truth, for held-out fake and
    real pairs; the pair classifier's accuracy on the outputs; and the same errors for two references: the
    raw composite, and the object pasted with its true mask but not relit ("copy": no harmonisation)."""
    fake, real = eval_pairs(n, seed)
    y_f, y_r = generate(generator, fake), generate(generator, real)
    return {
        "fake_pair_error": round(float(ins.box_error(y_f, fake.target, fake.box).mean()), 3),
        "real_pair_error": round(float(ins.box_error(y_r, real.target, real.box).mean()), 3),
        "pair_classifier_accuracy": round(pair_classifier_accuracy(y_f, y_r, steps=classifier_steps), 3),
    }


def references(n: int = 256, seed: int = 0, classifier_steps: int = 150, classifiers: bool = True) -> dict:
    """Errors of doing nothing (the composite) and of a perfect cut-out without relighting (copy), and how well
    the pair classifier separates fake-pair targets from: real-pair composites (can G tell its inputs apart?),
    copies (can P see a missing relighting?) and real-pair ground truths (0.5: a perfect G leaves nothing)."""
    fake, real = eval_pairs(n, seed)
    out = {f"{what}_{kind}_pair_error": round(float(ins.box_error(getattr(p, what), p.target, p.box).mean()), 3)
           for what in ("composite", "copy") for kind, p in (("fake", fake), ("real", real))}
    for name, other, mine in (("inputs", real.composite, fake.composite), ("copy", real.copy, fake.target),
                              ("ground_truth", real.target, fake.target)) if classifiers else ():
        acc = pair_classifier_accuracy(mine, other, steps=classifier_steps)
        out[f"pair_classifier_accuracy_{name}"] = round(acc, 3)
    return out


# ------------------------------------------------------------------------------------------ checkpoints
def train_insertion(out: str | os.PathLike, *, steps: int = 300, seed: int = 0, pair: str = "confusion",
                    blending: bool = True, resume: bool = True, progress: bool = True, eval_n: int = 256,
                    classifier_steps: int = 150, **settings) -> dict:
    """Train one run and write the generator to ``out`` (weights + config + metrics, weights_only loadable);
    a resumable state lives beside it (:func:`reprolib.train.state_path`) until the run completes."""
    cfg = Config(steps=steps, seed=seed, pair=pair, blending=blending, **settings).check()
    out = Path(out)
    state_file = state_path(out)
    t0 = time.perf_counter()
    m = fit(cfg, progress=progress, state_file=state_file, resume=resume)
    seconds = time.perf_counter() - t0
    metrics = evaluate(m.generator, n=eval_n, classifier_steps=classifier_steps)
    tail = m.history[-50:]
    metrics["train_l1_last50"] = round(sum(h["l1"] for h in tail) / len(tail), 4)
    save_checkpoint({"format": CHECKPOINT_FORMAT, "config": asdict(cfg), "metrics": dict(metrics),
                     "generator": {k: v.detach().clone() for k, v in m.generator.state_dict().items()}}, out)
    state_file.unlink(missing_ok=True)
    metrics.update(seconds=round(seconds, 1), sha256=sha256_file(out), config=asdict(cfg))
    return metrics


def load_generator(path: str | os.PathLike) -> ins.InsertionGenerator:
    """A generator written by :func:`train_insertion` (torch.load weights_only=True), in eval mode."""
    obj = load_checkpoint(path)
    if obj.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(f"{path} is not an insertion checkpoint (expected format {CHECKPOINT_FORMAT!r})")
    cfg = obj["config"]
    g = ins.InsertionGenerator(cfg["width"], cfg["blending"])
    g.load_state_dict(obj["generator"])
    g.config, g.metrics = dict(cfg), dict(obj.get("metrics", {}))
    return g.eval()


def shipped(name: str) -> ins.InsertionGenerator:
    """A shipped checkpoint of data/insertion/ by name ("with_pair_discriminator", "without_pair_discriminator")."""
    return load_generator(DATA_DIR / f"{name}.pt")


# ------------------------------------------------------------------------------------------ the experiment
def experiment(seeds: tuple[int, ...] = (0, 1, 2), steps: int = 300, eval_n: int = 256, direct_seeds: tuple[int, ...] | None = None,
               reversal_seeds: tuple[int, ...] = (0,), oracle_seeds: tuple[int, ...] = (0,), progress: bool = True,
               step_note=None, **settings) -> dict:
    """Train with and without the pair discriminator (blending generator), the direct generator with it, and
    the gradient-reversal variant; evaluate each on the same held-out pairs. Returns the "insertion" results
    (plus, under "_<run>_generator", the generator of each run's first seed, for pictures)."""
    perceptual = ins.Perceptual()
    direct_seeds = seeds if direct_seeds is None else direct_seeds
    runs = {"without_pair_discriminator": [("none", True, s) for s in seeds],
            "with_pair_discriminator": [("confusion", True, s) for s in seeds],
            "direct_with_pair_discriminator": [("confusion", False, s) for s in direct_seeds],
            "gradient_reversal": [("reversal", True, s) for s in reversal_seeds],
            "oracle_supervised_real_pairs": [("none", True, s) for s in oracle_seeds]}
    out: dict = {}
    t0 = time.perf_counter()
    for name, plan in runs.items():
        per_seed = []
        for pair, blending, seed in plan:
            if step_note:
                step_note(f"insertion: {name}, seed {seed}")
            cfg = Config(steps=steps, seed=seed, pair=pair, blending=blending, oracle=name.startswith("oracle"), **settings)
            m = fit(cfg, progress=progress, perceptual=perceptual)
            per_seed.append({"seed": seed, **evaluate(m.generator, n=eval_n)})
            if seed == plan[0][2]:
                out[f"_{name}_generator"] = m.generator  # for pictures; callers pop it before saving
        if not per_seed:
            continue
        summary = {"pair": plan[0][0], "blending": plan[0][1], "seeds": [r["seed"] for r in per_seed]}
        for key in ("real_pair_error", "fake_pair_error", "pair_classifier_accuracy"):
            mean, std = ins.mean_std([r[key] for r in per_seed])
            summary[f"{key}_mean"], summary[f"{key}_std"] = round(mean, 3), round(std, 3)
        summary["pair_classifier_accuracy"] = summary["pair_classifier_accuracy_mean"]
        summary["per_seed"] = per_seed
        out[name] = summary
    if "direct_with_pair_discriminator" in out:
        keys = ("real_pair_error_mean", "real_pair_error_std", "fake_pair_error_mean", "fake_pair_error_std", "seeds")
        out["blending_vs_direct"] = {"blending": {k: out["with_pair_discriminator"][k] for k in keys},
                                     "direct": {k: out["direct_with_pair_discriminator"][k] for k in keys}}
    out["references"] = references(eval_n)
    out["settings"] = {**asdict(Config(steps=steps, **settings)), "eval_n": eval_n, "error": "mean CIE76 Delta E over the inserted box"}
    out["seconds"] = round(time.perf_counter() - t0, 1)
    return out


# ------------------------------------------------------------------------------------------ pictures
def show(rows: dict, n: int = 8, scale: float = 1.1):
    """A grid of images: one row per entry of ``rows`` (title -> (N, 3, H, W) or (N, 1, H, W) in [0, 1])."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(rows), n, figsize=(scale * n, scale * len(rows)), squeeze=False)
    for r, (title, images) in enumerate(rows.items()):
        for i in range(n):
            ax = axes[r, i]
            img = images[i].detach().clamp(0, 1)
            ax.imshow(img.expand(3, -1, -1).permute(1, 2, 0).numpy(), interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
        axes[r, 0].set_ylabel(title, rotation=0, ha="right", va="center", fontsize=8)
    fig.subplots_adjust(wspace=0.05, hspace=0.05, left=0.2)
    return fig
