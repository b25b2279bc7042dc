"""The paper's evaluation in miniature (He et al. 2018, Sec. 5): exemplar colorization against baselines.

Every method colours the gray target T_L of a held-out synthetic pair (T, R); the ground truth is
``scenes.ground_truth(T, R)``, the target's layout rendered with the reference's palettes (G). Rows:

* ``ground_truth``: G itself, the ceiling (PSNR of identical images is infinite: reported as None).
* ``l1_auto``: the automatic colorization sub-net trained with a plain L1 loss on T_L only (no reference).
* ``welsh``: Welsh, Ashikhmin & Mueller 2002, "Transferring color to greyscale images" (:func:`welsh`).
* ``warped_reference``: T_L with R'_ab alone, R'_ab(p) = R_ab(phi_T->R(p)) (``matching.match``, exact NN).
* ``chrominance_only``: the colorization sub-net trained with the chrominance branch only.
* ``full``: the colorization sub-net trained with both branches (chrominance + perceptual).

A method's output is P_lab = (T_L, P_ab) (P_L = T_L as in the paper) and its image lab_to_rgb(P_lab)
(clipped to the sRGB gamut). Metrics, each a mean over images:

* ``psnr``: 10 log10(1 / MSE) on sRGB in [0, 1] (peak 1) against rgb(G), per image;
* ``delta_e2000``: mean CIEDE2000 between P_lab and G_lab over all pixels (on Lab as predicted, like
  ``colortrain.evaluate_colornet``);
* ``colorfulness``: Hasler & Suesstrunk 2003 (:func:`colorfulness`), of rgb(P_lab);
* ``classifier_accuracy``: the analogue of the paper's classification test (a VGG classifier trained on
  colour photos run on colorized photos): a small colour classifier (:class:`ColourClassifier`, trained on
  true-colour scenes) predicts per pixel WHICH PALETTE its class wears; accuracy against G's palettes.
  The palettes of a class share L* exactly, so a gray image (or luminance alone) can only guess: its
  accuracy is about the chance level mean_p 1 / P_{class(p)} (``classifier_chance``), while an image in
  the right colours scores about as high as G.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import time
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from . import color, matching, scenes
from .colornet import CHECKPOINTS, check_input, load_colornet, predict_ab
from .features import grayvgg_small
from .train import heldout_seed, train_data_seed

ROWS = ("ground_truth", "l1_auto", "welsh", "warped_reference", "chrominance_only", "full")
METRICS = ("psnr", "delta_e2000", "colorfulness", "classifier_accuracy")
NETS = ("l1_auto", "chrominance_only", "full")  # rows produced by a shipped colornet checkpoint
DATA_DIR = Path(__file__).resolve().parent.parent / "data"
CLASSIFIER_CHECKPOINT = DATA_DIR / "colour_classifier.pt"
CLASSIFIER_FORMAT = "reprolib.colour_classifier/1"
WELSH_SAMPLES = 200  # Welsh et al.: "about 200 samples" by jittered sampling
WELSH_NEIGHBOURHOOD = 5  # 5 x 5 neighbourhood statistics
WELSH_WEIGHT = 0.5  # weight of the luminance term (the std term gets 1 - weight): Welsh's 50/50
QUICK_PAIRS = 32  # evaluate(quick=True) caps the number of pairs at this
_CHUNK = 1 << 22  # Welsh: target pixels x samples per distance block


# ---------------------------------------------------------------------------------------------- checks
def _image(x: object, name: str, channels: int) -> Tensor:
    """A float tensor (B, channels, H, W) without NaN (the checks of :func:`reprolib.colornet.check_input`)."""
    return check_input(x, channels, name)


def _positive_int(value: object, name: str, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}, got {value!r}")
    return value


# ---------------------------------------------------------------------------------------------- metrics
def psnr(rgb: Tensor, reference: Tensor) -> Tensor:
    """Per-image PSNR (B,) in dB on sRGB in [0, 1] with peak 1:  PSNR = 10 log10(1 / MSE).

    Identical images (MSE = 0) give +inf.
    """
    rgb, reference = _image(rgb, "rgb", 3), _image(reference, "reference", 3)
    if rgb.shape != reference.shape:
        raise ValueError(f"rgb and reference differ in shape: {tuple(rgb.shape)} vs {tuple(reference.shape)}")
    mse = (rgb.double() - reference.double()).pow(2).mean(dim=(1, 2, 3))
    return (10.0 * torch.log10(1.0 / mse)).float()  # 1 / 0 = inf, log10(inf) = inf


def colorfulness(rgb: Tensor) -> Tensor:
    """Hasler & Suesstrunk 2003 colourfulness (B,) of sRGB images (B, 3, H, W) in [0, 1].

    On R, G, B in 0..255:  rg = R - G,  yb = (R + G) / 2 - B,
    sigma_rgyb = sqrt(sigma_rg^2 + sigma_yb^2),  mu_rgyb = sqrt(mu_rg^2 + mu_yb^2),
    M = sigma_rgyb + 0.3 mu_rgyb  (population standard deviations over the pixels). Gray images: M = 0.
    """
    rgb = _image(rgb, "rgb", 3).double() * 255.0
    R, G, B = rgb.unbind(1)
    rg, yb = (R - G).flatten(1), (0.5 * (R + G) - B).flatten(1)
    sigma = (rg.var(dim=1, unbiased=False) + yb.var(dim=1, unbiased=False)).sqrt()
    mu = (rg.mean(dim=1) ** 2 + yb.mean(dim=1) ** 2).sqrt()
    return (sigma + 0.3 * mu).float()


def mean_delta_e2000(lab: Tensor, reference_lab: Tensor) -> Tensor:
    """Per-image mean CIEDE2000 (B,) between Lab images (B, 3, H, W)."""
    lab, reference_lab = _image(lab, "lab", 3), _image(reference_lab, "reference_lab", 3)
    if lab.shape != reference_lab.shape:
        raise ValueError(f"lab and reference_lab differ in shape: {tuple(lab.shape)} vs {tuple(reference_lab.shape)}")
    return color.delta_e2000(lab, reference_lab).mean(dim=(-2, -1))


# ---------------------------------------------------------------------------------------------- Welsh 2002
def _local_std(L: Tensor, k: int) -> Tensor:
    """Standard deviation of L over the k x k neighbourhood of every pixel (reflected borders):
    sd = sqrt(E[L^2] - E[L]^2)."""
    pad = k // 2
    Lp = F.pad(L, (pad, pad, pad, pad), mode="replicate")
    mean = F.avg_pool2d(Lp, k, stride=1)
    mean2 = F.avg_pool2d(Lp * Lp, k, stride=1)
    return (mean2 - mean * mean).clamp_min(0.0).sqrt()


def _jittered_grid(n: int, h: int, w: int, samples: int, g: torch.Generator) -> Tensor:
    """(n, S) flat pixel indices: one uniform random pixel in each cell of a gy x gx grid, gy gx ~ samples."""
    gy = max(1, min(h, round(math.sqrt(samples * h / w))))
    gx = max(1, min(w, round(samples / gy)))
    ey = torch.linspace(0, h, gy + 1)
    ex = torch.linspace(0, w, gx + 1)
    uy, ux = torch.rand(n, gy, gx, generator=g), torch.rand(n, gy, gx, generator=g)
    y = (ey[:-1].view(1, gy, 1) + uy * (ey[1:] - ey[:-1]).view(1, gy, 1)).floor().long().clamp(0, h - 1)
    x = (ex[:-1].view(1, 1, gx) + ux * (ex[1:] - ex[:-1]).view(1, 1, gx)).floor().long().clamp(0, w - 1)
    return (y * w + x).flatten(1)


@torch.no_grad()
def welsh(T_L: Tensor, R_lab: Tensor, samples: int = WELSH_SAMPLES, neighbourhood: int = WELSH_NEIGHBOURHOOD,
          weight: float = WELSH_WEIGHT, seed: int = 0) -> Tensor:
    """Welsh, Ashikhmin & Mueller 2002 global colour transfer to a gray image; returns P_ab (B, 2, H, W).

    1. Luminance remapping of the reference to the target's statistics:
       L'_R = (sigma_T / sigma_R) (L_R - mu_R) + mu_T.
    2. Jittered sampling: ~``samples`` reference pixels, one uniformly at random in each cell of a grid.
    3. Per target pixel p, the sample s minimising the weighted match of luminance and neighbourhood
       standard deviation (``neighbourhood`` x ``neighbourhood``):
       d(p, s) = w (L_T(p) - L'_R(s))^2 + (1 - w) (sd_T(p) - sd'_R(s))^2,   w = ``weight`` (Welsh: 50/50).
    4. Copy its chrominance: P_ab(p) = R_ab(s*); P_L = T_L.
    Welsh et al. work in Ruderman's l-alpha-beta space; here we use CIE Lab (L*, a*, b*), the space of
    the rest of the project. Deterministic for a given ``seed`` (own torch.Generator).

    T_L: (B, 1, H, W) L* in [0, 100]; R_lab: (B, 3, H', W') reference Lab (any size).
    """
    T_L = _image(T_L, "T_L", 1)
    R_lab = _image(R_lab, "R_lab", 3)
    if R_lab.shape[0] != T_L.shape[0]:
        raise ValueError(f"T_L and R_lab batches differ: {T_L.shape[0]} vs {R_lab.shape[0]}")
    samples = _positive_int(samples, "samples")
    neighbourhood = _positive_int(neighbourhood, "neighbourhood")
    if neighbourhood % 2 == 0:
        raise ValueError(f"neighbourhood must be odd, got {neighbourhood}")
    if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not 0.0 <= weight <= 1.0:
        raise ValueError(f"weight must be a number in [0, 1], got {weight!r}")
    B, _, H, W = T_L.shape
    h, w = R_lab.shape[-2:]
    T_L, R_lab = T_L.float(), R_lab.float()
    R_L, R_ab = R_lab[:, :1], R_lab[:, 1:]
    mu_T, sd_T = T_L.mean(dim=(1, 2, 3), keepdim=True), T_L.std(dim=(1, 2, 3), unbiased=False, keepdim=True)
    mu_R, sd_R = R_L.mean(dim=(1, 2, 3), keepdim=True), R_L.std(dim=(1, 2, 3), unbiased=False, keepdim=True)
    R_L = (sd_T / sd_R.clamp_min(1e-6)) * (R_L - mu_R) + mu_T  # luminance remapping
    g = torch.Generator().manual_seed(int(seed))
    idx = _jittered_grid(B, h, w, samples, g).to(T_L.device)  # (B, S)
    S = idx.shape[1]
    feat_R = torch.stack((R_L.flatten(1), _local_std(R_L, neighbourhood).flatten(1)), dim=-1)  # (B, h w, 2)
    feat_R = feat_R.gather(1, idx.unsqueeze(-1).expand(-1, -1, 2))  # (B, S, 2)
    ab_R = R_ab.flatten(2).gather(2, idx.unsqueeze(1).expand(-1, 2, -1))  # (B, 2, S)
    feat_T = torch.stack((T_L.flatten(1), _local_std(T_L, neighbourhood).flatten(1)), dim=-1)  # (B, H W, 2)
    scale = torch.tensor([weight, 1.0 - weight], device=T_L.device).sqrt()
    feat_R, feat_T = feat_R * scale, feat_T * scale  # squared distance of scaled features = d(p, s)
    best = torch.empty(B, H * W, dtype=torch.long, device=T_L.device)
    step = max(1, _CHUNK // (B * S))
    for i in range(0, H * W, step):
        best[:, i:i + step] = torch.cdist(feat_T[:, i:i + step], feat_R).argmin(dim=-1)
    return ab_R.gather(2, best.unsqueeze(1).expand(-1, 2, -1)).view(B, 2, H, W)


# ---------------------------------------------------------------------------------------------- colour classifier
class ColourClassifier(nn.Module):
    """A tiny fully convolutional net: sRGB image (B, 3, H, W) -> per-pixel logits (B, max P, H, W) over
    the palette index of the pixel's class (``scenes.PALETTES``).

    Full-resolution stem (2 convs) -> stride-2 context branch (dilations 1, 2, 4, receptive field ~40 px,
    enough to recognise a class by its texture) -> upsampled, concatenated with the stem -> 3x3 conv -> 1x1.
    Input normalised as (rgb - 0.5) / 0.25. The palette of a class is a colour property only (the palettes
    of a class share L*), so the net has to read colour.
    """

    def __init__(self, width: int = 16, outputs: int = max(scenes.NUM_PALETTES)):
        super().__init__()
        self.width, self.outputs = _positive_int(width, "width"), _positive_int(outputs, "outputs", 2)
        w = width
        self.stem = nn.Sequential(nn.Conv2d(3, w, 3, padding=1), nn.ReLU(), nn.Conv2d(w, w, 3, padding=1), nn.ReLU())
        self.context = nn.Sequential(
            nn.Conv2d(w, 2 * w, 3, stride=2, padding=1), nn.ReLU(),
            nn.Conv2d(2 * w, 2 * w, 3, padding=2, dilation=2), nn.ReLU(),
            nn.Conv2d(2 * w, 2 * w, 3, padding=4, dilation=4), nn.ReLU())
        self.head = nn.Sequential(nn.Conv2d(3 * w, w, 3, padding=1), nn.ReLU(), nn.Conv2d(w, outputs, 1))

    def forward(self, rgb: Tensor) -> Tensor:
        x = self.stem((rgb - 0.5) / 0.25)
        c = F.interpolate(self.context(x), size=x.shape[-2:], mode="bilinear", align_corners=False)
        return self.head(torch.cat((x, c), dim=1))


def palette_targets(scene: scenes.Scene) -> Tensor:
    """(B, H, W) int64: palette index of every pixel's class, palette[b, labels[b, y, x]]."""
    B = len(scene)
    return scene.palette.gather(1, scene.labels.view(B, -1)).view_as(scene.labels)


def classifier_chance(labels: Tensor) -> float:
    """Accuracy of guessing uniformly among the palettes of each pixel's class: mean_p 1 / P_{class(p)}."""
    inv = 1.0 / torch.tensor(scenes.NUM_PALETTES, dtype=torch.float64)
    return inv[labels.flatten()].mean().item()


@torch.no_grad()
def classifier_accuracy(net: ColourClassifier, rgb: Tensor, truth: scenes.Scene, batch_size: int = 64) -> Tensor:
    """Per-image accuracy (B,) of ``net``'s per-pixel palette predictions on ``rgb`` (B, 3, H, W)
    against the palettes of ``truth`` (same layout). Palettes a class does not have are never predicted."""
    rgb = _image(rgb, "rgb", 3)
    if rgb.shape[0] != len(truth) or tuple(rgb.shape[-2:]) != tuple(truth.labels.shape[-2:]):
        raise ValueError(f"rgb {tuple(rgb.shape)} does not match the truth's layout {tuple(truth.labels.shape)}")
    valid = torch.arange(net.outputs).view(1, -1) < torch.tensor(scenes.NUM_PALETTES).view(-1, 1)  # (C, P)
    out = []
    for i in range(0, rgb.shape[0], batch_size):
        logits = net(rgb[i:i + batch_size].float())
        ok = valid[truth.labels[i:i + batch_size]].permute(0, 3, 1, 2)  # (b, P, H, W)
        pred = logits.masked_fill(~ok, -math.inf).argmax(dim=1)
        out.append((pred == palette_targets(truth[i:i + batch_size])).float().mean(dim=(1, 2)))
    return torch.cat(out)


def _jitter_colours(scene: scenes.Scene, g: torch.Generator, amount: float) -> Tensor:
    """sRGB of ``scene`` with every class's (a*, b*) shifted by a uniform offset in [-amount, amount]
    (one per scene and class; palettes of a class are >= 20 CIEDE2000 apart, so the label stays right)."""
    B = len(scene)
    shift = (torch.rand(B, len(scenes.CLASSES), 2, generator=g) * 2 - 1) * amount
    per_pixel = shift.gather(1, scene.labels.view(B, -1, 1).expand(-1, -1, 2)).permute(0, 2, 1)
    ab = scene.ab + per_pixel.reshape(B, 2, *scene.labels.shape[-2:])
    return color.lab_to_rgb(torch.cat((scene.L, ab), dim=1))


def train_classifier(out: str | os.PathLike = CLASSIFIER_CHECKPOINT, steps: int = 400, batch_size: int = 24,
                     size: int = 64, lr: float = 3e-3, width: int = 16, jitter: float = 5.0, seed: int = 0,
                     heldout_n: int = 200, log: Callable[[str], None] | None = None) -> dict:
    """Train :class:`ColourClassifier` on true-colour scenes ``sample_scenes(train_data_seed(seed, step))``
    with per-pixel cross-entropy on the palette index (colours jittered by +-``jitter`` a*, b* per class),
    Adam with a cosine learning rate; save ``out`` (weights) and ``out`` with .json (provenance, held-out
    accuracy on true colours and on gray images). Returns the provenance."""
    steps, batch_size = _positive_int(steps, "steps"), _positive_int(batch_size, "batch_size")
    size = _positive_int(size, "size", 16)
    torch.manual_seed(seed)
    net = ColourClassifier(width)
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    g = torch.Generator().manual_seed(seed)
    started = time.perf_counter()
    loss = torch.zeros(())
    for step in range(steps):
        for group in opt.param_groups:
            group["lr"] = lr * 0.5 * (1 + math.cos(math.pi * step / steps))
        scene = scenes.sample_scenes(train_data_seed(seed, step), batch_size, size)
        logits = net(_jitter_colours(scene, g, jitter))
        loss = F.cross_entropy(logits, palette_targets(scene))
        opt.zero_grad()
        loss.backward()
        opt.step()
        if log is not None and (step % 50 == 0 or step == steps - 1):
            log(f"step {step}: loss {loss.item():.4f}")
    seconds = time.perf_counter() - started
    net.eval()
    target, reference = scenes.sample_pairs(heldout_seed(0), heldout_n, size)
    truth = scenes.ground_truth(target, reference)
    gray = color.lab_to_rgb(torch.cat((truth.L, torch.zeros_like(truth.ab)), dim=1))
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"format": CLASSIFIER_FORMAT, "config": {"width": width, "outputs": net.outputs},
                "state_dict": {k: v.detach().clone() for k, v in net.state_dict().items()}}, out)
    meta = {
        "file": f"data/{out.name}",
        "python_call": f"reprolib.evaluation.train_classifier(steps={steps}, batch_size={batch_size}, size={size}, "
                       f"lr={lr}, width={width}, jitter={jitter}, seed={seed})",
        "task": "per-pixel palette index of the pixel's class (scenes.PALETTES), from sRGB",
        "training_data": f"true-colour scenes.sample_scenes(train_data_seed({seed}, step), {batch_size}, {size}), "
                         f"step = 0..{steps - 1}; a*, b* of each class jittered by +-{jitter}",
        "parameters": sum(p.numel() for p in net.parameters()),
        "final_train_loss": round(loss.item(), 4),
        "heldout": f"ground_truth(*sample_pairs(heldout_seed(0), {heldout_n}, {size}))",
        "heldout_accuracy_true_colour": round(classifier_accuracy(net, truth.rgb, truth).mean().item(), 4),
        "heldout_accuracy_gray": round(classifier_accuracy(net, gray, truth).mean().item(), 4),
        "heldout_chance": round(classifier_chance(truth.labels), 4),
        "seconds": round(seconds, 1),
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "sha256": hashlib.sha256(out.read_bytes()).hexdigest(),
        "bytes": out.stat().st_size,
    }
    out.with_suffix(".json").write_text(json.dumps(meta, indent=2) + "\n")
    return meta


def load_classifier(path: str | os.PathLike | None = None) -> ColourClassifier:
    """The shipped colour classifier (data/colour_classifier.pt) in eval mode, loaded with weights_only=True."""
    path = Path(CLASSIFIER_CHECKPOINT if path is None else path).expanduser()
    if not path.is_file():
        raise ValueError(f"colour classifier {path} does not exist; make one with "
                         f"reprolib.evaluation.train_classifier({str(path)!r})")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 - a corrupt or foreign file: one clear line
        raise ValueError(f"{path}: not a readable checkpoint ({str(err).splitlines()[0][:160]})") from None
    if not isinstance(obj, dict) or obj.get("format") != CLASSIFIER_FORMAT:
        raise ValueError(f"{path} is not a colour classifier checkpoint (expected format {CLASSIFIER_FORMAT!r})")
    try:
        net = ColourClassifier(int(obj["config"]["width"]), int(obj["config"]["outputs"]))
        net.load_state_dict(obj["state_dict"])
    except (KeyError, TypeError, RuntimeError) as err:
        raise ValueError(f"{path}: malformed colour classifier checkpoint ({str(err).splitlines()[0][:160]})") from None
    return net.eval()


# ---------------------------------------------------------------------------------------------- the evaluation
def _nets() -> tuple[dict[str, torch.nn.Module], list[str]]:
    """The shipped colornets of NETS that exist, and the names of those whose checkpoint is missing."""
    nets, missing = {}, []
    for mode in NETS:
        if CHECKPOINTS[mode].is_file():
            nets[mode] = load_colornet(mode=mode)
        else:
            missing.append(mode)
    return nets, missing


@torch.no_grad()
def colorize(target: scenes.Scene, reference: scenes.Scene, grayvgg: nn.Module, nets: dict[str, nn.Module],
             seed: int = 0) -> dict[str, Tensor]:
    """P_lab (B, 3, H, W) of every available row for the pairs (target, reference); P_L = T_L.

    "ground_truth": ground_truth(T, R).lab; "welsh": :func:`welsh` (seeded with ``seed``);
    "warped_reference": (T_L, R'_ab) from ``matching.match`` (exact NN); the nets in ``nets`` (l1_auto,
    chrominance_only, full) predict P_ab from the 13-channel input (l1_auto reads T_L only).
    """
    if len(target) != len(reference):
        raise ValueError(f"target and reference batches differ in length: {len(target)} vs {len(reference)}")
    m = matching.match(grayvgg, target.L, reference.L, reference.ab)
    ab = {"ground_truth": scenes.ground_truth(target, reference).ab}
    if "l1_auto" in nets:
        ab["l1_auto"] = predict_ab(nets["l1_auto"], m.net_input)
    ab["welsh"] = welsh(target.L, reference.lab, seed=seed)
    ab["warped_reference"] = m.R_ab_warped
    for mode in ("chrominance_only", "full"):
        if mode in nets:
            ab[mode] = predict_ab(nets[mode], m.net_input)
    return {name: torch.cat((target.L, v.to(target.L)), dim=1) for name, v in ab.items()}


@torch.no_grad()
def evaluate(n_pairs: int = 200, seed: int = 0, quick: bool = False, size: int = 64, batch_size: int = 50,
             classifier: ColourClassifier | None = None) -> dict:
    """All rows x all metrics on the held-out pairs ``sample_pairs(heldout_seed(seed), n_pairs, size)``.

    quick: at most QUICK_PAIRS pairs. Rows whose colornet checkpoint is missing are left out and listed
    under "missing_rows". The ground-truth row's "psnr" is None (identical images: infinite PSNR); its
    other numbers are the ceiling (delta_e2000 0, colourfulness and classifier accuracy of true colours).
    Welsh's jittered samples use the seed ``seed * 1_000_003 + first pair index`` per batch of
    ``batch_size`` pairs. Deterministic.
    """
    n_pairs = _positive_int(n_pairs, "n_pairs")
    seed = _positive_int(seed, "seed", 0)
    size = _positive_int(size, "size", 16)
    batch_size = _positive_int(batch_size, "batch_size")
    if quick:
        n_pairs = min(n_pairs, QUICK_PAIRS)
    started = time.perf_counter()
    classifier = load_classifier() if classifier is None else classifier
    grayvgg = grayvgg_small()
    nets, missing = _nets()
    target, reference = scenes.sample_pairs(heldout_seed(seed), n_pairs, size)
    sums: dict[str, dict[str, float]] = {}
    for i in range(0, n_pairs, batch_size):
        T, R = target[i:i + batch_size], reference[i:i + batch_size]
        truth = scenes.ground_truth(T, R)
        for name, lab in colorize(T, R, grayvgg, nets, seed=seed * 1_000_003 + i).items():
            rgb = truth.rgb if name == "ground_truth" else color.lab_to_rgb(lab)
            per_image = {"psnr": psnr(rgb, truth.rgb), "delta_e2000": mean_delta_e2000(lab, truth.lab),
                         "colorfulness": colorfulness(rgb),
                         "classifier_accuracy": classifier_accuracy(classifier, rgb, truth)}
            row = sums.setdefault(name, dict.fromkeys(METRICS, 0.0))
            for k, v in per_image.items():
                row[k] += v.double().sum().item()
    rows = {}
    for name in ROWS:
        if name in sums:
            rows[name] = {k: v / n_pairs for k, v in sums[name].items()}
            if math.isinf(rows[name]["psnr"]):
                rows[name]["psnr"] = None
    return {"rows": rows, "n_pairs": n_pairs, "size": size,
            "pairs": f"sample_pairs(heldout_seed({seed}), {n_pairs}, {size})",
            "classifier_chance": classifier_chance(target.labels), "missing_rows": missing,
            "psnr_ground_truth": "None: the ground truth against itself has infinite PSNR",
            "seconds": round(time.perf_counter() - started, 1)}


# ---------------------------------------------------------------------------------------------- reproduce entry
def rows_figure(target: scenes.Scene, reference: scenes.Scene, labs: dict[str, Tensor]):
    """A grid, one pair per row: target gray (T_L), reference, then each row's result (ground truth first)."""
    import matplotlib.pyplot as plt

    n = len(target)
    cols = 2 + len(labs)
    fig, axes = plt.subplots(n, cols, figsize=(1.6 * cols, 1.75 * n), constrained_layout=True, squeeze=False)
    for i in range(n):
        images = [("target T_L", target.L[i, 0].clamp(0, 100) / 100), ("reference R", reference.rgb[i])]
        images += [(name, color.lab_to_rgb(lab[i])) for name, lab in labs.items()]
        for j, (title, img) in enumerate(images):
            ax = axes[i, j]
            if img.dim() == 2:
                ax.imshow(img.numpy(), cmap="gray", vmin=0, vmax=1)
            else:
                ax.imshow(img.permute(1, 2, 0).clamp(0, 1).numpy())
            ax.set_axis_off()
            if i == 0:
                ax.set_title(title, fontsize=7)
    return fig


def colorization_experiment(out, quick: bool, step: Callable[[str], None]) -> tuple[dict, str]:
    """The paper's evaluation in miniature: every row on held-out pairs; figures/colorization_rows.png."""
    step("colorization: all rows on held-out pairs")
    res = evaluate(n_pairs=200, quick=quick)
    step("colorization: figure")
    target, reference = scenes.sample_pairs(heldout_seed(0), 3)
    nets, _ = _nets()
    labs = colorize(target, reference, grayvgg_small(), nets)
    out.save_figure("figures/colorization_rows.png", rows_figure(target, reference, labs))
    results = {"rows": res["rows"], "n_pairs": res["n_pairs"], "classifier_chance": res["classifier_chance"],
               "missing_rows": res["missing_rows"]}

    def fmt(v: float | None, digits: int) -> str:
        return "inf (None)" if v is None else f"{v:.{digits}f}"

    table = ["| row | PSNR (dB) | CIEDE2000 | colourfulness | classifier accuracy |", "|---|---|---|---|---|"]
    table += [f"| {name} | {fmt(r['psnr'], 2)} | {r['delta_e2000']:.2f} | {r['colorfulness']:.1f} | "
              f"{r['classifier_accuracy']:.3f} |" for name, r in res["rows"].items()]
    missing = f"\nMissing checkpoints (rows left out): {', '.join(res['missing_rows'])}.\n" if res["missing_rows"] else ""
    md = f"""## Colorization: the paper's evaluation in miniature

{res['n_pairs']} held-out 64 x 64 pairs `{res['pairs']}`; ground truth = the target's layout rendered with the
reference's palettes. PSNR on sRGB (peak 1), CIEDE2000 on Lab (both against the ground truth),
Hasler-Suesstrunk colourfulness, and the accuracy of a small colour classifier (per-pixel palette of the
pixel's class, trained on true colours; chance with luminance alone {res['classifier_chance']:.3f}) run on
each row's images. The ground truth's PSNR is infinite.

{chr(10).join(table)}
{missing}
![rows](figures/colorization_rows.png)
"""
    return results, md
