"""A temporal head on Google's frozen speech embedding: dilated convolutions over its 16 frames.

:mod:`models.speech_dnn` flattens the window, so its first layer must learn the phrase's order
from scratch for every position. Here three kernel-3 convolutions without padding, dilations 1, 2
and 4 (receptive field 15 of the 16 embeddings), each followed by ReLU, look at neighbouring
embeddings first; the 2 positions left are flattened into one sigmoid unit (a temporal
convolutional network, Bai et al. 2018). About 28k parameters at width 1.0, a quarter of
speech_dnn's.

No normalisation layer: normalising each position over its channels divided the float noise of
near-silent positions (TFLite's frontend differs from TF's by ~1e-4) by a tiny standard deviation
(an untrained model's export differed from Keras by 9e-3), and without it the head read better on
real clips too (measured on openWakeWord's features: 15.8% missed at 1 FA/h against 21.4% with layer
normalisation). Window, streaming form (one embedding per 80 ms stride, the last 15 kept as state)
and export are :mod:`models.speech_dnn`'s.
"""

from __future__ import annotations

from models.layers import channels, initializer, probability
from models.speech_dnn import (  # noqa: F401 (the registry and streaming read them from this module)
    FEATURES,
    INT8_REFUSED,
    QUANTIZE,
    STREAM_SCORES,
    stream_body,
    stream_state_shapes,
    window,
)

NAME = "speech_tcn"
DESCRIPTION = "dilated convolutions over the frozen speech embedding's 16 frames, ~28k parameters"
PAPER = "Lin et al. 2020, arXiv 2002.01322; Bai et al. 2018, arXiv 1803.01271"
KERNEL = 3  # every temporal convolution
DILATIONS = (1, 2, 4)  # receptive field 1 + 2 * (1 + 2 + 4) = 15 embeddings
CHANNELS = 48  # per convolution at width 1.0


def build(input_shape: tuple[int, int], *, width: float = 1.0, dropout: float = 0.1, seed: int | None = None):
    """Classifier ``(embeddings, 96) -> (1,)`` probability; see the module docstring."""
    import tensorflow as tf

    units = channels(CHANNELS, width)
    x = inputs = tf.keras.Input(shape=input_shape, name="features")
    for i, dilation in enumerate(DILATIONS):
        x = tf.keras.layers.Conv1D(
            units, KERNEL, dilation_rate=dilation, kernel_initializer=initializer(seed, i), name=f"conv_{i}"
        )(x)
        x = tf.keras.layers.ReLU(name=f"relu_{i}")(x)
    x = tf.keras.layers.Flatten(name="flatten")(x)
    return tf.keras.Model(inputs, probability(x, dropout=dropout, seed=seed, index=9), name=NAME)
