"""Settings that document themselves once, for the library and the command line alike.

A config dataclass declares each setting with :func:`setting`: its default and one line saying
what it does. ``wakeword.cli.flags`` builds the command-line flags from these fields, so a default
or a help text cannot drift between the library and the CLI. Errors name a setting in backquotes
(```rounds` must be >= 1``); the command line shows the flag that sets it instead (``--rounds``).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence
from typing import Any

from wakeword.errors import ParameterError

__all__ = ["check_choice", "check_range", "setting"]


def setting(
    default: Any = dataclasses.MISSING,
    *,
    doc: str,
    default_factory: Callable[[], Any] | Any = dataclasses.MISSING,
    choices: Sequence[str] | None = None,
    flag: str | None = None,
    metavar: str | None = None,
) -> Any:
    """A dataclass field with its documentation (the help of its command-line flag).

    Parameters
    ----------
    default, default_factory
        As in :func:`dataclasses.field`.
    doc : str
        What the setting does, one line; the flag's help adds "(default ...)".
    choices : sequence of str, optional
        The allowed values (checked by the config, listed by ``--help``).
    flag : str, optional
        The command-line flag when it is not ``--`` + the name with dashes.
    metavar : str, optional
        The value's name in ``--help``.
    """
    metadata = {"doc": doc, "choices": tuple(choices) if choices else None, "flag": flag, "metavar": metavar}
    return dataclasses.field(default=default, default_factory=default_factory, metadata=metadata)


def check_choice(name: str, value: str, choices: Sequence[str]) -> None:
    """Raise a :class:`ParameterError` naming ``name`` unless ``value`` is one of ``choices``."""
    if value not in choices:
        raise ParameterError(f"`{name}` must be one of {tuple(choices)}, got {value!r}")


def check_range(
    name: str, value: float, *, low: float | None = None, high: float | None = None, high_open: bool = False
) -> None:
    """Raise a :class:`ParameterError` naming ``name`` unless ``value`` is finite and
    ``low <= value <= high`` (``< high`` if ``high_open``)."""
    above = low is None or value >= low
    below = high is None or (value < high if high_open else value <= high)
    if math.isfinite(value) and above and below:
        return
    if high is None:
        raise ParameterError(f"`{name}` must be >= {low}, got {value}")
    if low is None:
        raise ParameterError(f"`{name}` must be {'<' if high_open else '<='} {high}, got {value}")
    raise ParameterError(f"`{name}` must be in [{low}, {high}{')' if high_open else ']'}, got {value}")
