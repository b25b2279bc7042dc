"""Command line: ``python -m reprolib colorize TARGET --reference REF --output OUT``, ``reproduce``, ``train ...``.

Errors a user can cause (bad paths, bad images, missing weights) end with one line on stderr and a
non-zero exit status, not a traceback (set REPROLIB_TRACEBACK=1 to see one).
"""
from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

USER_ERRORS = (ValueError, OSError, RuntimeError)


def _reproduce(args: argparse.Namespace) -> int:
    from .reproduce import reproduce

    results = reproduce(args.out, quick=args.quick, progress=not args.no_progress)
    print(f"wrote {args.out}/results.json and {args.out}/REPORT.md in {results['meta']['seconds']} s")
    return 0


def _new_output(path: str | Path, force: bool, note: str = "") -> Path:
    """The output path, refused (FileExistsError) when it exists and ``force`` is not given."""
    out = Path(path)
    if out.exists() and not force:
        raise FileExistsError(f"{out} already exists; pass --force to replace it {note}".rstrip())
    return out


def _train_grayvgg(args: argparse.Namespace) -> int:
    from .train import train_grayvgg

    out = _new_output(args.out, args.force, "(the old file stays until the run ends)")
    metrics = train_grayvgg(out, steps=args.steps, batch_size=args.batch_size, seed=args.seed, size=args.size,
                            resume=not args.no_resume, progress=not args.no_progress)
    print(f"wrote {out}: held-out per-pixel accuracy {metrics['heldout_accuracy']:.4f} "
          f"after {metrics['steps']} steps in {metrics['seconds']} s")
    return 0


def _train_colornet(args: argparse.Namespace) -> int:
    import json
    import shlex
    from .colortrain import train_colornet
    from .files import atomic_write_text

    out = _new_output(args.out, args.force, "(the old file stays until the run ends)")
    metrics = train_colornet(out, steps=args.steps, mode=args.mode, batch_size=args.batch_size, seed=args.seed,
                             size=args.size, width=args.width, residual=not args.no_residual, lr=args.lr, pool=args.pool, eval_n=args.eval_n,
                             resume=not args.no_resume,
                             progress=not args.no_progress)
    if "sha256" not in metrics:  # a rank > 0 of a torchrun launch: rank 0 writes and reports
        return 0
    command = "python -m reprolib " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    record = {"file": str(out), "command": command, **metrics, "bytes": out.stat().st_size}
    atomic_write_text(out.with_suffix(".json"), json.dumps(record, indent=2) + "\n")
    print(f"wrote {out} and {out.with_suffix('.json')}: held-out CIEDE2000 {metrics.get('heldout_delta_e2000')} "
          f"(R'_ab alone {metrics.get('heldout_delta_e2000_warped_reference')}) after {metrics['steps']} steps "
          f"in {metrics['seconds']} s")
    return 0


def _train_insertion(args: argparse.Namespace) -> int:
    from .insertion_train import train_insertion

    out = _new_output(args.out, args.force, "(the old file stays until the run ends)")
    metrics = train_insertion(out, steps=args.steps, seed=args.seed, pair=args.pair, blending=not args.direct,
                              batch_size=args.batch_size, width=args.width, eval_n=args.eval_n,
                              classifier_steps=args.classifier_steps, resume=not args.no_resume,
                              progress=not args.no_progress)
    print(f"wrote {out}: real-pair error {metrics['real_pair_error']:.2f}, fake-pair error {metrics['fake_pair_error']:.2f} "
          f"(mean Delta E in the box), pair classifier accuracy {metrics['pair_classifier_accuracy']:.3f}, "
          f"{metrics['config']['steps']} steps in {metrics['seconds']} s")
    return 0


def _colorize(args: argparse.Namespace) -> int:
    from .colorize import colorize
    from .photos import _SAVE_FORMATS, load_image, save_image

    out = Path(args.output)
    if out.suffix.lower() not in _SAVE_FORMATS:  # checked before any work: nothing is written on error
        raise ValueError(f"{out}: unsupported output extension {out.suffix!r} (use .png, .jpg or .jpeg)")
    _new_output(out, args.force)
    if not out.parent.is_dir():
        raise FileNotFoundError(f"{out.parent} is not a folder")
    for name, given in (("target", args.target), ("reference", args.reference)):
        if Path(given).resolve() == out.resolve():
            raise ValueError(f"--output {out} is the {name} image; choose another file (inputs are never overwritten)")
    target, reference = load_image(args.target), load_image(args.reference)
    result = colorize(target, reference, features=args.features, size=args.size, method=args.method)
    save_image(result.rgb, out, force=args.force)
    print(f"wrote {out} ({result.rgb.shape[2]} x {result.rgb.shape[1]}) in {result.seconds:.2f} s "
          f"(matching: {args.method}, gray-VGG: {result.features})")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m reprolib", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)

    col = commands.add_parser("colorize", help="colour a gray photo from a colour reference photo")
    col.add_argument("target", help="the photo to colour (only its luminance is used)")
    col.add_argument("--reference", required=True, help="the colour exemplar R")
    col.add_argument("--output", required=True, help="result file (.png, .jpg); never overwritten without --force")
    col.add_argument("--size", type=int, default=256, help="short side for matching and the network (default: %(default)s)")
    col.add_argument("--features", default="small",
                     help="gray-VGG: small (shipped, what the shipped ColorNet was trained with), auto, torchvision, "
                          "or a weights file with $REPROLIB_VGG_CONVENTION (default: %(default)s)")
    col.add_argument("--method", choices=("exact", "patchmatch", "attention"), default="exact",
                     help="correspondences (default: %(default)s)")
    col.add_argument("--force", action="store_true", help="replace an existing --output file")
    col.set_defaults(run=_colorize)

    rep = commands.add_parser("reproduce", help="run every experiment; write results.json and REPORT.md")
    rep.add_argument("--quick", action="store_true", help="smaller runs (a few minutes at most)")
    rep.add_argument("--out", default="results", help="output folder (default: results); nothing is written outside it")
    rep.add_argument("--no-progress", action="store_true", help="no progress bar")
    rep.set_defaults(run=_reproduce)

    train = commands.add_parser("train", help="train a network of the project").add_subparsers(dest="what", required=True)
    gv = train.add_parser("grayvgg", help="the small gray-VGG, on the synthetic world, from L only")
    gv.add_argument("--out", default="checkpoints/grayvgg_small.pt", help="final checkpoint (default: %(default)s)")
    gv.add_argument("--steps", type=int, default=800, help="optimiser steps (default: %(default)s)")
    gv.add_argument("--batch-size", type=int, default=32, help="scenes per step (default: %(default)s)")
    gv.add_argument("--seed", type=int, default=0, help="seed of the model and the data stream (default: %(default)s)")
    gv.add_argument("--size", type=int, default=64, help="scene size in pixels (default: %(default)s)")
    gv.add_argument("--no-resume", action="store_true", help="start over even if an interrupted run left a state file")
    gv.add_argument("--force", action="store_true", help="replace an existing --out file")
    gv.add_argument("--no-progress", action="store_true", help="no progress bar")
    gv.set_defaults(run=_train_grayvgg)

    cn = train.add_parser("colornet", help="the colorization sub-net on synthetic pairs (torchrun for several processes)")
    cn.add_argument("--out", default="checkpoints/colornet_small.pt",
                    help="final checkpoint; its provenance goes to the same name with .json (default: %(default)s)")
    cn.add_argument("--mode", choices=("full", "chrominance_only", "l1_auto"), default="full",
                    help="both branches alternated, the chrominance branch only, or the automatic L1 baseline "
                         "(default: %(default)s)")
    cn.add_argument("--steps", type=int, default=800, help="optimiser steps (default: %(default)s)")
    cn.add_argument("--batch-size", type=int, default=16, help="pairs per step, over all processes (default: %(default)s)")
    cn.add_argument("--seed", type=int, default=0, help="seed of the model and the data stream (default: %(default)s)")
    cn.add_argument("--size", type=int, default=64, help="scene size in pixels (default: %(default)s)")
    cn.add_argument("--width", type=float, default=0.125, help="width multiplier of the paper's net (default: %(default)s)")
    cn.add_argument("--no-residual", action="store_true",
                    help="predict P_ab from scratch as in the paper, not as a correction of R'_ab")
    cn.add_argument("--lr", type=float, default=1e-3, help="peak Adam learning rate (default: %(default)s)")
    cn.add_argument("--pool", type=int, default=None,
                    help="reuse this many distinct data batches, matched once and kept in memory (default: fresh pairs every step)")
    cn.add_argument("--eval-n", type=int, default=200,
                    help="held-out pairs for the final CIEDE2000 (0: skip; default: %(default)s)")
    cn.add_argument("--no-resume", action="store_true", help="start over even if an interrupted run left a state file")
    cn.add_argument("--force", action="store_true", help="replace an existing --out file")
    cn.add_argument("--no-progress", action="store_true", help="no progress bar")
    cn.set_defaults(run=_train_colornet)

    ins = train.add_parser("insertion", help="the insertion GAN of Inserting Videos into Videos, in miniature")
    ins.add_argument("--out", default="checkpoints/insertion.pt", help="final checkpoint (default: %(default)s)")
    ins.add_argument("--steps", type=int, default=300, help="optimiser steps (default: %(default)s)")
    ins.add_argument("--seed", type=int, default=0, help="seed of the models and the data stream (default: %(default)s)")
    ins.add_argument("--pair", choices=("none", "confusion", "reversal"), default="confusion",
                     help="pair discriminator: none, confusion loss, or gradient reversal (default: %(default)s)")
    ins.add_argument("--direct", action="store_true", help="direct generator instead of blending")
    ins.add_argument("--batch-size", type=int, default=12, help="fake pairs per step, and as many real pairs (default: %(default)s)")
    ins.add_argument("--width", type=int, default=8, help="channel width of the networks (default: %(default)s)")
    ins.add_argument("--eval-n", type=int, default=256, help="held-out pairs of each kind for the metrics (default: %(default)s)")
    ins.add_argument("--classifier-steps", type=int, default=150, help="training steps of the pair classifier (default: %(default)s)")
    ins.add_argument("--no-resume", action="store_true", help="start over even if an interrupted run left a state file")
    ins.add_argument("--force", action="store_true", help="replace an existing --out file")
    ins.add_argument("--no-progress", action="store_true", help="no progress bar")
    ins.set_defaults(run=_train_insertion)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
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


if __name__ == "__main__":
    sys.exit(main())
