"""Command line: ``python -m reprolib reproduce [--quick] [--out DIR]`` and ``python -m reprolib train grayvgg``.

Errors a user can cause (bad paths, bad images, missing weights) end with one line on stderr and a
non-zero exit status, not a traceback (set REPROLIB_TRACEBACK=1 to see one).
"""
from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

USER_ERRORS = (ValueError, OSError, RuntimeError)


def _reproduce(args: argparse.Namespace) -> int:
    from .reproduce import reproduce

    results = reproduce(args.out, quick=args.quick, progress=not args.no_progress)
    print(f"wrote {args.out}/results.json and {args.out}/REPORT.md in {results['meta']['seconds']} s")
    return 0


def _train_grayvgg(args: argparse.Namespace) -> int:
    from pathlib import Path

    from .train import train_grayvgg

    out = Path(args.out)
    if out.exists() and not args.force:
        raise FileExistsError(f"{out} already exists; pass --force to replace it (the old file stays until the run ends)")
    metrics = train_grayvgg(out, steps=args.steps, batch_size=args.batch_size, seed=args.seed, size=args.size,
                            resume=not args.no_resume, progress=not args.no_progress)
    print(f"wrote {out}: held-out per-pixel accuracy {metrics['heldout_accuracy']:.4f} "
          f"after {metrics['steps']} steps in {metrics['seconds']} s")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m reprolib", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)

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
