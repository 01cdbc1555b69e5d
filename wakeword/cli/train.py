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
from pathlib import Path

HELP = "train the model (federated with TFF by default, or --central)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from models import DEFAULT_MODEL, MODELS
    from orchestrator.central import CentralConfig
    from orchestrator.federated_config import (
        AGGREGATORS,
        CLIENT_OPTIMIZERS,
        CLIENT_SCHEDULES,
        SERVER_OPTIMIZERS,
        SERVER_SCHEDULES,
        FederatedConfig,
    )

    central = CentralConfig()
    parser.add_argument("--fleet", type=Path, required=True, help="fleet folder (wakeword data synth/import)")
    parser.add_argument("--out", type=Path, required=True, help="run folder to write (model.keras, run.json)")
    parser.add_argument(
        "--central", action="store_true", help="train centrally on pooled audio (the baseline)"
    )
    parser.add_argument(
        "--model",
        choices=sorted(MODELS),
        default=DEFAULT_MODEL,
        help="; ".join(f"{name}: {MODELS[name].DESCRIPTION}" for name in sorted(MODELS)),
    )
    parser.add_argument(
        "--width", type=float, default=1.0, help="channel multiplier of the model (default 1.0)"
    )
    parser.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    parser.add_argument(
        "--init-from",
        type=Path,
        metavar="RUN",
        help="start from RUN's model instead of a seeded initialisation (same --model and --width), "
        "e.g. a model the server pre-trained on audio it holds itself; federated rounds (or central "
        "epochs) then fine-tune it",
    )
    group = parser.add_argument_group("centralized training (--central)")
    group.add_argument(
        "--epochs",
        type=int,
        default=central.epochs,
        help=f"at most this many epochs (default {central.epochs})",
    )
    group.add_argument(
        "--patience",
        type=int,
        default=central.patience,
        help=f"early-stopping patience, from half of --epochs on (default {central.patience})",
    )
    group.add_argument(
        "--learning-rate",
        type=float,
        default=central.learning_rate,
        help=f"peak learning rate (default {central.learning_rate})",
    )
    parser.add_argument(
        "--no-augment", action="store_true", help="turn off augmentation (SpecAugment, gain, mixing, shift)"
    )
    fed = FederatedConfig()
    f = parser.add_argument_group("federated training (the default)")
    f.add_argument("--rounds", type=int, default=fed.rounds, help=f"federated rounds (default {fed.rounds})")
    f.add_argument(
        "--clients-per-round",
        type=int,
        default=fed.clients_per_round,
        help=f"phones sampled per round (default {fed.clients_per_round})",
    )
    f.add_argument(
        "--client-epochs",
        type=int,
        default=fed.client_epochs,
        help=f"local epochs per round (default {fed.client_epochs})",
    )
    f.add_argument(
        "--client-learning-rate",
        type=float,
        default=fed.client_learning_rate,
        help=f"client optimizer step (default {fed.client_learning_rate})",
    )
    f.add_argument(
        "--client-optimizer",
        choices=CLIENT_OPTIMIZERS,
        default=fed.client_optimizer,
        help="phones' local optimizer: sgd, or adam (moments start afresh each round; try "
        f"--client-learning-rate 0.001; default {fed.client_optimizer})",
    )
    f.add_argument(
        "--client-schedule",
        choices=CLIENT_SCHEDULES,
        default=fed.client_schedule,
        help="phones' step over the rounds: constant, or cosine (decays to 5%% of "
        "--client-learning-rate by the last round: FedAvg's client drift shrinks with the step; "
        "weighted FedAvg only, not with --proximal-strength or --aggregator dp; "
        f"default {fed.client_schedule})",
    )
    f.add_argument(
        "--fairness-q",
        type=float,
        default=fed.fairness_q,
        metavar="Q",
        help="weigh each phone's update by its examples x (its local training loss)^Q, so phones "
        "the model serves worst (a minority accent) count more: q-FFL-style fairness, Li et al. 2020 "
        f"(0 = FedAvg's weighting; weighted FedAvg only; default {fed.fairness_q})",
    )
    f.add_argument(
        "--client-batch-size",
        type=int,
        default=fed.pipeline.batch_size,
        help=f"client batch size (default {fed.pipeline.batch_size})",
    )
    f.add_argument(
        "--server-optimizer",
        choices=SERVER_OPTIMIZERS,
        default=fed.server_optimizer,
        help="default adam (FedAdam)",
    )
    f.add_argument(
        "--server-learning-rate",
        type=float,
        default=fed.server_learning_rate,
        help=f"default {fed.server_learning_rate}",
    )
    f.add_argument(
        "--server-schedule",
        choices=SERVER_SCHEDULES,
        default=fed.server_schedule,
        help="server step over the rounds: constant, or cosine (decays to 5%% of "
        f"--server-learning-rate by the last round, as the central baseline; default {fed.server_schedule})",
    )
    f.add_argument(
        "--server-momentum",
        type=float,
        default=fed.server_momentum,
        help="sgd server optimizer: momentum (0.9 with --server-learning-rate 1.0 is FedAvgM; "
        f"default {fed.server_momentum})",
    )
    f.add_argument(
        "--proximal-strength",
        type=float,
        default=fed.proximal_strength,
        metavar="MU",
        help="FedProx: each phone's local loss gains MU/2 times the squared distance to the round's "
        "model, a pull against one-speaker phones drifting apart (0 = FedAvg; 0.1 changed nothing "
        f"measurable on a 50-phone fleet, see docs/BENCHMARKS.md; default {fed.proximal_strength})",
    )
    f.add_argument(
        "--dropout-rate",
        type=float,
        default=0.0,
        help="share of sampled phones that fail to report (default 0)",
    )
    f.add_argument(
        "--eval-every",
        type=int,
        default=fed.eval_every,
        help=f"federated evaluation every N rounds (default {fed.eval_every})",
    )
    f.add_argument(
        "--eval-clients",
        type=int,
        default=fed.eval_clients,
        help="validation phones in each federated evaluation: a fixed sample, so evaluation does "
        f"not grow with the fleet (default {fed.eval_clients}; all if there are fewer)",
    )
    f.add_argument(
        "--aggregator",
        choices=AGGREGATORS,
        default="mean",
        help="mean: weighted FedAvg; robust: adaptive clipping and zeroing of outlying updates; "
        "dp: DP-FedAvg (fixed clipping + Gaussian noise, reports epsilon); "
        "secure: TFF's secure-sum aggregation -- in this simulation the computation is the same "
        "but the sum is NOT cryptographically masked",
    )
    f.add_argument(
        "--dp-noise-multiplier",
        type=float,
        default=fed.dp_noise_multiplier,
        help=f"dp: noise std / clip (default {fed.dp_noise_multiplier})",
    )
    f.add_argument(
        "--dp-clip",
        type=float,
        default=fed.dp_clip,
        help=f"dp: L2 clip of each update (default {fed.dp_clip})",
    )
    f.add_argument(
        "--resume",
        action="store_true",
        help="continue an interrupted run from its last checkpoint (same settings)",
    )
    f.add_argument(
        "--workers",
        help="host:port,host:port of `wakeword worker`s (default: one local worker, loopback only)",
    )


def run(args: argparse.Namespace) -> int:
    from data_tools.fleet import Fleet

    fleet = Fleet(args.fleet)
    if args.central:
        return _run_central(args, fleet)
    return _run_federated(args, fleet)


def _run_federated(args: argparse.Namespace, fleet) -> int:
    from device_client.pipeline import AugmentConfig, PipelineConfig
    from orchestrator.federated import FederatedConfig, train_federated
    from wakeword.progress import ProgressBars

    config = FederatedConfig(
        model=args.model,
        width=args.width,
        rounds=args.rounds,
        clients_per_round=args.clients_per_round,
        client_epochs=args.client_epochs,
        client_learning_rate=args.client_learning_rate,
        client_optimizer=args.client_optimizer,
        client_schedule=args.client_schedule,
        fairness_q=args.fairness_q,
        server_optimizer=args.server_optimizer,
        server_learning_rate=args.server_learning_rate,
        server_momentum=args.server_momentum,
        proximal_strength=args.proximal_strength,
        server_schedule=args.server_schedule,
        dropout_rate=args.dropout_rate,
        eval_every=args.eval_every,
        eval_clients=args.eval_clients,
        aggregator=args.aggregator,
        dp_noise_multiplier=args.dp_noise_multiplier,
        dp_clip=args.dp_clip,
        seed=args.seed,
        init_from=str(args.init_from) if args.init_from else None,
        augment=AugmentConfig.none() if args.no_augment else AugmentConfig(),
        pipeline=PipelineConfig(batch_size=args.client_batch_size),
    )
    workers = [w.strip() for w in args.workers.split(",") if w.strip()] if args.workers else None
    with ProgressBars() as bars:
        description = train_federated(
            fleet, args.out, config, resume=args.resume, workers=workers, progress=bars.update, log=bars.write
        )
    last = description["history"][-1]
    print(
        f"{args.out}: {description['model']} ({description['parameters']:,} parameters), "
        f"{len(description['history'])} rounds in {description['train_seconds']:.0f} s, "
        f"validation loss {last.get('eval_loss', float('nan')):.4f}"
    )
    if "dp" in description:
        dp = description["dp"]
        print(
            f"differential privacy: epsilon {dp['epsilon']:.2f} at delta {dp['delta']:.2g} "
            f"(noise multiplier {dp['noise_multiplier']})"
        )
    print(f"metrics: {args.out}/metrics.csv, tensorboard --logdir {args.out}/tensorboard")
    print(f"next: wakeword eval --model {args.out} --fleet {args.fleet}")
    return 0


def _run_central(args: argparse.Namespace, fleet) -> int:
    from device_client.pipeline import AugmentConfig
    from orchestrator.central import CentralConfig, train_central
    from wakeword.progress import ProgressBars

    config = CentralConfig(
        model=args.model,
        width=args.width,
        epochs=args.epochs,
        patience=args.patience,
        learning_rate=args.learning_rate,
        seed=args.seed,
        init_from=str(args.init_from) if args.init_from else None,
        augment=AugmentConfig.none() if args.no_augment else AugmentConfig(),
    )
    with ProgressBars() as bars:
        description = train_central(fleet, args.out, config, progress=bars.update, log=bars.write)
    print(
        f"{args.out}: {description['model']} ({description['parameters']:,} parameters), "
        f"{len(description['history'])} epochs in {description['train_seconds']:.0f} s, "
        f"best validation loss {description['best_val_loss']:.4f}"
    )
    print(f"next: wakeword eval --model {args.out} --fleet {args.fleet}")
    return 0
