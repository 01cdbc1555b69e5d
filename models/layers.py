"""Small building blocks shared by the model modules."""

from __future__ import annotations

# Log-mel features span about [-11.5, 4] (log floor to loud speech); standardised with fixed
# constants, so no layer keeps running statistics. (Federated averaging in TFF aggregates trainable
# weights only: BatchNorm's moving averages would never leave their initial values on the server,
# so the models use layer normalisation, see `norm`.)
LOGMEL_MEAN = -6.0
LOGMEL_STD = 3.0


FRONTEND_LAYER = "log_mel"  # name of the frontend layer (log-mel or embedding) in a model taking audio,
# and the name scope of what stays float in an int8 file


def initializer(seed: int | None, index: int):
    """A He-uniform initialiser (ReLU networks without normalisation), seeded per layer so a seed
    fixes the whole model."""
    import tensorflow as tf

    return tf.keras.initializers.HeUniform(seed=None if seed is None else seed * 1000 + index)


def norm(x, *, fast_grad: bool = False):
    """Layer normalisation over channels: trainable scale and offset only, no running statistics,
    so it behaves the same in federated averaging, central training and on the device
    (``fast_grad``: closed-form gradient while training, see :class:`models.channel_norm.ChannelNorm`)."""
    return channel_norm_class()(fast_grad=fast_grad)(x)


def channel_norm_class():
    """The :class:`models.channel_norm.ChannelNorm` layer class (imported on first use: TensorFlow
    loads lazily); importing it registers it for loading saved models."""
    from models.channel_norm import ChannelNorm

    return ChannelNorm


def weight_norm_conv_class():
    """The :class:`models.weight_norm.WeightNormConv1D` layer class (imported on first use, like
    :func:`channel_norm_class`; importing it registers it for loading saved models)."""
    from models.weight_norm import WeightNormConv1D

    return WeightNormConv1D


def register_custom_layers() -> None:
    """Register every custom layer a saved model may refer to."""
    channel_norm_class()
    weight_norm_conv_class()


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
    return probability(x, dropout=dropout, seed=seed, index=index)


def probability(x, *, dropout: float, seed: int | None, index: int):
    """Dropout, then one sigmoid unit named ``probability`` (``(batch, n) -> (batch, 1)``)."""
    import tensorflow as tf

    if dropout:
        x = tf.keras.layers.Dropout(dropout, seed=seed)(x)
    return tf.keras.layers.Dense(
        1, activation="sigmoid", kernel_initializer=initializer(seed, index), name="probability"
    )(x)
