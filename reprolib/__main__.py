"""Command line: ``python -m reprolib reproduce [--quick] [--out DIR]``.

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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m reprolib", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)

    rep = commands.add_parser("reproduce", help="run every experiment; write results.json and REPORT.md")
    rep.add_argument("--quick", action="store_true", help="smaller runs (a few minutes at most)")
    rep.add_argument("--out", default="results", help="output folder (default: results); nothing is written outside it")
    rep.add_argument("--no-progress", action="store_true", help="no progress bar")
    rep.set_defaults(run=_reproduce)
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
