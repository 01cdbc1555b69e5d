"""The part of a model a phone trains (:mod:`orchestrator.export_trainable`): its output unit and,
where the model has one, the hidden block before it, with their gradients written out in builtin
TensorFlow ops (TFLite converts them without Flex ops; no tape).

A model's *tail* is found from its layers: the sigmoid unit ``probability`` and, if the layers
before it are ``Dense -> LayerNormalization -> ReLU`` (speech_dnn's blocks), that block too. The
*features* a phone computes once per window are the tail's input (the frozen body's output).

Weights are a dict ``name -> array``; the loss is the mean binary cross-entropy plus
:data:`L2_TO_BASE` / 2 times the squared distance of every weight to its shipped value (a few takes
cannot pull the model far).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = [
    "BLOCK_WEIGHTS",
    "L2_TO_BASE",
    "OUTPUT_WEIGHTS",
    "TRAIN_LAYERS",
    "Tail",
    "find_tail",
    "set_trainable",
    "tail_logits",
    "tail_step",
]

L2_TO_BASE = 0.01  # weight of 0.5 * ||weights - shipped||^2 in the loss
OUTPUT_WEIGHTS = ("kernel", "bias")  # the sigmoid unit: (C, 1), (1,)
BLOCK_WEIGHTS = ("hidden_kernel", "hidden_bias", "gamma", "beta")  # Dense (C, H), (H,); norm (H,), (H,)
TRAIN_LAYERS = ("all", "tail")  # what federated training may update


@dataclass(frozen=True)
class Tail:
    """What a phone trains: ``weights`` (shipped values, float32) and the body's output tensor."""

    features: object  # the Keras tensor the tail reads (the frozen body's output)
    weights: dict  # name -> np.ndarray, OUTPUT_WEIGHTS and, with a block, BLOCK_WEIGHTS
    epsilon: float = 0.0  # the block's layer-normalisation epsilon (0: no block)
    layers: tuple[str, ...] = ("probability",)  # names of the Keras layers holding the weights

    @property
    def channels(self) -> int:
        """Width of the features the tail reads."""
        first = self.weights.get("hidden_kernel", self.weights["kernel"])
        return int(first.shape[0])


def find_tail(classifier, *, block: bool = True) -> Tail:
    """The output unit ``probability`` and, if ``block`` and the model has one right before it
    (through an optional dropout), its ``Dense -> LayerNormalization -> ReLU`` block."""
    import tensorflow as tf

    unit = classifier.get_layer("probability")
    kernel, bias = (np.asarray(v, np.float32) for v in unit.get_weights())
    weights = {"kernel": kernel, "bias": bias}
    x = unit.input
    while isinstance(_producer(x), tf.keras.layers.Dropout):
        x = _producer(x).input
    chain = [_producer(x)]
    for _ in range(2):
        chain.append(_producer(chain[-1].input))
    relu, norm, dense = chain
    is_block = (
        isinstance(relu, tf.keras.layers.ReLU)
        and isinstance(norm, tf.keras.layers.LayerNormalization)
        and isinstance(dense, tf.keras.layers.Dense)
        and dense.get_config()["activation"] == "linear"
        and dense.use_bias and norm.center and norm.scale
    )  # fmt: skip
    if not (block and is_block):
        return Tail(features=x, weights=weights)
    values = [*dense.get_weights(), *norm.get_weights()]
    weights.update({name: np.asarray(v, np.float32) for name, v in zip(BLOCK_WEIGHTS, values)})
    layers = (dense.name, norm.name, "probability")
    return Tail(features=dense.input, weights=weights, epsilon=float(norm.epsilon), layers=layers)


def set_trainable(classifier, which: str) -> None:
    """Make ``which`` of ``classifier``'s layers trainable, in place: ``"all"``, or ``"tail"`` (the
    layers of :func:`find_tail`, every other layer frozen)."""
    keep = set(find_tail(classifier).layers) if which == "tail" else None
    for layer in classifier.layers:
        layer.trainable = keep is None or layer.name in keep


def _producer(tensor):
    """The Keras layer that made ``tensor``."""
    return tensor._keras_history.layer  # Keras has no public accessor for it


def _block(features, w: dict, epsilon: float):
    """The hidden block's forward pass: ``(relu output, pre-activation, normalised, 1/std)``."""
    import tensorflow as tf

    h = features @ w["hidden_kernel"] + w["hidden_bias"]
    centred = h - tf.reduce_mean(h, axis=-1, keepdims=True)
    inv_std = tf.math.rsqrt(tf.reduce_mean(centred * centred, axis=-1, keepdims=True) + epsilon)
    normal = centred * inv_std
    y = w["gamma"] * normal + w["beta"]
    return tf.nn.relu(y), y, normal, inv_std


def tail_logits(features, w: dict, epsilon: float):
    """Logits ``(n, 1)`` of the tail with weights ``w`` for ``features`` ``(n, C)``."""
    if "hidden_kernel" in w:
        features = _block(features, w, epsilon)[0]
    return features @ w["kernel"] + w["bias"]


def tail_step(features, labels, w: dict, base: dict, epsilon: float) -> tuple:
    """Loss and gradients ``(loss, {name: gradient})`` of the tail at ``w`` for a batch
    ``features`` ``(n, C)``, ``labels`` ``(n, 1)`` in {0, 1}; ``base`` holds the shipped weights.
    TensorFlow ops only; equal to what a gradient tape gives (tests)."""
    import tensorflow as tf

    hidden = "hidden_kernel" in w
    x = _block(features, w, epsilon) if hidden else (features,)
    logits = x[0] @ w["kernel"] + w["bias"]
    bce = tf.reduce_mean(tf.nn.relu(logits) - logits * labels + tf.math.log1p(tf.exp(-tf.abs(logits))))
    delta = {name: w[name] - base[name] for name in w}
    loss = bce + 0.5 * L2_TO_BASE * tf.add_n([tf.reduce_sum(d * d) for d in delta.values()])
    error = (tf.sigmoid(logits) - labels) / float(features.shape[0])
    grads = {"kernel": tf.transpose(x[0]) @ error, "bias": tf.reduce_sum(error, axis=0)}
    if hidden:
        _, y, normal, inv_std = x
        dy = (error @ tf.transpose(w["kernel"])) * tf.cast(y > 0, tf.float32)
        grads["gamma"] = tf.reduce_sum(dy * normal, axis=0)
        grads["beta"] = tf.reduce_sum(dy, axis=0)
        dn = dy * w["gamma"]
        mean_dn = tf.reduce_mean(dn, axis=-1, keepdims=True)
        mean_dn_n = tf.reduce_mean(dn * normal, axis=-1, keepdims=True)
        dh = inv_std * (dn - mean_dn - normal * mean_dn_n)
        grads["hidden_kernel"] = tf.transpose(features) @ dh
        grads["hidden_bias"] = tf.reduce_sum(dh, axis=0)
    return loss, {name: grads[name] + L2_TO_BASE * delta[name] for name in w}
