"""Run the main job end to end on a small default fleet (what `make demo` runs).

Synthesizes a fleet, trains federated with TFF, evaluates on held-out phones, exports an int8
TFLite model, detects the phrase in a generated recording with it and prints a summary.
Re-running reuses what is already built in --out; change --phrase or --devices for another fleet
(use a new --out for it).
"""

from __future__ import annotations

import argparse
from pathlib import Path

HELP = "run the whole pipeline on a small default fleet"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from wakeword.cli.demo_job import DemoConfig

    d = DemoConfig()
    parser.add_argument("--out", type=Path, default=d.out, help=f"output folder (default {d.out})")
    parser.add_argument("--phrase", default=d.phrase, help=f"wake phrase (default {d.phrase!r})")
    parser.add_argument(
        "--devices", type=int, default=d.devices, help=f"phones in the fleet (default {d.devices})"
    )
    parser.add_argument("--rounds", type=int, default=d.rounds, help=f"federated rounds (default {d.rounds})")
    parser.add_argument(
        "--background-minutes",
        type=float,
        default=d.background_minutes,
        help=f"negative streams for FA/h (default {d.background_minutes:g})",
    )


def run(args: argparse.Namespace) -> int:
    from wakeword.cli.demo_job import DemoConfig, run_demo
    from wakeword.errors import ParameterError
    from wakeword.progress import ProgressBars

    if args.devices < 3:
        raise ParameterError(
            f"--devices must be at least 3 (training, validation and held-out phones), got {args.devices}"
        )
    config = DemoConfig(
        out=args.out,
        phrase=args.phrase,
        devices=args.devices,
        rounds=args.rounds,
        background_minutes=args.background_minutes,
    )
    with ProgressBars() as bars:
        run_demo(config, progress=bars.update, echo=bars.write)
    return 0
