"""A training run's folder: what ``wakeword eval`` and ``wakeword export`` read.

::

    RUN/
      run.json       format, mode (central/federated), model name and width, window, fleet, phrase,
                     training settings, history (one row per epoch or round), final metrics
      model.keras    the classifier (log-mel window -> probability), Keras format
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from wakeword.errors import ParameterError, WakewordError
from wakeword.fileio import atomic_write
from wakeword.window import WindowConfig

__all__ = [
    "MODEL_FILE",
    "RUN_FILE",
    "RunDescription",
    "code_fingerprint",
    "load_run",
    "load_start_model",
    "read_description",
    "save_run",
    "write_description",
]

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


@dataclass(frozen=True)
class RunDescription:
    """What ``run.json`` says about a training run (central and federated alike)."""

    mode: str  # "central" or "federated"
    model: str  # a key of models.MODELS
    width: float  # channel multiplier
    parameters: int  # trainable and other weights
    window: dict  # WindowConfig.to_dict() of the windows it was trained on
    fleet: str  # absolute path of the fleet it was trained on
    phrase: str
    training_phones: int
    validation_phones: list[str]
    settings: dict  # the training config as JSON
    history: list[dict]  # one row per epoch or round
    code: str  # code_fingerprint() of the code that trained it
    train_seconds: float | None = None
    best_val_loss: float | None = None  # central: the kept epoch's validation loss
    dp: dict | None = None  # federated with dp: noise_multiplier, delta, epsilon
    start_eval: dict | None = None  # federated from a saved model: its eval_loss, eval_accuracy
    phases: list[dict] | None = None  # the default recipe: each phase and what it gained
    # federated from a start model: each model's validation FRR at the target and which one
    # model.keras holds ({"shipped": "start" or "final", "start": {...}, "final": {...}})
    selection: dict | None = None
    extra: dict = field(default_factory=dict)  # any other key (written by another version)

    @property
    def window_config(self) -> WindowConfig:
        return WindowConfig.from_dict(self.window)

    def to_dict(self) -> dict:
        """The JSON of run.json (without its format tag)."""
        fields = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "extra"}
        return {**self.extra, **{k: v for k, v in fields.items() if v is not None}}

    @classmethod
    def from_dict(cls, data: dict) -> RunDescription:
        names = {f.name for f in dataclasses.fields(cls)} - {"extra"}
        known = {k: v for k, v in data.items() if k in names}
        extra = {k: v for k, v in data.items() if k not in names and k != "format"}
        return cls(**known, extra=extra)


def describe_run(
    *, mode: str, classifier, fleet, window: WindowConfig, settings: dict, history: list, **extra
) -> RunDescription:
    """The description of a run just trained (``extra``: train_seconds, best_val_loss, dp)."""
    return RunDescription(
        mode=mode,
        model=settings["model"],
        width=settings["width"],
        parameters=int(classifier.count_params()),
        window=window.to_dict(),
        fleet=str(Path(fleet.root).resolve()),
        phrase=fleet.phrase,
        training_phones=len(fleet.training_ids()),
        validation_phones=fleet.validation_ids(),
        settings=settings,
        history=history,
        code=code_fingerprint(),
        **extra,
    )


def save_run(root: str | os.PathLike, *, classifier, description: RunDescription) -> Path:
    """Write the model and ``run.json`` (each atomically)."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    tmp = root / f".{MODEL_FILE}.tmp.keras"
    classifier.save(tmp)
    os.replace(tmp, root / MODEL_FILE)
    write_description(root, description)
    return root


def write_description(root: str | os.PathLike, description: RunDescription) -> None:
    """Write (or rewrite) ``run.json`` atomically."""
    with atomic_write(Path(root) / RUN_FILE, "w") as handle:
        json.dump({"format": RUN_FORMAT, **description.to_dict()}, handle, indent=1, sort_keys=True)
        handle.write("\n")


def load_run(root: str | os.PathLike) -> tuple[object, RunDescription, WindowConfig]:
    """Return ``(classifier, description, window)`` of a run folder."""
    import tensorflow as tf

    from models.layers import register_custom_layers

    register_custom_layers()  # the custom layers the saved model refers to
    root = Path(root)
    path = root / RUN_FILE
    if not path.is_file() or not (root / MODEL_FILE).is_file():
        raise WakewordError(
            f"{root}: not a training run (needs {RUN_FILE} and {MODEL_FILE}); train one with `wakeword train`"
        )
    description = read_description(root)
    try:
        classifier = tf.keras.models.load_model(root / MODEL_FILE, compile=False)
    except (OSError, ValueError) as exc:
        raise WakewordError(
            f"{root / MODEL_FILE}: cannot load the model ({str(exc).splitlines()[0]})"
        ) from None
    return classifier, description, description.window_config


def read_description(root: str | os.PathLike) -> RunDescription:
    """The ``run.json`` of run folder ``root`` (no model loaded)."""
    path = Path(root) / RUN_FILE
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise WakewordError(f"{path}: unreadable or corrupt ({exc})") from None
    if not isinstance(data, dict) or data.get("format") != RUN_FORMAT:
        raise WakewordError(f"{path}: not a wakeword run description")
    try:
        return RunDescription.from_dict(data)
    except TypeError as exc:
        raise WakewordError(f"{path}: not a complete run description ({exc})") from None


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
            f"`init_from` {root}: holds a {description.model} model of width "
            f"{description.width} on other windows or shapes; this run trains {model} of "
            f"width {width}: pass a run made with the same `model` and `width`"
        )
    return classifier
