"""Honest wake-word metrics: false rejects on positives, false accepts per hour on negative audio.

Inputs are smoothed window scores per clip (see :mod:`wakeword.detector`). For a positive clip, a
detection counts if one happens while the phrase is said or within ``accept_after_s`` of its end;
for negative audio, every detection event is a false accept.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from wakeword.detector import detection_events

__all__ = [
    "NegativeScores",
    "PositiveScores",
    "det_curve",
    "fa_per_hour",
    "false_reject_rate",
    "operating_point",
    "tail_operating_point",
]

#: Thresholds of the DET curve: dense near 0 and 1 (logit-spaced), plus exact 0 and 1.
THRESHOLDS = np.concatenate([[0.0], 1 / (1 + np.exp(-np.linspace(-9, 12, 400))), [1.0]])


@dataclass(frozen=True)
class PositiveScores:
    """Scores of one positive clip and where its phrase may be detected (window indices)."""

    scores: np.ndarray  # smoothed, shape (n,)
    first: int  # first window index at which a detection counts
    last: int  # last window index (inclusive)

    @property
    def best(self) -> float:
        """Highest smoothed score in the allowed range (0 if the range is empty)."""
        part = self.scores[self.first : self.last + 1]
        return float(part.max()) if part.size else 0.0


@dataclass(frozen=True)
class NegativeScores:
    """Scores of one stretch of negative audio."""

    scores: np.ndarray  # smoothed, shape (n,)
    seconds: float  # duration of the audio
    source: str = ""  # what it is, for reports ("phone-0074/speech-0012 (speech: can cooped ...)")


def false_reject_rate(positives: list[PositiveScores], thresholds: np.ndarray = THRESHOLDS) -> np.ndarray:
    """Share of positives never detected in their range, per threshold."""
    if not positives:
        return np.full(len(thresholds), np.nan)
    best = np.array([p.best for p in positives])
    return (best[None, :] < np.asarray(thresholds)[:, None]).mean(axis=1)


def false_accepts(negatives: list[NegativeScores], thresholds: np.ndarray, refractory: int) -> np.ndarray:
    """Number of detection events in the negative audio, per threshold."""
    counts = np.zeros(len(thresholds), dtype=np.int64)
    for neg in negatives:
        peak = float(neg.scores.max()) if neg.scores.size else -1.0
        for i, th in enumerate(thresholds):
            if th > peak:
                break  # thresholds ascend: no more events in this clip
            counts[i] += detection_events(neg.scores, th, refractory).size
    return counts


def fa_per_hour(negatives: list[NegativeScores], thresholds: np.ndarray, refractory: int) -> np.ndarray:
    """False accepts per hour of negative audio, per threshold."""
    hours = sum(n.seconds for n in negatives) / 3600
    if hours <= 0:
        return np.full(len(thresholds), np.nan)
    return false_accepts(negatives, np.asarray(thresholds), refractory) / hours


def clip_accept_rate(negatives: list[NegativeScores], thresholds: np.ndarray = THRESHOLDS) -> np.ndarray:
    """Share of negative clips with at least one detection, per threshold (for hard negatives)."""
    if not negatives:
        return np.full(len(thresholds), np.nan)
    peaks = np.array([n.scores.max() if n.scores.size else -1.0 for n in negatives])
    return (peaks[None, :] >= np.asarray(thresholds)[:, None]).mean(axis=1)


def operating_point(fa_rates: np.ndarray, thresholds: np.ndarray, target: float) -> float:
    """The lowest threshold whose FA/h is at or below ``target`` (lowest FRR that meets it)."""
    ok = np.flatnonzero(np.asarray(fa_rates) <= target)
    return float(thresholds[ok[0]]) if ok.size else float(thresholds[-1])


def tail_operating_point(
    fa_rates: np.ndarray,
    thresholds: np.ndarray,
    target: float,
    *,
    hours: float,
    span: tuple[float, float] = (4.0, 20.0),
    min_events: int = 8,
) -> float:
    """The threshold where the FA/h curve's tail, fitted where it holds many events, reaches
    ``target``; never above :func:`operating_point`'s.

    A few hours of negatives allow one or two false accepts at 0.5 FA/h, so the counted operating
    point is set by the one or two highest clips. Here log FA/h is fitted as a line in the
    threshold's logit over ``span`` (FA/h) and read at ``target``; where the span holds fewer than
    ``min_events`` events, fewer than 3 thresholds, or the fit does not fall, the counted one.

    Parameters
    ----------
    fa_rates : np.ndarray [shape=(n,)]
        FA/h per threshold (ascending thresholds).
    thresholds : np.ndarray [shape=(n,)]
    target : float
        FA/h asked for.
    hours : float
        Hours of negative audio the rates were counted on.
    span : (float, float)
        FA/h range of the curve the fit reads.
    min_events : int
        Events the span's low end must stand for.

    Returns
    -------
    float
    """
    counted = operating_point(fa_rates, thresholds, target)
    fa, th = np.asarray(fa_rates, dtype=np.float64), np.asarray(thresholds, dtype=np.float64)
    inside = (fa >= span[0]) & (fa <= span[1]) & (th > 0) & (th < 1)
    if span[0] * hours < min_events or inside.sum() < 3:
        return counted
    logit = np.log(th[inside] / (1 - th[inside]))
    slope, intercept = np.polyfit(logit, np.log(fa[inside]), 1)
    if not slope < -1e-3:  # a curve that does not fall says nothing of its tail
        return counted
    fitted = float(1 / (1 + np.exp(-(np.log(target) - intercept) / slope)))
    return min(counted, float(th[min(int(np.searchsorted(th, fitted)), th.size - 1)]))


def det_curve(frr: np.ndarray, fa: np.ndarray, thresholds: np.ndarray = THRESHOLDS) -> list[dict]:
    """Rows of the DET curve."""
    return [
        {"threshold": float(t), "frr": float(r), "fa_per_hour": float(a)}
        for t, r, a in zip(thresholds, frr, fa)
    ]
