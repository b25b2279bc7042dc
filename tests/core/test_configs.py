"""Settings as data (reprolib.core.configs): a Config's fields become flags with their types, defaults and help."""
import argparse
from dataclasses import dataclass

import pytest

from reprolib.core.configs import add_arguments, setting, settings_from


@dataclass
class Config:
    steps: int = setting(10, "optimiser steps")
    branches: tuple[str, ...] = setting(("real",), "branches, comma-separated")
    residual: bool = setting(True, "a residual net")
    pool: int | None = setting(None, "batches reused")
    mode: str = setting("full", "the mode", choices=("full", "auto"))
    rate: float = setting(0.5, "a rate of 50 %")


def parse(*argv: str) -> dict:
    parser = argparse.ArgumentParser()
    add_arguments(parser, Config)
    return settings_from(parser.parse_args(list(argv)), Config)


def test_flags_have_the_configs_types_and_defaults():
    assert parse() == {"steps": 10, "branches": ("real",), "residual": True, "pool": None, "mode": "full", "rate": 0.5}
    assert parse("--steps", "3", "--branches", "chrominance,real", "--no-residual", "--pool", "4", "--mode", "auto",
                 "--rate", "0.25") == {"steps": 3, "branches": ("chrominance", "real"), "residual": False, "pool": 4,
                                       "mode": "auto", "rate": 0.25}
    Config(**parse("--pool", "2"))  # what it parses builds the Config


def test_bad_values_and_the_help(capsys):
    for argv in (("--steps", "many"), ("--mode", "half")):
        with pytest.raises(SystemExit):
            parse(*argv)
    with pytest.raises(SystemExit):
        parse("--help")
    text = capsys.readouterr().out
    assert "optimiser steps (default: 10)" in text and "(default: real)" in text and "(default: none)" in text
    assert "--residual, --no-residual" in text and "a rate of 50 % (default: 0.5)" in text
