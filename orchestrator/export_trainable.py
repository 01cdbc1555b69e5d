"""``wakeword export --trainable``: a float TFLite file a phone fine-tunes with the TFLite
interpreter alone (on-device personalization, :mod:`device_client.personalize`).

The file holds the whole model (frontend in the graph, raw audio in) with its output layer, the
sigmoid unit over the pooled features, as two resource variables, and five signatures, builtin ops
only:

- ``infer``: one window ``(1, window.samples)`` -> ``probability`` ``(1, 1)`` (reads the variables);
- ``embed``: one window -> ``features`` ``(1, C)``, the frozen body's pooled output;
- ``train``: ``features`` ``(TRAIN_BATCH, C)`` and ``labels`` ``(TRAIN_BATCH, 1)`` -> ``loss``:
  one gradient step on the output layer (binary cross-entropy plus :data:`L2_TO_BASE` times the
  squared distance to the shipped weights, so a few takes cannot pull it far), the gradient written
  out (no tape: a logistic unit's is two matmuls);
- ``save``: -> ``kernel``, ``bias``; ``restore``: ``kernel``, ``bias`` -> the same, now in place;
- ``negatives``: -> ``features`` ``(NEGATIVE_WINDOWS, C)``: the pooled features of windows of
  other speech the server synthesized, so the phone trains against negatives it never recorded.

Only the output layer trains: the body's gradient needs ops TFLite's builtins lack
(``BroadcastGradientArgs``, convolution backprop), and a phone has a few takes, not thousands.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

from orchestrator.export_checks import FLOAT_TOLERANCE, ExportCheckError, convert_with, detector_windows
from wakeword.window import WindowConfig

__all__ = ["L2_TO_BASE", "NEGATIVE_WINDOWS", "TRAIN_BATCH", "convert_trainable", "trainable_module"]

TRAIN_BATCH = 32  # examples per `train` call (static shapes convert to builtin ops only)
LEARNING_RATE = 0.5  # plain gradient descent on the output layer (pooled features are O(1))
L2_TO_BASE = 0.01  # weight of 0.5 * ||(kernel, bias) - shipped||^2 in the loss
NEGATIVE_WINDOWS = 256  # windows of server-synthesized other speech whose features ship in the file
SIGNATURES = ("infer", "embed", "train", "save", "restore", "negatives")


def trainable_module(classifier, window: WindowConfig, negatives: np.ndarray):
    """The ``tf.Module`` whose signatures :func:`convert_trainable` converts (see the module doc).

    Parameters
    ----------
    classifier : tf.keras.Model
        A trained classifier ``(frames, mels) -> probability`` whose last layer is the Dense unit
        ``probability`` (every registered model).
    window : WindowConfig
    negatives : np.ndarray [shape=(n, window.samples)]
        Negative windows; their features are stored in the file.
    """
    import tensorflow as tf

    from models.registry import with_frontend

    dense = classifier.get_layer("probability")
    body = tf.keras.Model(classifier.input, dense.input, name="body")
    embed = with_frontend(body, window_samples=window.samples, features=window.features, batch_size=1)
    kernel0, bias0 = (np.asarray(v, np.float32) for v in dense.get_weights())
    channels = kernel0.shape[0]
    stored = np.concatenate([embed(w[None]).numpy() for w in negatives]).astype(np.float32)
    audio = tf.TensorSpec((1, window.samples), tf.float32)

    class Trainable(tf.Module):
        def __init__(self) -> None:
            super().__init__(name="trainable")
            self.embed_model = embed
            self.kernel = tf.Variable(kernel0, name="kernel")
            self.bias = tf.Variable(bias0, name="bias")

        @tf.function(input_signature=[audio])
        def infer(self, audio):
            return {"probability": tf.sigmoid(self.embed_model(audio) @ self.kernel + self.bias)}

        @tf.function(input_signature=[audio])
        def embed(self, audio):
            return {"features": self.embed_model(audio)}

        @tf.function(
            input_signature=[
                tf.TensorSpec((TRAIN_BATCH, channels), tf.float32),
                tf.TensorSpec((TRAIN_BATCH, 1), tf.float32),
            ]
        )
        def train(self, features, labels):
            loss, grad_kernel, grad_bias = head_step(features, labels, self.kernel, self.bias, kernel0, bias0)
            self.kernel.assign_sub(LEARNING_RATE * grad_kernel)
            self.bias.assign_sub(LEARNING_RATE * grad_bias)
            return {"loss": loss}

        @tf.function(input_signature=[])
        def save(self):
            return {"kernel": tf.identity(self.kernel), "bias": tf.identity(self.bias)}

        @tf.function(
            input_signature=[tf.TensorSpec((channels, 1), tf.float32), tf.TensorSpec((1,), tf.float32)]
        )
        def restore(self, kernel, bias):
            self.kernel.assign(kernel)
            self.bias.assign(bias)
            return {"kernel": tf.identity(self.kernel), "bias": tf.identity(self.bias)}

        @tf.function(input_signature=[])
        def negatives(self):
            return {"features": tf.constant(stored)}

    return Trainable()


def head_step(features, labels, kernel, bias, kernel0, bias0):
    """Loss and gradient of the output layer: mean binary cross-entropy of ``sigmoid(f @ k + b)``
    plus ``L2_TO_BASE / 2`` times the squared distance to ``(kernel0, bias0)`` (TensorFlow ops;
    also the reference the tests compare the TFLite step with)."""
    import tensorflow as tf

    logits = features @ kernel + bias
    bce = tf.reduce_mean(tf.nn.relu(logits) - logits * labels + tf.math.log1p(tf.exp(-tf.abs(logits))))
    dk, db = kernel - kernel0, bias - bias0
    loss = bce + 0.5 * L2_TO_BASE * (tf.reduce_sum(dk * dk) + tf.reduce_sum(db * db))
    error = (tf.sigmoid(logits) - labels) / float(features.shape[0])
    grad_kernel = tf.transpose(features) @ error + L2_TO_BASE * dk
    grad_bias = tf.reduce_sum(error, axis=0) + L2_TO_BASE * db
    return loss, grad_kernel, grad_bias


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
    run: Path, classifier, window: WindowConfig, clips, negatives
) -> tuple[bytes, float]:
    """The trainable flatbuffer, checked: ``infer`` matches the Keras model within
    :data:`FLOAT_TOLERANCE` on the check clips' windows; returns it and the largest difference."""
    import tensorflow as tf

    from models.registry import with_frontend

    module = trainable_module(classifier, window, negatives)
    flatbuffer = convert_trainable(module)
    keras = with_frontend(classifier, window_samples=window.samples, features=window.features, batch_size=1)
    interpreter = tf.lite.Interpreter(model_content=flatbuffer)
    infer = interpreter.get_signature_runner("infer")
    check = detector_windows(clips, window, per_clip=8)
    got = np.array([infer(audio=w[None])["probability"][0, 0] for w in check])
    expected = np.array([keras(w[None]).numpy()[0, 0] for w in check])
    error = float(np.abs(got - expected).max())
    if error > FLOAT_TOLERANCE:
        raise ExportCheckError(
            f"{run}: trainable TFLite differs from Keras by {error:.2e} (> {FLOAT_TOLERANCE:g}); not written"
        )
    return flatbuffer, error
