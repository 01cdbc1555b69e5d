"""The streaming form of a trained classifier: one stride of new audio in, one score out.

A detector scores a window of ``window.frames`` log-mel frames every stride, yet only the last
``window.stride_frames`` frames are new. The streaming form keeps what it needs of the past as
state and computes only the new frames: the frontend keeps the audio overlap of its analysis
windows, each temporal convolution its last ``(kernel - 1) * dilation`` inputs (kws_streaming's
ring buffers, Rybakov et al. 2020, arXiv 2005.06720), and the pooling head the last positions of
the window. With a model of valid convolutions (:mod:`models.tcn`) every score equals the
non-streaming model's on the same window.

States are explicit tensors (inputs and outputs of the TFLite signature), so the file needs builtin
ops only and the caller owns the memory: a stream starts from :meth:`StreamingModel.silent_state`,
the state a silent stream leaves (the detector starts with a silent buffer, too).
"""

from __future__ import annotations

import numpy as np

from models.registry import FRONTEND_LAYER, MODELS, frontend_layer
from wakeword.errors import ParameterError
from wakeword.stream import STREAM_AUDIO as AUDIO  # the signature's names, read by the device
from wakeword.stream import STREAM_PROBABILITY as PROBABILITY

STATE_PREFIX = "state_"  # every state tensor's name in the signature (same name in and out)
POOL = "pool"  # the pooling head's state: the window's last positions before the new ones


def streamable(model_name: str) -> bool:
    """Whether the architecture has a streaming form (a ``stream_body`` in its module)."""
    return hasattr(MODELS.get(model_name), "stream_body")


class StreamingModel:
    """A trained classifier in streaming form, with its frontend (log-mel or embedding) in front.

    Parameters
    ----------
    classifier : tf.keras.Model
        A classifier of a streamable architecture (see :func:`streamable`), taking windows of
        ``window.frames`` frames.
    window : WindowConfig
        The window and stride the classifier was trained for.
    """

    def __init__(self, classifier, window) -> None:
        module = MODELS.get(classifier.name)
        if not hasattr(module, "stream_body"):
            raise ParameterError(f"model {classifier.name!r} has no streaming form")
        self.classifier, self.window, self._module = classifier, window, module
        self.frontend = frontend_layer(window.features)
        feats = window.features
        self.overlap = feats.n_fft - feats.hop_length  # audio samples shared by consecutive frames
        self.new_frames = window.stride_frames
        # a body that scores the window itself (a head on the embedding keeps its frames as state);
        # else the body's new positions go through the pooling head
        self.scores = getattr(module, "STREAM_SCORES", False)
        shapes = {AUDIO: (1, self.overlap)} | module.stream_state_shapes(classifier)
        if not self.scores:
            pool = _pooling_layer(classifier)
            self.positions = int(pool.input.shape[1])  # the head averages this many positions per window
            shapes[POOL] = (1, 1, max(0, self.positions - self.new_frames), int(pool.input.shape[-1]))
        self.state_shapes = {STATE_PREFIX + k: v for k, v in shapes.items()}

    def step(self, audio, states: dict) -> tuple:
        """One stride: ``audio`` ``(1, window.stride_samples)`` float32 and the states in; the
        probability ``(1, 1)`` and the new states out (TensorFlow tensors, traceable)."""
        import tensorflow as tf

        new = {}
        with tf.name_scope(FRONTEND_LAYER):  # the float part of an int8 export (orchestrator.export)
            full = tf.concat([states[STATE_PREFIX + AUDIO], audio], axis=1)
            new[STATE_PREFIX + AUDIO] = full[:, -self.overlap :]
        feats = self.frontend(full)  # (1, new_frames, n_mels): exactly the stride's new frames
        inner = {k[len(STATE_PREFIX) :]: v for k, v in states.items()}
        x, body = self._module.stream_body(self.classifier, feats, inner)
        new |= {STATE_PREFIX + k: v for k, v in body.items()}
        if self.scores:
            return x, new
        pooled = tf.concat([states[STATE_PREFIX + POOL], x], axis=2)[:, :, -self.positions :]
        new[STATE_PREFIX + POOL] = pooled[:, :, pooled.shape[2] - self.state_shapes[STATE_PREFIX + POOL][2] :]
        score = self.classifier.get_layer("probability")(tf.reduce_mean(pooled, axis=(1, 2)))
        return score, new

    def zero_state(self) -> dict:
        return {k: np.zeros(v, np.float32) for k, v in self.state_shapes.items()}

    def silent_state(self) -> dict:
        """The states after a silent stream as long as one window (NumPy float32 arrays)."""
        import tensorflow as tf

        states = {k: tf.constant(v) for k, v in self.zero_state().items()}
        silence = tf.zeros((1, self.window.stride_samples))
        for _ in range(self.window.samples // self.window.stride_samples + 1):
            _, states = self.step(silence, states)
        return {k: v.numpy() for k, v in states.items()}

    def function(self):
        """The step as a ``tf.function`` over one dict of named tensors (what the export converts)."""
        import tensorflow as tf

        spec = {AUDIO: tf.TensorSpec((1, self.window.stride_samples), tf.float32, name=AUDIO)}
        spec |= {k: tf.TensorSpec(v, tf.float32, name=k) for k, v in self.state_shapes.items()}

        @tf.function(input_signature=[spec])
        def stream(inputs):
            states = {k: v for k, v in inputs.items() if k != AUDIO}
            score, new = self.step(inputs[AUDIO], states)
            return {PROBABILITY: score, **new}

        return stream


def _pooling_layer(classifier):
    """The classifier's global average pooling over time (its head, :func:`models.layers.head`)."""
    import tensorflow as tf

    return next(x for x in classifier.layers if isinstance(x, tf.keras.layers.GlobalAveragePooling1D))


def stream_scores(model: StreamingModel, audio: np.ndarray) -> np.ndarray:
    """Scores of the streaming model, one per stride of ``audio`` (from the silent state); the
    score after stride ``k`` is the window ending there (Keras, eager: the reference for tests).

    Parameters
    ----------
    model : StreamingModel
    audio : np.ndarray [shape=(n,)], float32, whole strides only

    Returns
    -------
    np.ndarray [shape=(n // stride_samples,)]
    """
    import tensorflow as tf

    stride = model.window.stride_samples
    states = {k: tf.constant(v) for k, v in model.silent_state().items()}
    fn = model.function()
    out = []
    for k in range(audio.size // stride):
        chunk = tf.constant(audio[None, k * stride : (k + 1) * stride].astype(np.float32))
        result = fn({AUDIO: chunk, **states})
        out.append(float(result[PROBABILITY].numpy().reshape(-1)[0]))
        states = {k: result[k] for k in states}
    return np.asarray(out)
