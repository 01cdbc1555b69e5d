"""A phone's detection counts (TensorFlow, on the device) against the detector's NumPy rules."""

from __future__ import annotations

import numpy as np

from device_client.detection_counts import _events, _smooth
from wakeword.detector import detection_events, smooth


def test_events_and_smoothing_follow_the_detector(rng):
    import tensorflow as tf

    scores = rng.random(300) ** 3
    thresholds = np.array([0.0, 0.2, 0.5, 0.9, 1.0])
    smoothed = _smooth(tf.constant(scores), 3).numpy()
    np.testing.assert_allclose(smoothed, smooth(scores, 3), rtol=1e-12)
    counted = _events(tf.constant(smoothed), tf.constant(thresholds), 15).numpy()
    expected = [detection_events(smoothed, t, 15).size for t in thresholds]
    np.testing.assert_array_equal(counted, expected)
    assert counted[0] == 20 and counted[-1] == 0  # every 15th window at 0; nothing reaches 1
    assert _events(tf.zeros([0], tf.float64), tf.constant(thresholds), 15).numpy().tolist() == [0] * 5
