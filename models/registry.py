"""The one registry of model architectures (read by the CLI and the tests)."""

from __future__ import annotations

from types import ModuleType

from models.layers import FRONTEND_LAYER
from wakeword.errors import ParameterError


def _modules() -> dict[str, ModuleType]:
    from models import ds_cnn, speech_dnn, speech_tcn, tc_resnet, tcn, tiny_cnn

    return {m.NAME: m for m in (ds_cnn, tiny_cnn, tc_resnet, tcn, speech_dnn, speech_tcn)}


MODELS: dict[str, ModuleType] = _modules()
DEFAULT_MODEL = "speech_dnn"  # on 411 real "computer" clips 25.5% missed at 1 FA/h vs tcn's 61-79%
# (docs/BENCHMARKS.md): the frozen speech embedding is what carries synthetic training to real people


def window_for(name: str, window=None):
    """The detector window a model trains and runs with: its own (a model on the speech embedding
    reads 80 ms embeddings) or else ``window`` (default: the log-mel :data:`DEFAULT_WINDOW`)."""
    from wakeword.window import DEFAULT_WINDOW

    module = MODELS.get(name)
    if module is not None and hasattr(module, "window"):
        return module.window()
    return window if window is not None else DEFAULT_WINDOW


def default_quantize(name: str) -> str:
    """How ``wakeword export`` quantizes the architecture unless told: int8, or the module's
    ``QUANTIZE`` (a head on the speech embedding: float16)."""
    return getattr(MODELS.get(name), "QUANTIZE", "int8")


def frontend_layer(features):
    """The Keras layer computing ``features`` from raw audio, named :data:`FRONTEND_LAYER`."""
    if features.kind == "speech_embedding":
        from wakeword.tf_embedding import SpeechEmbeddingFrontend

        return SpeechEmbeddingFrontend(features, name=FRONTEND_LAYER)
    from wakeword.tf_frontend import LogMelFrontend

    return LogMelFrontend(features, name=FRONTEND_LAYER)


def build_model(
    name: str,
    input_shape: tuple[int, int],
    *,
    width: float = 1.0,
    dropout: float = 0.1,
    seed: int | None = None,
):
    """Build a fresh classifier ``(frames, n_mels) -> probability`` of a registered architecture.

    Parameters
    ----------
    name : str
        A key of :data:`MODELS`.
    input_shape : (int, int)
        Feature frames and mel bands of one window.
    width : float
        Channel multiplier (1.0 = the documented size).
    dropout : float
        Dropout rate before the output layer.
    seed : int, optional
        Seed of the weight initialisers (the same seed gives the same initial weights).
    """
    if name not in MODELS:
        raise ParameterError(f"`model` must be one of {sorted(MODELS)}, got {name!r}")
    if width <= 0:
        raise ParameterError(f"width must be positive, got {width}")
    return MODELS[name].build(tuple(input_shape), width=width, dropout=dropout, seed=seed)


def with_frontend(
    classifier, *, window_samples: int, features=None, batch_size: int | None = None, name: str | None = None
):
    """A model taking raw audio ``(batch, window_samples)``: the shared log-mel layer (named
    ``log_mel``), then ``classifier``.

    ``batch_size=1`` fixes the batch, as the exported TFLite file has it (static shapes convert to
    fewer ops). The result is what ``wakeword export`` converts: the TFLite file holds the frontend.
    """
    import tensorflow as tf

    from wakeword.features import DEFAULT_FEATURES

    audio = tf.keras.Input(shape=(window_samples,), batch_size=batch_size, dtype=tf.float32, name="audio")
    feats = frontend_layer(features or DEFAULT_FEATURES)(audio)
    return tf.keras.Model(audio, classifier(feats), name=name or f"{classifier.name}_audio")
