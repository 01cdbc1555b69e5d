"""Entry point of the ``wakeword`` command: parse, dispatch, turn errors into one-line messages."""

from __future__ import annotations

import argparse
import importlib
import os
import signal
import sys
from collections.abc import Sequence

# Subcommand modules (wakeword.cli.<name>); each defines HELP, add_arguments(parser), run(args).
COMMANDS = (
    "data", "record", "train", "eval", "export", "personalize", "detect", "listen", "worker",
    "features", "demo",
)  # fmt: skip

_DESCRIPTION = """\
Train a small wake-word model the way phones do: each phone keeps its recordings, a TensorFlow
Federated orchestrator aggregates only model updates, and the result ships as a TFLite model.
Run `wakeword COMMAND --help` for each command's options."""


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser (subcommand modules are imported, their heavy imports are not)."""
    from wakeword import __version__
    from wakeword.cli.flags import flag_map

    parser = argparse.ArgumentParser(
        prog="wakeword",
        description=_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"wakeword {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMANDS:
        module = importlib.import_module(f"wakeword.cli.{name}")
        command = sub.add_parser(
            name,
            help=module.HELP,
            description=module.__doc__,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        module.add_arguments(command)
        command.set_defaults(_run=module.run, _flags=flag_map(command))
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code (0 ok, 1 error, 2 usage, 130 interrupted)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TensorFlow's C++ start-up chatter
    from wakeword.cli.flags import in_flags
    from wakeword.errors import WakewordError

    parser = build_parser()
    args = parser.parse_args(argv)
    # Ctrl-C raises KeyboardInterrupt even when started with SIGINT ignored (background jobs, CI):
    # commands stop cleanly on it, keeping what they saved
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        return int(args._run(args) or 0)
    except WakewordError as exc:
        # the library names settings (`rounds`); the user typed flags (--rounds)
        print(f"wakeword {args.command}: error: {in_flags(str(exc), args._flags)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"wakeword {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover - `python -m wakeword.cli.main`
    sys.exit(main())
