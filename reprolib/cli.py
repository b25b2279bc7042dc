"""Command line: ``python -m reprolib colorize TARGET --reference REF --output OUT``, ``reproduce``,
``train grayvgg|colornet|chooser|insertion|classifier``, ``models``, ``download NAME``.

Errors a user can cause (bad paths, bad images, missing weights) end with one line on stderr and a
non-zero exit status, not a traceback (set REPROLIB_TRACEBACK=1 to see one).
"""
from __future__ import annotations

import argparse
import os
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path

from .colorization.colorize import COLORIZE_METHODS, DEFAULT_COLORNET, DEFAULT_FEATURES, DEFAULT_METHOD
from .colorization.extractors import GrayVGGWeights
from .colorization.smoothing import DEFAULT_FILTER, FILTERS
from .core.devices import DEVICES, resolve_device
from .training.colornet import MODES as COLORNET_MODES
from .training.insertion import PAIR_MODES

USER_ERRORS = (ValueError, OSError, RuntimeError)
DOWNLOADS = tuple(e.value.name for e in GrayVGGWeights if e.url)  # the torchvision entries


def _command(args: argparse.Namespace) -> str:
    """The command line that ran, for the provenance of what it trains."""
    return "python -m reprolib " + " ".join(shlex.quote(a) for a in args.argv)


def _new_output(path: str | Path, force: bool, note: str = "") -> Path:
    """The output path, refused (FileExistsError) when it exists and ``force`` is not given."""
    out = Path(path)
    if out.exists() and not force:
        raise FileExistsError(f"{out} already exists; pass --force to replace it {note}".rstrip())
    return out


def _reproduce(args: argparse.Namespace) -> int:
    from .reproduce import reproduce

    only = [name.strip() for name in args.only.split(",")] if args.only else None
    results = reproduce(args.out, quick=args.quick, progress=not args.no_progress, only=only, workers=args.jobs,
                        device=resolve_device(args.device).type)
    print(f"wrote {args.out}/results.json, results.md and REPORT.md in {results['meta']['seconds']} s")
    return 0


def _loop_options(args: argparse.Namespace) -> dict:
    return {"resume": not args.no_resume, "progress": not args.no_progress, "command": _command(args),
            "device": resolve_device(args.device).type}


def _train_grayvgg(args: argparse.Namespace) -> int:
    from .training import grayvgg

    out = _new_output(args.out, args.force, "(the old file stays until the run ends)")
    metrics = grayvgg.train(out, steps=args.steps, batch_size=args.batch_size, seed=args.seed, size=args.size,
                            **_loop_options(args))
    print(f"wrote {out}: held-out per-pixel accuracy {metrics['heldout_accuracy']:.4f} "
          f"after {metrics['steps']} steps in {metrics['seconds']} s")
    return 0


def _train_colornet(args: argparse.Namespace) -> int:
    from .training import colornet, photo_colornet

    out = _new_output(args.out, args.force, "(the old file stays until the run ends)")
    if args.images:  # photographs: views of each image, matched with --features
        metrics = photo_colornet.train(out, steps=args.steps, batch_size=args.batch_size, seed=args.seed,
                                       width=args.width, lr=args.lr, features=args.features, images=args.images,
                                       branches=tuple(args.branches.split(",")), cached=not args.fresh_pairs,
                                       pairs_per_image=args.pairs_per_image, guided=args.guided,
                                       extra_images=args.extra_images or "", hue=args.hue,
                                       eval_n=min(args.eval_n, 4), **_loop_options(args))
    else:
        metrics = colornet.train(out, steps=args.steps, mode=args.mode, batch_size=args.batch_size, seed=args.seed,
                                 size=args.size, width=args.width, residual=not args.no_residual, lr=args.lr,
                                 pool=args.pool, eval_n=args.eval_n, grayvgg=args.grayvgg, usual=args.usual,
                                 related=args.related, **_loop_options(args))
    return _report_heldout(out, metrics, "R'_ab alone", "heldout_delta_e2000_warped_reference")


def _report_heldout(out: Path, metrics: dict, baseline: str, key: str) -> int:
    """The line a colorization trainer ends with (rank 0 only: under torchrun, rank 0 writes and reports)."""
    if "sha256" in metrics:
        print(f"wrote {out} and {out.with_suffix('.json')}: held-out CIEDE2000 {metrics.get('heldout_delta_e2000')} "
              f"({baseline} {metrics.get(key)}) after {metrics['steps']} steps in {metrics['seconds']} s")
    return 0


def _train_chooser(args: argparse.Namespace) -> int:
    from .training import chooser

    out = _new_output(args.out, args.force, "(the old file stays until the run ends)")
    metrics = chooser.train(out, steps=args.steps, batch_size=args.batch_size, seed=args.seed, width=args.width,
                            lr=args.lr, features=args.features, images=args.images, hue=args.hue,
                            extra_images=args.extra_images or "", pairs_per_image=args.pairs_per_image,
                            eval_n=min(args.eval_n, 4), **_loop_options(args))
    return _report_heldout(out, metrics, "R'_ab smoothed", "heldout_delta_e2000_warped_reference_smoothed")


def _train_insertion(args: argparse.Namespace) -> int:
    from .training import insertion

    out = _new_output(args.out, args.force, "(the old file stays until the run ends)")
    metrics = insertion.train(out, steps=args.steps, seed=args.seed, pair=args.pair, blending=not args.direct,
                              batch_size=args.batch_size, width=args.width, eval_n=args.eval_n,
                              classifier_steps=args.classifier_steps, **_loop_options(args))
    print(f"wrote {out}: real-pair error {metrics['real_pair_error']:.2f}, "
          f"fake-pair error {metrics['fake_pair_error']:.2f} "
          f"(mean Delta E in the box), pair classifier accuracy {metrics['pair_classifier_accuracy']:.3f}, "
          f"{metrics['config']['steps']} steps in {metrics['seconds']} s")
    return 0


def _train_distill(args: argparse.Namespace) -> int:
    from .training import distill

    out = _new_output(args.out, args.force, "(the old file stays until the run ends)")
    metrics = distill.train(out, steps=args.steps, batch_size=args.batch_size, seed=args.seed, size=args.size,
                            views=args.views, teacher=args.teacher, images=args.images or "", **_loop_options(args))
    print(f"wrote {out}: final loss {metrics['loss']:.3f} (adapter cosine {1 - metrics['cos']:.3f}) after "
          f"{args.steps} steps in {metrics['seconds']} s")
    return 0


def _train_classifier(args: argparse.Namespace) -> int:
    from .training import colour_classifier

    out = _new_output(args.out, args.force, "(the old file stays until the run ends)")
    metrics = colour_classifier.train(out, steps=args.steps, batch_size=args.batch_size, seed=args.seed,
                                      size=args.size, **_loop_options(args))
    print(f"wrote {out}: held-out accuracy {metrics['heldout_accuracy_true_colour']:.4f} on true colours, "
          f"{metrics['heldout_accuracy_gray']:.4f} on gray (chance {metrics['heldout_chance']:.4f}) "
          f"in {metrics['seconds']} s")
    return 0


def _colorize(args: argparse.Namespace) -> int:
    from .colorization.colorize import colorize
    from .colorization.extractors import CHOICES
    from .core.photos import SAVE_FORMATS, load_image, save_image

    out = Path(args.output)
    if out.suffix.lower() not in SAVE_FORMATS:  # checked before any work: nothing is written on error
        raise ValueError(f"{out}: unsupported output extension {out.suffix!r} (use .png, .jpg or .jpeg)")
    _new_output(out, args.force)
    if args.features not in CHOICES and not Path(args.features).is_file():
        raise ValueError(f"features {args.features!r}: not one of {CHOICES} and no such weights file")
    if not out.parent.is_dir():
        raise FileNotFoundError(f"{out.parent} is not a folder")
    for name, given in (("target", args.target), ("reference", args.reference)):
        if Path(given).resolve() == out.resolve():
            raise ValueError(f"--output {out} is the {name} image; choose another file (inputs are never overwritten)")
    intermediates = _intermediates_dir(args.save_intermediates, args.force) if args.save_intermediates else None
    target, reference = load_image(args.target), load_image(args.reference)
    result = colorize(target, reference, features=args.features, size=args.size, method=args.method,
                      smoothing=args.smoothing, allow_mismatch=args.allow_feature_mismatch,
                      colornet=args.colornet, device=args.device, maps=args.colornet or intermediates is not None,
                      chooser=args.chooser)
    save_image(result.rgb, out, force=args.force)
    if result.note:
        print(f"note: {result.note}", file=sys.stderr)
    print(f"wrote {out} ({result.rgb.shape[2]} x {result.rgb.shape[1]}) in {result.seconds:.2f} s "
          f"(matching: {result.method}, gray-VGG: {result.features}, net: {result.colornet}, "
          f"smoothing: {result.smoothing})")
    if intermediates is not None:
        _save_intermediates(result, intermediates)
        print(f"wrote {', '.join(INTERMEDIATES)} into {intermediates}")
    return 0


INTERMEDIATES = ("warped.png", "similarity.png", "field.png")


def _intermediates_dir(folder: str, force: bool) -> Path:
    """The folder for --save-intermediates, checked before any work and created only when the result is
    written (its files are never replaced without --force)."""
    path = Path(folder)
    if path.exists() and not path.is_dir():
        raise NotADirectoryError(f"--save-intermediates {path} exists and is not a folder")
    for name in INTERMEDIATES:
        _new_output(path / name, force)
    return path


def _save_intermediates(result, folder: Path) -> None:
    """What explains a result: T_L with R'_ab (the matching alone), the similarity maps with their colour
    scale, and the field phi_T->R as an image (at the working size)."""
    from .colorization.features import DEC_LAYERS
    from .core.files import OutputDir
    from .core.photos import save_image
    from .studies import plots

    out = OutputDir(folder)
    save_image(result.warped_rgb().clamp(0, 1), out.path("warped.png"), force=True)
    out.save_figure("similarity.png", plots.similarity_figure(result.sims, DEC_LAYERS))
    out.save_figure("field.png", plots.field_figure(result.phi_TR, result.reference_rgb))


def _models(args: argparse.Namespace) -> int:
    from . import registry

    table = registry.rows()
    if args.json:
        import json

        print(json.dumps(table, indent=2))
    else:
        print(registry.format_rows(table))
    return 0


def _download(args: argparse.Namespace) -> int:
    from .colorization.extractors import fetch

    entry = GrayVGGWeights.named(args.name)
    path = entry.path if entry.status() != "missing" else fetch(entry, progress=not args.no_progress)
    print(f"{entry.value.name}: {path} (sha256 {entry.sha256}..., licence {entry.licence})")
    return 0


def _loop_parent() -> argparse.ArgumentParser:
    """The flags every trainer shares: one parent parser."""
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument("--seed", type=int, default=0,
                        help="seed of the model and the data stream (default: %(default)s)")
    parent.add_argument("--no-resume", action="store_true",
                        help="start over even if an interrupted run left a state file")
    parent.add_argument("--force", action="store_true", help="replace an existing --out file")
    parent.add_argument("--no-progress", action="store_true", help="no progress bar")
    parent.add_argument("--device", choices=DEVICES, default="cpu",
                        help="where the networks train (auto: cuda when torch sees a GPU); the held-out evaluation "
                             "runs on the CPU (photo ColorNet: one GPU per torchrun process, nccl) "
                             "(default: %(default)s)")
    return parent


def _trainer(train, name: str, help_text: str, out: str, steps: int, batch_size: int, batch_help: str, run):
    sub = train.add_parser(name, help=help_text, parents=[_loop_parent()])
    sub.add_argument("--out", default=out, help="final checkpoint; its provenance goes to the same name with .json "
                                                "(default: %(default)s)")
    sub.add_argument("--steps", type=int, default=steps, help="optimiser steps (default: %(default)s)")
    sub.add_argument("--batch-size", type=int, default=batch_size, help=f"{batch_help} (default: %(default)s)")
    sub.set_defaults(run=run)
    return sub


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m reprolib", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)

    col = commands.add_parser("colorize", help="colour a gray photo from a colour reference photo")
    col.add_argument("target", help="the photo to colour (only its luminance is used)")
    col.add_argument("--reference", required=True, help="the colour exemplar R")
    col.add_argument("--output", required=True, help="result file (.png, .jpg); never overwritten without --force")
    col.add_argument("--size", type=int, default=None,
                     help="short side for matching and the network (default: 192 with the Chooser, about 2 s on 2 "
                          "cores with the photo gray-VGG; 256 otherwise; the Chooser at 256 measured better still, "
                          "in about twice the time)")
    col.add_argument("--features", default=DEFAULT_FEATURES,
                     help="gray-VGG: photo (shipped, distilled from VGG-16 on photos), small (shipped, synthetic "
                          "world), auto, vgg16, vgg19, torchvision, or a weights file with $REPROLIB_VGG_CONVENTION; "
                          "each has its own ColorNet (default: %(default)s)")
    col.add_argument("--method", choices=COLORIZE_METHODS, default=DEFAULT_METHOD,
                     help="correspondences; auto: exact search where it is cheap, PatchMatch (linear cost) on large "
                          "images (default: %(default)s)")
    col.add_argument("--device", choices=DEVICES, default="cpu",
                     help="where the networks and the matching run; auto: a CUDA GPU when torch sees one "
                          "(default: %(default)s)")
    col.add_argument("--smoothing", choices=FILTERS, default=None,
                     help=f"edge-aware smoothing of a*b* along the target's luminance (default: {DEFAULT_FILTER}; "
                          f"none after the Chooser or a ColorNet with its own guided filter layer)")
    col.add_argument("--chooser", action=argparse.BooleanOptionalAction, default=None,
                     help="the net that chooses per pixel among the warps of three matchers, the measured best on "
                          "held-out photos (default: on where the gray-VGG has a shipped Chooser and the exact "
                          "route fits, else R'_ab smoothed; --no-chooser: R'_ab smoothed)")
    col.add_argument("--colornet", action=argparse.BooleanOptionalAction, default=DEFAULT_COLORNET,
                     help="run DEC's colorization sub-net on one R'_ab and its similarity maps instead (default: off: "
                          "on held-out photos the photo ColorNets did not beat R'_ab smoothed)")
    col.add_argument("--allow-feature-mismatch", action="store_true",
                     help="run a ColorNet on the maps of a gray-VGG it was not trained on (with a warning)")
    col.add_argument("--save-intermediates", metavar="DIR",
                     help=f"also write {', '.join(INTERMEDIATES)} into DIR: R'_ab on T_L, the similarity maps "
                          "with their colour scale, the field phi_T->R")
    col.add_argument("--force", action="store_true", help="replace an existing --output file (and intermediates)")
    col.set_defaults(run=_colorize)

    rep = commands.add_parser("reproduce", help="run every experiment; write results.json, results.md and REPORT.md")
    rep.add_argument("--quick", action="store_true", help="smaller runs (a few minutes at most)")
    rep.add_argument("--out", default="results", help="output folder (default: results); nothing is written outside it")
    rep.add_argument("--no-progress", action="store_true", help="no progress bar")
    rep.add_argument("--jobs", type=int, default=None, metavar="N",
                     help="processes for the independent computations, one thread each; the numbers do not depend "
                          "on N (default: one per CPU core)")
    rep.add_argument("--device", choices=DEVICES, default="cpu",
                     help="where the insertion GANs train (the only training in reproduce; evaluations run on "
                          "the CPU) (default: %(default)s)")
    rep.add_argument("--only", metavar="NAMES",
                     help="comma-separated experiments to run (lab, features, matching, colorization, insertion, "
                          "photos, scaling), updating them in an existing results.json; default: all but the "
                          "scaling benchmark")
    rep.set_defaults(run=_reproduce)

    mod = commands.add_parser("models", help="list every model that can be loaded here (shipped, cached, missing)")
    mod.add_argument("--json", action="store_true", help="print JSON instead of a table")
    mod.set_defaults(run=_models)

    dl = commands.add_parser("download", help="fetch torchvision's ImageNet VGG weights into torch's cache, once")
    dl.add_argument("name", choices=DOWNLOADS, help="the registry entry")
    dl.add_argument("--no-progress", action="store_true", help="no progress bar")
    dl.set_defaults(run=_download)

    train = commands.add_parser("train", help="train a network of the project").add_subparsers(
        dest="what", required=True)
    gv = _trainer(train, "grayvgg", "the small gray-VGG, on the synthetic world, from L only",
                  "checkpoints/grayvgg_small.pt", 800, 32, "scenes per step", _train_grayvgg)
    gv.add_argument("--size", type=int, default=64, help="scene size in pixels (default: %(default)s)")

    cn = _trainer(train, "colornet", "the colorization sub-net on synthetic pairs (torchrun for several processes)",
                  "checkpoints/colornet_small.pt", 800, 16, "pairs per step, over all processes", _train_colornet)
    cn.add_argument("--mode", choices=COLORNET_MODES, default="full",
                    help="both branches alternated, the chrominance branch only, or the automatic L1 baseline "
                         "(default: %(default)s)")
    cn.add_argument("--size", type=int, default=64, help="scene size in pixels (default: %(default)s)")
    cn.add_argument("--width", type=float, default=0.125,
                    help="width multiplier of the paper's net (default: %(default)s)")
    cn.add_argument("--no-residual", action="store_true",
                    help="predict P_ab from scratch as in the paper, not as a correction of R'_ab")
    cn.add_argument("--lr", type=float, default=1e-3, help="peak Adam learning rate (default: %(default)s)")
    cn.add_argument("--pool", type=int, default=None,
                    help="reuse this many distinct data batches, matched once and kept in memory "
                         "(default: fresh pairs every step)")
    cn.add_argument("--eval-n", type=int, default=200,
                    help="held-out pairs for the final CIEDE2000 (0: skip; default: %(default)s)")
    cn.add_argument("--grayvgg", default="grayvgg_small_synthetic",
                    help="synthetic pairs: the gray-VGG whose maps the net learns, a registry name or a `train "
                         "grayvgg` checkpoint (default: %(default)s)")
    cn.add_argument("--usual", type=float, default=None,
                    help="synthetic pairs: draw each class's usual colour (its first palette) with this probability, "
                         "so that colour is partly predictable from the class (default: uniform palettes)")
    cn.add_argument("--related", type=float, default=1.0,
                    help="synthetic pairs: the share of references that show every class of their target; the "
                         "others may lack some (default: %(default)s)")
    cn.add_argument("--images", default=None,
                    help="train on photographs instead: an image folder (ImageNet-style or flat), or 'shipped' for "
                         "the shipped training photos (the held-out ones never)")
    cn.add_argument("--features", default="vgg16",
                    help="photographs: the gray-VGG whose maps the net learns, a --features choice of colorize "
                         "(default: %(default)s)")
    cn.add_argument("--branches", default="real",
                    help="photographs: the branches cycled step by step, of chrominance, real, perceptual "
                         "(default: %(default)s, which measured as well as chrominance,real on validation photos)")
    cn.add_argument("--pairs-per-image", type=int, default=48,
                    help="photographs: pairs of two views drawn from each image (default: %(default)s)")
    cn.add_argument("--extra-images", default=None,
                    help="photographs: a second image folder whose images are added to --images")
    cn.add_argument("--guided", type=int, default=0,
                    help="photographs: radius of a guided filter layer (guide T_L) on the net's output, trained "
                         "end to end (0: none, the shipped nets; default: %(default)s)")
    cn.add_argument("--hue", type=float, default=0.5,
                    help="photographs: probability of one random a*b* rotation per training pair; 0 lets the net "
                         "learn usual colours, which needs many photos (default: %(default)s)")
    cn.add_argument("--fresh-pairs", action="store_true",
                    help="photographs: match new pairs every step instead of caching them (large image folders)")

    ch = _trainer(train, "chooser", "the net that chooses among the warps of three matchers, on photographs",
                  "checkpoints/chooser.pt", 1200, 8, "pairs per step, over all processes", _train_chooser)
    ch.add_argument("--features", default="photo",
                    help="the gray-VGG whose warps and maps the net learns, a --features choice of colorize "
                         "(default: %(default)s)")
    ch.add_argument("--images", default="shipped",
                    help="an image folder (ImageNet-style or flat), or 'shipped' for the shipped training photos "
                         "(the held-out ones never) (default: %(default)s)")
    ch.add_argument("--extra-images", default=None, help="a second image folder whose images are added to --images")
    ch.add_argument("--pairs-per-image", type=int, default=48,
                    help="pairs of two views drawn from each image, matched once (default: %(default)s)")
    ch.add_argument("--width", type=float, default=0.125, help="width multiplier of DEC's net (default: %(default)s)")
    ch.add_argument("--lr", type=float, default=1e-3, help="peak Adam learning rate (default: %(default)s)")
    ch.add_argument("--hue", type=float, default=1.0,
                    help="probability of one random a*b* rotation per training pair (default: %(default)s)")
    ch.add_argument("--eval-n", type=int, default=4,
                    help="held-out pairs per held-out photo for the final CIEDE2000 (0: skip; at most 4; "
                         "default: %(default)s)")

    ins = _trainer(train, "insertion", "the insertion GAN of Inserting Videos into Videos, in miniature",
                   "checkpoints/insertion.pt", 300, 12, "fake pairs per step, and as many real pairs", _train_insertion)
    ins.add_argument("--pair", choices=PAIR_MODES, default="confusion",
                     help="pair discriminator: none, confusion loss, or gradient reversal (default: %(default)s)")
    ins.add_argument("--direct", action="store_true", help="direct generator instead of blending")
    ins.add_argument("--width", type=int, default=8, help="channel width of the networks (default: %(default)s)")
    ins.add_argument("--eval-n", type=int, default=256,
                     help="held-out pairs of each kind for the metrics (default: %(default)s)")
    ins.add_argument("--classifier-steps", type=int, default=150,
                     help="training steps of the pair classifier (default: %(default)s)")

    ds = _trainer(train, "distill", "a small gray-VGG distilled from ImageNet VGG-16 on photos",
                  "checkpoints/grayvgg_small_photo.pt", 1000, 8, "views per step, in pairs of one photo",
                  _train_distill)
    ds.add_argument("--size", type=int, default=112, help="view size in pixels (default: %(default)s)")
    ds.add_argument("--views", type=int, default=1200,
                    help="views whose teacher features are computed once (default: %(default)s)")
    ds.add_argument("--teacher", default="vgg16",
                    help="the teacher, a --features choice: vgg16 is torchvision's cache or the same network "
                         "from $REPROLIB_VGG_WEIGHTS (default: %(default)s)")
    ds.add_argument("--images", default=None,
                    help="an image folder to learn from (default: the shipped training photos; held-out ones never)")

    cc = _trainer(train, "classifier", "the colour classifier that judges colorizations in notebook 03",
                  "checkpoints/colour_classifier.pt", 400, 24, "scenes per step", _train_classifier)
    cc.add_argument("--size", type=int, default=64, help="scene size in pixels (default: %(default)s)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    args = build_parser().parse_args(argv)
    args.argv = argv
    try:
        return args.run(args)
    except USER_ERRORS as err:
        if os.environ.get("REPROLIB_TRACEBACK"):
            raise
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
