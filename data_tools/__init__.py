"""Data tools: offline speech synthesis, the simulated phone fleet, real-data import, validation."""

import wakeword  # noqa: F401  (first: it sets TensorFlow's environment before TensorFlow loads)
