"""Pictures people would rather look at than read (matplotlib, headless)."""

from __future__ import annotations

import io
import os

import numpy as np

from wakeword.features import DEFAULT_FEATURES, FeatureConfig
from wakeword.fileio import atomic_write


def save_log_mel_plot(
    path: str | os.PathLike,
    features: np.ndarray,
    *,
    config: FeatureConfig = DEFAULT_FEATURES,
    title: str = "",
) -> None:
    """Save log-mel features ``(frames, n_mels)`` as a PNG image, time on x, mel band on y."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    frames = features.shape[0]
    fig, ax = plt.subplots(figsize=(max(4.0, frames / 25), 3.0), dpi=100)
    image = ax.imshow(
        features.T,
        origin="lower",
        aspect="auto",
        cmap="magma",
        extent=(0, frames * config.hop_ms / 1000, 0, config.n_mels),
    )
    ax.set_xlabel("time (s)")
    ax.set_ylabel("mel band")
    ax.set_title(title, fontsize=9)
    fig.colorbar(image, ax=ax, label="log mel power")
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    with atomic_write(path) as handle:
        handle.write(buffer.getvalue())
