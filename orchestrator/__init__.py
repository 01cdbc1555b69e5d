"""Federated training with TensorFlow Federated: the only package that imports it."""

import wakeword  # noqa: F401  (first: it sets TensorFlow's environment before TensorFlow loads)
