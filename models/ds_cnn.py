"""Depthwise-separable CNN (DS-CNN).

Zhang et al., "Hello Edge: Keyword Spotting on Microcontrollers", arXiv 1711.07128 (2017): a
regular convolution over the log-mel "image", then blocks of depthwise 3x3 + pointwise 1x1
convolutions, global average pooling. The first convolution strides 2 in time and 4 in frequency
(40 mel bands -> 10, the resolution of Hello Edge's 10 MFCCs). Layer normalisation instead of batch
normalisation (see models.layers). About 23k parameters at width 1.0 (64 channels, 4 blocks).
"""

from __future__ import annotations

from models.layers import channels, head, initializer, norm, standardize

NAME = "ds_cnn"
DESCRIPTION = "depthwise-separable CNN (Hello Edge), ~23k parameters"
PAPER = "Zhang et al. 2017, arXiv 1711.07128"


def build(input_shape: tuple[int, int], *, width: float = 1.0, dropout: float = 0.1, seed: int | None = None):
    """Classifier ``(frames, n_mels) -> (1,)`` probability; see the module docstring."""
    import tensorflow as tf

    c = channels(64, width)
    feats = tf.keras.Input(shape=input_shape, name="log_mel")
    x = tf.keras.layers.Reshape((*input_shape, 1))(standardize(feats))
    x = tf.keras.layers.Conv2D(
        c, (10, 4), strides=(2, 4), padding="same", use_bias=True, kernel_initializer=initializer(seed, 0)
    )(x)
    x = tf.keras.layers.ReLU()(norm(x, fast_grad=True))
    for block in range(4):
        x = tf.keras.layers.DepthwiseConv2D(
            3, padding="same", use_bias=True, depthwise_initializer=initializer(seed, 10 + block)
        )(x)
        x = tf.keras.layers.ReLU()(norm(x, fast_grad=True))
        x = tf.keras.layers.Conv2D(c, 1, use_bias=True, kernel_initializer=initializer(seed, 20 + block))(x)
        x = tf.keras.layers.ReLU()(norm(x, fast_grad=True))
    return tf.keras.Model(feats, head(x, dropout=dropout, seed=seed, index=99), name=NAME)
