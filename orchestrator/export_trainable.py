"""``wakeword export --trainable``: a float TFLite file a phone fine-tunes with the TFLite
interpreter alone (on-device personalization, :mod:`device_client.personalize`).

The file holds the whole model (frontend in the graph, raw audio in). Its *tail*
(:mod:`orchestrator.trainable_tail`: the sigmoid unit and, for speech_dnn, the dense block before
it) is a set of resource variables; seven signatures, builtin ops only:

- ``infer``: one window ``(1, window.samples)`` -> ``probability`` ``(1, 1)`` (reads the variables);
- ``embed``: one window -> ``features`` ``(1, C)``, the frozen body's output (the tail's input);
- ``train``: ``features`` ``(TRAIN_BATCH, C)`` and ``labels`` ``(TRAIN_BATCH, 1)`` -> ``loss``:
  one gradient-descent step on the tail (binary cross-entropy plus a pull to the shipped weights,
  so a few takes cannot pull it far), the gradient written out (no tape);
- ``logits``: ``features`` ``(TRAIN_BATCH, C)`` -> ``logits`` ``(TRAIN_BATCH, 1)``, the tail now;
- ``save``: -> every tail weight by name; ``restore``: the same names -> the same, now in place;
- ``negatives``: -> ``features`` ``(NEGATIVE_WINDOWS, C)``: the features of windows of other
  speech the server synthesized, so the phone trains against negatives it never recorded.

The frozen body does not train: its gradient needs ops TFLite's builtins lack (convolution
backprop, ``BroadcastGradientArgs``), and a phone has a few takes, not thousands.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

from orchestrator.export_checks import FLOAT_TOLERANCE, ExportCheckError, convert_with, detector_windows
from orchestrator.trainable_tail import OUTPUT_WEIGHTS, find_tail, tail_logits, tail_step
from wakeword.window import WindowConfig

__all__ = ["NEGATIVE_WINDOWS", "TRAIN_BATCH", "convert_trainable", "learning_rate", "trainable_module"]

TRAIN_BATCH = 32  # examples per `train` call (static shapes convert to builtin ops only)
LEARNING_RATE = 0.5  # plain gradient descent on the output unit (its features are O(1))
BLOCK_LEARNING_RATE = 0.1  # on the hidden block before it, where the model has one
NEGATIVE_WINDOWS = 256  # windows of server-synthesized other speech whose features ship in the file
SIGNATURES = ("infer", "embed", "train", "logits", "save", "restore", "negatives")


def learning_rate(name: str) -> float:
    """The gradient-descent step of weight ``name`` (:mod:`orchestrator.trainable_tail`)."""
    return LEARNING_RATE if name in OUTPUT_WEIGHTS else BLOCK_LEARNING_RATE


def batched(model, windows, *, batch: int = 64) -> np.ndarray:
    """``model`` (a Keras model on audio windows) applied to ``windows`` [n, samples] a batch at a
    time (4x faster than one window per call, as the file's batch-1 signatures run)."""
    windows = np.asarray(windows, np.float32)
    return np.concatenate([model(windows[i : i + batch]).numpy() for i in range(0, len(windows), batch)])


def trainable_module(classifier, window: WindowConfig, negatives: np.ndarray, *, block: bool = True):
    """The ``tf.Module`` whose signatures :func:`convert_trainable` converts (see the module doc).

    Parameters
    ----------
    classifier : tf.keras.Model
        A trained classifier ``(frames, mels) -> probability`` whose last layer is the Dense unit
        ``probability`` (every registered model).
    window : WindowConfig
    negatives : np.ndarray [shape=(n, window.samples)]
        Negative windows; their features are stored in the file.
    block : bool
        Train the hidden block before the output unit too, where the model has one.
    """
    import tensorflow as tf

    from models.registry import with_frontend

    tail = find_tail(classifier, block=block)
    body = tf.keras.Model(classifier.input, tail.features, name="body")
    embed = with_frontend(body, window_samples=window.samples, features=window.features, batch_size=1)
    stored = batched(with_frontend(body, window_samples=window.samples, features=window.features), negatives)
    module = tf.Module(name="trainable")
    module.embed_model = embed
    module.tail = {"weights": list(tail.weights), "epsilon": tail.epsilon, "channels": tail.channels}
    module.weights = {name: tf.Variable(value, name=name) for name, value in tail.weights.items()}
    base = {name: tf.constant(value) for name, value in tail.weights.items()}
    audio = tf.TensorSpec((1, window.samples), tf.float32)

    def infer(audio):
        return {"probability": tf.sigmoid(tail_logits(embed(audio), module.weights, tail.epsilon))}

    def embed_signature(audio):
        return {"features": embed(audio)}

    def train(features, labels):
        loss, grads = tail_step(features, labels, module.weights, base, tail.epsilon)
        for name, grad in grads.items():
            module.weights[name].assign_sub(learning_rate(name) * grad)
        return {"loss": loss}

    def save():
        return {name: tf.identity(v) for name, v in module.weights.items()}

    def restore(*values):
        for name, value in zip(tail.weights, values):
            module.weights[name].assign(value)
        return save()

    def logits(features):
        return {"logits": tail_logits(features, module.weights, tail.epsilon)}

    def shipped_negatives():
        return {"features": tf.constant(stored)}

    examples = [tf.TensorSpec((TRAIN_BATCH, tail.channels), tf.float32, name="features"),
                tf.TensorSpec((TRAIN_BATCH, 1), tf.float32, name="labels")]  # fmt: skip
    weights = [tf.TensorSpec(v.shape, tf.float32, name=name) for name, v in tail.weights.items()]
    signatures = {"infer": (infer, [audio]), "embed": (embed_signature, [audio]),
                  "train": (train, examples), "logits": (logits, examples[:1]), "save": (save, []),
                  "restore": (restore, weights), "negatives": (shipped_negatives, [])}  # fmt: skip
    for name, (function, spec) in signatures.items():
        setattr(module, name, tf.function(function, input_signature=spec))
    return module


def convert_trainable(module) -> bytes:
    """Float TFLite flatbuffer with :data:`SIGNATURES` and resource variables, builtin ops only."""
    import tensorflow as tf

    from wakeword.tflite_format import native_output_silenced

    with tempfile.TemporaryDirectory() as tmp, native_output_silenced():
        signatures = {name: getattr(module, name).get_concrete_function() for name in SIGNATURES}
        tf.saved_model.save(module, tmp, signatures=signatures)
        converter = tf.lite.TFLiteConverter.from_saved_model(tmp, signature_keys=list(SIGNATURES))
        converter.experimental_enable_resource_variables = True
        return convert_with(converter, quantize="none")


def export_trainable_checked(
    run: Path, classifier, window: WindowConfig, clips, negatives, *, block: bool = True
) -> tuple[bytes, float, dict]:
    """The trainable flatbuffer, checked: ``infer`` matches the Keras model within
    :data:`FLOAT_TOLERANCE` on the check clips' windows; returns it, the largest difference and
    what trains (weight names, the block's epsilon, the features' width)."""
    import tensorflow as tf

    from models.registry import with_frontend

    module = trainable_module(classifier, window, negatives, block=block)
    flatbuffer = convert_trainable(module)
    keras = with_frontend(classifier, window_samples=window.samples, features=window.features)
    interpreter = tf.lite.Interpreter(model_content=flatbuffer)
    infer = interpreter.get_signature_runner("infer")
    check = detector_windows(clips, window, per_clip=8)
    got = np.array([infer(audio=w[None])["probability"][0, 0] for w in check])
    expected = batched(keras, check)[:, 0]
    error = float(np.abs(got - expected).max())
    if error > FLOAT_TOLERANCE:
        raise ExportCheckError(
            f"{run}: trainable TFLite differs from Keras by {error:.2e} (> {FLOAT_TOLERANCE:g}); not written"
        )
    return flatbuffer, error, dict(module.tail)
