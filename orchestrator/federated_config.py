"""A federated run's settings and the parts of it that need no TFF: client sampling, the
evaluation sample, the key that crosses into the federated computation, the DP accountant."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from device_client.pipeline import AugmentConfig, PipelineConfig
from models import DEFAULT_MODEL
from orchestrator.schedules import LR_FLOOR  # noqa: F401  (named in the settings' comments)
from wakeword.errors import ParameterError

__all__ = [
    "AGGREGATORS",
    "SERVER_OPTIMIZERS",
    "FederatedConfig",
    "client_key",
    "dp_epsilon",
    "evaluation_sample",
    "sample_clients",
]

AGGREGATORS = ("mean", "robust", "dp", "secure")
SERVER_OPTIMIZERS = ("sgd", "adam", "yogi")
CLIENT_OPTIMIZERS = ("sgd", "adam")
SERVER_SCHEDULES = ("constant", "cosine")
CLIENT_SCHEDULES = ("constant", "cosine")


@dataclass(frozen=True)
class FederatedConfig:
    """Settings of a federated run."""

    model: str = DEFAULT_MODEL  # a key of models.MODELS
    width: float = 1.0  # channel multiplier
    rounds: int = 50  # federated rounds
    clients_per_round: int = 10  # phones sampled per round
    client_epochs: int = 2  # local passes over a phone's windows per round
    client_optimizer: str = "sgd"  # or adam (its moments start afresh on each phone every round)
    client_learning_rate: float = 0.05  # client optimizer step
    client_schedule: str = "constant"  # or cosine: the phones' step decays to LR_FLOOR over the rounds
    fairness_q: float = 0.0  # > 0: a phone's update weighs examples x (its local loss)^q (q-FFL-style)
    server_optimizer: str = "adam"  # sgd, adam (FedAdam, Reddi et al. 2021) or yogi
    server_learning_rate: float = 3e-3  # server optimizer step (1.0 for sgd = plain FedAvg)
    server_schedule: str = "constant"  # or cosine: server step decays to LR_FLOOR over the rounds
    server_momentum: float = 0.0  # sgd only: heavy-ball momentum (0.9 with lr 1.0: FedAvgM, Hsu et al. 2019)
    proximal_strength: float = 0.0  # > 0: FedProx (Li et al. 2020), local loss + mu/2 ||w - w_round||^2
    dropout_rate: float = 0.0  # share of sampled phones that fail to report (simulated)
    eval_every: int = 5  # federated evaluation on the validation phones every N rounds
    eval_clients: int = 50  # validation phones evaluated (a fixed sample from the seed; all if fewer)
    aggregator: str = "mean"  # mean, robust (clip + zero outliers), dp (DP-FedAvg), secure
    dp_noise_multiplier: float = 1.0  # dp: Gaussian noise std / clipping norm
    dp_clip: float = 0.5  # dp: L2 norm each phone's update is clipped to (fixed, so the accounting is exact)
    dp_delta: float | None = None  # dp: delta of the reported (epsilon, delta); default 1/n^1.1
    seed: int = 1  # model init, sampling, dropouts, client data order and augmentation
    init_from: str | None = None  # a run folder whose model the first round starts from (else seeded init)
    augment: AugmentConfig = field(default_factory=AugmentConfig)  # client-side augmentation
    pipeline: PipelineConfig = field(default_factory=PipelineConfig)  # client batches

    def __post_init__(self) -> None:
        if self.rounds < 1:
            raise ParameterError(f"--rounds must be >= 1, got {self.rounds}")
        if self.clients_per_round < 1:
            raise ParameterError(f"--clients-per-round must be >= 1, got {self.clients_per_round}")
        if self.aggregator not in AGGREGATORS:
            raise ParameterError(f"--aggregator must be one of {AGGREGATORS}, got {self.aggregator!r}")
        if self.server_optimizer not in SERVER_OPTIMIZERS:
            raise ParameterError(
                f"--server-optimizer must be one of {SERVER_OPTIMIZERS}, got {self.server_optimizer!r}"
            )
        if not 0 <= self.dropout_rate < 1:
            raise ParameterError(f"--dropout-rate must be in [0, 1), got {self.dropout_rate}")
        if self.client_optimizer not in CLIENT_OPTIMIZERS:
            raise ParameterError(
                f"--client-optimizer must be one of {CLIENT_OPTIMIZERS}, got {self.client_optimizer!r}"
            )
        if self.server_schedule not in SERVER_SCHEDULES:
            raise ParameterError(
                f"--server-schedule must be one of {SERVER_SCHEDULES}, got {self.server_schedule!r}"
            )
        if self.client_schedule not in CLIENT_SCHEDULES:
            raise ParameterError(
                f"--client-schedule must be one of {CLIENT_SCHEDULES}, got {self.client_schedule!r}"
            )
        if self.client_schedule != "constant" and (self.proximal_strength or self.aggregator == "dp"):
            raise ParameterError(
                "--client-schedule cosine works with weighted FedAvg only: drop --proximal-strength "
                "or --aggregator dp, or keep --client-schedule constant"
            )
        if not 0 <= self.fairness_q < float("inf"):
            raise ParameterError(f"--fairness-q must be >= 0, got {self.fairness_q}")
        if self.fairness_q and (
            self.proximal_strength or self.aggregator == "dp" or self.client_schedule != "constant"
        ):
            raise ParameterError(
                "--fairness-q works with weighted FedAvg only: drop --proximal-strength, "
                "--aggregator dp or --client-schedule, or keep --fairness-q 0"
            )
        if not 0 <= self.server_momentum < 1:
            raise ParameterError(f"--server-momentum must be in [0, 1), got {self.server_momentum}")
        if self.server_momentum and self.server_optimizer != "sgd":
            raise ParameterError(
                f"--server-momentum is for --server-optimizer sgd ({self.server_optimizer} has its own)"
            )
        if not 0 <= self.proximal_strength < float("inf"):
            raise ParameterError(f"--proximal-strength must be >= 0, got {self.proximal_strength}")
        if min(self.client_epochs, self.eval_every, self.eval_clients, self.pipeline.batch_size) < 1:
            raise ParameterError(
                "--client-epochs, --eval-every, --eval-clients and --client-batch-size must be >= 1"
            )
        if self.aggregator == "dp" and (self.dp_noise_multiplier < 0 or self.dp_clip <= 0):
            raise ParameterError("--dp-noise-multiplier must be >= 0 and --dp-clip > 0")


def sample_clients(
    train_ids: list[str], round_num: int, config: FederatedConfig
) -> tuple[list[str], list[str]]:
    """Phones sampled in a round and those that report (the rest "drop out"), from (seed, round).

    Returns ``(sampled, reporting)``; at least one phone reports.
    """
    rng = np.random.default_rng([config.seed, round_num])
    k = min(config.clients_per_round, len(train_ids))
    sampled = sorted(train_ids[i] for i in rng.choice(len(train_ids), size=k, replace=False))
    fails = rng.uniform(size=k) < config.dropout_rate
    reporting = [p for p, f in zip(sampled, fails) if not f] or sampled[:1]
    return sampled, reporting


def evaluation_sample(val_ids: list[str], config: FederatedConfig) -> list[str]:
    """The validation phones a run evaluates on: all of them, or ``config.eval_clients`` chosen once
    from the seed (the same phones at every evaluation, so the curve is comparable across rounds)."""
    if len(val_ids) <= config.eval_clients:
        return list(val_ids)
    rng = np.random.default_rng([config.seed, 0xE7A1])
    return sorted(val_ids[i] for i in rng.choice(len(val_ids), size=config.eval_clients, replace=False))


def client_key(phone_id: str, round_num: int) -> str:
    """What crosses into the federated computation for one phone: its id and the round."""
    return f"{phone_id}@{round_num}"


def dp_epsilon(
    *, n_clients: int, clients_per_round: int, noise_multiplier: float, rounds: int, delta: float
) -> float:
    """Epsilon of DP-FedAvg at ``delta`` (user-level), with the RDP accountant of dp-accounting.

    Each round samples ``clients_per_round`` of ``n_clients`` without replacement; each reporting
    phone's clipped update gets Gaussian noise of ``noise_multiplier`` times the clip.
    """
    import dp_accounting

    if noise_multiplier <= 0:
        return float("inf")
    event = dp_accounting.SelfComposedDpEvent(
        dp_accounting.SampledWithoutReplacementDpEvent(
            n_clients, min(clients_per_round, n_clients), dp_accounting.GaussianDpEvent(noise_multiplier)
        ),
        rounds,
    )
    accountant = dp_accounting.rdp.RdpAccountant(
        neighboring_relation=dp_accounting.NeighboringRelation.REPLACE_ONE
    )
    accountant.compose(event)
    return float(accountant.get_epsilon(delta))
