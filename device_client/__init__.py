"""A phone: its local store of recordings, its local data pipeline and its microphone."""

import wakeword  # noqa: F401  (first: it sets TensorFlow's environment before TensorFlow loads)
