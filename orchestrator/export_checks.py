"""What every export checks against, in either form (:mod:`orchestrator.export` and
:mod:`orchestrator.export_stream`): the tolerance, the error, and the detector's windows of a clip."""

from __future__ import annotations

import numpy as np

from wakeword.errors import WakewordError
from wakeword.scoring import pad_for_streaming
from wakeword.window import WindowConfig

__all__ = ["FLOAT_TOLERANCE", "ExportCheckError", "detector_windows"]

FLOAT_TOLERANCE = 1e-4  # float TFLite vs Keras, absolute, on probabilities


class ExportCheckError(WakewordError):
    """The converted model does not match the trained one closely enough; nothing was written."""


def detector_windows(
    clips: list[np.ndarray], window: WindowConfig, *, per_clip: int | None = None
) -> np.ndarray:
    """Detector windows of clips (as streamed: silent start, one per stride), ``(n, window.samples)``."""
    out = []
    for clip in clips:
        padded, n = pad_for_streaming(clip, window)
        starts = np.arange(n) * window.stride_samples
        if per_clip is not None and n > per_clip:
            starts = starts[np.linspace(0, n - 1, per_clip).round().astype(int)]
        out += [padded[s : s + window.samples] for s in starts]
    return np.stack(out).astype(np.float32)
