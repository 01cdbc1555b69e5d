"""Train the wake-word model on a fleet.

Federated (the default): TensorFlow Federated rounds over the training phones, raw audio never
leaves a phone. Centralized (--central): the same model on the pooled audio of the training
phones, the baseline a company collecting everyone's recordings would get.

Examples:
  wakeword train --central --fleet runs/fleet --out runs/central
  wakeword train --fleet runs/fleet --rounds 50 --clients-per-round 10 --out runs/fed
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

HELP = "train the model (federated with TFF by default, or --central)"


# Flags made from the configs' fields (wakeword.cli.flags): defaults and help live there.
COMMON = ("model", "width", "seed", "init_from")  # the same settings in both configs
CENTRAL = ("epochs", "patience", "learning_rate")
AUGMENT = ("warp", "eq_db")  # augmentations that are off by default
FEDERATED = (
    "rounds", "clients_per_round", "client_epochs", "client_learning_rate", "client_optimizer",
    "client_schedule", "fairness_q", "server_optimizer", "server_learning_rate", "server_schedule",
    "server_momentum", "proximal_strength", "dropout_rate", "eval_every", "eval_clients", "aggregator",
    "dp_noise_multiplier", "dp_clip",
)  # fmt: skip


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from device_client.pipeline import AugmentConfig
    from orchestrator.central import CentralConfig
    from orchestrator.federated_config import FederatedConfig
    from wakeword.cli.flags import add_flags

    parser.add_argument("--fleet", type=Path, required=True, help="fleet folder (wakeword data synth/import)")
    parser.add_argument("--out", type=Path, required=True, help="run folder to write (model.keras, run.json)")
    parser.add_argument(
        "--central", action="store_true", help="train centrally on pooled audio (the baseline)"
    )
    add_flags(parser, CentralConfig, COMMON)
    parser.add_argument(
        "--no-augment", action="store_true", help="turn off augmentation (SpecAugment, gain, mixing, shift)"
    )
    add_flags(parser, AugmentConfig, AUGMENT)
    add_flags(parser.add_argument_group("centralized training (--central)"), CentralConfig, CENTRAL)
    group = parser.add_argument_group("federated training (the default)")
    add_flags(group, FederatedConfig, FEDERATED)
    group.add_argument(
        "--client-batch-size",
        dest="batch_size",
        type=int,
        default=FederatedConfig().pipeline.batch_size,
        help=f"client batch size (default {FederatedConfig().pipeline.batch_size})",
    )
    group.add_argument(
        "--resume",
        action="store_true",
        help="continue an interrupted run from its last checkpoint (same settings)",
    )
    group.add_argument(
        "--workers",
        help="host:port,host:port of `wakeword worker`s (default: one local worker, loopback only)",
    )


def run(args: argparse.Namespace) -> int:
    from data_tools.fleet import Fleet

    config = _config(args)  # settings are checked before any file is read
    fleet = Fleet(args.fleet)
    if args.central:
        return _run_central(args, fleet, config)
    return _run_federated(args, fleet, config)


def _config(args: argparse.Namespace):
    from device_client.pipeline import AugmentConfig, PipelineConfig
    from orchestrator.central import CentralConfig
    from orchestrator.federated_config import FederatedConfig
    from wakeword.cli.flags import config_values

    augment = AugmentConfig.none() if args.no_augment else AugmentConfig()
    augment = dataclasses.replace(augment, **config_values(args, AugmentConfig, AUGMENT))
    if args.central:
        return CentralConfig(**config_values(args, CentralConfig, COMMON + CENTRAL), augment=augment)
    return FederatedConfig(
        **config_values(args, FederatedConfig, COMMON + FEDERATED),
        augment=augment,
        pipeline=PipelineConfig(batch_size=args.batch_size),
    )


def _run_federated(args: argparse.Namespace, fleet, config) -> int:
    from orchestrator.federated import train_federated
    from wakeword.progress import ProgressBars

    workers = [w.strip() for w in args.workers.split(",") if w.strip()] if args.workers else None
    with ProgressBars() as bars:
        description = train_federated(
            fleet, args.out, config, resume=args.resume, workers=workers, progress=bars.update, log=bars.write
        )
    last = description.history[-1]
    print(
        f"{args.out}: {description.model} ({description.parameters:,} parameters), "
        f"{len(description.history)} rounds in {description.train_seconds:.0f} s, "
        f"validation loss {last.get('eval_loss', float('nan')):.4f}"
    )
    if description.dp is not None:
        dp = description.dp
        print(
            f"differential privacy: epsilon {dp['epsilon']:.2f} at delta {dp['delta']:.2g} "
            f"(noise multiplier {dp['noise_multiplier']})"
        )
    print(f"metrics: {args.out}/metrics.csv, tensorboard --logdir {args.out}/tensorboard")
    print(f"next: wakeword eval --model {args.out} --fleet {args.fleet}")
    return 0


def _run_central(args: argparse.Namespace, fleet, config) -> int:
    from orchestrator.central import train_central
    from wakeword.progress import ProgressBars

    with ProgressBars() as bars:
        description = train_central(fleet, args.out, config, progress=bars.update, log=bars.write)
    print(
        f"{args.out}: {description.model} ({description.parameters:,} parameters), "
        f"{len(description.history)} epochs in {description.train_seconds:.0f} s, "
        f"best validation loss {description.best_val_loss:.4f}"
    )
    print(f"next: wakeword eval --model {args.out} --fleet {args.fleet}")
    return 0
