"""Layer normalisation over channels written as plain ops (imports TensorFlow: load it lazily)."""

from __future__ import annotations

import tensorflow as tf


@tf.keras.utils.register_keras_serializable(package="wakeword")
class ChannelNorm(tf.keras.layers.Layer):
    """Normalise over the last axis: ``(x - mean) / sqrt(var + epsilon) * gamma + beta``.

    Same maths as ``tf.keras.layers.LayerNormalization(axis=-1)``, written as plain ops (mean,
    squared difference, rsqrt, multiply-add) because Keras' fused implementation converts to ~25
    TFLite ops per layer (shape, fill, transpose, ...) and to a third of the exported file. Only
    trainable scale and offset, no running statistics: it behaves the same in federated averaging
    (which averages trainable weights only), central training and on the device.
    """

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
