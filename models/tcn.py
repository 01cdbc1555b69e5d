"""Dilated temporal convolutions without padding: the streaming model.

A TCN (Bai et al., "An Empirical Evaluation of Generic Convolutional and Recurrent Networks for
Sequence Modeling", 2018, arXiv 1803.01271): residual blocks of two dilated kernel-3 convolutions
with weight normalisation and ReLU, mels as channels, as in the dilated wake-word models of
Coucke et al. 2019 (arXiv 1811.07684) that compute incrementally on the device. Here: one kernel-3
convolution over the standardised log-mel frames, then four blocks with dilations 1, 2, 4, 8
(receptive field 63 frames, 1.28 s), and a global average over the positions left (12 of a
74-frame window).

Every convolution is ``valid`` (no padding) with stride 1, so a position's value depends on its
receptive field only, never on where the window starts: a streaming model that keeps each
convolution's last ``(kernel - 1) * dilation`` inputs and computes only the new frames gives the
same score as this model on every window (:mod:`models.streaming`). Weight normalisation, not layer
normalisation: it needs no op at inference, so the streaming file is convolutions, adds and state
buffers. About 17k parameters at width 1.0.
"""

from __future__ import annotations

from models.layers import channels, head, initializer, standardize

NAME = "tcn"
DESCRIPTION = "dilated TCN (valid convolutions, streams frame by frame), ~17k parameters"
PAPER = "Bai et al. 2018, arXiv 1803.01271"
KERNEL = 3  # every temporal convolution
DILATIONS = (1, 2, 4, 8)  # one residual block of two convolutions each: receptive field 63 frames
BASE_CHANNELS = 24  # at width 1.0: the int8 streaming file fits in 48 KB (32 channels: 61 KB)
BRANCH_GAIN = 0.1  # a block's second convolution starts at a tenth of its initial scale (see build)


def receptive_field() -> int:
    """Frames one output position sees (the input convolution plus every block)."""
    return KERNEL + 2 * (KERNEL - 1) * sum(DILATIONS)


def _conv(c: int, dilation: int, *, seed: int | None, index: int, name: str, gain: float = 1.0):
    from models.layers import weight_norm_conv_class

    return weight_norm_conv_class()(
        c,
        KERNEL,
        dilation_rate=dilation,
        activation="relu",
        kernel_initializer=initializer(seed, index),
        gain=gain,
        name=name,
    )


def build(input_shape: tuple[int, int], *, width: float = 1.0, dropout: float = 0.1, seed: int | None = None):
    """Classifier ``(frames, n_mels) -> (1,)`` probability; see the module docstring.

    Without activation normalisation a residual stack's scale grows block by block (He
    initialisation keeps each branch's variance, the shortcut adds it up) and the sigmoid starts
    saturated; each block's branch therefore starts small (:data:`BRANCH_GAIN`, like zero-init
    residuals, Goyal et al. 2017), so the untrained model starts near its input convolution.

    Layer names (``conv_in``, ``conv_<block>a``, ``conv_<block>b``, ``add_<block>``) are what the
    streaming form (:func:`stream_body`) reads.
    """
    import tensorflow as tf

    frames = input_shape[0]
    if frames is not None and frames < receptive_field():
        raise ValueError(f"{NAME} needs windows of >= {receptive_field()} frames, got {frames}")
    c = channels(BASE_CHANNELS, width)
    feats = tf.keras.Input(shape=input_shape, name="log_mel")
    x = _conv(c, 1, seed=seed, index=0, name="conv_in")(standardize(feats))
    for i, d in enumerate(DILATIONS):
        y = _conv(c, d, seed=seed, index=10 * i + 1, name=f"conv_{i}a")(x)
        y = _conv(c, d, seed=seed, index=10 * i + 2, name=f"conv_{i}b", gain=BRANCH_GAIN)(y)
        shortcut = tf.keras.layers.Cropping1D((2 * (KERNEL - 1) * d, 0), name=f"crop_{i}")(x)
        x = tf.keras.layers.ReLU(name=f"relu_{i}")(tf.keras.layers.Add(name=f"add_{i}")([y, shortcut]))
    return tf.keras.Model(feats, head(x, dropout=dropout, seed=seed, index=99), name=NAME)


# --- streaming form (models.streaming) -----------------------------------------------------------


def _convolutions(classifier) -> list:
    return [classifier.get_layer("conv_in")] + [
        classifier.get_layer(f"conv_{i}{part}") for i in range(len(DILATIONS)) for part in "ab"
    ]


def stream_state_shapes(classifier) -> dict[str, tuple[int, int, int, int]]:
    """Each convolution's state: its last ``(KERNEL - 1) * dilation`` input positions, as
    ``(1, 1, positions, channels)`` (time on axis 2: the layout of TFLite's CONV_2D, no reshapes)."""
    return {
        conv.name: (1, 1, (KERNEL - 1) * conv.dilation_rate[0], int(conv.kernel.shape[1]))
        for conv in _convolutions(classifier)
    }


def stream_body(classifier, feats, states: dict) -> tuple:
    """The new log-mel frames ``(1, n, mels)`` and the states in; the last block's ``n`` new
    positions ``(1, 1, n, channels)`` and the new states out.

    The classifier's own weights; each convolution runs on its state followed by the new positions,
    which gives exactly its new outputs (valid padding), and a block's shortcut is its new input
    positions themselves.
    """
    layer = classifier.get_layer
    new = {}

    def conv(name: str, x):
        full, new[name] = _extend(states[name], x)
        return _conv2d(layer(name), full)

    x = conv("conv_in", layer("standardize")(feats)[:, None])
    for i in range(len(DILATIONS)):
        y = conv(f"conv_{i}b", conv(f"conv_{i}a", x))
        x = layer(f"relu_{i}")(layer(f"add_{i}")([y, x]))
    return x, new


def _conv2d(conv, x):
    """Keras convolution ``conv`` (valid, stride 1, ReLU) on ``(1, 1, time, channels)`` maps."""
    import tensorflow as tf

    kernel = conv.effective_kernel()[None]
    y = tf.nn.conv2d(x, kernel, strides=1, padding="VALID", dilations=(1, conv.dilation_rate[0]))
    return tf.nn.relu(tf.nn.bias_add(y, conv.bias))


def _extend(state, x):
    """``state`` followed by ``x`` along time, and the new state (the last ``len(state)`` of it)."""
    import tensorflow as tf

    full = tf.concat([state, x], axis=2)
    return full, full[:, :, full.shape[2] - state.shape[2] :]
