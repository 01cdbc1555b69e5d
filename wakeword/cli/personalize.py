"""Adapt a shipped model to its owner's voice, on the phone, with the TFLite interpreter alone.

The model must be the trainable file (`wakeword export RUN --trainable --out base.tflite`). Its
tail (the output unit and, for the default speech_dnn, the dense block before it) is fine-tuned
on the positive takes in the phone's store (`wakeword record --label
positive`), against negatives the file ships with plus the store's negative takes; some takes are
held out to show the change. The threshold never drops below the shipped one and stays above every
negative window's new score. The new file carries the new tail and threshold in its
metadata (and names its base model); `wakeword detect` and `wakeword listen` run it as any model.
Nothing leaves the store, and the store is never changed.

Example:  wakeword personalize --model base.tflite --store phones/mine --out mine.tflite
"""

from __future__ import annotations

import argparse
from pathlib import Path

HELP = "fine-tune a trainable model to its owner's takes, on the device (TFLite only)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from device_client.personalize import PersonalizeConfig

    default = PersonalizeConfig()
    parser.add_argument("--model", type=Path, required=True, help="a file from `wakeword export --trainable`")
    parser.add_argument("--store", type=Path, required=True, help="the phone's store with the owner's takes")
    parser.add_argument("--out", type=Path, required=True, help="the personalized .tflite file to write")
    steps = f"training steps (a batch each; default {default.steps})"
    parser.add_argument("--steps", type=int, default=default.steps, help=steps)
    parser.add_argument(
        "--held-out",
        type=float,
        default=default.held_out,
        help=f"share of the takes kept aside to report on (default {default.held_out})",
    )


def run(args: argparse.Namespace) -> int:
    import sys

    from device_client.personalize import PersonalizeConfig, personalize

    config = PersonalizeConfig(steps=args.steps, held_out=args.held_out)
    report = personalize(
        args.model, args.store, args.out, config=config, log=lambda m: print(f"  {m}", file=sys.stderr)
    )
    before, after = report["before"], report["after"]
    print(f"wrote {report['out']}: {report['base_version']} personalized on {report['takes']} takes")
    print(f"  loss {report['loss'][0]:.4f} -> {report['loss'][1]:.4f}")
    if report["held_out"]:
        print(
            f"  held-out takes found: {before['held_out_found']}/{report['held_out']} at "
            f"{before['threshold']:.4f} -> {after['held_out_found']}/{report['held_out']} at "
            f"{after['threshold']:.4f}"
        )
    print(f"  negative windows firing: {before['negatives_firing']} -> {after['negatives_firing']}")
    return 0
