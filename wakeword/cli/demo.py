"""Run the main job end to end on a small default fleet (what `make demo` runs).

Synthesizes a fleet, trains federated with TFF, evaluates on held-out phones, exports a
TFLite model, detects the phrase in a generated recording with it and prints a summary.
Re-running reuses what is already built in --out; change --phrase, --devices or
--clip-share for another fleet (use a new --out for it).
"""

from __future__ import annotations

import argparse

HELP = "run the whole pipeline on a small default fleet"


# DemoConfig's settings, with their defaults
FLAGS = ("out", "phrase", "devices", "rounds", "clip_share", "server_voices", "server_clip_share",
         "server_epochs", "background_minutes")  # fmt: skip


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from wakeword.cli.demo_job import DemoConfig
    from wakeword.cli.flags import add_flags

    add_flags(parser, DemoConfig, FLAGS)


def run(args: argparse.Namespace) -> int:
    from wakeword.cli.demo_job import DemoConfig, run_demo
    from wakeword.cli.flags import config_values
    from wakeword.progress import ProgressBars

    config = DemoConfig(**config_values(args, DemoConfig, FLAGS))
    with ProgressBars() as bars:
        run_demo(config, progress=bars.update, echo=bars.write)
    return 0
