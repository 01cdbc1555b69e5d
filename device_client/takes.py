"""Is a recorded take usable? Trim it and say why not (silent, clipped, too short)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from wakeword.audio import speech_bounds
from wakeword.constants import SAMPLE_RATE

__all__ = ["TakeCheck", "check_take", "level_dbfs"]


@dataclass(frozen=True)
class TakeCheck:
    """Limits a take must meet."""

    min_peak_dbfs: float = -40.0  # quieter than this everywhere: the microphone heard nothing
    clip_level: float = 0.99  # samples at or above this magnitude are clipped...
    max_clipped_fraction: float = 0.001  # ...and more than 0.1% of them is a clipped take
    min_speech_s: float = 0.25  # shorter speech is a cough or a click, not a phrase
    top_db: float = 35.0  # trimming: frames this far below the loudest are silence
    margin_s: float = 0.1  # silence kept before and after the speech


def level_dbfs(block: np.ndarray) -> float:
    """RMS level of a block in dBFS (-120 for digital silence)."""
    rms = float(np.sqrt(np.mean(np.square(block, dtype=np.float64)))) if block.size else 0.0
    return 20 * np.log10(max(rms, 1e-6))


def check_take(
    audio: np.ndarray, *, check: TakeCheck = TakeCheck(), sample_rate: int = SAMPLE_RATE
) -> tuple[np.ndarray, str | None]:
    """Trim a take to its speech (plus margins) and find what is wrong with it.

    Parameters
    ----------
    audio : np.ndarray [shape=(n,)], float32
    check : TakeCheck
    sample_rate : int

    Returns
    -------
    trimmed : np.ndarray [shape=(m,)], float32
    problem : str or None
        A reason for the user ("silent: ...") or ``None`` if the take is good.
    """
    audio = np.asarray(audio, dtype=np.float32)
    peak = float(np.max(np.abs(audio))) if audio.size else 0.0
    if 20 * np.log10(max(peak, 1e-6)) < check.min_peak_dbfs:
        return audio, (
            f"silent: the loudest sound was {20 * np.log10(max(peak, 1e-6)):.0f} dBFS; "
            "speak up or check the microphone"
        )
    clipped = float(np.mean(np.abs(audio) >= check.clip_level))
    if clipped > check.max_clipped_fraction:
        return audio, f"clipped: {clipped:.1%} of samples at full scale; speak softer or move back"
    lo, hi = speech_bounds(audio, top_db=check.top_db, sample_rate=sample_rate)
    if (hi - lo) / sample_rate < check.min_speech_s:
        return audio, f"too short: {(hi - lo) / sample_rate:.2f} s of sound; say the whole phrase"
    margin = round(check.margin_s * sample_rate)
    return audio[max(0, lo - margin) : min(audio.size, hi + margin)], None
