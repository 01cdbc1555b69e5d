"""Train the wake-word model on a fleet.

The default recipe has two phases. 1. Server pre-training: the server synthesizes speakers of its
own (never a phone's audio) and trains on them centrally; the model is cached in
~/.cache/wakeword/server and reused by every later run with the same phrase and settings ("hey
computer" with the default settings: the model ships with wakeword, so phase 1 takes no time).
2. Federated fine-tuning: TensorFlow Federated rounds over the training phones start from that
model; raw audio never leaves a phone. The run then keeps the model, before or after the
rounds, that misses fewer validation phrases at 0.5 FA/h (each validation phone counts its own
detections; --ship final keeps the fine-tuned one). --from-scratch skips phase 1 (federated from a random
start: it needs a large fleet, many phones per round and many rounds, and other client steps, as in the
example below: on 1,000 synthetic phones it came within 2 points of central training at 2 FA/h, yet
fired more on real speech than the default; on small fleets it stalls; docs/BENCHMARKS.md section 2),
--init-from RUN starts from another run's model.
Centralized (--central): the same model on the pooled audio of the training phones, the baseline a
company collecting everyone's recordings would get.

Examples:
  wakeword train --fleet runs/fleet --out runs/fed
  wakeword train --central --fleet runs/fleet --out runs/central
  wakeword train --fleet runs/fleet-1000 --out runs/scratch --from-scratch --rounds 300 \\
      --clients-per-round 50 --client-epochs 2 --client-learning-rate 0.05 --client-batch-size 32
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

HELP = "train the model (federated with TFF by default, or --central)"


# Flags made from the configs' fields (wakeword.cli.flags): defaults and help live there.
COMMON = ("model", "width", "seed", "init_from")  # the same settings in both configs
CENTRAL = ("epochs", "keep", "patience", "learning_rate", "weight_average")
AUGMENT = ("warp", "eq_db")  # augmentations that are off by default
PRETRAIN = (
    "server_voices", "server_clip_share", "server_epochs", "server_owner_voices", "server_public_speech",
    "server_pronunciation_variants", "server_confusables", "server_sentences",
    "server_voice_shift", "server_soundalike_changes",
)  # fmt: skip
FEDERATED = (
    "rounds", "clients_per_round", "client_epochs", "client_learning_rate", "client_optimizer",
    "client_schedule", "fairness_q", "server_optimizer", "server_learning_rate", "server_schedule",
    "server_momentum", "proximal_strength", "train_layers", "dropout_rate", "eval_every", "eval_clients",
    "aggregator", "dp_noise_multiplier", "dp_clip", "dp_clipping", "dp_target_epsilon", "dp_delta", "ship",
)  # fmt: skip


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from device_client.pipeline import AugmentConfig
    from orchestrator.central import CentralConfig
    from orchestrator.federated_config import FederatedConfig
    from orchestrator.pretraining import PretrainConfig
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
    group = parser.add_argument_group("server pre-training (phase 1 of the default recipe)")
    group.add_argument(
        "--from-scratch",
        action="store_true",
        help="no server pre-training: federated rounds from a seeded random start",
    )
    add_flags(group, PretrainConfig, PRETRAIN)
    group = parser.add_argument_group("federated training (phase 2 of the default recipe)")
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
    from orchestrator.pretraining import PretrainConfig
    from wakeword.cli.flags import config_values

    config = _config(args)  # settings are checked before any file is read
    pretrain = PretrainConfig(**config_values(args, PretrainConfig, PRETRAIN))
    fleet = Fleet(args.fleet)
    if args.central:
        return _run_central(args, fleet, config)
    pretrained = not (args.from_scratch or args.init_from)
    return _run_federated(args, fleet, config, pretrain if pretrained else None)


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


def _run_federated(args: argparse.Namespace, fleet, config, pretrain) -> int:
    from orchestrator.federated import train_federated
    from orchestrator.pretraining import train_pretrained
    from wakeword.progress import ProgressBars

    workers = [w.strip() for w in args.workers.split(",") if w.strip()] if args.workers else None
    with ProgressBars() as bars:
        options = {"resume": args.resume, "workers": workers, "progress": bars.update, "log": bars.write}
        if pretrain is None:
            description = train_federated(fleet, args.out, config, **options)
        else:
            description = train_pretrained(fleet, args.out, config, pretrain, **options)
    for line in phase_lines(description):
        print(line)
    last = description.history[-1]
    print(
        f"{args.out}: {description.model} ({description.parameters:,} parameters), "
        f"{len(description.history)} rounds in {description.train_seconds:.0f} s, "
        f"validation loss {last.get('eval_loss', float('nan')):.4f}"
    )
    if description.dp is not None:
        dp = description.dp
        chosen = f" chosen for --dp-target-epsilon {dp['target_epsilon']}" if dp.get("target_epsilon") else ""
        print(
            f"differential privacy: epsilon {dp['epsilon']:.2f} at delta {dp['delta']:.2g} "
            f"(noise multiplier {dp['noise_multiplier']:.3g}{chosen}, {dp.get('clipping', 'fixed')} clipping)"
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


def phase_lines(description) -> list[str]:
    """One line per phase of the default recipe: its time, the validation phones' loss after it,
    the phrases its model misses there at the target, and which phase's model the run keeps."""
    target = (description.selection or {}).get("target_fa_per_hour")
    lines = []
    for phase in description.phases or []:
        val = phase["validation"]
        after = (
            f"loss {val['loss']:.4f}, accuracy {val['accuracy']:.3f}" if "loss" in val else "not evaluated"
        )
        if "frr" in val:
            after += f", {val['frr']:.1%} missed at {target:g} FA/h"
        kept = " <- model.keras" if phase.get("kept") and description.selection else ""
        lines.append(f"{phase['phase']}: {phase['seconds']:.0f} s; validation phones after it: {after}{kept}")
    return lines
