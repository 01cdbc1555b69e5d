"""Detector post-processing and metrics on hand-made score streams with known answers."""

from __future__ import annotations

import numpy as np
import pytest

from wakeword.detector import DetectorConfig, detection_events, smooth
from wakeword.metrics import (
    NegativeScores,
    PositiveScores,
    clip_accept_rate,
    fa_per_hour,
    false_accepts,
    false_reject_rate,
    operating_point,
    tail_operating_point,
)


def test_smooth_is_a_causal_moving_average():
    np.testing.assert_allclose(smooth(np.array([0, 0, 1, 1, 1.0]), 2), [0, 0, 0.5, 1, 1])
    np.testing.assert_allclose(smooth(np.array([3, 0, 0.0]), 3), [3, 1.5, 1])
    np.testing.assert_allclose(smooth(np.array([0.2, 0.4]), 1), [0.2, 0.4])


def test_events_once_per_refractory_period():
    s = np.array([0, 1, 1, 1, 0, 0, 1, 0, 0, 0, 1.0])
    np.testing.assert_array_equal(detection_events(s, 0.5, 3), [1, 6, 10])
    np.testing.assert_array_equal(detection_events(s, 0.5, 6), [1, 10])
    np.testing.assert_array_equal(detection_events(s, 0.5, 1), [1, 2, 3, 6, 10])
    assert detection_events(s, 1.5, 3).size == 0
    long_high = np.ones(100)
    assert detection_events(long_high, 0.5, 15).size == 7  # 0, 15, ..., 90


def test_refractory_windows_from_seconds():
    assert DetectorConfig(refractory_s=1.5).refractory_windows == 15  # 100 ms stride


def test_false_reject_rate():
    positives = [
        PositiveScores(np.array([0.1, 0.9, 0.2]), 0, 2),  # detected up to 0.9
        PositiveScores(np.array([0.95, 0.3, 0.3]), 1, 2),  # its peak is outside the range: 0.3
        PositiveScores(np.array([0.6, 0.6]), 0, 1),
    ]
    frr = false_reject_rate(positives, np.array([0.2, 0.5, 0.7, 0.95]))
    np.testing.assert_allclose(frr, [0, 1 / 3, 2 / 3, 1])


def test_false_accepts_per_hour():
    one_hour_two_events = NegativeScores(np.array([0, 0.8, 0.8, 0, 0, 0, 0.9, 0.0]), 1800.0)
    quiet = NegativeScores(np.zeros(10), 1800.0)
    negatives = [one_hour_two_events, quiet]
    thresholds = np.array([0.5, 0.85, 0.95])
    np.testing.assert_array_equal(false_accepts(negatives, thresholds, refractory=3), [2, 1, 0])
    np.testing.assert_allclose(fa_per_hour(negatives, thresholds, refractory=3), [2, 1, 0])
    np.testing.assert_allclose(clip_accept_rate(negatives, thresholds), [0.5, 0.5, 0])


def test_operating_point_is_the_lowest_threshold_meeting_the_target():
    thresholds = np.array([0.1, 0.3, 0.5, 0.7, 0.9])
    fa = np.array([10.0, 2.0, 0.5, 0.2, 0.0])
    assert operating_point(fa, thresholds, 0.5) == 0.5
    assert operating_point(fa, thresholds, 1.0) == 0.5
    assert operating_point(fa, thresholds, 100) == 0.1
    assert operating_point(np.array([5.0, 5.0]), np.array([0.1, 0.2]), 0.5) == pytest.approx(0.2)


def test_tail_operating_point_reads_the_fitted_tail_at_the_target():
    logit = np.linspace(-2, 8, 201)
    thresholds = 1 / (1 + np.exp(-logit))
    fa = 40.0 * np.exp(-(logit - 1.0))  # log FA/h falls by 1 per unit of logit: 40 FA/h at logit 1
    # a few clips beyond the tail (1 FA/h up to logit 7) pin the counted point
    fa_counted = np.where(logit < 4.0, fa, np.where(logit < 7.0, 1.0, 0.0))
    counted = operating_point(fa_counted, thresholds, 0.5)
    assert counted == pytest.approx(1 / (1 + np.exp(-7.0)), abs=1e-3)
    # where 0.5 FA/h lies on the fitted line: logit 1 + ln(80)
    tail = tail_operating_point(fa_counted, thresholds, 0.5, hours=3.0)
    expected = 1 + np.log(80)
    assert np.log(tail / (1 - tail)) == pytest.approx(expected, abs=0.06)  # the grid's step
    assert tail < counted
    # too few hours for the span to hold enough events, or a curve that does not fall: counted
    assert tail_operating_point(fa_counted, thresholds, 0.5, hours=1.0) == counted
    flat = np.where(logit < 7.0, 10.0, 0.0)
    assert tail_operating_point(flat, thresholds, 0.5, hours=3.0) == operating_point(flat, thresholds, 0.5)
    # never above the counted point: a tail steeper than the last clips
    assert tail_operating_point(fa, thresholds, 0.5, hours=3.0) <= operating_point(fa, thresholds, 0.5)
