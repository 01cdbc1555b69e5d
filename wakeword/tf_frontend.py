"""The log-mel frontend as a Keras layer (TensorFlow ``tf.signal`` ops, TFLite builtins only).

Same computation as :func:`wakeword.features.log_mel_librosa`; the window and mel matrix are
constants computed once in NumPy and baked into the graph, so a converted TFLite model takes raw
audio and needs nothing else on the device.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from wakeword.features import DEFAULT_FEATURES, FeatureConfig, analysis_window, mel_filterbank

__all__ = ["FrameFrontend", "LogMelFrontend", "log_mel_tf", "mel_blocks"]


def mel_blocks(mel: np.ndarray, *, bands_per_block: int = 8) -> list[tuple[int, int, np.ndarray]]:
    """The mel matrix cut into dense blocks of consecutive bands over the FFT bins they use.

    Bands are narrow and contiguous, so ``power @ mel`` equals the concatenation of
    ``power[..., lo:hi] @ block`` over the blocks: the same sums with a fifth of the constants and
    multiplications (and still plain matmuls, which XNNPACK runs fast).

    Parameters
    ----------
    mel : np.ndarray [shape=(n_freqs, n_mels)]
    bands_per_block : int

    Returns
    -------
    list of (lo, hi, block)
        ``block`` has shape ``(hi - lo, bands)`` and dtype float32.
    """
    blocks = []
    for first in range(0, mel.shape[1], bands_per_block):
        part = mel[:, first : first + bands_per_block]
        used = np.flatnonzero(part.any(axis=1))
        lo, hi = (int(used[0]), int(used[-1]) + 1) if used.size else (0, 1)
        blocks.append((lo, hi, np.ascontiguousarray(part[lo:hi], dtype=np.float32)))
    return blocks


class FrameFrontend(tf.keras.layers.Layer):
    """What every frontend layer shares: a frozen :class:`FeatureConfig` (its only setting, saved
    with the model) and output frames ``config.num_frames(samples)`` x ``config.n_mels``."""

    def __init__(self, config: FeatureConfig, **kwargs) -> None:
        kwargs.setdefault("trainable", False)
        super().__init__(**kwargs)
        self.config = config

    def compute_output_shape(self, input_shape):
        samples = input_shape[-1]
        frames = None if samples is None else self.config.num_frames(int(samples))
        return tf.TensorShape([*input_shape[:-1], frames, self.config.n_mels])

    def get_config(self) -> dict:
        return {**super().get_config(), "config": self.config.to_dict()}

    @classmethod
    def from_config(cls, config: dict):
        config = dict(config)
        features = FeatureConfig.from_dict(config.pop("config"))
        return cls(features, **config)


@tf.keras.utils.register_keras_serializable(package="wakeword")
class LogMelFrontend(FrameFrontend):
    """Raw audio to log-mel features, inside the model graph.

    Input: ``(batch, samples)`` float32 audio at ``config.sample_rate``.
    Output: ``(batch, config.num_frames(samples), config.n_mels)`` float32.

    Ops: frame (strided slice), multiply, RFFT, real/imag, matmul (per block of bands), log: all
    TFLite builtins.
    """

    def __init__(self, config: FeatureConfig | None = None, **kwargs) -> None:
        super().__init__(config if config is not None else DEFAULT_FEATURES, **kwargs)
        self._window = tf.constant(analysis_window(self.config), dtype=tf.float32)
        # (first bin, last bin + 1, matrix) of each block of bands
        self._mel = [(lo, hi, tf.constant(m)) for lo, hi, m in mel_blocks(mel_filterbank(self.config))]

    def call(self, audio: tf.Tensor) -> tf.Tensor:
        cfg = self.config
        frames = tf.signal.frame(audio, cfg.n_fft, cfg.hop_length, axis=-1)  # (b, t, n_fft)
        spectrum = tf.signal.rfft(frames * self._window, fft_length=[cfg.n_fft])  # (b, t, n_freqs)
        power = tf.math.square(tf.math.real(spectrum)) + tf.math.square(tf.math.imag(spectrum))
        mel = tf.concat([tf.linalg.matmul(power[..., lo:hi], m) for lo, hi, m in self._mel], -1)
        return tf.math.log(mel + cfg.log_floor)


def log_mel_tf(y: np.ndarray, *, config: FeatureConfig = DEFAULT_FEATURES) -> np.ndarray:
    """Run :class:`LogMelFrontend` eagerly on NumPy audio.

    Parameters
    ----------
    y : np.ndarray [shape=(n,) or (batch, n)], float, already validated
    config : FeatureConfig

    Returns
    -------
    np.ndarray [shape=(frames, n_mels) or (batch, frames, n_mels)], float32
    """
    batch = np.atleast_2d(np.asarray(y, dtype=np.float32))
    out = LogMelFrontend(config)(tf.constant(batch)).numpy()
    return out[0] if np.ndim(y) == 1 else out
