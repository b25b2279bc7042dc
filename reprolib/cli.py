"""Command line: ``python -m reprolib colorize TARGET --reference REF --output OUT``, ``colorize-video``, ``reproduce``,
``train grayvgg|colornet|photo-colornet|chooser|insertion|distill|classifier|temporal``, ``models``, ``download NAME``.

Each ``train`` subcommand is derived from its trainer's ``Config`` (:mod:`reprolib.core.configs`: every field a
flag, with its default and help), and the trainer's module is imported only when it is named.
Errors a user can cause (bad paths, bad images, missing weights) end with one line on stderr and a
non-zero exit status, not a traceback (set REPROLIB_TRACEBACK=1 to see one).
"""
from __future__ import annotations

import argparse
import os
import shlex
import sys
from collections.abc import Callable, Sequence
from importlib import import_module
from pathlib import Path
from typing import NamedTuple

from .batch import MAX_REFERENCES
from .colorization.colorize import DEFAULT_COLORNET, DEFAULT_FEATURES
from .colorization.grayvgg_weights import GrayVGGWeights
from .colorization.pipelines import COLORIZE_METHODS, DEFAULT_METHOD
from .colorization.smoothing import DEFAULT_FILTER, FILTERS
from .core.configs import add_arguments, settings_from
from .core.devices import DEVICES, resolve_device
from .video.cli import add_colorize_video

USER_ERRORS = (ValueError, OSError, RuntimeError)
DOWNLOADS = tuple(e.value.name for e in GrayVGGWeights if e.url)  # the torchvision entries


class Trainer(NamedTuple):
    """A ``train`` subcommand: the module of ``reprolib.training`` that holds its Config and ``train``, a line of
    help, and the default output file."""

    module: str
    help: str
    out: str


TRAINERS = {
    "grayvgg": Trainer("grayvgg", "the small gray-VGG, on the synthetic world, from L only",
                       "checkpoints/grayvgg_small.pt"),
    "colornet": Trainer("colornet", "the colorization sub-net on synthetic pairs (torchrun for several processes)",
                        "checkpoints/colornet_small.pt"),
    "photo-colornet": Trainer("photo_colornet", "the colorization sub-net on photographs, for one gray-VGG "
                                                "(torchrun for several processes)", "checkpoints/colornet_photo.pt"),
    "chooser": Trainer("chooser", "the net that chooses among the warps of three matchers, on photographs",
                       "checkpoints/chooser.pt"),
    "insertion": Trainer("insertion", "the insertion GAN of Inserting Videos into Videos, in miniature",
                         "checkpoints/insertion.pt"),
    "distill": Trainer("distill", "a small gray-VGG distilled from ImageNet VGG-16 on photos",
                       "checkpoints/grayvgg_small_photo.pt"),
    "classifier": Trainer("colour_classifier", "the colour classifier that judges colorizations in notebook 03",
                          "checkpoints/colour_classifier.pt"),
    "temporal": Trainer("temporal", "VID's recurrence for video, on clips of the training photos",
                        "checkpoints/temporal_small.pt"),
}
LOOP_FLAGS = ("device",)  # Config fields that the shared parent parser holds for every trainer


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


def _trainer_module(name: str):
    return import_module(f".training.{TRAINERS[name].module}", __package__)


def _train(args: argparse.Namespace) -> int:
    """Any ``train`` subcommand: its Config's settings from the flags, the trainer's ``train``, one line at the end
    (rank 0 only: under torchrun, rank 0 writes and reports)."""
    module = _trainer_module(args.what)
    out = _new_output(args.out, args.force, "(the old file stays until the run ends)")
    settings = settings_from(args, module.Config, skip=LOOP_FLAGS)
    if hasattr(module, "Evaluation"):  # settings of train() beyond the Config (what the final evaluation measures)
        settings.update(settings_from(args, module.Evaluation))
    metrics = module.train(out, resume=not args.no_resume, progress=not args.no_progress, command=_command(args),
                           device=resolve_device(args.device).type, **settings)
    if "sha256" in metrics:
        print(f"wrote {out} and {out.with_suffix('.json')}: {module.summary(metrics)}")
    return 0


def _colorize(args: argparse.Namespace) -> int:
    """``colorize``: one target file into one output file, or a folder of targets into an output folder; from
    one reference or several (each ``--reference`` a file or a folder of images, all used jointly)."""
    from .batch import reference_files
    from .colorization.grayvgg_weights import CHOICES

    if args.features not in CHOICES and not Path(args.features).is_file():
        raise ValueError(f"features {args.features!r}: not one of {', '.join(CHOICES)} and no such weights file")
    references = reference_files(args.reference)
    if Path(args.target).is_dir():
        return _colorize_folder(args, references)
    return _colorize_file(args, references)


def _colour(args: argparse.Namespace, references: Sequence[Path], maps: bool) -> Callable:
    """The references read and the gray-VGG loaded, once: a function from a target image to its Colorization."""
    from functools import partial

    from .batch import load_references
    from .colorization.colorize import colorize
    from .colorization.grayvgg_weights import load_extractor

    images = load_references(references)
    return partial(colorize, reference=images, features=load_extractor(args.features), size=args.size,
                   method=args.method, smoothing=args.smoothing, allow_mismatch=args.allow_feature_mismatch,
                   colornet=args.colornet, device=args.device, maps=args.colornet or maps, chooser=args.chooser,
                   hedge=args.hedge)


def _from(references: Sequence[Path]) -> str:
    return f" from {len(references)} references" if len(references) > 1 else ""


def _colorize_file(args: argparse.Namespace, references: Sequence[Path]) -> int:
    from .batch import describe
    from .core.photos import SAVE_FORMATS, load_image, save_image

    out = Path(args.output)
    if out.suffix.lower() not in SAVE_FORMATS:  # checked before any work: nothing is written on error
        raise ValueError(f"{out}: unsupported output extension {out.suffix!r} (use .png, .jpg or .jpeg)")
    _new_output(out, args.force)
    if not out.parent.is_dir():
        raise FileNotFoundError(f"{out.parent} is not a folder")
    for name, given in (("target", args.target), *(("reference", r) for r in references)):
        if Path(given).resolve() == out.resolve():
            raise ValueError(f"--output {out} is the {name} image; choose another file (inputs are never overwritten)")
    intermediates = _intermediates_dir(args.save_intermediates, args.force) if args.save_intermediates else None
    target = load_image(args.target)
    result = _colour(args, references, intermediates is not None)(target)
    save_image(result.rgb, out, force=args.force)
    if result.note:
        print(f"note: {result.note}", file=sys.stderr)
    print(f"wrote {out} ({result.rgb.shape[2]} x {result.rgb.shape[1]}) in {result.seconds:.2f} s"
          f"{_from(references)} ({describe(result)})")
    if intermediates is not None:
        _save_intermediates(result, intermediates)
        print(f"wrote {', '.join(INTERMEDIATES)} into {intermediates}")
    return 0


def _colorize_folder(args: argparse.Namespace, references: Sequence[Path]) -> int:
    """Every image of the folder TARGET into the folder --output; unreadable targets skipped and listed (exit
    status 1 when none was coloured)."""
    from . import batch

    folder, out = Path(args.target), Path(args.output)
    if args.save_intermediates:
        raise ValueError("--save-intermediates takes one target file, not a folder")
    batch.check_output_folder(out, folder)
    targets = batch.image_files(folder)
    if not targets:
        raise ValueError(f"{folder} holds no image ({', '.join(batch.IMAGE_SUFFIXES)})")
    outputs = batch.plan_outputs(targets, out, [*targets, *references], args.force)
    report = batch.run(targets, outputs, _colour(args, references, False), args.force, not args.no_progress)
    for _, why in report.skipped:
        print(f"skipped {why}", file=sys.stderr)
    for note in report.notes:
        print(f"note: {note}", file=sys.stderr)
    done, rate = len(report.written), len(report.written) / max(report.seconds, 1e-9)
    skipped = f"; skipped {len(report.skipped)}: {batch.names(p for p, _ in report.skipped)}" if report.skipped else ""
    print(f"coloured {done} of {len(targets)} into {out} in {report.seconds:.1f} s ({rate:.2f} images/s)"
          f"{_from(references)} ({' | '.join(report.pipelines) or 'nothing ran'}){skipped}")
    return 0 if done else 1


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
    from .colorization.grayvgg import DEC_LAYERS
    from .core.files import OutputDir
    from .core.photos import save_image
    from .figures import plots

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
    from .colorization.grayvgg_weights import fetch

    entry = GrayVGGWeights.named(args.name)
    path = entry.path if entry.status() != "missing" else fetch(entry, progress=not args.no_progress)
    print(f"{entry.value.name}: {path} (sha256 {entry.sha256}..., licence {entry.licence})")
    return 0


def _loop_parent() -> argparse.ArgumentParser:
    """The flags every trainer shares, beyond its Config: one parent parser."""
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument("--no-resume", action="store_true",
                        help="start over even if an interrupted run left a state file")
    parent.add_argument("--force", action="store_true", help="replace an existing --out file")
    parent.add_argument("--no-progress", action="store_true", help="no progress bar")
    parent.add_argument("--device", choices=DEVICES, default="cpu",
                        help="where the networks train (auto: cuda when torch sees a GPU); the held-out evaluation "
                             "runs on the CPU (photo trainers: one GPU per torchrun process, nccl) "
                             "(default: %(default)s)")
    return parent


def _add_train(commands, trainers: Sequence[str]) -> None:
    """``train NAME``: one subcommand per trainer; those named in ``trainers`` get their Config's flags (their
    modules are imported here), the others only their name and help."""
    train = commands.add_parser("train", help="train a network of the project").add_subparsers(
        dest="what", required=True)
    parent = _loop_parent()
    for name, trainer in TRAINERS.items():
        sub = train.add_parser(name, help=trainer.help, description=trainer.help, parents=[parent])
        sub.add_argument("--out", default=trainer.out, help="final checkpoint; its provenance goes to the same name "
                                                            "with .json (default: %(default)s)")
        if name in trainers:
            module = _trainer_module(name)
            add_arguments(sub, module.Config, skip=LOOP_FLAGS)
            if hasattr(module, "Evaluation"):
                add_arguments(sub, module.Evaluation)
        sub.set_defaults(run=_train)


def _add_colorize(commands) -> None:
    col = commands.add_parser("colorize", help="colour a gray photo from a colour reference photo")
    col.add_argument("target", help="the photo to colour (only its luminance is used), or a folder: every image in "
                                    "it (not recursive), each into the folder --output")
    col.add_argument("--reference", required=True, action="append",
                     help="the colour exemplar R; repeat it, or name a folder (its images), to colour from several "
                          f"references at once (at most {MAX_REFERENCES}: the exact search's cost grows with their "
                          "total width)")
    col.add_argument("--output", required=True,
                     help="result file (.png, .jpg), or a folder when TARGET is one (created if missing; a result "
                          "is named as its target, .png unless the target is a .jpg/.jpeg); never overwritten "
                          "without --force")
    col.add_argument("--size", type=int, default=None,
                     help="short side for matching and the network (default: 192 with the Chooser, about 2 s on 2 "
                          "cores with the photo gray-VGG; 256 otherwise; the Chooser at 256 measured better still, "
                          "in about twice the time)")
    col.add_argument("--features", default=DEFAULT_FEATURES,
                     help="gray-VGG, a registry name (`python -m reprolib models`): grayvgg_small_photo (alias "
                          "photo: shipped, distilled from VGG-16 on photos), grayvgg_small_synthetic (small: shipped, "
                          "synthetic world), vgg16, vgg16_torchvision, vgg19 (torchvision); or auto, or a file (a "
                          "small gray-VGG checkpoint, or VGG weights with $REPROLIB_VGG_CONVENTION) "
                          "(default: %(default)s)")
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
    col.add_argument("--hedge", action=argparse.BooleanOptionalAction, default=True,
                     help="with the Chooser, halve the chroma where its match's cosine says the colour is a guess "
                          "(a reference of another photo; a same-scene one is left as it is); --no-hedge: the "
                          "Chooser's colours everywhere, more colourful, worse on other photos (default: on)")
    col.add_argument("--colornet", action=argparse.BooleanOptionalAction, default=DEFAULT_COLORNET,
                     help="run DEC's colorization sub-net on one R'_ab and its similarity maps instead (default: off: "
                          "on held-out photos the photo ColorNets did not beat R'_ab smoothed)")
    col.add_argument("--allow-feature-mismatch", action="store_true",
                     help="run a ColorNet on the maps of a gray-VGG it was not trained on (with a warning)")
    col.add_argument("--save-intermediates", metavar="DIR",
                     help=f"also write {', '.join(INTERMEDIATES)} into DIR: R'_ab on T_L, the similarity maps "
                          "with their colour scale, the field phi_T->R")
    col.add_argument("--force", action="store_true",
                     help="replace existing output files (and intermediates); inputs are never replaced")
    col.add_argument("--no-progress", action="store_true", help="no progress bar (with a folder of targets)")
    col.set_defaults(run=_colorize)


def _add_reproduce(commands) -> None:
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
                          "photos, photo_tiers, video, scaling), updating them in an existing results.json; default: "
                          "all but the scaling benchmark")
    rep.set_defaults(run=_reproduce)


def build_parser(trainers: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The parser of every command; the ``train`` subcommands named in ``trainers`` (default: all) get their
    Config's flags (``main`` names only the one being run, so that only its module is imported)."""
    parser = argparse.ArgumentParser(prog="python -m reprolib", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    _add_colorize(commands)
    add_colorize_video(commands)
    _add_reproduce(commands)
    mod = commands.add_parser("models", help="list every model that can be loaded here (shipped, cached, missing)")
    mod.add_argument("--json", action="store_true", help="print JSON instead of a table")
    mod.set_defaults(run=_models)
    dl = commands.add_parser("download", help="fetch torchvision's ImageNet VGG weights into torch's cache, once")
    dl.add_argument("name", choices=DOWNLOADS, help="the registry entry")
    dl.add_argument("--no-progress", action="store_true", help="no progress bar")
    dl.set_defaults(run=_download)
    _add_train(commands, TRAINERS if trainers is None else trainers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    named = [argv[1]] if len(argv) > 1 and argv[0] == "train" and argv[1] in TRAINERS else []
    args = build_parser(named).parse_args(argv)
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
