"""The centralized baseline: the same model trained on the pooled audio of all training phones.

What a company would do if it collected everyone's recordings; the upper bound the federated run
is compared with. A strong baseline: balanced classes (positive windows repeated), augmentation,
cosine learning-rate decay, a moving average of the weights, and every epoch run (the last kept;
``keep="best"`` early-stops on the validation phones' loss instead).
"""

from __future__ import annotations

import dataclasses
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from data_tools.fleet import Fleet
from device_client.pipeline import (
    AugmentConfig,
    PipelineConfig,
    batch_windows,
    clip_windows,
    ensure_feature_cache,
)
from models import build_model
from orchestrator.federated_config import fit_to_model, init_from_setting, model_setting, width_setting
from orchestrator.run import describe_run, load_start_model, save_run
from orchestrator.schedules import LR_FLOOR, cosine_learning_rate
from wakeword.errors import ParameterError
from wakeword.options import check_choice, check_range, setting

__all__ = ["KEEP", "CentralConfig", "train_central"]

KEEP = ("last", "best")  # which epoch's weights a central run keeps


@dataclass(frozen=True)
class CentralConfig:
    """Settings of a centralized run."""

    model: str = model_setting()
    width: float = width_setting()
    epochs: int = setting(20, doc="passes over the pooled data (fewer if --keep best stops early)")
    keep: str = setting(
        "last",
        choices=KEEP,
        doc="the weights the run keeps: the last epoch's (all --epochs run) or the best validation "
        "loss's (early stopping; on real 'computer' clips it stopped too soon: docs/BENCHMARKS.md)",
    )
    patience: int = setting(
        4,
        doc="--keep best: stop after this many epochs without a better validation loss (from half "
        "of --epochs on)",
    )
    learning_rate: float = setting(
        3e-3, doc=f"peak Adam learning rate, cosine-decayed to {LR_FLOOR:.0%} over the epochs"
    )
    weight_average: float = setting(
        0.999,
        metavar="MOMENTUM",
        doc="each epoch ends on a moving average of the weights over the steps, which validation "
        "reads and the run keeps (0 = the last step's weights; on real 'computer' clips the average "
        "misses fewer)",
    )
    seed: int = setting(1, doc="model initialisation, window positions, shuffling, augmentation")
    init_from: str | None = init_from_setting()
    augment: AugmentConfig = field(default_factory=AugmentConfig)  # training augmentation
    pipeline: PipelineConfig = field(
        default_factory=lambda: PipelineConfig(batch_size=64, shuffle_buffer=4096)
    )

    def __post_init__(self) -> None:
        fit_to_model(self)
        check_range("epochs", self.epochs, low=1)
        check_range("patience", self.patience, low=1)
        check_range("weight_average", self.weight_average, low=0, high=0.99999)
        check_choice("keep", self.keep, KEEP)
        if not self.learning_rate > 0:
            raise ParameterError(f"`learning_rate` must be > 0, got {self.learning_rate}")


def pooled_dataset(
    paths: list[str], *, config: PipelineConfig, augment: AugmentConfig | None, seed: int, training: bool
):
    """Windows of many phones' caches, interleaved, shuffled and batched (the pooled data)."""
    import tensorflow as tf

    ds = tf.data.Dataset.from_tensor_slices(paths).enumerate()
    ds = ds.interleave(
        lambda i, p: clip_windows(
            p,
            config=config,
            augment=augment if training else None,
            seed=seed * 100_003 + i,
            shuffle=training,
        ),
        cycle_length=min(len(paths), 16),
    )
    return batch_windows(ds, config=config, augment=augment, seed=seed, training=training)


def prepare_caches(
    fleet: Fleet, phone_ids: list[str], config: PipelineConfig, progress: Callable | None = None
) -> list[str]:
    """Each phone computes its own feature cache (on the phone, in its store)."""
    paths = []
    for i, phone_id in enumerate(phone_ids):
        paths.append(str(ensure_feature_cache(fleet.store(phone_id), config.window)))
        if progress is not None:
            progress("features", i + 1, len(phone_ids))
    return paths


def _compiled_model(config: CentralConfig, window):
    """The model to train (seeded, or ``config.init_from``'s weights), compiled with Adam."""
    import tensorflow as tf

    classifier = build_model(
        config.model, (window.frames, window.features.n_mels), width=config.width, seed=config.seed
    )
    if config.init_from:
        start = load_start_model(config.init_from, model=config.model, width=config.width, window=window)
        classifier.set_weights(start.get_weights())
    if config.weight_average:
        optimizer = _averaged_adam(config.learning_rate, config.weight_average)
    else:
        optimizer = tf.keras.optimizers.Adam(config.learning_rate)
    classifier.compile(
        optimizer=optimizer,
        loss=tf.keras.losses.BinaryCrossentropy(),
        metrics=[tf.keras.metrics.AUC(name="auc"), tf.keras.metrics.BinaryAccuracy(name="accuracy")],
    )
    return classifier


def _averaged_adam(learning_rate: float, momentum: float):
    """Adam keeping a moving average of the weights, which ``fit`` puts in the model at its end.

    Step ``t``'s weights enter with momentum ``min(momentum, 1 - 1/t)``: the plain mean of the
    steps so far until ``1 / (1 - momentum)`` steps, then exponential (Keras' own average starts
    at the initial weights and, on a small fleet's few steps, would keep them)."""
    import tensorflow as tf

    class AveragedAdam(tf.keras.optimizers.Adam):
        def _update_model_variables_moving_average(self, var_list):
            step = tf.cast(self.iterations + 1, tf.float32)  # this step (counted after the average)
            rate = 1.0 - tf.minimum(self.ema_momentum, 1.0 - 1.0 / step)
            for var in var_list:
                average = self._model_variables_moving_average[self._index_dict[self._var_key(var)]]
                average.assign_add(rate * (var - average))

    return AveragedAdam(learning_rate, use_ema=True, ema_momentum=momentum)


def _epoch(classifier, train_paths: list[str], val_ds, config: CentralConfig, epoch: int):
    """One pass over the pooled training data at the schedule's step, then validation.

    With ``config.weight_average``, ``fit`` ends with the weights' moving average in the model:
    validation reads it and the next epoch goes on from it.

    Returns the epoch's history row and the validation loss (unrounded, for early stopping)."""
    lr = float(cosine_learning_rate(epoch, peak=config.learning_rate, rounds=config.epochs))
    classifier.optimizer.learning_rate.assign(lr)
    ds = pooled_dataset(
        train_paths, config=config.pipeline, augment=config.augment, seed=config.seed * 1000 + epoch,
        training=True,
    )  # fmt: skip
    t0 = time.perf_counter()
    train = classifier.fit(ds, epochs=1, verbose=0).history
    val = classifier.evaluate(val_ds, verbose=0, return_dict=True)
    row = {
        "epoch": epoch + 1,
        "learning_rate": round(lr, 6),
        "train_loss": round(train["loss"][-1], 5),
        "train_accuracy": round(train["accuracy"][-1], 5),
        "val_loss": round(val["loss"], 5),
        "val_auc": round(val["auc"], 5),
        "val_accuracy": round(val["accuracy"], 5),
        "seconds": round(time.perf_counter() - t0, 2),
    }
    return row, val["loss"]


def _train_epochs(classifier, train_paths, val_ds, config: CentralConfig, *, progress, log):
    """The epochs; the model ends holding the weights ``config.keep`` names.

    Returns the history rows and the best validation loss."""
    history, best, best_weights, waited = [], math.inf, None, 0
    if config.init_from:  # the starting model is the one to beat (kept if no epoch improves on it)
        best = classifier.evaluate(val_ds, verbose=0, return_dict=True)["loss"]
        best_weights = [w.copy() for w in classifier.get_weights()]
        log(f"epoch   0  --init-from {config.init_from}: val loss {best:.4f}")
    for epoch in range(config.epochs):
        row, val_loss = _epoch(classifier, train_paths, val_ds, config, epoch)
        history.append(row)
        log(
            f"epoch {epoch + 1:>3}/{config.epochs}  train loss {row['train_loss']:.4f}  "
            f"val loss {row['val_loss']:.4f}  val AUC {row['val_auc']:.4f}  ({row['seconds']:.0f} s)"
        )
        if progress is not None:
            progress("epochs", epoch + 1, config.epochs)
        if val_loss < best - 1e-4:
            best, best_weights, waited = val_loss, [w.copy() for w in classifier.get_weights()], 0
            continue
        waited += 1
        # not in the first half: the learning rate is still high and a few validation phones'
        # loss jumps about (a "yes" run once stopped at epoch 5 keeping epoch 1)
        if config.keep == "best" and waited >= config.patience and epoch + 1 >= config.epochs // 2:
            log(f"early stop: no better validation loss in {config.patience} epochs")
            break
    if config.keep == "best":
        classifier.set_weights(best_weights)
    return history, best


def train_central(
    fleet: Fleet,
    out: str | os.PathLike,
    config: CentralConfig = CentralConfig(),
    *,
    progress: Callable[[str, int, int], None] | None = None,
    log: Callable[[str], None] = print,
) -> dict:
    """Train on the pooled training phones, validate on the validation phones, save a run.

    Returns the run description (also written to ``out/run.json``).
    """
    train_ids, val_ids = fleet.training_ids(), fleet.validation_ids()
    if not train_ids or not val_ids:
        raise ParameterError(f"{fleet.root}: need at least 2 training phones (one is held for validation)")
    pipe = config.pipeline
    window = pipe.window
    classifier = _compiled_model(config, window)  # --init-from is checked before any phone works
    train_paths = prepare_caches(fleet, train_ids, pipe, progress)
    val_paths = prepare_caches(fleet, val_ids, pipe, progress)
    val_ds = pooled_dataset(val_paths, config=pipe, augment=None, seed=0, training=False).cache()

    started = time.perf_counter()
    history, best = _train_epochs(classifier, train_paths, val_ds, config, progress=progress, log=log)
    description = describe_run(
        mode="central",
        classifier=classifier,
        fleet=fleet,
        window=window,
        settings={k: v for k, v in dataclasses.asdict(config).items() if k != "pipeline"},
        history=history,
        best_val_loss=round(best, 5),
        train_seconds=round(time.perf_counter() - started, 1),
    )
    save_run(out, classifier=classifier, description=description)
    return description
