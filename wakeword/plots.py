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
    _save(fig, path)


def save_det_plot(
    path: str | os.PathLike,
    curves: dict[str, list[dict]],
    *,
    points: dict[str, tuple[float, float]] | None = None,
    target_fa_per_hour: float | None = None,
    title: str = "",
) -> None:
    """DET curves: false-reject rate (%) against false accepts per hour, both on log axes.

    Parameters
    ----------
    curves : dict of name -> rows with "frr" (0-1) and "fa_per_hour"
    points : dict of name -> (fa_per_hour, frr), optional
        Operating points to mark.
    target_fa_per_hour : float, optional
        Draws a vertical line at the target.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fa_floor, frr_floor = 0.01, 0.001  # zeros cannot be drawn on log axes: shown at these floors
    fig, ax = plt.subplots(figsize=(6.0, 4.5), dpi=100)
    for name, rows in curves.items():
        fa = np.array([max(r["fa_per_hour"], fa_floor) for r in rows])
        frr = np.array([max(r["frr"], frr_floor) for r in rows]) * 100
        ax.step(fa, frr, where="post", label=name)
    for name, (fa, frr) in (points or {}).items():
        ax.plot(
            max(fa, fa_floor), max(frr, frr_floor) * 100, "o", label=f"{name}: {frr:.1%} FRR at {fa:.2f} FA/h"
        )
    if target_fa_per_hour:
        ax.axvline(
            target_fa_per_hour, color="grey", linestyle=":", label=f"target {target_fa_per_hour:g} FA/h"
        )
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(f"false accepts per hour (0 drawn at {fa_floor})")
    ax.set_ylabel(f"false-reject rate, % (0 drawn at {frr_floor:.1%})")
    ax.set_title(title, fontsize=9)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7, loc="upper right")
    _save(fig, path)


def _save(fig, path: str | os.PathLike) -> None:
    """Write a figure as PNG atomically and close it."""
    import matplotlib.pyplot as plt

    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    with atomic_write(path) as handle:
        handle.write(buffer.getvalue())
