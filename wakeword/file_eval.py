"""An exported model on audio files, the way ``wakeword detect`` runs it: accuracy at its own threshold.

Every file is streamed through a :class:`~wakeword.stream.StreamingDetector` at the threshold the
model file recommends; the smoothed score after every stride is kept too, so one pass gives both
the shipped operating point and the whole DET curve (a threshold sweep re-applies the detector's
own rule, :func:`~wakeword.detector.detection_events`, to those scores).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import numpy as np

from wakeword.detector import DetectorConfig, detection_events
from wakeword.metrics import THRESHOLDS
from wakeword.progress import Progress

__all__ = ["FileScores", "ScoredSet", "det_rows", "score_files"]


@dataclass
class FileScores:
    """One file through the detector."""

    name: str
    seconds: float
    detections: int  # at the shipped threshold
    smoothed: np.ndarray  # smoothed score after every stride, float64


@dataclass
class ScoredSet:
    """Files of one kind (positives, negatives) scored by one model."""

    files: list[FileScores] = field(default_factory=list)

    @property
    def hours(self) -> float:
        return sum(f.seconds for f in self.files) / 3600

    def found_rate(self) -> float:
        """Share of files with at least one detection at the shipped threshold (0 if empty)."""
        return float(np.mean([f.detections > 0 for f in self.files])) if self.files else 0.0

    def false_accepts(self) -> int:
        return sum(f.detections for f in self.files)

    def peaks(self) -> np.ndarray:
        """Each file's highest smoothed score."""
        return np.array([f.smoothed.max() if f.smoothed.size else 0.0 for f in self.files])

    def events_at(self, thresholds: np.ndarray, refractory: int) -> np.ndarray:
        """Detections over all files at each threshold (the detector's rule on the kept scores)."""
        out = np.zeros(len(thresholds), dtype=np.int64)
        for f in self.files:
            top = f.smoothed.max() if f.smoothed.size else 0.0
            for i, t in enumerate(thresholds):
                if t > top:
                    break
                out[i] += detection_events(f.smoothed, float(t), refractory).size
        return out


def score_files(
    model: Callable[[np.ndarray], float],
    config: DetectorConfig,
    audios: Iterable[tuple[str, np.ndarray]],
    *,
    progress: Progress | None = None,
) -> ScoredSet:
    """Stream each (name, audio) through a fresh detector, as ``wakeword detect`` does per file.

    Parameters
    ----------
    model : callable
        Window -> score (a :class:`~wakeword.stream.TFLiteModel`).
    config : DetectorConfig
        The detector settings, with the shipped threshold.
    audios : iterable of (str, np.ndarray [shape=(n,)])
        Float32 audio at the model's sample rate.
    progress : callable, optional
        ``progress("scoring", done, total)`` after each file (total 0 if ``audios`` has no length).
    """
    from wakeword.stream import StreamingDetector

    scored = ScoredSet()
    rate = config.window.features.sample_rate
    chunk = config.window.stride_samples
    total = len(audios) if hasattr(audios, "__len__") else 0
    for k, (name, audio) in enumerate(audios, start=1):
        smoothed: list[float] = []
        detector = StreamingDetector(model, config, on_score=lambda _t, s, out=smoothed: out.append(s))
        found = []
        for lo in range(0, audio.size, chunk):
            found += detector.feed(audio[lo : lo + chunk])
        found += detector.flush()
        scored.files.append(FileScores(name, audio.size / rate, len(found), np.asarray(smoothed)))
        if progress is not None:
            progress("scoring", k, total)
    return scored


def det_rows(
    positives: ScoredSet,
    negatives: ScoredSet,
    config: DetectorConfig,
    *,
    thresholds: np.ndarray = THRESHOLDS,
) -> list[dict]:
    """DET curve rows (threshold, frr, fa_per_hour) from kept scores, thresholds ascending."""
    frr = np.array([np.mean(positives.peaks() < t) for t in thresholds]) if positives.files else None
    fa = negatives.events_at(thresholds, config.refractory_windows) / max(negatives.hours, 1e-9)
    return [
        {"threshold": float(t), "frr": float(frr[i]) if frr is not None else 0.0, "fa_per_hour": float(fa[i])}
        for i, t in enumerate(thresholds)
    ]
