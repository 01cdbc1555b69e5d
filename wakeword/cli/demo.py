"""Run the main job end to end on a small default fleet (what `make demo` runs).

Re-running reuses what is already built in --out.
"""

from __future__ import annotations

import argparse
from pathlib import Path

HELP = "run the whole pipeline on a small default fleet"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--out", type=Path, default=Path("runs/demo"), help="output folder (default runs/demo)"
    )
    parser.add_argument("--phrase", default="hey computer", help="wake phrase (default 'hey computer')")
    parser.add_argument("--devices", type=int, default=24, help="phones in the simulated fleet (default 24)")


def run(args: argparse.Namespace) -> int:
    from wakeword.demo import DemoConfig, run_demo
    from wakeword.errors import ParameterError

    if args.devices < 2:
        raise ParameterError(f"--devices must be at least 2, got {args.devices}")
    run_demo(DemoConfig(out=args.out, phrase=args.phrase, devices=args.devices))
    return 0
