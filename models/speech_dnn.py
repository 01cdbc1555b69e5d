"""A small dense head on Google's frozen speech embedding: openWakeWord's design.

The frontend (:mod:`wakeword.tf_embedding`) turns audio into one 96-value embedding every 80 ms with
a network Google trained on real speech (Lin et al. 2020, arXiv 2002.01322: a head on it trained on
synthetic speech alone matched 500+ real examples). This module is only the trainable part: the 16
embeddings of a 1.98 s window, flattened, two dense layers of 64 with layer normalisation and ReLU,
one sigmoid unit (openWakeWord's "DNN" head, Scripka 2023). About 103k parameters; the frozen
embedding adds 330k that are never trained, federated or not.

Its window is :func:`window` (the model's features decide it, see :func:`models.registry.window_for`);
it streams (:mod:`models.streaming`): one new embedding per 80 ms stride, the last 15 kept as state.
"""

from __future__ import annotations

from models.layers import FRONTEND_LAYER, channels, initializer, probability
from wakeword.features import EMBEDDING_FEATURES

NAME = "speech_dnn"
DESCRIPTION = "dense head on the frozen speech embedding (openWakeWord's design), ~103k parameters"
PAPER = "Lin et al. 2020, arXiv 2002.01322"
FEATURES = EMBEDDING_FEATURES  # the model reads embeddings, not log-mel frames
EMBEDDINGS = 16  # per window: 1.98 s of audio, one new embedding per 80 ms stride
HIDDEN = 64  # units of each dense layer at width 1.0
QUANTIZE = "float16"  # what `wakeword export` writes by default: half-size weights, float compute
INT8_REFUSED = (  # measured: an int8 head differs from float by up to 0.89 in probability
    "does not quantize to int8 (its first dense layer's outputs span +-300 before layer "
    "normalisation, too wide for 8 bits)"
)
STREAM_SCORES = True  # the streaming body scores the window itself (models.streaming)
FRAMES_STATE = "frames"  # the streaming state: the window's embeddings before the new one


def window():
    """The detector window of this model: :data:`EMBEDDINGS` embeddings, one stride per embedding."""
    from wakeword.window import WindowConfig

    samples = (EMBEDDINGS - 1) * FEATURES.hop_length + FEATURES.n_fft
    return WindowConfig(seconds=samples / FEATURES.sample_rate, stride_ms=FEATURES.hop_ms, features=FEATURES)


def build(input_shape: tuple[int, int], *, width: float = 1.0, dropout: float = 0.1, seed: int | None = None):
    """Classifier ``(embeddings, 96) -> (1,)`` probability; see the module docstring."""
    import tensorflow as tf

    units = channels(HIDDEN, width)
    x = inputs = tf.keras.Input(shape=input_shape, name="features")
    x = tf.keras.layers.Flatten(name="flatten")(x)
    for i in range(2):
        x = tf.keras.layers.Dense(units, kernel_initializer=initializer(seed, i), name=f"dense_{i}")(x)
        x = tf.keras.layers.LayerNormalization(name=f"norm_{i}")(x)
        x = tf.keras.layers.ReLU(name=f"relu_{i}")(x)
    return tf.keras.Model(inputs, probability(x, dropout=dropout, seed=seed, index=9), name=NAME)


def stream_state_shapes(classifier) -> dict[str, tuple[int, int, int]]:
    """The streaming state: the last ``EMBEDDINGS - 1`` embeddings ``(1, 15, 96)``."""
    frames, size = classifier.input_shape[1], classifier.input_shape[2]
    return {FRAMES_STATE: (1, frames - 1, size)}


def stream_body(classifier, feats, states: dict) -> tuple:
    """The stride's new embedding ``(1, 1, 96)`` and the state in; the window's score ``(1, 1)``
    and the new state out. The embedding is the costly part and is computed once per stride; the
    head (a few matrix products) runs on the whole window."""
    import tensorflow as tf

    with tf.name_scope(FRONTEND_LAYER):  # float in an int8 file, as the embeddings are
        window = tf.concat([states[FRAMES_STATE], feats], axis=1)
        rest = window[:, 1:]
    return classifier(window), {FRAMES_STATE: rest}
