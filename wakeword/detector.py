"""Turning a stream of window scores into detections, as a device does.

The detector scores one window every ``stride`` (100 ms by default), smooths the scores with a
causal moving average, and reports a detection when the smoothed score reaches the threshold,
then ignores further crossings for a refractory period (one detection per utterance).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from wakeword.errors import ParameterError
from wakeword.window import DEFAULT_WINDOW, WindowConfig

__all__ = ["DetectorConfig", "detection_events", "smooth"]


@dataclass(frozen=True)
class DetectorConfig:
    """Post-processing of window scores."""

    window: WindowConfig = DEFAULT_WINDOW  # model window and stride
    smooth_windows: int = 3  # causal moving average over this many scores (300 ms)
    refractory_s: float = 1.5  # after a detection, ignore crossings for this long
    threshold: float = 0.5  # decision threshold on the smoothed score (the operating point sets it)

    def __post_init__(self) -> None:
        if self.smooth_windows < 1:
            raise ParameterError(f"smooth_windows must be >= 1, got {self.smooth_windows}")
        if self.refractory_s < 0:
            raise ParameterError(f"refractory_s must be >= 0, got {self.refractory_s}")

    @property
    def refractory_windows(self) -> int:
        return max(1, round(self.refractory_s * 1000 / self.window.stride_ms))


def smooth(scores: np.ndarray, windows: int) -> np.ndarray:
    """Causal moving average: ``out[i] = mean(scores[max(0, i - windows + 1) : i + 1])``.

    Parameters
    ----------
    scores : np.ndarray [shape=(n,)]
    windows : int

    Returns
    -------
    np.ndarray [shape=(n,)], float64
    """
    scores = np.asarray(scores, dtype=np.float64)
    if windows <= 1 or scores.size == 0:
        return scores
    csum = np.concatenate([[0.0], np.cumsum(scores)])
    idx = np.arange(1, scores.size + 1)
    lo = np.maximum(0, idx - windows)
    return (csum[idx] - csum[lo]) / (idx - lo)


def detection_events(smoothed: np.ndarray, threshold: float, refractory: int) -> np.ndarray:
    """Indices of detections: the first score >= threshold, then the first one at least
    ``refractory`` windows later, and so on.

    Parameters
    ----------
    smoothed : np.ndarray [shape=(n,)]
        Smoothed scores (see :func:`smooth`).
    threshold : float
    refractory : int
        Windows to ignore after a detection (>= 1).

    Returns
    -------
    np.ndarray [shape=(events,)], int
    """
    candidates = np.flatnonzero(np.asarray(smoothed) >= threshold)
    events = []
    i = 0
    while i < candidates.size:
        events.append(candidates[i])
        i = int(np.searchsorted(candidates, candidates[i] + refractory, side="left"))
    return np.asarray(events, dtype=np.int64)
