"""wakeword: features, audio I/O, detection and the command line.

This package never imports TensorFlow Federated (only ``orchestrator`` does) and imports TensorFlow
only where a TF implementation is asked for, so ``import wakeword`` is light.
"""

from wakeword.constants import SAMPLE_RATE
from wakeword.errors import WakewordError

__version__ = "0.1.0"

__all__ = ["SAMPLE_RATE", "WakewordError", "__version__"]
