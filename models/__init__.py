"""Keras model builders for wake-word detection: one module per architecture, one registry.

Every module defines ``NAME``, ``DESCRIPTION``, ``PAPER`` and ``build(input_shape, *, width,
dropout, seed)`` returning a classifier from log-mel features ``(frames, n_mels)`` to the wake-word
probability ``(1,)``. :func:`with_frontend` puts the shared log-mel layer in front, so a model takes
raw 16 kHz audio (what the TFLite export ships). The CLI's ``--model`` choices and the
parametrised tests both read :data:`MODELS`.
"""

from __future__ import annotations

import wakeword  # noqa: F401  (first: it sets TensorFlow's environment before TensorFlow loads)
from models import ds_cnn, tc_resnet, tiny_cnn
from models.registry import DEFAULT_MODEL, MODELS, build_model, with_frontend

__all__ = ["DEFAULT_MODEL", "MODELS", "build_model", "ds_cnn", "tc_resnet", "tiny_cnn", "with_frontend"]
