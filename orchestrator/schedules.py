"""The one learning-rate schedule of the project: a half cosine from the peak to a floor.

Central training decays it over epochs, federated training over rounds (the server's step, and
with ``--client-schedule cosine`` the phones' step).
"""

from __future__ import annotations

import numpy as np

__all__ = ["LR_FLOOR", "cosine_learning_rate"]

LR_FLOOR = 0.05  # the schedule ends at this share of the peak step


def cosine_learning_rate(round_num, *, peak: float, rounds: int):
    """The step after ``round_num`` rounds: ``peak`` decayed along a half cosine to
    ``LR_FLOOR * peak`` at ``rounds`` (float32 tensor; ``round_num`` may be a tensor)."""
    import tensorflow as tf

    progress = tf.minimum(tf.cast(round_num, tf.float32) / float(rounds), 1.0)
    return peak * (LR_FLOOR + (1.0 - LR_FLOOR) * 0.5 * (1.0 + tf.cos(np.pi * progress)))
