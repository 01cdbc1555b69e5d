"""The TFF wiring of a federated run: the ``tff.learning`` process (FedAvg, FedProx, fair
weighting; mean, robust, DP or secure aggregation), the client dataset computation, evaluation.

The plain-TF parts (the Keras model, each phone's data pipeline) live in ``models`` and
``device_client``; only phone IDs cross into these computations: the client computation (in TFF's
worker) opens the phone's own feature cache from its store.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from data_tools.fleet import Fleet
from device_client.pipeline import batch_windows, cache_path, clip_windows
from models import build_model
from orchestrator.federated_config import FederatedConfig
from orchestrator.schedules import cosine_learning_rate
from orchestrator.trainable_tail import set_trainable


def _model_fn(config: FederatedConfig, window):
    import tensorflow as tf
    import tensorflow_federated as tff

    shape = (window.frames, window.features.n_mels)
    input_spec = (tf.TensorSpec([None, *shape], tf.float32), tf.TensorSpec([None, 1], tf.float32))

    def model_fn():  # a fresh model on every call, as TFF requires
        keras_model = build_model(config.model, shape, width=config.width, seed=config.seed)
        set_trainable(keras_model, config.train_layers)
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
    algorithm = config.algorithm
    aggregator = _model_aggregator(config, expected_clients)
    kwargs = {"model_aggregator": aggregator} if aggregator is not None else {}
    build = _CLIENT_WORK[algorithm.client_work]
    process = build(config, model_fn, _server_optimizer(config), weighted=algorithm.weighted, **kwargs)
    next_fn = process.next
    if algorithm.aggregator == "secure":
        # In simulation the secure-sum intrinsics run as their plain bodies: the same computation,
        # but the sum is not masked (no cryptography between simulated phones).
        next_fn = tff.backends.test.replace_secure_intrinsics_with_bodies(process.next)
    return process, next_fn, model_fn


def _model_aggregator(config: FederatedConfig, expected_clients: int):
    """TFF's aggregation factory for ``config.aggregator`` (None: TFF's default weighted mean)."""
    import tensorflow_federated as tff

    if config.aggregator == "dp":
        # DP-FedAvg (McMahan et al. 2018). Adaptive clipping (Andrew et al. 2021) spends part of
        # the noise multiplier on its private count of clipped phones, so the accountant in
        # dp_epsilon holds for both.
        factory = tff.aggregators.DifferentiallyPrivateFactory
        if config.dp_clipping == "adaptive":
            return factory.gaussian_adaptive(
                noise_multiplier=config.dp_noise_multiplier,
                clients_per_round=expected_clients,
                initial_l2_norm_clip=config.dp_clip,
            )
        return factory.gaussian_fixed(
            noise_multiplier=config.dp_noise_multiplier,
            clients_per_round=expected_clients,
            clip=config.dp_clip,
        )
    if config.aggregator == "robust":
        return tff.learning.robust_aggregator(zeroing=True, clipping=True)
    if config.aggregator == "secure":
        return tff.learning.secure_aggregator(zeroing=True, clipping=True)
    return None


def _client_optimizer_fn(config: FederatedConfig):
    import tensorflow_federated as tff

    optimizers = tff.learning.optimizers
    return optimizers.build_adam if config.client_optimizer == "adam" else optimizers.build_sgdm


def _fed_avg(config, model_fn, server_opt, *, weighted: bool, **kwargs):
    import tensorflow_federated as tff

    algorithms = tff.learning.algorithms
    build = algorithms.build_weighted_fed_avg if weighted else algorithms.build_unweighted_fed_avg
    client_opt = _client_optimizer_fn(config)(config.client_learning_rate)
    return build(model_fn, client_opt, server_opt, **kwargs)


def _fed_prox(config, model_fn, server_opt, *, weighted: bool, **kwargs):
    import tensorflow_federated as tff

    algorithms = tff.learning.algorithms
    build = algorithms.build_weighted_fed_prox if weighted else algorithms.build_unweighted_fed_prox
    client_opt = _client_optimizer_fn(config)(config.client_learning_rate)
    return build(model_fn, config.proximal_strength, client_opt, server_opt, **kwargs)


def _fair(config, model_fn, server_opt, *, weighted: bool, **kwargs):
    client_opt = _client_optimizer_fn(config)(config.client_learning_rate)
    return _fair_fed_avg(model_fn, client_opt, server_opt, q=config.fairness_q, **kwargs)


def _scheduled(config, model_fn, server_opt, *, weighted: bool, **kwargs):
    import tensorflow_federated as tff

    # TFF keeps the round count in the client-work state: the step follows the rounds, and a
    # resumed run continues on the same schedule.
    return tff.learning.algorithms.build_weighted_fed_avg_with_optimizer_schedule(
        model_fn, client_learning_rate_fn(config), _client_optimizer_fn(config), server_opt, **kwargs
    )


# One builder per client algorithm (federated_config.CLIENT_WORK); the description is validated
# there, so each builder only builds.
_CLIENT_WORK = {"fedavg": _fed_avg, "fedprox": _fed_prox, "fair": _fair, "scheduled": _scheduled}


def _dataset_computation(fleet: Fleet, phone_ids: list[str], config: FederatedConfig, *, training: bool):
    """A TFF computation from a client key (``phone@round``) to that phone's batches, run on the
    client: it opens the phone's own feature cache, at the path its store has in ``fleet.json``."""
    import tensorflow as tf
    import tensorflow_federated as tff

    pipe = config.pipeline
    augment = config.augment if training else None
    ids = sorted(set(phone_ids))
    paths = [str(cache_path(fleet.store_path(p), pipe.window).resolve()) for p in ids]

    @tff.tensorflow.computation(np.str_)
    def client_dataset(key):
        phone = tf.strings.split(key, "@")[0]
        found = tf.equal(tf.constant(ids), phone)
        with tf.control_dependencies([tf.debugging.Assert(tf.reduce_any(found), [key])]):
            path = tf.gather(tf.constant(paths), tf.argmax(tf.cast(found, tf.int32)))
        seed = tf.strings.to_hash_bucket_fast(tf.strings.join([str(config.seed), key], "/"), 2**62)
        windows = clip_windows(
            path, config=pipe, augment=augment, seed=seed if training else 0, shuffle=training
        )
        ds = batch_windows(windows, config=pipe, augment=augment, seed=seed, training=training)
        return ds.repeat(config.client_epochs) if training else ds

    return client_dataset


def rebuild_like(value, template):
    """``value`` (TFF's plain containers: OrderedDict, Struct, list) rebuilt in the container
    types of ``template`` (attrs classes such as LearningAlgorithmState and ModelWeights), by name."""
    import attrs

    if attrs.has(type(template)):
        return type(template)(
            **{
                f.name: rebuild_like(_member(value, f.name), getattr(template, f.name))
                for f in attrs.fields(type(template))
            }
        )
    if isinstance(template, dict):
        return type(template)((k, rebuild_like(_member(value, k), v)) for k, v in template.items())
    if isinstance(template, (list, tuple)) and not hasattr(template, "_fields"):
        return type(template)(rebuild_like(v, t) for v, t in zip(value, template))
    return value


def _member(value, name: str):
    return value[name] if isinstance(value, dict) else getattr(value, name)


class Computations:
    """The federated computations of a run, built once."""

    def __init__(self, fleet: Fleet, config: FederatedConfig, window, expected_clients: int) -> None:
        import tensorflow_federated as tff

        self.process, next_fn, model_fn = build_process(config, window, expected_clients)
        self.model_fn = model_fn
        self.eval_process = tff.learning.algorithms.build_fed_eval(model_fn)
        phones = fleet.phone_ids()
        train_data = _dataset_computation(fleet, phones, config, training=True)
        eval_data = _dataset_computation(fleet, phones, config, training=False)
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
