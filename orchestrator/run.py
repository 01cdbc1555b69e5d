"""A training run's folder: what ``wakeword eval`` and ``wakeword export`` read.

::

    RUN/
      run.json       format, mode (central/federated), model name and width, window, fleet, phrase,
                     training settings, history (one row per epoch or round), final metrics
      model.keras    the classifier (log-mel window -> probability), Keras format
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
from pathlib import Path

from wakeword.errors import ParameterError, WakewordError
from wakeword.fileio import atomic_write
from wakeword.window import WindowConfig

__all__ = ["MODEL_FILE", "RUN_FILE", "code_fingerprint", "load_run", "load_start_model", "save_run"]

RUN_FORMAT = "wakeword-run"
RUN_FILE = "run.json"
MODEL_FILE = "model.keras"
# the packages whose code decides what a training run produces
TRAINING_PACKAGES = ("wakeword", "models", "device_client", "orchestrator", "data_tools")


@functools.lru_cache(maxsize=1)
def code_fingerprint() -> str:
    """A short hash of the training code (every ``.py`` file of ``TRAINING_PACKAGES``).

    Recorded in each run.json so that a run can be told apart from one the current code would
    make (the benchmarks reuse a finished run only when its fingerprint matches).
    """
    root = Path(__file__).resolve().parents[1]
    digest = hashlib.sha256()
    for package in TRAINING_PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:12]


def describe_run(
    *, mode: str, classifier, fleet, window: WindowConfig, settings: dict, history: list, **extra
) -> dict:
    """The fields every run.json has (central and federated alike), plus ``extra``."""
    return {
        "mode": mode,
        "model": settings["model"],
        "width": settings["width"],
        "parameters": int(classifier.count_params()),
        "window": window.to_dict(),
        "fleet": str(Path(fleet.root).resolve()),
        "phrase": fleet.phrase,
        "training_phones": len(fleet.training_ids()),
        "validation_phones": fleet.validation_ids(),
        "settings": settings,
        "history": history,
        "code": code_fingerprint(),
        **extra,
    }


def save_run(root: str | os.PathLike, *, classifier, description: dict) -> Path:
    """Write the model and ``run.json`` (each atomically)."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    tmp = root / f".{MODEL_FILE}.tmp.keras"
    classifier.save(tmp)
    os.replace(tmp, root / MODEL_FILE)
    with atomic_write(root / RUN_FILE, "w") as handle:
        json.dump({"format": RUN_FORMAT, **description}, handle, indent=1, sort_keys=True)
        handle.write("\n")
    return root


def load_run(root: str | os.PathLike):
    """Return ``(classifier, description, window)`` of a run folder."""
    import tensorflow as tf

    from models.layers import channel_norm_class

    channel_norm_class()  # registers the custom layer the saved model refers to
    root = Path(root)
    path = root / RUN_FILE
    if not path.is_file() or not (root / MODEL_FILE).is_file():
        raise WakewordError(
            f"{root}: not a training run (needs {RUN_FILE} and {MODEL_FILE}); train one with `wakeword train`"
        )
    try:
        description = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise WakewordError(f"{path}: unreadable or corrupt ({exc})") from None
    if description.get("format") != RUN_FORMAT:
        raise WakewordError(f"{path}: not a wakeword run description")
    try:
        classifier = tf.keras.models.load_model(root / MODEL_FILE, compile=False)
    except (OSError, ValueError) as exc:
        raise WakewordError(
            f"{root / MODEL_FILE}: cannot load the model ({str(exc).splitlines()[0]})"
        ) from None
    return classifier, description, WindowConfig.from_dict(description["window"])


def load_start_model(root: str | os.PathLike, *, model: str, width: float, window: WindowConfig):
    """The classifier of run ``root``, to start another run from (``--init-from``).

    Raises ParameterError unless it is a ``model`` of ``width`` on ``window`` (same weight shapes).
    """
    from models import build_model

    classifier, description, saved_window = load_run(root)
    fresh = build_model(model, (window.frames, window.features.n_mels), width=width, seed=0)
    shapes = [tuple(w.shape) for w in fresh.weights]
    if saved_window != window or [tuple(w.shape) for w in classifier.weights] != shapes:
        raise ParameterError(
            f"`init_from` {root}: holds a {description.get('model')} model of width "
            f"{description.get('width')} on other windows or shapes; this run trains {model} of "
            f"width {width}: pass a run made with the same `model` and `width`"
        )
    return classifier
