"""A tiny plain CNN: three 3x3 convolutions with pooling (the smallest, fastest model).

In the spirit of the "cnn-trad-fpool3"/"tiny_conv" baselines (Sainath & Parada, "Convolutional
Neural Networks for Small-footprint Keyword Spotting", Interspeech 2015; TensorFlow's micro_speech
tiny_conv). About 15k parameters at width 1.0, the smallest model.
"""

from __future__ import annotations

from models.layers import channels, head, initializer, norm, standardize

NAME = "tiny_cnn"
DESCRIPTION = "three-layer CNN with pooling, ~15k parameters, the smallest"
PAPER = "Sainath & Parada 2015 (Interspeech); TF micro_speech tiny_conv"


def build(input_shape: tuple[int, int], *, width: float = 1.0, dropout: float = 0.1, seed: int | None = None):
    """Classifier ``(frames, n_mels) -> (1,)`` probability; see the module docstring."""
    import tensorflow as tf

    feats = tf.keras.Input(shape=input_shape, name="log_mel")
    x = tf.keras.layers.Reshape((*input_shape, 1))(standardize(feats))
    for i, base in enumerate((8, 16, 32)):
        x = tf.keras.layers.Conv2D(
            channels(base, width), 3, padding="same", use_bias=True, kernel_initializer=initializer(seed, i)
        )(x)
        x = tf.keras.layers.ReLU()(norm(x, fast_grad=True))
        x = tf.keras.layers.MaxPool2D(2)(x)
    x = tf.keras.layers.Conv2D(
        channels(32, width), 3, padding="same", use_bias=True, kernel_initializer=initializer(seed, 9)
    )(x)
    x = tf.keras.layers.ReLU()(norm(x, fast_grad=True))
    return tf.keras.Model(feats, head(x, dropout=dropout, seed=seed, index=99), name=NAME)
