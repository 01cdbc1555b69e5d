"""The frozen speech-embedding frontend as a Keras layer: raw audio in, one 96-value embedding per
80 ms out (:mod:`wakeword.embedding_assets` for the weights' origin).

Computation (float32, TFLite builtins only):

1. log-mel: 512-sample frames every 160 samples of the audio scaled to 16-bit range, times the
   ONNX model's window (its STFT kernels are that window times the DFT basis), RFFT, power, its 32
   mel bands,
   ``10 log10(max(mel, 1e-10)) / 10 + 2`` (openWakeWord's scaling of the ONNX log-mel model; the
   model's own "80 dB below the loudest frame" clamp is left out: it depends on how much audio is
   passed at once, so a stream and a clip would differ; digital silence reads -8 either way);
2. the embedding network run along the whole log-mel sequence at once: its convolutions are valid
   in time and its poolings halve time three times, so output ``t`` is exactly the network applied
   to log-mel frames ``[8t, 8t + 76)``, as openWakeWord slides it (tested);
3. minus the embedding of digital silence, so silence (the detector's empty buffer, the padding
   before a clip) is the zero vector.

So frame ``t`` covers samples ``[1280 t, 1280 t + 12512)``: :data:`wakeword.features.EMBEDDING_FEATURES`
describes it with ``n_fft = 12512`` and ``hop_ms = 80``, and the rest of the project (windows,
caches, streaming) treats embeddings as it treats log-mel frames.
"""

from __future__ import annotations

import functools

import numpy as np
import tensorflow as tf

from wakeword.embedding_assets import load_weights
from wakeword.features import EMBEDDING_FEATURES, FeatureConfig
from wakeword.tf_frontend import FrameFrontend

__all__ = ["SpeechEmbeddingFrontend", "speech_embedding_tf"]

INT16_SCALE = 32767.0  # the ONNX log-mel model expects audio in 16-bit range
POWER_FLOOR = 1e-10  # mel power is clipped here before the log
STFT_FRAME = 512
STFT_HOP = 160


@tf.keras.utils.register_keras_serializable(package="wakeword")
class SpeechEmbeddingFrontend(FrameFrontend):
    """Raw audio ``(batch, samples)`` to embeddings ``(batch, config.num_frames(samples), 96)``."""

    def __init__(self, config: FeatureConfig | None = None, **kwargs) -> None:
        super().__init__(config if config is not None else EMBEDDING_FEATURES, **kwargs)
        w = load_weights()
        # the ONNX STFT kernels are this window times the DFT basis (tested): an RFFT does the rest
        self._window = tf.constant(w["stft_real"][:, 0])
        self._mel = tf.constant(w["mel"])
        self._layers = [dict(layer) for layer in w["layers"]]
        self._conv = {
            layer["index"]: (
                tf.constant(w[f"conv{layer['index']}_w"]),
                tf.constant(w[f"conv{layer['index']}_b"]),
            )
            for layer in self._layers
            if layer["op"] == "conv"
        }
        self._silence = tf.constant(w["silence"])

    def log_mel(self, audio: tf.Tensor) -> tf.Tensor:
        """``(batch, samples)`` -> ``(batch, frames, 32)``, frames every 10 ms."""
        frames = tf.signal.frame(audio * INT16_SCALE, STFT_FRAME, STFT_HOP, axis=-1)
        spec = tf.signal.rfft(frames * self._window, fft_length=[STFT_FRAME])
        power = tf.math.square(tf.math.real(spec)) + tf.math.square(tf.math.imag(spec))
        mel = tf.maximum(tf.linalg.matmul(power, self._mel), POWER_FLOOR)
        return tf.math.log(mel) * (1.0 / np.log(10.0)) + 2.0

    def embed(self, log_mel: tf.Tensor) -> tf.Tensor:
        """``(batch, frames, 32)`` -> ``(batch, (frames - 76) // 8 + 1, 96)``."""
        x = tf.expand_dims(log_mel, -1)  # (not [..., None]: a strided slice TFLite lacks for any batch)
        for layer in self._layers:
            op = layer["op"]
            if op == "conv":
                kernel, bias = self._conv[layer["index"]]
                lo, hi = layer["pad_freq"]
                if lo or hi:
                    x = tf.pad(x, [[0, 0], [0, 0], [lo, hi], [0, 0]])
                x = tf.nn.conv2d(x, kernel, strides=1, padding="VALID") + bias
            elif op == "leaky_relu":
                x = tf.nn.leaky_relu(x, alpha=layer["alpha"])
            elif op == "maximum":
                x = tf.maximum(x, layer["value"])
            else:
                x = tf.nn.max_pool2d(x, layer["size"], layer["size"], padding="VALID")
        return tf.squeeze(x, axis=2) - self._silence

    def call(self, audio: tf.Tensor) -> tf.Tensor:
        return self.embed(self.log_mel(audio))


@functools.lru_cache(maxsize=2)
def _traced(config: FeatureConfig):
    """One frontend and one traced graph per config (any batch, any length)."""
    layer = SpeechEmbeddingFrontend(config)
    return tf.function(layer.call, input_signature=[tf.TensorSpec([None, None], tf.float32)])


def speech_embedding_tf(y: np.ndarray, *, config: FeatureConfig = EMBEDDING_FEATURES) -> np.ndarray:
    """Run :class:`SpeechEmbeddingFrontend` on NumPy audio (shape (n,) or (batch, n)).

    Returns
    -------
    np.ndarray [shape=(frames, 96) or (batch, frames, 96)], float32
    """
    batch = np.atleast_2d(np.asarray(y, dtype=np.float32))
    out = _traced(config)(tf.constant(batch)).numpy()
    return out[0] if np.ndim(y) == 1 else out
