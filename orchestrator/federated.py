"""Federated training with TensorFlow Federated (``wakeword train``, the default).

The plain-TF parts (the Keras model, each phone's data pipeline) live in ``models`` and
``device_client``; this module wires them into TFF: a ``tff.learning`` FedAvg process (weighted,
or unweighted for DP), client sampling and simulated dropouts per round from the seed, federated
evaluation on the validation phones, a checkpoint after every round, metrics to CSV and
TensorBoard.

Only phone IDs cross into the federated computation: the client computation (running in TFF's
worker) opens the phone's own feature cache from its store, trains, and returns a model update
and an example count. The orchestrator process never reads a phone's audio or features.
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import io
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from data_tools.fleet import Fleet
from device_client.pipeline import (
    CACHE_DIR,
    CACHE_FILE,
    AugmentConfig,
    PipelineConfig,
    batch_windows,
    clip_windows,
)
from models import DEFAULT_MODEL, build_model
from orchestrator.run import describe_run, save_run
from wakeword.errors import ParameterError, WakewordError
from wakeword.fileio import atomic_write

__all__ = [
    "AGGREGATORS",
    "SERVER_OPTIMIZERS",
    "FederatedConfig",
    "dp_epsilon",
    "sample_clients",
    "train_federated",
]

AGGREGATORS = ("mean", "robust", "dp", "secure")
SERVER_OPTIMIZERS = ("sgd", "adam", "yogi")
CLIENT_OPTIMIZERS = ("sgd", "adam")
SERVER_SCHEDULES = ("constant", "cosine")
CLIENT_SCHEDULES = ("constant", "cosine")
LR_FLOOR = 0.05  # a cosine schedule ends at this share of the peak step (as the central baseline's)
CHECKPOINT_DIR = "checkpoints"


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


# --- pure parts (tested without TFF) ---------------------------------------------------------------


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


# --- TFF wiring --------------------------------------------------------------------------------------


def _model_fn(config: FederatedConfig, window):
    import tensorflow as tf
    import tensorflow_federated as tff

    shape = (window.frames, window.features.n_mels)
    input_spec = (tf.TensorSpec([None, *shape], tf.float32), tf.TensorSpec([None, 1], tf.float32))

    def model_fn():  # a fresh model on every call, as TFF requires
        keras_model = build_model(config.model, shape, width=config.width, seed=config.seed)
        return tff.learning.models.from_keras_model(
            keras_model,
            loss=tf.keras.losses.BinaryCrossentropy(),
            input_spec=input_spec,
            metrics=[tf.keras.metrics.BinaryAccuracy(name="accuracy")],
        )

    return model_fn


def _server_optimizer(config: FederatedConfig):
    import tensorflow_federated as tff

    lr = config.server_learning_rate
    if config.server_optimizer == "adam":
        optimizer = tff.learning.optimizers.build_adam(lr)
    elif config.server_optimizer == "yogi":
        optimizer = tff.learning.optimizers.build_yogi(lr)
    else:
        optimizer = tff.learning.optimizers.build_sgdm(lr, momentum=config.server_momentum or None)
    if config.server_schedule == "constant":
        return optimizer
    return tff.learning.optimizers.schedule_learning_rate(
        optimizer, lambda round_num: cosine_learning_rate(round_num, peak=lr, rounds=config.rounds)
    )


def cosine_learning_rate(round_num, *, peak: float, rounds: int):
    """The step after ``round_num`` rounds: ``peak`` decayed along a half cosine to
    ``LR_FLOOR * peak`` at ``rounds`` (float32 tensor; ``round_num`` may be a tensor)."""
    import tensorflow as tf

    progress = tf.minimum(tf.cast(round_num, tf.float32) / float(rounds), 1.0)
    return peak * (LR_FLOOR + (1.0 - LR_FLOOR) * 0.5 * (1.0 + tf.cos(np.pi * progress)))


def fairness_weight(examples, loss, q: float):
    """A phone's weight in the average of updates: ``examples * loss**q`` (q-FFL-style, Li et al.,
    "Fair Resource Allocation in Federated Learning", ICLR 2020; q = 0 is FedAvg's weighting).

    ``loss`` is the phone's mean training loss over its local epochs: phones the model serves worst
    (say, the few whose accent the others do not share) count more. NumPy arrays or TF tensors."""
    return examples * loss**q


def _fair_client_work(model_fn, client_opt, q: float):
    """TFF's model-delta client work (what ``build_weighted_fed_avg`` runs on each phone), with the
    update weighted by :func:`fairness_weight` instead of the example count. The weight is computed
    on the phone from its own training loss and leaves it as the example count would (with the
    update and the training metrics that FedAvg already reports)."""
    import collections

    import tensorflow as tf
    import tensorflow_federated as tff

    templates = tff.learning.templates
    with tf.Graph().as_default():
        model = model_fn()
        aggregate_metrics = tff.learning.metrics.sum_then_finalize(model.metric_finalizers())
    data_type = tff.SequenceType(tff.types.tensorflow_to_type(model.input_spec))
    weights_type = tff.learning.models.weights_type_from_model(model)

    @tff.tensorflow.computation(weights_type, data_type)
    def client_update(initial_weights, dataset):
        train = templates.model_delta_client_work.build_model_delta_update_with_tff_optimizer(
            model_fn,
            weighting=tff.learning.ClientWeighting.NUM_EXAMPLES,
            loop_implementation=tff.learning.LoopImplementation.DATASET_REDUCE,
        )
        result, metrics = train(client_opt, initial_weights, dataset)
        total, count = metrics["loss"]
        loss = tf.math.divide_no_nan(total, count)
        ok = tf.logical_and(result.update_weight > 0, tf.math.is_finite(loss))  # TFF zeroes NaN updates
        weight = tf.where(ok, fairness_weight(result.update_weight, tf.where(ok, loss, 0.0), q), 0.0)
        return templates.ClientResult(update=result.update, update_weight=weight), metrics

    @tff.federated_computation
    def init_fn():
        return tff.federated_value((), tff.SERVER)

    @tff.federated_computation(
        init_fn.type_signature.result,
        tff.FederatedType(weights_type, tff.CLIENTS),
        tff.FederatedType(data_type, tff.CLIENTS),
    )
    def next_fn(state, weights, data):
        result, metrics = tff.federated_map(client_update, (weights, data))
        measurements = tff.federated_zip(collections.OrderedDict(train=aggregate_metrics(metrics)))
        return tff.templates.MeasuredProcessOutput(state, result, measurements)

    return templates.ClientWorkProcess(init_fn, next_fn)


def _fair_fed_avg(model_fn, client_opt, server_opt, *, q: float, model_aggregator=None):
    """Weighted FedAvg as ``tff.learning.algorithms.build_weighted_fed_avg`` composes it, with the
    loss-weighted client work of :func:`_fair_client_work`."""
    import tensorflow_federated as tff

    templates = tff.learning.templates

    @tff.tensorflow.computation
    def initial_weights():
        return tff.learning.models.ModelWeights.from_model(model_fn())

    weights_type = initial_weights.type_signature.result
    aggregator = (model_aggregator or tff.aggregators.MeanFactory()).create(
        weights_type.trainable, tff.TensorType(np.float32)
    )
    return templates.compose_learning_process(
        initial_weights,
        templates.build_broadcast_process(weights_type),
        _fair_client_work(model_fn, client_opt, q),
        aggregator,
        templates.build_apply_optimizer_finalizer(server_opt, weights_type),
    )


def client_learning_rate_fn(config: FederatedConfig) -> Callable:
    """The phones' step as a function of the round (0 = the first), for ``--client-schedule``."""
    if config.client_schedule == "constant":
        return lambda round_num: config.client_learning_rate
    return lambda round_num: cosine_learning_rate(
        round_num, peak=config.client_learning_rate, rounds=config.rounds
    )


def build_process(config: FederatedConfig, window, expected_clients: int):
    """The ``tff.learning`` process and the ``next`` computation to call (secure: simulated)."""
    import tensorflow_federated as tff

    model_fn = _model_fn(config, window)
    optimizers = tff.learning.optimizers
    client_opt_fn = optimizers.build_adam if config.client_optimizer == "adam" else optimizers.build_sgdm
    client_opt = client_opt_fn(config.client_learning_rate)
    if config.aggregator == "dp":
        # Fixed-norm clipping (McMahan et al. 2018, DP-FedAvg): the accountant in dp_epsilon models
        # exactly this Gaussian mechanism (adaptive clipping would spend budget it does not count).
        aggregator = tff.aggregators.DifferentiallyPrivateFactory.gaussian_fixed(
            noise_multiplier=config.dp_noise_multiplier,
            clients_per_round=expected_clients,
            clip=config.dp_clip,
        )
        process = _algorithm(config, weighted=False)(
            model_fn, client_opt, _server_optimizer(config), model_aggregator=aggregator
        )
    else:
        aggregator = {
            "mean": None,
            "robust": tff.learning.robust_aggregator(zeroing=True, clipping=True),
            "secure": tff.learning.secure_aggregator(zeroing=True, clipping=True),
        }[config.aggregator]
        kwargs = {"model_aggregator": aggregator} if aggregator is not None else {}
        if config.fairness_q:
            process = _fair_fed_avg(
                model_fn, client_opt, _server_optimizer(config), q=config.fairness_q, **kwargs
            )
        elif config.client_schedule == "cosine":
            # TFF keeps the round count in the client-work state: the step follows the rounds, and
            # a resumed run continues on the same schedule.
            process = tff.learning.algorithms.build_weighted_fed_avg_with_optimizer_schedule(
                model_fn,
                client_learning_rate_fn(config),
                client_opt_fn,
                _server_optimizer(config),
                **kwargs,
            )
        else:
            process = _algorithm(config, weighted=True)(
                model_fn, client_opt, _server_optimizer(config), **kwargs
            )
    next_fn = process.next
    if config.aggregator == "secure":
        # In simulation the secure-sum intrinsics run as their plain bodies: the same computation,
        # but the sum is not masked (no cryptography between simulated phones).
        next_fn = tff.backends.test.replace_secure_intrinsics_with_bodies(process.next)
    return process, next_fn, model_fn


def _algorithm(config: FederatedConfig, *, weighted: bool):
    """TFF's FedAvg builder, or FedProx's with the proximal strength bound (same arguments after)."""
    import tensorflow_federated as tff

    algorithms = tff.learning.algorithms
    if not config.proximal_strength:
        return algorithms.build_weighted_fed_avg if weighted else algorithms.build_unweighted_fed_avg
    fed_prox = algorithms.build_weighted_fed_prox if weighted else algorithms.build_unweighted_fed_prox
    return lambda model_fn, client_opt, server_opt, **kwargs: fed_prox(
        model_fn, config.proximal_strength, client_opt, server_opt, **kwargs
    )


def _dataset_computation(fleet_root: str, config: FederatedConfig, *, training: bool):
    """A TFF computation from a client key (``phone@round``) to that phone's batches, run on the
    client: it opens ``FLEET/phones/<phone>/cache/logmel.tfrecord`` itself."""
    import tensorflow as tf
    import tensorflow_federated as tff

    pipe = config.pipeline
    augment = config.augment if training else None
    root = str(Path(fleet_root).resolve())

    @tff.tensorflow.computation(np.str_)
    def client_dataset(key):
        phone = tf.strings.split(key, "@")[0]
        path = tf.strings.join([root, "/phones/", phone, f"/{CACHE_DIR}/{CACHE_FILE}"])
        seed = tf.strings.to_hash_bucket_fast(tf.strings.join([str(config.seed), key], "/"), 2**62)
        windows = clip_windows(
            path, config=pipe, augment=augment, seed=seed if training else 0, shuffle=training
        )
        ds = batch_windows(windows, config=pipe, augment=augment, seed=seed, training=training)
        return ds.repeat(config.client_epochs) if training else ds

    return client_dataset


def _like(value, template):
    """``value`` (TFF's plain containers: OrderedDict, Struct, list) rebuilt in the container
    types of ``template`` (attrs classes such as LearningAlgorithmState and ModelWeights), by name."""
    import attrs

    if attrs.has(type(template)):
        return type(template)(
            **{
                f.name: _like(_member(value, f.name), getattr(template, f.name))
                for f in attrs.fields(type(template))
            }
        )
    if isinstance(template, dict):
        return type(template)((k, _like(_member(value, k), v)) for k, v in template.items())
    if isinstance(template, (list, tuple)) and not hasattr(template, "_fields"):
        return type(template)(_like(v, t) for v, t in zip(value, template))
    return value


def _member(value, name: str):
    return value[name] if isinstance(value, dict) else getattr(value, name)


class _Computations:
    """The federated computations of a run, built once."""

    def __init__(self, fleet: Fleet, config: FederatedConfig, window, expected_clients: int) -> None:
        import tensorflow_federated as tff

        self.process, next_fn, model_fn = build_process(config, window, expected_clients)
        self.eval_process = tff.learning.algorithms.build_fed_eval(model_fn)
        train_data = _dataset_computation(str(fleet.root), config, training=True)
        eval_data = _dataset_computation(str(fleet.root), config, training=False)
        keys_type = tff.FederatedType(np.str_, tff.CLIENTS)

        @tff.federated_computation(self.process.next.type_signature.parameter[0], keys_type)
        def train_round(state, keys):
            return next_fn(state, tff.federated_map(train_data, keys))

        @tff.federated_computation(self.eval_process.next.type_signature.parameter[0], keys_type)
        def evaluate(state, keys):
            return self.eval_process.next(state, tff.federated_map(eval_data, keys))

        self.train_round = train_round
        self.evaluate = evaluate

    def federated_eval(self, state, keys: list[str]) -> dict:
        eval_state = self.eval_process.set_model_weights(
            self.eval_process.initialize(), self.process.get_model_weights(state)
        )
        output = self.evaluate(eval_state, keys)
        metrics = output.metrics["client_work"]["eval"]["current_round_metrics"]
        return {"eval_loss": float(metrics["loss"]), "eval_accuracy": float(metrics["accuracy"])}


# --- checkpoints ---------------------------------------------------------------------------------


def _save_checkpoint(run: Path, round_num: int, state, history: list[dict]) -> None:
    import tensorflow as tf

    folder = run / CHECKPOINT_DIR
    folder.mkdir(parents=True, exist_ok=True)
    leaves = tf.nest.flatten(state)
    buffer = io.BytesIO()
    np.savez(buffer, *[np.asarray(leaf) for leaf in leaves])
    with atomic_write(folder / f"round-{round_num:05d}.npz") as handle:
        handle.write(buffer.getvalue())
    with atomic_write(folder / "latest.json", "w") as handle:  # written last: the checkpoint is whole
        json.dump({"round": round_num, "history": history}, handle)
    for old in sorted(folder.glob("round-*.npz"))[:-2]:
        old.unlink()


def _load_checkpoint(run: Path, template):
    """``(round, state, history)`` of the last whole checkpoint, or ``None``."""
    import tensorflow as tf

    latest = run / CHECKPOINT_DIR / "latest.json"
    if not latest.is_file():
        return None
    meta = json.loads(latest.read_text())
    with np.load(run / CHECKPOINT_DIR / f"round-{meta['round']:05d}.npz") as data:
        leaves = [data[f"arr_{i}"] for i in range(len(data.files))]
    template_leaves = tf.nest.flatten(template)
    if len(leaves) != len(template_leaves):
        raise WakewordError(f"{latest}: the checkpoint does not match this model/aggregator; use a new --out")
    leaves = [
        np.asarray(v, dtype=np.asarray(t).dtype).reshape(np.shape(t)) for v, t in zip(leaves, template_leaves)
    ]
    return meta["round"], tf.nest.pack_sequence_as(template, leaves), meta["history"]


def _write_metrics(run: Path, history: list[dict]) -> None:
    columns = sorted({k for row in history for k in row}, key=lambda k: (k != "round", k))
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns)
    writer.writeheader()
    writer.writerows(history)
    with atomic_write(run / "metrics.csv", "w") as handle:
        handle.write(buffer.getvalue())


def _flatten_metrics(prefix: str, value, out: dict) -> None:
    if isinstance(value, dict) or hasattr(value, "items"):
        for k, v in value.items():
            _flatten_metrics(f"{prefix}/{k}" if prefix else str(k), v, out)
    else:
        arr = np.asarray(value)
        if arr.size == 1 and np.issubdtype(arr.dtype, np.number):
            out[prefix] = float(arr)


# --- the training program ----------------------------------------------------------------------------


class _NeverUsedFilter:
    """Drops TensorFlow's "Object was never used" reports that TFF's tracing of assert ops emits
    (tens of lines per computation, about TFF's own graphs, not ours)."""

    def filter(self, record) -> bool:
        return "Object was never used" not in str(record.getMessage())


def _quiet_tensorflow_logger() -> None:
    import tensorflow as tf

    logger = tf.get_logger()
    if not any(isinstance(f, _NeverUsedFilter) for f in logger.filters):
        logger.addFilter(_NeverUsedFilter())


@contextlib.contextmanager
def _worker_failures(workers: list[str], round_num: int, *, remote: bool):
    """Turn a worker that died mid-round into one clear error naming it (and how to go on)."""
    try:
        yield
    except Exception as exc:
        from orchestrator.context import WorkerLostError, answers

        dead = [w for w in workers if not answers(w)]
        if not dead:
            raise
        lost = isinstance(exc, WorkerLostError)
        what = "worker" if len(dead) == 1 else "workers"
        advice = (
            "start it again and rerun the same command with --resume"
            if remote
            else "rerun the same command with --resume"
        )
        reason = "" if lost else f" ({(str(exc).strip() or type(exc).__name__).splitlines()[0][:120]})"
        raise WakewordError(
            f"TFF {what} {', '.join(dead)} stopped answering during round {round_num}{reason}; {advice}"
        ) from None


def _initial_weights(config: FederatedConfig, window):
    """The model weights of run ``config.init_from`` (checked against the model being trained)."""
    import tensorflow_federated as tff

    from orchestrator.run import load_start_model

    classifier = load_start_model(config.init_from, model=config.model, width=config.width, window=window)
    return tff.learning.models.ModelWeights(
        trainable=[w.numpy() for w in classifier.trainable_weights],
        non_trainable=[w.numpy() for w in classifier.non_trainable_weights],
    )


def _settings(config: FederatedConfig) -> dict:
    """What run.json and settings.json record of a config (JSON types)."""
    settings = {k: v for k, v in dataclasses.asdict(config).items() if k != "pipeline"}
    settings["client_batch_size"] = config.pipeline.batch_size
    return json.loads(json.dumps(settings))


def _changed_settings(saved: dict, settings: dict) -> list[str]:
    """Settings that differ from an interrupted run's; one it lacks (saved by an older version)
    counts as that version's behaviour, the default."""
    defaults = _settings(FederatedConfig())

    def filled(key):
        value = saved.get(key, defaults.get(key))
        if isinstance(value, dict) and isinstance(defaults.get(key), dict):
            value = {**defaults[key], **value}  # e.g. an augmentation option added since
        return value

    return sorted(k for k in settings if filled(k) != settings[k])


def train_federated(
    fleet: Fleet,
    out: str | os.PathLike,
    config: FederatedConfig = FederatedConfig(),
    *,
    resume: bool = False,
    workers: list[str] | None = None,
    prepare: bool = True,
    progress: Callable[[str, int, int], None] | None = None,
    log: Callable[[str], None] = print,
) -> dict:
    """Run federated training; returns the run description (also ``out/run.json``).

    Parameters
    ----------
    fleet : Fleet
    out : path
        Run folder: checkpoints/, metrics.csv, tensorboard/, worker.log, then model.keras, run.json.
    config : FederatedConfig
    resume : bool
        Continue from the last checkpoint in ``out`` (same settings required).
    workers : list of "host:port", optional
        Remote TFF workers (``wakeword worker``); default: one worker owned by this process.
    prepare : bool
        Have each phone build its feature cache (the device-side step) before it first takes part:
        the evaluation phones at the start, each round's reporting phones before the round (so
        start-up does not grow with the fleet); ``False`` when the phones already did.
    """
    import tensorflow as tf

    from orchestrator.central import prepare_caches
    from orchestrator.context import install_context
    from orchestrator.worker import OwnedWorker

    _quiet_tensorflow_logger()
    run = Path(out)
    run.mkdir(parents=True, exist_ok=True)
    settings = _settings(config)
    settings_file = run / "settings.json"
    if resume and settings_file.is_file():
        changed = _changed_settings(json.loads(settings_file.read_text()), settings)
        if changed:
            raise WakewordError(
                f"{run}: --resume needs the same settings as the interrupted run ({', '.join(changed)} "
                f"differ; see {settings_file})"
            )
    if not resume and (run / CHECKPOINT_DIR / "latest.json").exists():
        raise WakewordError(
            f"{run}: holds checkpoints of an earlier run; add --resume to continue it or choose a new --out"
        )
    with atomic_write(settings_file, "w") as handle:
        json.dump(settings, handle, indent=1, sort_keys=True)

    train_ids = fleet.training_ids()
    val_ids = evaluation_sample(fleet.validation_ids(), config)
    if not train_ids:
        raise ParameterError(f"{fleet.root}: no training phones")
    window = config.pipeline.window
    resuming = resume and (run / CHECKPOINT_DIR / "latest.json").exists()
    # A resumed run starts from its checkpoint: the --init-from run is not needed (it may be gone).
    initial = _initial_weights(config, window) if config.init_from and not resuming else None
    if prepare:  # each phone computes its own features, on the phone (here: in its store folder)
        prepare_caches(fleet, val_ids, config.pipeline, progress)
    expected = max(1, round(min(config.clients_per_round, len(train_ids)) * (1 - config.dropout_rate)))

    owned = None
    if not workers:
        owned = OwnedWorker(log_path=run / "worker.log").start()
        workers = [owned.target]
    try:
        install_context(workers)
        comps = _Computations(fleet, config, window, expected)
        state = comps.process.initialize()
        if initial is not None:
            state = comps.process.set_model_weights(state, initial)
            if val_ids:  # where the fine-tuning starts from, on the same phones as later rounds
                with _worker_failures(workers, 0, remote=owned is None):
                    start_eval = comps.federated_eval(state, [client_key(p, 0) for p in val_ids])
                log(f"round    0  --init-from {config.init_from}: val loss {start_eval['eval_loss']:.4f}")
        start, history = 0, []
        if resume:
            loaded = _load_checkpoint(run, state)
            if loaded is not None:
                start, state, history = loaded
                log(f"resuming after round {start}")
        writer = tf.summary.create_file_writer(str(run / "tensorboard"))
        started = time.perf_counter()
        for round_num in range(start + 1, config.rounds + 1):
            sampled, reporting = sample_clients(train_ids, round_num, config)
            t_prepare = time.perf_counter()
            if prepare:
                prepare_caches(fleet, reporting, config.pipeline)
            t0 = time.perf_counter()
            with _worker_failures(workers, round_num, remote=owned is None):
                output = comps.train_round(state, [client_key(p, round_num) for p in reporting])
            if isinstance(output, dict):  # secure: the simulated computation returns plain containers
                output = type(
                    "RoundOutput", (), {"state": _like(output["state"], state), "metrics": output["metrics"]}
                )
            state = output.state
            row = {"round": round_num, "sampled": len(sampled), "reporting": len(reporting)}
            _flatten_metrics("", output.metrics, flat := {})
            row["train_loss"] = flat.get("client_work/train/loss", float("nan"))
            row["train_accuracy"] = flat.get("client_work/train/accuracy", float("nan"))
            row.update(
                {
                    f"aggregator/{k.split('/', 1)[1]}": v
                    for k, v in flat.items()
                    if k.startswith("aggregator/")
                }
            )
            if val_ids and (round_num % config.eval_every == 0 or round_num == config.rounds):
                t_eval = time.perf_counter()
                with _worker_failures(workers, round_num, remote=owned is None):
                    row.update(comps.federated_eval(state, [client_key(p, 0) for p in val_ids]))
                row["eval_seconds"] = round(time.perf_counter() - t_eval, 3)  # part of round_seconds
            row["round_seconds"] = round(time.perf_counter() - t0, 3)  # training + evaluation, if any
            row["prepare_seconds"] = round(t0 - t_prepare, 3)  # phones computing new feature caches
            history.append(row)
            with writer.as_default(step=round_num):
                for key, value in row.items():
                    if key != "round" and isinstance(value, (int, float)):
                        tf.summary.scalar(key, value)
            _save_checkpoint(run, round_num, state, history)
            _write_metrics(run, history)
            log(_round_line(row, config.rounds))
            if progress is not None:
                progress("rounds", round_num, config.rounds)
        writer.flush()
        keras_model = build_model(
            config.model, (window.frames, window.features.n_mels), width=config.width, seed=config.seed
        )
        comps.process.get_model_weights(state).assign_weights_to(keras_model)
    finally:
        if owned is not None:
            owned.stop()
    description = describe_run(
        mode="federated",
        classifier=keras_model,
        fleet=fleet,
        window=window,
        settings=settings,
        history=history,
        train_seconds=round(time.perf_counter() - started, 1),
    )
    if config.aggregator == "dp":
        delta = config.dp_delta or 1 / len(train_ids) ** 1.1
        description["dp"] = {
            "noise_multiplier": config.dp_noise_multiplier,
            "delta": delta,
            "epsilon": dp_epsilon(
                n_clients=len(train_ids),
                clients_per_round=min(config.clients_per_round, len(train_ids)),
                noise_multiplier=config.dp_noise_multiplier,
                rounds=config.rounds,
                delta=delta,
            ),
        }
    save_run(run, classifier=keras_model, description=description)
    return description


def _round_line(row: dict, rounds: int) -> str:
    line = f"round {row['round']:>4}/{rounds}  train loss {row['train_loss']:.4f}"
    line += f"  acc {row['train_accuracy']:.3f}"
    if "eval_loss" in row:
        line += f"  | val loss {row['eval_loss']:.4f}  acc {row['eval_accuracy']:.3f}"
    return line + f"  ({row['reporting']}/{row['sampled']} phones, {row['round_seconds']:.1f} s)"
