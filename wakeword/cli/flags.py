"""Command-line flags made from config fields (``wakeword.options.setting``), and errors in flags.

Each flag's default, type, choices and help come from the field, so the CLI cannot drift from the
library: ``add_flags(group, FederatedConfig, ["rounds"])`` adds ``--rounds`` (dest ``rounds``), and
``config_values(args, FederatedConfig, ["rounds"])`` reads it back for the config's constructor.
"""

from __future__ import annotations

import argparse
import dataclasses
import re
import typing
from collections.abc import Iterable
from pathlib import Path

__all__ = ["add_flags", "config_values", "flag_map", "in_flags"]

_SCALARS = (int, float, str, Path)


def _flag(f: dataclasses.Field) -> str:
    return f.metadata.get("flag") or "--" + f.name.replace("_", "-")


def _value_type(cls: type, name: str) -> type:
    """``int``, ``float``, ``str`` or ``Path``: the field's type, with ``X | None`` read as ``X``."""
    hint = typing.get_type_hints(cls)[name]
    options = [t for t in typing.get_args(hint) if t is not type(None)] or [hint]
    if len(options) != 1 or options[0] not in _SCALARS:
        raise TypeError(f"{cls.__name__}.{name}: no flag for a field of type {hint}")
    return options[0]


def add_flags(parser: argparse._ActionsContainer, cls: type, names: Iterable[str]) -> None:
    """Add a flag for each named field of the dataclass ``cls`` (fields made with ``setting``)."""
    fields = {f.name: f for f in dataclasses.fields(cls)}
    defaults = cls()
    for name in names:
        f = fields[name]
        if "doc" not in f.metadata:
            raise TypeError(f"{cls.__name__}.{name} has no doc: declare it with wakeword.options.setting")
        default = getattr(defaults, name)
        shown = "none" if default is None else default
        parser.add_argument(
            _flag(f),
            dest=name,
            type=_value_type(cls, name),
            default=default,
            choices=f.metadata.get("choices"),
            metavar=f.metadata.get("metavar"),
            help=f"{f.metadata['doc']} (default {shown})".replace("%", "%%"),
        )


def config_values(args: argparse.Namespace, cls: type, names: Iterable[str]) -> dict:
    """The parsed values of ``names`` as keyword arguments of ``cls`` (each must be one of its fields)."""
    fields = {f.name for f in dataclasses.fields(cls)}
    unknown = [name for name in names if name not in fields]
    if unknown:
        raise TypeError(f"{cls.__name__} has no settings {unknown}")
    return {name: getattr(args, name) for name in names}


def flag_map(parser: argparse.ArgumentParser) -> dict[str, str]:
    """``{dest: flag}`` of a parser's options and its subcommands' (the longest spelling of each)."""
    flags = {}
    for action in parser._actions:  # argparse keeps no public list of its options
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                flags.update(flag_map(sub))
        elif action.option_strings and action.dest != "help":
            flags[action.dest] = max(action.option_strings, key=len)
    return flags


def in_flags(message: str, flags: dict[str, str]) -> str:
    """A library message with each backquoted setting (```rounds```) shown as its flag (``--rounds``)."""
    return re.sub(r"`([A-Za-z_][\w.]*)`", lambda m: flags.get(m[1], m[1]), message)
