"""Every registered model: builds, is seeded, trains a few steps. (Each converts to TFLite, float
within 1e-4 of Keras and int8, through the real export in tests/orchestrator/test_export.py.)"""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from models import DEFAULT_MODEL, MODELS, build_model
from models.registry import window_for
from wakeword.errors import ParameterError
from wakeword.window import DEFAULT_WINDOW

SHAPE = (DEFAULT_WINDOW.frames, DEFAULT_WINDOW.features.n_mels)
BUDGET = {"log_mel": 60_000, "speech_embedding": 110_000}  # parameters (heads on the embedding:
# openWakeWord's is ~103k; the frozen embedding's own 330k are not trained)


def shape_of(name: str) -> tuple[int, int]:
    """The input of a model: its own window's frames and feature size."""
    window = window_for(name)
    return window.frames, window.features.n_mels


def test_default_model_is_within_budget():
    assert build_model(DEFAULT_MODEL, shape_of(DEFAULT_MODEL), seed=0).count_params() <= 110_000


def test_unknown_model():
    with pytest.raises(ParameterError, match="`model` must be one of"):
        build_model("transformer", SHAPE)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_builds_and_same_seed_same_weights(name):
    shape = shape_of(name)
    a, b = build_model(name, shape, seed=3), build_model(name, shape, seed=3)
    assert a.output_shape == (None, 1)
    assert a.count_params() <= BUDGET[window_for(name).features.kind]
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_array_equal(wa, wb)
    for module in (MODELS[name],):
        assert name == module.NAME and module.DESCRIPTION and module.PAPER


@pytest.mark.parametrize("name", sorted(MODELS))
def test_trains_a_few_steps(name, rng):
    model = build_model(name, SHAPE, seed=1, dropout=0.0)
    x = rng.normal(-6, 2, size=(64, *SHAPE)).astype(np.float32)
    y = (rng.uniform(size=(64, 1)) < 0.5).astype(np.float32)
    x[y[:, 0] == 1, 30:40, 5:15] += 4.0  # a spectral pattern: low bands for positives...
    x[y[:, 0] == 0, 30:40, 25:35] += 4.0  # ...high bands for negatives, same energy
    model.compile(tf.keras.optimizers.Adam(3e-3), "binary_crossentropy")
    # no shuffling: fit would draw the order from an unseeded generator (this test once flaked)
    losses = model.fit(x, y, epochs=12, batch_size=16, shuffle=False, verbose=0).history["loss"]
    assert losses[-1] < losses[0] - 0.05, losses  # it learns (LayerNorm DS-CNN is the slowest)


def test_channel_norm_fast_gradient_matches_autodiff(rng):
    from models.channel_norm import normalize, normalize_fast_grad

    x = tf.constant(rng.normal(0.5, 2.0, size=(4, 7, 5, 16)).astype(np.float64))
    dy = tf.constant(rng.normal(size=(4, 7, 5, 16)))
    grads, values = [], []
    for fn in (normalize, normalize_fast_grad):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = fn(x, 1e-3)
            loss = tf.reduce_sum(y * dy)
        values.append(y.numpy())
        grads.append(tape.gradient(loss, x).numpy())
    np.testing.assert_allclose(values[1], values[0], atol=1e-12)
    np.testing.assert_allclose(grads[1], grads[0], atol=1e-10)
    assert np.abs(grads[0]).max() > 0.1  # a real gradient, not zeros on both sides
    fast = {
        n: [layer.fast_grad for layer in build_model(n, SHAPE).layers if hasattr(layer, "fast_grad")]
        for n in MODELS
    }
    assert all(fast["ds_cnn"]) and all(fast["tiny_cnn"]) and not any(fast["tc_resnet"])
