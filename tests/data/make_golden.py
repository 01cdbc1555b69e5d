"""Regenerate tests/data/golden_logmel.npy (run from the repo root: python tests/data/make_golden.py).

Only do this for an intended change of the frontend; the golden array exists to catch unintended ones.
"""

from pathlib import Path

import numpy as np

from wakeword.constants import SAMPLE_RATE
from wakeword.features import DEFAULT_FEATURES, log_mel_librosa


def golden_input() -> np.ndarray:
    """0.25 s: two tones and seeded noise (deterministic), float32 at 16 kHz."""
    t = np.arange(SAMPLE_RATE // 4) / SAMPLE_RATE
    noise = np.random.default_rng(7).standard_normal(t.size)
    y = 0.4 * np.sin(2 * np.pi * 440 * t) + 0.2 * np.sin(2 * np.pi * 2500 * t) + 0.01 * noise
    return y.astype(np.float32)


if __name__ == "__main__":
    out = Path(__file__).with_name("golden_logmel.npy")
    np.save(out, log_mel_librosa(golden_input(), config=DEFAULT_FEATURES))
    print(f"wrote {out}")
