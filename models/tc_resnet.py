"""TC-ResNet: temporal convolutions over time with mel bands as channels (the temporal model).

Choi et al., "Temporal Convolution for Real-time Keyword Spotting on Mobile Devices", Interspeech
2019 (arXiv 1904.03814). TC-ResNet8 layout (16, 24, 32, 48 channels, kernel 9, stride-2 residual
blocks); at width 0.75 (the default here) about 38k parameters.
"""

from __future__ import annotations

from models.layers import channels, head, initializer, norm, standardize

NAME = "tc_resnet"
DESCRIPTION = "TC-ResNet8 temporal convolutions (mels as channels), ~37k parameters"
PAPER = "Choi et al. 2019, arXiv 1904.03814"
DEFAULT_WIDTH = 0.75


def _block(x, c: int, *, seed: int | None, index: int):
    """Residual block: two kernel-9 convolutions (the first with stride 2), 1x1 shortcut."""
    import tensorflow as tf

    shortcut = tf.keras.layers.Conv1D(
        c, 1, strides=2, use_bias=True, kernel_initializer=initializer(seed, index)
    )(x)
    shortcut = tf.keras.layers.ReLU()(norm(shortcut))
    y = tf.keras.layers.Conv1D(
        c, 9, strides=2, padding="same", use_bias=True, kernel_initializer=initializer(seed, index + 1)
    )(x)
    y = tf.keras.layers.ReLU()(norm(y))
    y = tf.keras.layers.Conv1D(
        c, 9, padding="same", use_bias=True, kernel_initializer=initializer(seed, index + 2)
    )(y)
    return tf.keras.layers.ReLU()(norm(tf.keras.layers.Add()([y, shortcut])))


def build(input_shape: tuple[int, int], *, width: float = 1.0, dropout: float = 0.1, seed: int | None = None):
    """Classifier ``(frames, n_mels) -> (1,)`` probability; see the module docstring."""
    import tensorflow as tf

    width *= DEFAULT_WIDTH
    feats = tf.keras.Input(shape=input_shape, name="log_mel")
    x = tf.keras.layers.Conv1D(
        channels(16, width), 3, padding="same", use_bias=True, kernel_initializer=initializer(seed, 0)
    )(standardize(feats))
    x = tf.keras.layers.ReLU()(norm(x))
    for i, base in enumerate((24, 32, 48)):
        x = _block(x, channels(base, width), seed=seed, index=10 * (i + 1))
    return tf.keras.Model(feats, head(x, dropout=dropout, seed=seed, index=99), name=NAME)
