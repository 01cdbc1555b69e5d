"""Small building blocks shared by the model modules."""

from __future__ import annotations

# Log-mel features span about [-11.5, 4] (log floor to loud speech); standardised with fixed
# constants, so no layer keeps running statistics. (Federated averaging in TFF aggregates trainable
# weights only: BatchNorm's moving averages would never leave their initial values on the server,
# so the models use layer normalisation, see `norm`.)
LOGMEL_MEAN = -6.0
LOGMEL_STD = 3.0


def initializer(seed: int | None, index: int):
    """A He-uniform initialiser (ReLU networks without normalisation), seeded per layer so a seed
    fixes the whole model."""
    import tensorflow as tf

    return tf.keras.initializers.HeUniform(seed=None if seed is None else seed * 1000 + index)


def norm(x):
    """Layer normalisation over channels: trainable scale and offset only, no running statistics,
    so it behaves the same in federated averaging, central training and on the device."""
    return channel_norm_class()()(x)


_CHANNEL_NORM = None


def channel_norm_class():
    """The :class:`ChannelNorm` Keras layer class (defined on first use: TensorFlow loads lazily).

    Same maths as ``tf.keras.layers.LayerNormalization(axis=-1)``, written as plain ops (mean,
    squared difference, rsqrt, multiply-add) because Keras' fused implementation converts to ~25
    TFLite ops per layer (shape, fill, transpose, ...) and to a third of the exported file.
    """
    global _CHANNEL_NORM
    if _CHANNEL_NORM is not None:
        return _CHANNEL_NORM
    import tensorflow as tf

    @tf.keras.utils.register_keras_serializable(package="wakeword")
    class ChannelNorm(tf.keras.layers.Layer):
        """Normalise over the last axis: ``(x - mean) / sqrt(var + epsilon) * gamma + beta``."""

        def __init__(self, epsilon: float = 1e-3, **kwargs) -> None:
            super().__init__(**kwargs)
            self.epsilon = epsilon

        def build(self, input_shape) -> None:
            channels = int(input_shape[-1])
            self.gamma = self.add_weight(name="gamma", shape=(channels,), initializer="ones")
            self.beta = self.add_weight(name="beta", shape=(channels,), initializer="zeros")
            super().build(input_shape)

        def call(self, x):
            mean = tf.reduce_mean(x, axis=-1, keepdims=True)
            var = tf.reduce_mean(tf.math.squared_difference(x, mean), axis=-1, keepdims=True)
            return (x - mean) * tf.math.rsqrt(var + self.epsilon) * self.gamma + self.beta

        def get_config(self) -> dict:
            return {**super().get_config(), "epsilon": self.epsilon}

    _CHANNEL_NORM = ChannelNorm
    return ChannelNorm


def standardize(x):
    """Fixed input standardisation of log-mel features (constants, no statistics)."""
    import tensorflow as tf

    return tf.keras.layers.Rescaling(1.0 / LOGMEL_STD, offset=-LOGMEL_MEAN / LOGMEL_STD, name="standardize")(
        x
    )


def channels(base: int, width: float) -> int:
    """Channel count scaled by ``width`` (at least 4)."""

    return max(4, round(base * width))


def head(x, *, dropout: float, seed: int | None, index: int):
    """Global average pooling, dropout, one sigmoid unit: the wake-word probability."""
    import tensorflow as tf

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
