"""The phone's data pipeline: feature cache lifecycle, windows, labels, padding, seeds."""

from __future__ import annotations

import numpy as np
import pytest

from device_client.pipeline import (
    AugmentConfig,
    PipelineConfig,
    cache_is_current,
    cache_path,
    clip_windows,
    ensure_feature_cache,
    window_dataset,
)
from device_client.store import PhoneStore
from tests.conftest import tone
from wakeword.window import DEFAULT_WINDOW

FLOOR = float(np.log(DEFAULT_WINDOW.features.log_floor))


@pytest.fixture
def store(tmp_path, rng):
    store = PhoneStore.create(tmp_path / "phone", phone_id="p")
    for i in range(3):  # positives: 0.3 s of noise, a 0.8 s "phrase", 0.3 s of noise
        audio = np.concatenate(
            [0.01 * rng.standard_normal(4800), tone(500 + 100 * i, 0.8), 0.01 * rng.standard_normal(4800)]
        )
        store.add(audio.astype(np.float32), label="positive", kind="phrase", span=(0.3, 1.1))
    for i in range(4):
        store.add(tone(2000 + 300 * i, 2.0, amplitude=0.2), label="negative", kind="speech")
    store.add(tone(300, 0.6), label="negative", kind="noise")  # shorter than a window
    store.add(tone(900, 1.0), label="negative", kind="soundalike")  # a hard negative
    return store


def windows(path, **kwargs):
    x, y = zip(*[(x.numpy(), y.numpy()) for x, y in clip_windows(str(path), **kwargs)])
    return np.stack(x), np.concatenate(y)


def test_cache_is_built_once_and_rebuilt_when_the_store_changes(store):
    path = ensure_feature_cache(store)
    assert path == cache_path(store) and cache_is_current(store)
    stamp = path.stat().st_mtime_ns
    assert ensure_feature_cache(store).stat().st_mtime_ns == stamp
    store.add(tone(700, 1.0), label="negative", kind="speech")
    assert not cache_is_current(store)
    ensure_feature_cache(store)
    assert cache_is_current(store)


def test_windows_counts_labels_and_shapes(store):
    config = PipelineConfig()
    x, y = windows(ensure_feature_cache(store), config=config, seed=1)
    positives, negatives, hard = 3, 5, 1
    assert x.shape == (
        positives * (config.positive_repeats + 1)
        + negatives * config.negative_repeats
        + hard * config.hard_negative_repeats,
        74,
        40,
    )
    assert y.sum() == positives * config.positive_repeats  # the mid-phrase windows are negatives
    assert np.isfinite(x).all()
    assert (x == FLOOR).all(axis=2).any()  # windows reaching before a clip start are silent there


def test_same_seed_same_windows(store):
    path = ensure_feature_cache(store)
    a, _ = windows(path, seed=5, augment=AugmentConfig())
    b, _ = windows(path, seed=5, augment=AugmentConfig())
    c, _ = windows(path, seed=6, augment=AugmentConfig())
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_training_windows_come_in_a_random_order_not_by_clip_kind(store):
    path = ensure_feature_cache(store)
    x, y = windows(path, seed=3)
    xs, ys = windows(path, seed=3, shuffle=True)
    first = 3 * (PipelineConfig().positive_repeats + 1)  # the 3 positive clips' windows
    assert y[:first].sum() == y.sum()  # the store's order: positive clips first...
    assert ys[:first].sum() < y.sum()  # ...shuffled: positives spread over all the windows
    # the same (window, label) pairs, permuted
    assert sorted(zip(map(bytes, x), y)) == sorted(zip(map(bytes, xs), ys))
    np.testing.assert_array_equal(windows(path, seed=3, shuffle=True)[0], xs)  # seeded


def test_batches_and_augmentation(store):
    path = str(ensure_feature_cache(store))
    plain = np.concatenate([x.numpy() for x, _ in window_dataset(path, seed=2, augment=None)])
    augmented = np.concatenate([x.numpy() for x, _ in window_dataset(path, seed=2, augment=AugmentConfig())])
    assert plain.shape == augmented.shape and np.isfinite(augmented).all()
    assert not np.allclose(plain, augmented)
    assert augmented.min() >= FLOOR - 1e-4  # gain and mixing stay in the mel-power domain


def test_mel_warp_moves_formants_and_keeps_identity():
    import tensorflow as tf

    from device_client.augment import warp_mel as _warp_mel

    x = np.zeros((3, 2, 40), np.float32)
    x[:, :, 20] = 1.0  # one "formant" at band 20
    y = _warp_mel(tf.constant(x), tf.constant([1.0, 1.1, 0.9])).numpy()
    np.testing.assert_array_equal(y[0], x[0])  # factor 1: unchanged
    assert np.argmax(y[1, 0]) == 22 and np.argmax(y[2, 0]) == 18  # 20 * 1.1, 20 * 0.9
    assert (y >= 0).all() and (y <= 1).all()  # interpolation, no overshoot


def test_channel_curve_is_a_bounded_smooth_colouring():
    """The microphone colouring: per example one gain per mel band, within +-2 x depth dB (tilt
    plus bump), smooth across bands, different per example, the same for the same seed."""
    import tensorflow as tf

    from device_client.augment import channel_curve as _channel_curve

    seed = tf.constant([3, 4], tf.int64)
    curve = _channel_curve(seed, 64, 40, 6.0).numpy()
    db = 10 * np.log10(curve)
    assert curve.shape == (64, 40)
    assert np.abs(db).max() <= 12.0 + 1e-4
    assert np.abs(np.diff(db, axis=1)).max() < 3.0  # neighbouring bands move together
    assert np.std(db[:, 0] - db[:, -1]) > 1.0  # tilts differ between examples
    np.testing.assert_array_equal(curve, _channel_curve(seed, 64, 40, 6.0).numpy())
