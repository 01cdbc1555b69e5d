"""The log-mel frontend by backend name: one entry point over the two implementations.

``features`` holds the configuration and the float64 reference; ``tf_frontend`` the Keras layer
built on them. This module sits above both, so neither imports the other's way up.
"""

from __future__ import annotations

import numpy as np

from wakeword.errors import ParameterError
from wakeword.features import DEFAULT_FEATURES, FeatureConfig, check_input, log_mel_librosa

__all__ = ["BACKENDS", "features_of", "log_mel"]

BACKENDS = ("librosa", "tf")


def log_mel(
    y: np.ndarray,
    *,
    config: FeatureConfig = DEFAULT_FEATURES,
    backend: str = "librosa",
    source: str = "<array>",
) -> np.ndarray:
    """Log-mel features of audio with the chosen backend (see the module docstring).

    Parameters
    ----------
    y : np.ndarray [shape=(n,) or (batch, n)], float, ``config.sample_rate`` Hz
    config : FeatureConfig
    backend : {"librosa", "tf"}
    source : str
        Name used in error messages.

    Returns
    -------
    np.ndarray [shape=(frames, n_mels) or (batch, frames, n_mels)], float32
    """
    if backend == "librosa":
        return log_mel_librosa(y, config=config, source=source)
    if backend == "tf":
        from wakeword.tf_frontend import log_mel_tf  # loads TensorFlow: only this backend needs it

        y = check_input(y, config, source)
        return log_mel_tf(y, config=config)
    raise ParameterError(f"backend must be one of {BACKENDS}, got {backend!r}")


def features_of(
    y: np.ndarray, *, config: FeatureConfig = DEFAULT_FEATURES, source: str = "<array>"
) -> np.ndarray:
    """The frames a model of ``config`` reads: log-mel (the float64 reference) or, for
    ``kind="speech_embedding"``, the frozen speech embedding (:mod:`wakeword.tf_embedding`).

    Returns
    -------
    np.ndarray [shape=(frames, n_mels) or (batch, frames, n_mels)], float32
    """
    if config.kind == "speech_embedding":
        from wakeword.tf_embedding import speech_embedding_tf  # loads TensorFlow

        return speech_embedding_tf(check_input(y, config, source), config=config)
    return log_mel_librosa(y, config=config, source=source)
