"""Settings as data: a trainer's ``Config`` dataclass is the one source of its defaults and their help, and the
command line is derived from it (nanoGPT's configurator and labml's ``Configs`` keep settings in one place too).

    steps: int = setting(1200, "optimiser steps")        # -> --steps N (default: 1200)
    branches: tuple[str, ...] = setting(("real",), ...)  # -> --branches a,b (comma-separated)
    residual: bool = setting(True, ...)                  # -> --residual / --no-residual
    pool: int | None = setting(None, ...)                # -> --pool N (default: none)

:func:`add_arguments` puts every field of a Config on an ``argparse`` parser, :func:`settings_from` reads them
back as the keyword arguments of ``Config(...)``.
"""
from __future__ import annotations

import argparse
import dataclasses
import types
import typing
from collections.abc import Callable, Sequence
from typing import Any


def setting(default: Any, help: str, *, choices: Sequence | None = None) -> Any:
    """A Config field: its default, one line of help for ``--help``, and the values it may take (``choices``)."""
    return dataclasses.field(default=default, metadata={"help": help, "choices": tuple(choices) if choices else None})


def _base(tp: Any) -> tuple[Any, bool]:
    """The type of a field without ``| None``, and whether None is allowed."""
    if isinstance(tp, types.UnionType) or typing.get_origin(tp) is typing.Union:
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        return args[0], True
    return tp, False


def _parser(tp: Any) -> Callable[[str], Any]:
    """How a command-line string becomes a value of type ``tp``: comma-separated for a tuple."""
    if typing.get_origin(tp) is tuple:
        item = typing.get_args(tp)[0]
        return lambda text: tuple(item(x) for x in text.split(",") if x)
    return tp


def _shown(value: Any) -> str:
    if isinstance(value, tuple):
        return ",".join(map(str, value))
    return "none" if value in (None, "") else str(value)


def fields_of(config: type) -> list[tuple[dataclasses.Field, Any]]:
    """The fields of a Config dataclass that carry a help (:func:`setting`), with their resolved types."""
    hints = typing.get_type_hints(config)
    return [(f, hints[f.name]) for f in dataclasses.fields(config) if "help" in f.metadata]


def add_arguments(parser: argparse.ArgumentParser, config: type, skip: Sequence[str] = ()) -> None:
    """One option per field of ``config`` (but ``skip``): ``--name-with-dashes``, its type, default, help and
    choices; a bool is ``--name`` / ``--no-name``, a tuple comma-separated, ``X | None`` takes an X."""
    for f, tp in fields_of(config):
        if f.name in skip:
            continue
        flag = "--" + f.name.replace("_", "-")
        text = f"{f.metadata['help']} (default: {_shown(f.default)})".replace("%", "%%")
        base, _ = _base(tp)
        if base is bool:
            parser.add_argument(flag, action=argparse.BooleanOptionalAction, default=f.default, help=text)
        else:
            parser.add_argument(flag, type=_parser(base), default=f.default, choices=f.metadata["choices"],
                                metavar=f.name.upper() if f.metadata["choices"] is None else None, help=text)


def settings_from(args: argparse.Namespace, config: type, skip: Sequence[str] = ()) -> dict[str, Any]:
    """The keyword arguments of ``config(...)`` that :func:`add_arguments` parsed into ``args``."""
    return {f.name: getattr(args, f.name) for f, _ in fields_of(config) if f.name not in skip}
