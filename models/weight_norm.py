"""A temporal convolution with weight normalisation (imports TensorFlow: load it lazily)."""

from __future__ import annotations

import tensorflow as tf


@tf.keras.utils.register_keras_serializable(package="wakeword")
class WeightNormConv1D(tf.keras.layers.Conv1D):
    """``Conv1D`` whose kernel is ``g * v / ||v||``, the norm per output channel over the taps and
    input channels (Salimans & Kingma 2016, arXiv 1602.07868; the TCN of Bai et al. 2018).

    It normalises weights, not activations: no statistics and no extra op at inference (the
    converter folds the kernel into one constant), so a residual stack of these trains without
    layer normalisation and exports as bare convolutions. ``g`` starts at ``gain * ||v||``: the
    initial kernel is the initialiser's times ``gain`` (a residual branch starts small with
    ``gain < 1``, so a deep stack starts near its shortcut path instead of saturating).
    """

    def __init__(self, *args, gain: float = 1.0, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.gain = gain

    def build(self, input_shape) -> None:
        # g's initial value is computed from the kernel's initial value tensor, not read from the
        # variable: that works in graph mode too (TFF builds the model inside a graph).
        initializer, initial = self.kernel_initializer, {}

        def kernel_init(shape, dtype=None, **kwargs):
            initial["kernel"] = initializer(shape, dtype=dtype, **kwargs)
            return initial["kernel"]

        def g_init(shape, dtype=None, **kwargs):
            flat = tf.reshape(initial["kernel"], (-1, self.filters))
            return tf.cast(self.gain * tf.norm(flat, axis=0), dtype or flat.dtype)

        self.kernel_initializer = kernel_init
        try:
            super().build(input_shape)
        finally:
            self.kernel_initializer = initializer
        self.g = self.add_weight(name="g", shape=(self.filters,), initializer=g_init)

    def get_config(self) -> dict:
        return {**super().get_config(), "gain": self.gain}

    def effective_kernel(self):
        """The kernel the convolution uses, ``(taps, in_channels, filters)``."""
        flat = tf.reshape(self.kernel, (-1, self.filters))
        return tf.reshape(self.g * flat / tf.norm(flat, axis=0), tf.shape(self.kernel))

    def call(self, inputs):
        y = self.convolution_op(inputs, self.effective_kernel())
        if self.use_bias:
            y = tf.nn.bias_add(y, self.bias)
        return self.activation(y) if self.activation is not None else y
