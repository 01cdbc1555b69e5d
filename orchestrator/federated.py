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
import dataclasses
import functools
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from data_tools.fleet import Fleet
from models import build_model
from orchestrator.checkpoints import (
    CHECKPOINT_DIR,
    flatten_metrics,
    load_checkpoint,
    save_checkpoint,
    write_metrics,
)
from orchestrator.federated_config import (
    AGGREGATORS,
    SERVER_OPTIMIZERS,
    FederatedConfig,
    client_key,
    dp_epsilon,
    dp_settings,
    evaluation_sample,
    expected_clients,
    sample_clients,
)
from orchestrator.phase_choice import choose_for_run
from orchestrator.run import RUN_FILE, RunDescription, describe_run, save_run
from orchestrator.tff_process import Computations, rebuild_like
from orchestrator.trainable_tail import set_trainable
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
    set_trainable(classifier, config.train_layers)  # the same split of weights as the process's model
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
) -> RunDescription:
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

    _quiet_tensorflow_logger()
    run = Path(out)
    train_ids, val_ids = _phones(fleet, config)
    config = dp_settings(config, len(train_ids))  # the noise a target epsilon needs, before any file
    settings, resuming = _open_run(run, config, resume=resume)
    window = config.pipeline.window
    # A resumed run starts from its checkpoint: the --init-from run is read only for its
    # validation loss, and may be gone.
    has_start = config.init_from and (not resuming or (Path(config.init_from) / RUN_FILE).is_file())
    initial = _initial_weights(config, window) if has_start else None
    if prepare:  # each phone computes its own features, on the phone (here: in its store folder)
        prepare_caches(fleet, val_ids, config.pipeline, progress)
    expected = expected_clients(config, len(train_ids))
    with _tff_workers(run, workers) as guard:
        comps = Computations(fleet, config, window, expected)
        rounds = _Rounds(comps, fleet, config, train_ids, val_ids, guard, prepare)
        state, start_eval = _start_state(comps, config, initial, val_ids, guard, log)
        start, history = 0, []
        if resume and (loaded := load_checkpoint(run, state)) is not None:
            start, state, history = loaded
            log(f"resuming after round {start}")
        writer = tf.summary.create_file_writer(str(run / "tensorboard"))
        started = time.perf_counter()
        for round_num in range(start + 1, config.rounds + 1):
            state, row = rounds.run(state, round_num)
            history.append(row)
            _record(run, writer, row, state, history)
            log(_round_line(row, config.rounds))
            if progress is not None:
                progress("rounds", round_num, config.rounds)
        writer.flush()
        train_seconds = round(time.perf_counter() - started, 1)
        weights, selection = comps.process.get_model_weights(state), None
        if config.ship == "better" and initial is not None:
            selection = choose_for_run(
                comps.model_fn, fleet, config.pipeline.window, initial, weights, prepare=prepare,
                progress=progress, log=log,
            )  # fmt: skip
            weights = initial if selection and selection["shipped"] == "start" else weights
        elif config.ship == "better" and config.init_from:
            log(f"{config.init_from} is gone: keeping the fine-tuned model without comparing")
        keras_model = _keras_model(config, window, weights)
    description = describe_run(
        mode="federated", classifier=keras_model, fleet=fleet, window=window, settings=settings,
        history=history, train_seconds=train_seconds, selection=selection,
        dp=_dp_report(config, len(train_ids)) if config.aggregator == "dp" else None,
        start_eval=start_eval,
    )  # fmt: skip
    save_run(run, classifier=keras_model, description=description)
    return description


def _keras_model(config: FederatedConfig, window, weights):
    """The Keras model holding TFF model ``weights`` (all of its weights trainable again)."""
    keras_model = build_model(
        config.model, (window.frames, window.features.n_mels), width=config.width, seed=config.seed
    )
    set_trainable(keras_model, config.train_layers)
    weights.assign_weights_to(keras_model)
    set_trainable(keras_model, "all")
    return keras_model


def _phones(fleet: Fleet, config: FederatedConfig) -> tuple[list[str], list[str]]:
    """The training phones and the validation phones evaluated."""
    train_ids = fleet.training_ids()
    if not train_ids:
        raise ParameterError(f"{fleet.root}: no training phones")
    return train_ids, evaluation_sample(fleet.validation_ids(), config)


@contextlib.contextmanager
def _tff_workers(run: Path, workers: list[str] | None):
    """TFF's execution context on ``workers`` (default: one worker this process owns and stops).

    Yields ``guard(round_num)``, a context that turns a worker dying mid-round into one clear error."""
    from orchestrator.context import install_context
    from orchestrator.worker import OwnedWorker

    owned = None if workers else OwnedWorker(log_path=run / "worker.log").start()
    targets = workers or [owned.target]
    try:
        install_context(targets)
        yield functools.partial(_worker_failures, targets, remote=owned is None)
    finally:
        if owned is not None:
            owned.stop()


@dataclass(frozen=True)
class _Rounds:
    """One federated round: sample phones, let them prepare, train, evaluate now and then."""

    comps: Computations
    fleet: Fleet
    config: FederatedConfig
    train_ids: list[str]
    val_ids: list[str]
    guard: Callable  # guard(round_num): a context naming a worker that died
    prepare: bool  # reporting phones build their feature caches first

    def run(self, state, round_num: int) -> tuple[object, dict]:
        """The state after round ``round_num`` and the round's metrics row."""
        from orchestrator.central import prepare_caches

        config = self.config
        sampled, reporting = sample_clients(self.train_ids, round_num, config)
        t_prepare = time.perf_counter()
        if self.prepare:
            prepare_caches(self.fleet, reporting, config.pipeline)
        t0 = time.perf_counter()
        with self.guard(round_num):
            output = self.comps.train_round(state, [client_key(p, round_num) for p in reporting])
        state, row = _round_row(output, state, round_num, sampled, reporting)
        if self.val_ids and (round_num % config.eval_every == 0 or round_num == config.rounds):
            t_eval = time.perf_counter()
            with self.guard(round_num):
                row.update(self.comps.federated_eval(state, [client_key(p, 0) for p in self.val_ids]))
            row["eval_seconds"] = round(time.perf_counter() - t_eval, 3)  # part of round_seconds
        row["round_seconds"] = round(time.perf_counter() - t0, 3)  # training + evaluation, if any
        row["prepare_seconds"] = round(t0 - t_prepare, 3)  # phones computing new feature caches
        return state, row


def _open_run(run: Path, config: FederatedConfig, *, resume: bool) -> tuple[dict, bool]:
    """Create the run folder and write its settings; refuse to resume with other settings or to
    overwrite another run's checkpoints. Returns (settings, whether a checkpoint will be resumed)."""
    run.mkdir(parents=True, exist_ok=True)
    settings = _settings(config)
    settings_file = run / "settings.json"
    if resume and settings_file.is_file():
        changed = _changed_settings(json.loads(settings_file.read_text()), settings)
        if changed:
            raise WakewordError(
                f"{run}: `resume` needs the same settings as the interrupted run ({', '.join(changed)} "
                f"differ; see {settings_file})"
            )
    has_checkpoint = (run / CHECKPOINT_DIR / "latest.json").exists()
    if not resume and has_checkpoint:
        raise WakewordError(
            f"{run}: holds checkpoints of an earlier run; add `resume` to continue it or choose a new `out`"
        )
    with atomic_write(settings_file, "w") as handle:
        json.dump(settings, handle, indent=1, sort_keys=True)
    return settings, resume and has_checkpoint


def _start_state(comps: Computations, config: FederatedConfig, initial, val_ids, guard, log):
    """The process's first state, from ``initial`` weights (``--init-from``) if given, and the
    starting model's federated evaluation on the same phones as later rounds (None without either)."""
    state = comps.process.initialize()
    if initial is None:
        return state, None
    state = comps.process.set_model_weights(state, initial)
    if not val_ids:
        return state, None
    with guard(0):
        start = comps.federated_eval(state, [client_key(p, 0) for p in val_ids])
    log(f"round    0  --init-from {config.init_from}: val loss {start['eval_loss']:.4f}")
    return state, {k: round(float(v), 5) for k, v in start.items()}


def _round_row(output, state, round_num: int, sampled: list[str], reporting: list[str]):
    """The new state and the round's metrics row from a round's output."""
    if isinstance(output, dict):  # secure: the simulated computation returns plain containers
        rebuilt = {"state": rebuild_like(output["state"], state), "metrics": output["metrics"]}
        output = type("RoundOutput", (), rebuilt)
    row = {"round": round_num, "sampled": len(sampled), "reporting": len(reporting)}
    flatten_metrics("", output.metrics, flat := {})
    row["train_loss"] = flat.get("client_work/train/loss", float("nan"))
    row["train_accuracy"] = flat.get("client_work/train/accuracy", float("nan"))
    row.update(
        {f"aggregator/{k.split('/', 1)[1]}": v for k, v in flat.items() if k.startswith("aggregator/")}
    )
    return output.state, row


def _record(run: Path, writer, row: dict, state, history: list[dict]) -> None:
    """TensorBoard scalars, the checkpoint and metrics.csv after a round."""
    import tensorflow as tf

    with writer.as_default(step=row["round"]):
        for key, value in row.items():
            if key != "round" and isinstance(value, (int, float)):
                tf.summary.scalar(key, value)
    save_checkpoint(run, row["round"], state, history)
    write_metrics(run, history)


def _dp_report(config: FederatedConfig, n_train: int) -> dict:
    """(epsilon, delta) of a DP run and the noise it used."""
    epsilon = dp_epsilon(
        n_clients=n_train,
        clients_per_round=min(config.clients_per_round, n_train),
        noise_multiplier=config.dp_noise_multiplier,
        rounds=config.rounds,
        delta=config.dp_delta,
    )
    return {
        "noise_multiplier": config.dp_noise_multiplier, "delta": config.dp_delta, "epsilon": epsilon,
        "target_epsilon": config.dp_target_epsilon, "clipping": config.dp_clipping,
    }  # fmt: skip


def _round_line(row: dict, rounds: int) -> str:
    line = f"round {row['round']:>4}/{rounds}  train loss {row['train_loss']:.4f}"
    line += f"  acc {row['train_accuracy']:.3f}"
    if "eval_loss" in row:
        line += f"  | val loss {row['eval_loss']:.4f}  acc {row['eval_accuracy']:.3f}"
    return line + f"  ({row['reporting']}/{row['sampled']} phones, {row['round_seconds']:.1f} s)"
