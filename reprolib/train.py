"""Training loops and checkpoints.

``train_grayvgg`` trains the small gray-VGG of :mod:`reprolib.features` on the synthetic world of
:mod:`reprolib.scenes`, from the luminance L only, so that its features tell the semantic classes apart
(the paper's gray-VGG-19 is VGG-19 trained for ImageNet classification on L; here the classes are the
world's: sky, grass, water, ...).

Objective: dense per-pixel classification, FCN-style, with cosine classifiers. On each of relu2_2,
relu3_3, relu4_3 and relu5_3 a 1x1 "cosine convolution" scores every class, the four score maps are
upsampled bilinearly to the image size and summed, and the loss is the mean per-pixel cross-entropy
against the scene's label map:

    logits_c(p) = sum_l up(s cos(F_l, w_l,c))(p),     loss = mean_p -log softmax(logits(p))[label(p)]

(F_l the features of layer l, w_l,c a learned class direction, s = 10). Matching compares features by
cosine similarity, so the features are trained for exactly that: pixels of one class point the same way.
With plain linear heads the held-out accuracy after 300 steps was 0.945 and nn_label_agreement at relu3_1
0.79 (random weights: 0.78); with cosine heads 0.969 and 0.88. Heads on more layers (relu3_1, relu4_1,
relu5_1 too) did not help.

Reproducibility: the batch of step s is ``scenes.sample_scenes(train_data_seed(seed, s), batch_size, size)``,
a deterministic function of (seed, s); held-out scenes come from a disjoint seed range
(``heldout_seed``). Checkpoints hold model, optimiser, step and RNG state and are written atomically, so
an interrupted run (Ctrl-C, a killed process) resumes where its last checkpoint stopped and ends with the
same weights, bit for bit, as an uninterrupted run on the same machine.
"""
from __future__ import annotations

import hashlib
import math
import os
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from . import scenes
from .features import SMALL_CONVS, SMALL_WIDTHS, GrayVGG, read_weights, small_checkpoint, small_grayvgg
from .files import atomic_write

# Seed ranges: training batches use seeds below HELDOUT_SEED_BASE, held-out scenes seeds from it on.
SEED_STRIDE = 1_000_000  # training steps per run seed (a run may not exceed it)
HELDOUT_SEED_BASE = 10**12
STATE_FORMAT = "reprolib.train_state/1"


def train_data_seed(seed: int, step: int) -> int:
    """Scene seed of the training batch of ``step`` in a run seeded with ``seed`` (< HELDOUT_SEED_BASE)."""
    if not (0 <= seed < HELDOUT_SEED_BASE // SEED_STRIDE) or not (0 <= step < SEED_STRIDE):
        raise ValueError(f"seed must be in [0, {HELDOUT_SEED_BASE // SEED_STRIDE}) and step in [0, {SEED_STRIDE}), got {seed}, {step}")
    return seed * SEED_STRIDE + step


def heldout_seed(seed: int = 0) -> int:
    """Scene seed for held-out evaluation: disjoint from every training seed."""
    if seed < 0:
        raise ValueError(f"seed must be >= 0, got {seed}")
    return HELDOUT_SEED_BASE + seed


# -- checkpoints --------------------------------------------------------------------------------
def save_checkpoint(state: Mapping, path: str | os.PathLike) -> Path:
    """torch.save ``state`` to ``path`` atomically (temporary file in the same folder, then os.replace)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    return atomic_write(path, lambda tmp: torch.save(dict(state), tmp))


def load_checkpoint(path: str | os.PathLike) -> dict:
    """Read a checkpoint dict with weights_only=True; one-line error if it is missing or corrupt."""
    obj = read_weights(path, "checkpoint")
    if not isinstance(obj, dict):
        raise ValueError(f"checkpoint {path} holds a {type(obj).__name__}, not a dict")
    return obj


def sha256_file(path: str | os.PathLike) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def state_path(out: str | os.PathLike) -> Path:
    """The resumable training state kept beside ``out`` while a run is unfinished."""
    out = Path(out)
    return out.with_name(out.stem + ".state" + (out.suffix or ".pt"))


# -- the small gray-VGG -------------------------------------------------------------------------
def _batch(seed: int, step: int, batch_size: int, size: int):
    """The training batch of ``step``: (L (B, 1, H, W), labels (B, H, W))."""
    scene = scenes.sample_scenes(train_data_seed(seed, step), batch_size, size)
    return scene.L, scene.labels


def _lr_at(step: int, steps: int, lr: float, warmup: int) -> float:
    """Linear warm-up, then cosine decay to 5% of ``lr``."""
    if step < warmup:
        return lr * (step + 1) / warmup
    t = (step - warmup) / max(1, steps - warmup)
    return lr * (0.05 + 0.95 * 0.5 * (1.0 + math.cos(math.pi * t)))


@torch.no_grad()
def evaluate_grayvgg(model: GrayVGG, n: int = 256, seed: int = 0, size: int = 64, batch_size: int = 64) -> float:
    """Held-out per-pixel accuracy of ``model.classify`` on ``n`` fresh scenes (seed range disjoint from training)."""
    was_training = model.training
    model.eval()
    scene = scenes.sample_scenes(heldout_seed(seed), n, size)
    correct = 0
    for i in range(0, n, batch_size):
        pred = model.classify(scene.L[i:i + batch_size]).argmax(1).cpu()
        correct += (pred == scene.labels[i:i + batch_size]).sum().item()
    model.train(was_training)
    return correct / scene.labels.numel()


def train_grayvgg(
    out: str | os.PathLike,
    *,
    steps: int,
    batch_size: int = 32,
    seed: int = 0,
    size: int = 64,
    resume: bool = True,
    widths: Sequence[int] = SMALL_WIDTHS,
    convs: Sequence[int] = SMALL_CONVS,
    head_layers: Sequence[str] | None = None,
    head_type: str = "cosine",
    lr: float = 2e-3,
    weight_decay: float = 1e-4,
    checkpoint_every: int = 100,
    eval_n: int = 256,
    progress: bool = True,
) -> dict:
    """Train the small gray-VGG (dense per-pixel classification of scene classes from L); write ``out``.

    ``out`` receives the final checkpoint (weights + config + metadata, read by
    :func:`reprolib.features.grayvgg_small`). While training, a resumable state (model, Adam, step, RNG)
    is saved atomically every ``checkpoint_every`` steps and on Ctrl-C to :func:`state_path` (``out``
    with ``.state`` before its suffix); with ``resume=True`` a run with the same settings continues from
    it. It is deleted when the run completes.

    Returns metrics: final training loss/accuracy (mean over the last 50 steps), held-out per-pixel
    accuracy on ``eval_n`` scenes (``heldout_seed(seed)``), seconds, the step resumed from.
    """
    if steps < 1 or batch_size < 1 or checkpoint_every < 1:
        raise ValueError(f"steps, batch_size and checkpoint_every must be >= 1, got {steps}, {batch_size}, {checkpoint_every}")
    train_data_seed(seed, steps - 1)  # validates the seed and step ranges
    out = Path(out)
    state_file = state_path(out)
    config = {"steps": int(steps), "batch_size": int(batch_size), "seed": int(seed), "size": int(size),
              "widths": [int(w) for w in widths], "convs": [int(c) for c in convs], "lr": float(lr),
              "head_layers": None if head_layers is None else list(head_layers), "head_type": head_type,
              "weight_decay": float(weight_decay), "classes": list(scenes.CLASSES)}
    warmup = min(100, max(1, steps // 10))

    torch.manual_seed(seed)
    model = small_grayvgg(widths, convs, num_classes=len(scenes.CLASSES), classes=scenes.CLASSES,
                          head_layers=head_layers, head_type=head_type, source=f"small gray-VGG being trained (seed {seed})")
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
    start, history = 0, []
    if resume and state_file.exists():
        state = load_checkpoint(state_file)
        if state.get("format") != STATE_FORMAT or state.get("config") != config:
            raise ValueError(f"{state_file} was made by a run with other settings ({state.get('config')}); "
                             f"run with those settings, pass resume=False, or delete the file")
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        torch.set_rng_state(state["rng"])
        start, history = int(state["step"]), [tuple(h) for h in state["history"]]

    def checkpoint(step: int) -> None:
        save_checkpoint({"format": STATE_FORMAT, "config": config, "step": step, "model": model.state_dict(),
                         "optimizer": opt.state_dict(), "rng": torch.get_rng_state(), "history": history},
                        state_file)

    t0 = time.perf_counter()
    model.train()
    step = start
    bar = tqdm(total=steps, initial=start, desc="train gray-VGG", disable=not progress, leave=False)
    consistent = True  # False while opt.step() is changing the weights: no checkpoint of a half update
    try:
        while step < steps:
            L, labels = _batch(seed, step, batch_size, size)
            for group in opt.param_groups:
                group["lr"] = _lr_at(step, steps, lr, warmup)
            logits = model.classify(L)
            loss = F.cross_entropy(logits, labels)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            acc = (logits.detach().argmax(1) == labels).float().mean().item()
            consistent = False
            opt.step()
            history.append((loss.item(), acc))
            step += 1
            consistent = True
            bar.update(1)
            bar.set_postfix(loss=f"{loss.item():.3f}", acc=f"{acc:.3f}")
            if step % checkpoint_every == 0 and step < steps:
                checkpoint(step)
    except KeyboardInterrupt:
        if consistent:
            checkpoint(step)
        raise
    finally:
        bar.close()
    seconds = time.perf_counter() - t0

    model.eval()
    heldout = evaluate_grayvgg(model, n=eval_n, seed=seed, size=size)
    tail = history[-50:]
    metrics = {
        "steps": steps, "seed": seed, "batch_size": batch_size, "size": size, "widths": list(widths),
        "convs": list(convs), "lr": lr, "resumed_from": start,
        "train_loss": round(sum(h[0] for h in tail) / len(tail), 4),
        "train_accuracy": round(sum(h[1] for h in tail) / len(tail), 4),
        "heldout_accuracy": round(heldout, 4), "heldout_n": eval_n, "heldout_scene_seed": heldout_seed(seed),
        "seconds": round(seconds, 1), "torch": str(torch.__version__),
        "objective": "dense per-pixel cross-entropy over scenes.CLASSES, cosine 1x1 heads (s=10) on " + ", ".join(model.head_layers),
    }
    # the checkpoint depends on the settings only, not on timing or on whether the run was resumed
    save_checkpoint(small_checkpoint(model, **{k: v for k, v in metrics.items() if k not in ("seconds", "resumed_from")}), out)
    state_file.unlink(missing_ok=True)
    metrics["sha256"] = sha256_file(out)
    return metrics
