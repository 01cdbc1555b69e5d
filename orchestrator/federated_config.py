"""A federated run's settings and the parts of it that need no TFF: client sampling, the
evaluation sample, the key that crosses into the federated computation, the DP accountant."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from device_client.pipeline import AugmentConfig, PipelineConfig
from models import DEFAULT_MODEL, MODELS
from models.registry import window_for
from orchestrator.schedules import LR_FLOOR
from orchestrator.trainable_tail import TRAIN_LAYERS
from wakeword.errors import ParameterError
from wakeword.options import check_choice, check_range, setting

__all__ = [
    "AGGREGATORS",
    "SERVER_OPTIMIZERS",
    "Algorithm",
    "FederatedConfig",
    "client_key",
    "describe_algorithm",
    "dp_epsilon",
    "dp_noise_for_epsilon",
    "dp_settings",
    "evaluation_sample",
    "expected_clients",
    "sample_clients",
]

AGGREGATORS = ("mean", "robust", "dp", "secure")
DP_CLIPPING = ("fixed", "adaptive")
SERVER_OPTIMIZERS = ("sgd", "adam", "yogi")
CLIENT_OPTIMIZERS = ("sgd", "adam")
SHIP_CHOICES = ("better", "final")  # which model a run from --init-from ships
SCHEDULES = ("constant", "cosine")  # a step over the rounds, the server's or the phones'
# RDP orders for the noise search (the optimum for federated settings lies among them)
SEARCH_ORDERS = (1.5, 2, 2.5, 3, 4, 5, 6, 8, 10, 12, 16, 20, 24, 32, 48, 64)
_CHOICES = {  # settings with a fixed set of values
    "aggregator": AGGREGATORS,
    "server_optimizer": SERVER_OPTIMIZERS,
    "client_optimizer": CLIENT_OPTIMIZERS,
    "server_schedule": SCHEDULES,
    "client_schedule": SCHEDULES,
    "dp_clipping": DP_CLIPPING,
    "ship": SHIP_CHOICES,
    "train_layers": TRAIN_LAYERS,
}
MODELS_DOC = "; ".join(f"{name}: {MODELS[name].DESCRIPTION}" for name in sorted(MODELS))


def model_setting():
    """The ``model`` setting, the same in every training config."""
    return setting(DEFAULT_MODEL, doc=MODELS_DOC, choices=sorted(MODELS))


def fit_to_model(config) -> None:
    """Give a frozen training config the window its model reads (an embedding model its own, see
    :func:`models.registry.window_for`) and the augmentation that applies to it: the mel-power
    augmentations do not apply to embeddings, so only the time shift stays (in its frames)."""
    import dataclasses

    window = window_for(config.model, config.pipeline.window)
    if window != config.pipeline.window:
        object.__setattr__(config, "pipeline", dataclasses.replace(config.pipeline, window=window))
    if window.features.kind != "log_mel" and config.augment != AugmentConfig.none():
        shift = max(1, round(config.augment.shift_frames * 20.0 / window.features.hop_ms))
        object.__setattr__(config, "augment", dataclasses.replace(AugmentConfig.none(), shift_frames=shift))


def width_setting():
    return setting(1.0, doc="channel multiplier of the model")


def init_from_setting():
    return setting(
        None,
        metavar="RUN",
        doc="start from RUN's model instead of a seeded initialisation (same --model and --width), "
        "e.g. a model the server pre-trained on audio it holds itself; rounds (or epochs) fine-tune it",
    )


def schedule_setting(whose: str, step_flag: str, *, why: str, default: str = "constant"):
    return setting(
        default,
        choices=SCHEDULES,
        doc=f"{whose} step over the rounds: constant, or cosine (decays to {LR_FLOOR:.0%} of "
        f"{step_flag} by the last round: {why})",
    )


# Client algorithms, and the setting that selects each (FedAvg when none does): one per run.
CLIENT_WORK = {
    "fedprox": "proximal_strength",  # local loss + mu/2 ||w - w_round||^2 (Li et al. 2020)
    "fair": "fairness_q",  # updates weighted by examples x loss^q (q-FFL-style, Li et al. 2020)
    "scheduled": "client_schedule",  # the phones' step decays over the rounds
}
UNWEIGHTED_WORK = ("fedavg", "fedprox")  # what dp (an unweighted mean of clipped updates) can run


@dataclass(frozen=True)
class Algorithm:
    """What a federated round runs: one client algorithm and one aggregator, checked together."""

    client_work: str  # fedavg, or a key of CLIENT_WORK
    aggregator: str  # a member of AGGREGATORS

    @property
    def weighted(self) -> bool:
        """Whether updates are weighted by example counts (every aggregator but dp)."""
        return self.aggregator != "dp"


def describe_algorithm(config: FederatedConfig) -> Algorithm:
    """The algorithm ``config`` selects; a :class:`ParameterError` for combinations that do not exist."""
    selected = {
        "fedprox": config.proximal_strength > 0,
        "fair": config.fairness_q > 0,
        "scheduled": config.client_schedule != "constant",
    }
    chosen = [work for work in CLIENT_WORK if selected[work]]
    if len(chosen) > 1:
        names = " and ".join(f"`{CLIENT_WORK[w]}`" for w in chosen)
        raise ParameterError(
            f"{names} select different client algorithms ({', '.join(chosen)}): keep one of them"
        )
    work = chosen[0] if chosen else "fedavg"
    if config.aggregator == "dp" and work not in UNWEIGHTED_WORK:
        raise ParameterError(
            f"`aggregator` dp averages clipped updates unweighted, which works with FedAvg or FedProx "
            f"only: drop `{CLIENT_WORK[work]}` or choose another `aggregator`"
        )
    return Algorithm(work, config.aggregator)


@dataclass(frozen=True)
class FederatedConfig:
    """Settings of a federated run."""

    model: str = model_setting()
    width: float = width_setting()
    # The defaults are the fine-tuning phase of the default recipe (small drift: one local epoch in
    # batches of 256, about 4 steps per phone), measured best from a pre-trained start on the
    # 200-phone fleet (docs/BENCHMARKS.md). From a random start, 2 epochs in batches of 32 at
    # 0.05 did better: on 1,000 phones, 300 rounds of 50 came within 2 points of central at 2 FA/h.
    rounds: int = setting(160, doc="federated rounds")
    clients_per_round: int = setting(10, doc="phones sampled per round")
    client_epochs: int = setting(1, doc="local passes over a phone's windows per round")
    client_optimizer: str = setting(
        "sgd",
        choices=CLIENT_OPTIMIZERS,
        doc="phones' local optimizer: sgd, or adam (moments start afresh on each phone every round; "
        "try --client-learning-rate 0.001)",
    )
    client_learning_rate: float = setting(0.1, doc="client optimizer step")
    client_schedule: str = schedule_setting(
        "phones'", "--client-learning-rate", why="FedAvg's client drift shrinks with the step"
    )
    fairness_q: float = setting(
        0.0,
        metavar="Q",
        doc="weigh each phone's update by its examples x (its local training loss)^Q, so phones the "
        "model serves worst (a minority accent) count more: q-FFL-style, Li et al. 2020 (0 = FedAvg)",
    )
    server_optimizer: str = setting(
        "adam", choices=SERVER_OPTIMIZERS, doc="sgd, adam (FedAdam, Reddi et al. 2021) or yogi"
    )
    server_learning_rate: float = setting(3e-3, doc="server optimizer step (1.0 for sgd = plain FedAvg)")
    server_schedule: str = schedule_setting(
        "server", "--server-learning-rate", why="as the central baseline", default="cosine"
    )
    server_momentum: float = setting(
        0.0, doc="sgd server optimizer: heavy-ball momentum (0.9 with step 1.0: FedAvgM, Hsu et al. 2019)"
    )
    proximal_strength: float = setting(
        0.0,
        metavar="MU",
        doc="FedProx: each phone's local loss gains MU/2 times the squared distance to the round's "
        "model, a pull against one-speaker phones drifting apart (0 = FedAvg; 0.1 changed nothing "
        "measurable on a 50-phone fleet, docs/BENCHMARKS.md)",
    )
    train_layers: str = setting(
        "all",
        choices=TRAIN_LAYERS,
        doc="what the phones train: all weights, or the tail (the output unit and the dense block "
        "before it, 4,353 of speech_dnn's 102,849 weights; the rest stays --init-from's): far less "
        "for DP noise to cover, python -m bench.dp_plan",
    )
    dropout_rate: float = setting(0.0, doc="share of sampled phones that fail to report (simulated)")
    eval_every: int = setting(5, doc="federated evaluation on the validation phones every N rounds")
    eval_clients: int = setting(
        50,
        doc="validation phones in each federated evaluation: a fixed sample, so evaluation does not "
        "grow with the fleet (all if there are fewer)",
    )
    aggregator: str = setting(
        "mean",
        choices=AGGREGATORS,
        doc="mean: weighted FedAvg; robust: adaptive clipping and zeroing of outlying updates; dp: "
        "DP-FedAvg (fixed clipping + Gaussian noise, reports epsilon); secure: TFF's secure-sum "
        "aggregation (in this simulation the sum is NOT cryptographically masked)",
    )
    dp_noise_multiplier: float = setting(1.0, doc="dp: Gaussian noise std / clipping norm")
    dp_clip: float = setting(
        0.5, doc="dp: L2 norm each phone's update is clipped to (with --dp-clipping adaptive, its start)"
    )
    dp_clipping: str = setting(
        "fixed",
        choices=DP_CLIPPING,
        doc="dp: fixed (every update clipped to --dp-clip) or adaptive (the clip starts at --dp-clip "
        "and follows the median update norm, Andrew et al. 2021; the noisy count it needs is part of "
        "the noise multiplier, so epsilon is the same)",
    )
    dp_target_epsilon: float | None = setting(
        None,
        metavar="EPS",
        doc="dp: choose the noise multiplier so the whole run spends EPS at --dp-delta (the RDP "
        "accountant for this fleet's phones, --clients-per-round and --rounds); replaces "
        "--dp-noise-multiplier",
    )
    dp_delta: float | None = setting(
        None, doc="dp: delta of the (epsilon, delta) guarantee (none: 1 / training phones^1.1)"
    )
    seed: int = setting(1, doc="model init, sampling, dropouts, client data order and augmentation")
    init_from: str | None = init_from_setting()
    # better: in every demo measured (sessions 24-38) the rounds left the held-out phones' FRR at
    # 1 FA/h at most half a point better than the start model's, and up to 24 points worse
    ship: str = setting(
        "better",
        choices=SHIP_CHOICES,
        doc="with --init-from, the model the run saves: better (of the start model and the "
        "fine-tuned one, the one missing fewer validation phrases at 0.5 FA/h; each validation "
        "phone counts its own detections in its client computation) or final (the fine-tuned one)",
    )
    augment: AugmentConfig = field(default_factory=AugmentConfig)  # client-side augmentation
    pipeline: PipelineConfig = field(default_factory=lambda: PipelineConfig(batch_size=256))  # client batches

    def __post_init__(self) -> None:
        fit_to_model(self)
        for name in ("rounds", "clients_per_round", "client_epochs", "eval_every", "eval_clients"):
            check_range(name, getattr(self, name), low=1)
        check_range("batch_size", self.pipeline.batch_size, low=1)
        for name, choices in _CHOICES.items():
            check_choice(name, getattr(self, name), choices)
        check_range("dropout_rate", self.dropout_rate, low=0, high=1, high_open=True)
        check_range("fairness_q", self.fairness_q, low=0)
        check_range("proximal_strength", self.proximal_strength, low=0)
        check_range("server_momentum", self.server_momentum, low=0, high=1, high_open=True)
        if self.server_momentum and self.server_optimizer != "sgd":
            raise ParameterError(
                f"`server_momentum` is for `server_optimizer` sgd ({self.server_optimizer} has its own)"
            )
        if self.aggregator == "dp":
            check_range("dp_noise_multiplier", self.dp_noise_multiplier, low=0)
            if not self.dp_clip > 0:
                raise ParameterError(f"`dp_clip` must be > 0, got {self.dp_clip}")
            if self.dp_target_epsilon is not None and not self.dp_target_epsilon > 0:
                raise ParameterError(f"`dp_target_epsilon` must be > 0, got {self.dp_target_epsilon}")
            if self.dp_delta is not None:
                check_range("dp_delta", self.dp_delta, low=0, high=1, high_open=True)
        describe_algorithm(self)

    @property
    def algorithm(self) -> Algorithm:
        """The client algorithm and aggregator these settings select."""
        return describe_algorithm(self)


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
    *,
    n_clients: int,
    clients_per_round: int,
    noise_multiplier: float,
    rounds: int,
    delta: float,
    orders: tuple[float, ...] | None = None,
) -> float:
    """Epsilon of DP-FedAvg at ``delta`` (user-level), with the RDP accountant of dp-accounting.

    Each round samples ``clients_per_round`` of ``n_clients`` without replacement; each reporting
    phone's clipped update gets Gaussian noise of ``noise_multiplier`` times the clip. ``orders``:
    the RDP orders tried (default dp-accounting's 156, ~5x slower than :data:`SEARCH_ORDERS`).
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
        **({"orders": list(orders)} if orders else {}),
        neighboring_relation=dp_accounting.NeighboringRelation.REPLACE_ONE,
    )
    accountant.compose(event)
    return float(accountant.get_epsilon(delta))


def dp_noise_for_epsilon(
    target: float, *, n_clients: int, clients_per_round: int, rounds: int, delta: float
) -> float:
    """The smallest noise multiplier (to 0.5%) for which :func:`dp_epsilon` is at most ``target``:
    bisection over :data:`SEARCH_ORDERS`, then checked (and raised if needed) with every order."""

    def epsilon(noise: float, orders=SEARCH_ORDERS) -> float:
        return dp_epsilon(
            n_clients=n_clients, clients_per_round=clients_per_round, noise_multiplier=noise,
            rounds=rounds, delta=delta, orders=orders,
        )  # fmt: skip

    low, high = 0.0, 1.0
    while epsilon(high) > target:
        low, high = high, 2 * high
        if high > 1e4:
            raise ParameterError(f"`dp_target_epsilon` {target} is out of reach at delta {delta:.2g}")
    while high - low > 0.005 * high:
        middle = (low + high) / 2
        low, high = (middle, high) if epsilon(middle) > target else (low, middle)
    while epsilon(high, orders=None) > target:
        high *= 1.005
    return high


def expected_clients(config: FederatedConfig, n_train: int) -> int:
    """Phones expected to report in a round (sampled, less the simulated dropouts)."""
    return max(1, round(min(config.clients_per_round, n_train) * (1 - config.dropout_rate)))


def dp_settings(config: FederatedConfig, n_train: int) -> FederatedConfig:
    """``config`` with its DP noise and delta fixed for ``n_train`` training phones: the noise
    multiplier of ``dp_target_epsilon`` if set, delta's default; unchanged unless ``dp``.

    Adaptive clipping counts the clipped phones with noise of 0.05 x the phones per round (TFF's
    default), which must stay above half the noise multiplier, so it needs more than ten times the
    noise multiplier in reporting phones: fewer is a :class:`ParameterError`.
    """
    import dataclasses

    if config.aggregator != "dp":
        return config
    delta = config.dp_delta or 1 / n_train**1.1
    noise = config.dp_noise_multiplier
    if config.dp_target_epsilon is not None:
        noise = dp_noise_for_epsilon(
            config.dp_target_epsilon,
            n_clients=n_train,
            clients_per_round=min(config.clients_per_round, n_train),
            rounds=config.rounds,
            delta=delta,
        )
    reporting = expected_clients(config, n_train)
    if config.dp_clipping == "adaptive" and noise >= 0.1 * reporting:
        raise ParameterError(
            f"`dp_clipping` adaptive needs more than 10 x the noise multiplier ({noise:.3g}) phones "
            f"reporting per round, got {reporting}: raise `clients_per_round` or use fixed clipping"
        )
    return dataclasses.replace(config, dp_noise_multiplier=round(noise, 6), dp_delta=delta)
