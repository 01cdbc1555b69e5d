"""wakeword: features, audio I/O, detection and the command line.

This package never imports TensorFlow Federated (only ``orchestrator`` does) and imports TensorFlow
only where a TF implementation is asked for, so ``import wakeword`` is light.
"""

import os

from wakeword.constants import SAMPLE_RATE
from wakeword.errors import WakewordError

# TensorFlow's oneDNN kernels keep a compiled primitive for every input shape they meet and never
# free it: embedding clips of many lengths grew a process by ~0.3 MB a clip (a 1,000-phone run's
# first pass over its phones: ~1 GB a round, 11.9 GB after 10 rounds) and ran slower (1,200 clips
# of 1-4 s: 22.7 s against 14.2 s without). Off unless the user chose; TensorFlow reads it when it
# is first imported, so every package imports this one first (docs/BENCHMARKS.md section 6).
ONEDNN_ENV = "TF_ENABLE_ONEDNN_OPTS"
os.environ.setdefault(ONEDNN_ENV, "0")

__version__ = "0.1.0"

__all__ = ["SAMPLE_RATE", "WakewordError", "__version__"]
