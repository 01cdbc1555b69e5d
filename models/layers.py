"""Small building blocks shared by the model modules."""

from __future__ import annotations

import tensorflow as tf


def initializer(seed: int | None, index: int):
    """A Glorot-uniform initialiser, seeded per layer so a seed fixes the whole model."""
    return tf.keras.initializers.GlorotUniform(seed=None if seed is None else seed * 1000 + index)


def channels(base: int, width: float) -> int:
    """Channel count scaled by ``width`` (at least 4)."""
    return max(4, round(base * width))


def head(x, *, dropout: float, seed: int | None, index: int):
    """Global average pooling, dropout, one sigmoid unit: the wake-word probability."""
    x = (
        tf.keras.layers.GlobalAveragePooling2D()(x)
        if len(x.shape) == 4
        else tf.keras.layers.GlobalAveragePooling1D()(x)
    )
    if dropout:
        x = tf.keras.layers.Dropout(dropout, seed=seed)(x)
    return tf.keras.layers.Dense(
        1, activation="sigmoid", kernel_initializer=initializer(seed, index), name="probability"
    )(x)
