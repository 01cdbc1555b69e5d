"""Which model a fine-tuning run ships: the start or the fine-tuned one, by their validation FRR.

The federated loss is no guide to what a user gets (the demo's fell 0.107 -> 0.032 while its
validation phones' missed phrases rose 37.5 -> 47.5% at the threshold for 0.5 FA/h,
docs/BENCHMARKS.md). So each model is measured as ``wakeword eval`` measures it: every validation
phone and validation background stream streams the model over its own clips, in its client
computation, and reports only counts per threshold (:mod:`device_client.detection_counts`); the
server sums them, picks the threshold for the target as the evaluation does
(:func:`orchestrator.evaluation.threshold_for`), and reads each model's FRR there.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from data_tools.fleet import Fleet
from device_client.detection_counts import detection_counts, ensure_scoring_cache, scoring_cache_path
from device_client.store import PhoneStore
from orchestrator.evaluation import EvalConfig, threshold_for
from wakeword.metrics import THRESHOLDS

__all__ = [
    "choose_for_run",
    "choose_model",
    "counting_computation",
    "operating_summary",
    "prepare_scoring",
    "validation_members",
]


def validation_members(fleet: Fleet) -> dict[str, str]:
    """``{id: store folder}`` of the validation phones and validation streams (nothing opened)."""
    folders = {p: fleet.store_path(p) for p in fleet.validation_ids()}
    folders.update({path.name: path for path in fleet.stream_paths("validation")})
    return {key: str(path.resolve()) for key, path in folders.items()}


def prepare_scoring(fleet: Fleet, window, progress: Callable | None = None) -> None:
    """Each validation phone and stream builds its scoring cache (the device-side step)."""
    members = validation_members(fleet)
    for i, folder in enumerate(members.values()):
        ensure_scoring_cache(PhoneStore(folder), window)
        if progress is not None:
            progress("validation scoring features", i + 1, len(members))


def counting_computation(model_fn, members: dict[str, str], window, config: EvalConfig | None = None):
    """A TFF computation ``(model weights @SERVER, ids @CLIENTS) -> summed counts @SERVER``, and the
    ids to call it with; each client opens its own scoring cache and streams the model over it."""
    import tensorflow as tf
    import tensorflow_federated as tff

    ids = sorted(members)
    paths = [str(scoring_cache_path(Path(members[i]), window)) for i in ids]
    weights_type = tff.learning.models.weights_type_from_model(model_fn)
    config = config or EvalConfig()
    det = config.detector

    @tff.tensorflow.computation(weights_type, np.str_)
    def client_counts(weights, key):
        model = model_fn()
        assigned = tf.nest.map_structure(
            lambda v, t: v.assign(t), tff.learning.models.ModelWeights.from_model(model), weights
        )
        found = tf.equal(tf.constant(ids), key)
        with tf.control_dependencies(
            [*tf.nest.flatten(assigned), tf.debugging.Assert(tf.reduce_any(found), [key])]
        ):
            path = tf.gather(tf.constant(paths), tf.argmax(tf.cast(found, tf.int32)))
            return detection_counts(
                path, lambda x: model.predict_on_batch(x, training=False), window=window,
                thresholds=THRESHOLDS, smooth_windows=det.smooth_windows,
                refractory=det.refractory_windows, accept_after_s=config.accept_after_s,
            )  # fmt: skip

    @tff.federated_computation(
        tff.FederatedType(weights_type, tff.SERVER), tff.FederatedType(np.str_, tff.CLIENTS)
    )
    def summed_counts(weights, keys):
        counts = tff.federated_map(client_counts, (tff.federated_broadcast(weights), keys))
        return tff.federated_sum(counts)

    return summed_counts, ids


def operating_summary(counts: dict, config: EvalConfig) -> dict:
    """FRR and FA/h at the threshold the summed ``counts`` choose for ``config``'s target."""
    hours = float(counts["negative_seconds"]) / 3600
    positives = int(counts["positives"])
    fa = (
        np.asarray(counts["false_accepts"], np.float64) / hours
        if hours > 0
        else np.full(THRESHOLDS.size, np.nan)
    )
    threshold, rule = threshold_for(fa, hours, config)
    i = int(np.searchsorted(THRESHOLDS, threshold))
    frr = 1 - float(counts["found"][i]) / positives if positives else float("nan")
    return {
        "threshold": threshold, "rule": rule, "frr": round(frr, 5), "fa_per_hour": round(float(fa[i]), 4),
        "positives": positives, "negative_hours": round(hours, 4),
    }  # fmt: skip


def choose_model(count: Callable[[object], dict], start, final, config: EvalConfig | None = None) -> dict:
    """Measure model weights ``start`` and ``final`` with ``count`` (weights -> summed counts) and
    say which to ship: the start only where it misses strictly fewer validation phrases.

    Returns ``{"shipped": "start" | "final", "target_fa_per_hour": ..., "start": summary,
    "final": summary}`` (summaries of :func:`operating_summary`)."""
    config = config or EvalConfig()
    summaries = {
        name: operating_summary(count(weights), config)
        for name, weights in (("start", start), ("final", final))
    }
    better = summaries["start"]["frr"] < summaries["final"]["frr"]
    return {
        "shipped": "start" if better else "final",
        "target_fa_per_hour": config.target_fa_per_hour,
        **summaries,
    }


def choose_for_run(
    model_fn, fleet: Fleet, window, start, final, *, prepare: bool, progress: Callable | None, log: Callable
) -> dict | None:
    """A run's ``--ship better`` step: :func:`choose_model` over the validation phones and streams
    (each builds its scoring cache first if ``prepare``); None where there is nothing to count on."""
    members = validation_members(fleet)
    if not members:
        log("no validation phones or streams to compare the models on: keeping the fine-tuned one")
        return None
    if prepare:
        prepare_scoring(fleet, window, progress)
    log(f"counting both models' detections on {len(members)} validation phones and streams")
    count, ids = counting_computation(model_fn, members, window)
    done = []

    def counted(weights):
        counts = count(weights, ids)
        done.append(1)
        if progress is not None:
            progress("models counted on the validation phones", len(done), 2)
        return counts

    selection = choose_model(counted, start, final)
    start_frr, final_frr = selection["start"]["frr"], selection["final"]["frr"]
    kept = "the start model (--init-from)" if selection["shipped"] == "start" else "the fine-tuned model"
    log(
        f"validation phrases missed at {selection['target_fa_per_hour']:g} FA/h: start "
        f"{start_frr:.1%}, fine-tuned {final_frr:.1%}; shipping {kept}"
    )
    return selection
